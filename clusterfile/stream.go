package clusterfile

import "bytes"

// A cluster file of 100,000 nodes is read one node at a time: decoding the
// whole document keeps the library's node tree for every value of the file
// at once (12 GB for 100,000 nodes with a million containers). The block
// layout every generated and hand-written file uses — a top-level `nodes:`
// followed by `- ` items one under the other — is cut into one piece per
// node; the rest of the file (the settings) is decoded with the items
// blanked out, so its line numbers stay, and each item is decoded with the
// same strict decoder on its own and turned into a model.Node before the
// next is read. A file of another layout (flow style `nodes: [...]`, JSON,
// an anchor used across nodes) is decoded whole, as before; both ways give
// the same nodes and the same errors (FuzzStreamMatchesWhole).

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
