package clusterfile

import (
	"bytes"
	"encoding/json"
)

// A cluster file of 100,000 nodes is read one node at a time: decoding the
// whole document keeps the library's node tree of every value of the file
// alive at once (3.6 GiB for 100,000 nodes with a million containers). The
// block layout every generated and hand-written file uses — a top-level
// `nodes:` followed by `- ` items one under the other — is cut into one
// piece per node; the rest of the file (the settings) is decoded with the
// items blanked out, so its line numbers stay, and the items are decoded
// by the same strict decoder a group at a time and turned into model.Nodes
// before the next group is read. A JSON file (JSON is YAML) is cut the same
// way: encoding/json's tokenizer finds the elements of its top-level
// "nodes" array, and the YAML decoder reads them as a flow sequence. A
// file of another layout (YAML flow style `nodes: [...]`, an anchor used
// across nodes, unusual line breaks) is decoded whole, as is any file with
// a syntax error; both ways give the same nodes and the same errors
// (FuzzParse checks it).

// split is a file cut into its settings and its nodes' items.
type split struct {
	header  []byte // the file with the items blanked out, lines kept
	items   []item
	entries int  // upper bound of the containers, to size maps (0: unknown)
	flow    bool // JSON: items are elements of a flow sequence
}

// splitFile cuts a JSON file or a block-layout YAML file into items; ok
// is false for any other layout.
func splitFile(data []byte) (sp split, ok bool) {
	if otherBreaks(data) {
		return split{}, false
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		header, items, ok := splitJSON(data)
		return split{header: header, items: items, flow: true}, ok
	}
	header, items, entries, ok := splitNodes(data)
	return split{header: header, items: items, entries: entries}, ok
}

// otherBreaks reports whether data holds a line break other than \n and
// \r\n that the YAML scanner counts (a lone \r, NEL, LS, PS): lines are
// then not what a cut at \n sees.
func otherBreaks(data []byte) bool {
	for i := bytes.IndexByte(data, '\r'); i >= 0; {
		if i+1 == len(data) || data[i+1] != '\n' {
			return true
		}
		j := bytes.IndexByte(data[i+1:], '\r')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return bytes.Contains(data, []byte("\u0085")) || bytes.Contains(data, []byte("\u2028")) || bytes.Contains(data, []byte("\u2029"))
}

// splitJSON finds the elements of the top-level "nodes" array of a JSON
// object with encoding/json's tokenizer. The header is the file with the
// array blanked (newlines kept) and a YAML null (~) in its place. Any
// JSON error, a second "nodes" key or an empty array: ok false, and the
// whole decoder has the last word.
func splitJSON(data []byte) (header []byte, items []item, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, false
	}
	open, end := -1, -1
	line, counted := 1, 0 // line of byte offset counted
	lineAt := func(off int) int {
		line += bytes.Count(data[counted:off], []byte{'\n'})
		counted = off
		return line
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, nil, false
		}
		if k != "nodes" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil, nil, false
			}
			continue
		}
		if open >= 0 {
			return nil, nil, false
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return nil, nil, false
		}
		open = int(dec.InputOffset()) - 1
		for dec.More() {
			start := int(dec.InputOffset())
			for start < len(data) && bytes.IndexByte([]byte(" \t\r\n,"), data[start]) >= 0 {
				start++
			}
			var el json.RawMessage
			if dec.Decode(&el) != nil {
				return nil, nil, false
			}
			items = append(items, item{start: start, end: int(dec.InputOffset()), line: lineAt(start)})
		}
		if t, err := dec.Token(); err != nil || t != json.Delim(']') {
			return nil, nil, false
		}
		end = int(dec.InputOffset())
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') || len(items) == 0 {
		return nil, nil, false
	}
	header = bytes.Clone(data)
	for i := open; i < end; i++ {
		if header[i] != '\n' {
			header[i] = ' '
		}
	}
	header[open] = '~'
	return header, items, true
}

// item is one node's text in the file: data[start:end], whose first line
// is line (1-based).
type item struct {
	start, end int
	line       int
}

// splitNodes finds the items of the top-level `nodes:` block sequence. It
// returns the file with those items' lines left empty (same line count),
// the items, and how many deeper block entries (`- ` lines) they hold, an
// upper bound of their containers; or ok false when the file is not laid
// out that way.
func splitNodes(data []byte) (header []byte, items []item, entries int, ok bool) {
	line := 0
	seqStart, seqEnd := -1, -1 // byte range of the items
	indent := -1               // the items' dash column
	cur := -1                  // index of the item being read
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		line++
		text := data[off:next]
		ind, content := lineContent(text)
		switch {
		case indent == -1:
			// Before the items: look for the top-level nodes key.
			if ind == 0 && isNodesKey(content) {
				indent = -2 // the key is found; the first item comes next
			}
		case blankOrComment(content):
			// Blank lines and comments belong to the item they are in.
		case content[0] == '\t':
			return nil, nil, 0, false // tabs where YAML wants spaces: the whole decoder words it
		case indent == -2:
			// The first content line after nodes: must be an item.
			if !isItem(content) {
				return nil, nil, 0, false
			}
			indent, seqStart = ind, off
			items = append(items, item{start: off, line: line})
			cur = 0
		case seqEnd < 0:
			switch {
			case ind == 0 && isDocMarker(content):
				seqEnd = off
			case ind == indent && isItem(content):
				items[cur].end = off
				items = append(items, item{start: off, line: line})
				cur++
			case ind > 0 && ind <= indent && !isItem(content):
				// Less indented than the items' content but not a
				// top-level key: only a quoted string or a flow
				// collection left open carries on there.
				return nil, nil, 0, false
			case ind < indent || (ind == indent && !isItem(content)):
				seqEnd = off
			case isItem(content):
				entries++
			}
			if seqEnd >= 0 {
				items[cur].end = off
			}
		}
		off = next
	}
	if seqStart < 0 {
		return nil, nil, 0, false
	}
	if seqEnd < 0 {
		seqEnd = len(data)
		items[cur].end = seqEnd
	}
	blank := bytes.Count(data[seqStart:seqEnd], []byte{'\n'})
	header = make([]byte, 0, seqStart+blank+len(data)-seqEnd)
	header = append(header, data[:seqStart]...)
	for range blank {
		header = append(header, '\n')
	}
	header = append(header, data[seqEnd:]...)
	return header, items, entries, true
}

// lineContent is a line's indentation in spaces and what follows it,
// without the line break.
func lineContent(text []byte) (int, []byte) {
	text = bytes.TrimRight(text, "\r\n")
	i := 0
	for i < len(text) && text[i] == ' ' {
		i++
	}
	return i, text[i:]
}

func blankOrComment(content []byte) bool {
	t := bytes.TrimLeft(content, " \t")
	return len(t) == 0 || t[0] == '#'
}

// isNodesKey is the top-level line `nodes:` with nothing after the colon
// but a comment.
func isNodesKey(content []byte) bool {
	rest, ok := bytes.CutPrefix(content, []byte("nodes:"))
	return ok && blankOrComment(rest)
}

// isItem is a block sequence entry: a dash followed by a space or nothing.
func isItem(content []byte) bool {
	return len(content) > 0 && content[0] == '-' && (len(content) == 1 || content[1] == ' ')
}

func isDocMarker(content []byte) bool {
	return (bytes.HasPrefix(content, []byte("---")) || bytes.HasPrefix(content, []byte("..."))) &&
		(len(content) == 3 || content[3] == ' ' || content[3] == '\t')
}

// misindented finds the first line of a block sequence item that is
// indented more than the item's dash but less than its first key (the
// `cpus:` of `  - name: a` moved a space left), with the item's line and
// the keys' indentation; line 0 when there is none. Only a file the YAML
// parser refused is looked at: a quoted string or flow collection may
// carry on at any indentation.
func misindented(data []byte) (line, ind, itemLine, keys int) {
	type open struct{ dash, keys, line int }
	var items []open
	n := 0
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		n++
		in, content := lineContent(data[off:next])
		off = next
		if blankOrComment(content) {
			continue
		}
		for len(items) > 0 && in <= items[len(items)-1].dash {
			items = items[:len(items)-1]
		}
		if len(items) > 0 {
			if top := items[len(items)-1]; in < top.keys {
				return n, in, top.line, top.keys
			}
		}
		if isItem(content) {
			rest := content[1:]
			key := bytes.TrimLeft(rest, " ")
			if len(key) > 0 && key[0] != '#' && key[0] != '-' && key[0] != '[' && key[0] != '{' && key[0] != '"' && key[0] != '\'' {
				items = append(items, open{dash: in, keys: in + 1 + len(rest) - len(key), line: n})
			}
		}
	}
	return 0, 0, 0, 0
}
