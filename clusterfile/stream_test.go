package clusterfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// layouts are block files laid out in the ways splitNodes must follow:
// items at column 0, comments and blank lines between and inside items,
// settings after the nodes, document markers, CRLF line ends, nested
// sequences at the items' own indentation, and layouts it must leave to
// the whole decoder (flow style, JSON, an anchor used in another node).
var layouts = []string{
	"nodes:\n- name: a\n  cpus: 1\n  memory: 1g\n- name: b\n  cpus: 2\n  memory: 2g\nstrategy: binpack\n",
	"# c\nnodes: # the nodes\n\n  # first\n  - name: a\n    cpus: 1\n\n    memory: 1g\n# between\n  - name: b\n    cpus: 1\n    memory: 1g\novercommit: 0.5\n",
	"---\nnodes:\n  - name: a\n    cpus: 1\n    memory: 1g\n...\n",
	"nodes:\n  - name: a\n    cpus: 1\n    memory: 1g\n---\nnodes: []\n",
	"nodes:\r\n  - name: a\r\n    cpus: 1\r\n    memory: 1g\r\n",
	"nodes:\n- name: a\n  cpus: 4\n  memory: 4g\n  containers:\n  - name: xx\n    image: i\n    env:\n    - constraint:zone==eu\n  - {name: yy, image: i}\n- name: b\n  cpus: 1\n  memory: 1g\n",
	"nodes: [{name: a, cpus: 1, memory: 1g}]\n",
	`{"nodes": [{"name": "a", "cpus": 1, "memory": "1g"}]}`,
	"nodes:\n  - name: a\n    cpus: 1\n    memory: 1g\n    labels: &l {zone: eu}\n  - name: b\n    cpus: 1\n    memory: 1g\n    labels: *l\n",
	"nodes:\n  - name: a\n    cpus: 1\n    memory: 1g\n    labels: {zone: eu,\n      disk: ssd}\n    version: \"20.10\n      .24\"\n  - name: b\n    cpus: 1\n    memory: |\n      1g\n",
	"nodes:\n  - name: a\n\tcpus: 1\n",
	"nodes:\n  - name: a\n    cpus: 1\n    memory: 1g\n  - name: a\n    cpus: 1\n    memory: 1g\n",
	"strategy: random\nnodes:\n  - name: a\n    cpus: 1\n    memory: 1g\nnodes:\n  - name: b\n    cpus: 1\n    memory: 1g\n",
	"nodes:\n  - name: a\n    cpus: 1\n    memory: 1g\n  -\n    name: b\n    cpus: 1\n    memory: 1g\n",
	// JSON: pretty, settings around the nodes, a key "nodes" deeper down,
	// a type error, a duplicate key, a syntax error, an empty array.
	"{\n  \"strategy\": \"binpack\",\n  \"nodes\": [\n    {\n      \"name\": \"a\",\n      \"cpus\": 2,\n      \"memory\": \"2g\",\n      \"labels\": {\"nodes\": \"x\"},\n      \"containers\": [{\"name\": \"web\", \"image\": \"nginx\", \"cpus\": \"0.5\"}]\n    },\n    {\"name\": \"b\", \"cpus\": 1, \"memory\": 1073741824}\n  ],\n  \"overcommit\": 0.1\n}\n",
	"{\"nodes\": [{\"name\": \"a\", \"cpus\": 1, \"memory\": \"1g\"},\n {\"name\": \"b\", \"cpus\": [1], \"memory\": \"1g\"}]}",
	"{\"nodes\": [{\"name\": \"a\", \"cpus\": 1, \"memory\": \"1g\"},\n {\"name\": \"b\", \"cpus\": 1, \"cpus\": 2, \"memory\": \"1g\"}]}",
	"{\"nodes\": [{\"name\": \"a\", \"cpus\": 1, \"memory\": \"1g\"},\n {\"name\": \"b\" \"cpus\": 1}]}",
	"{\"nodes\": [], \"strategy\": \"spread\"}",
	"{\"nodes\": [{\"name\": \"a\", \"cpus\": 1, \"memory\": \"1g\"}], \"nodes\": [{\"name\": \"b\", \"cpus\": 1, \"memory\": \"1g\"}]}",
	"{\"nodes\": [{\"name\": \"a\", \"cpus\": 1, \"memory\": \"1g\", \"lables\": {}}]}",
	// A quoted string or a flow collection left open in the last item
	// carries on over lines that look like settings or like nothing: the
	// YAML parser reads them as the item's, so must the reader (CI's
	// fuzzing found the first of these).
	"nodes:\n  - name: a\n    cpus: 1\n    memory: 1g\n    version: \"1\n 0]\n x\"\n",
	"nodes:\n- name: a\n  cpus: 1\n  memory: 1g\n  version: \"1\novercommit: x #\"\nstrategy: spread\n",
	"nodes:\n- name: a\n  cpus: 1\n  memory: 1g\n  labels: {a: b,\novercommit: x}\nstrategy: spread\n",
}

// TestEveryLayoutReadsAsWhenDecodedWhole reads each layout by node and
// whole: the same nodes, or the same error.
func TestEveryLayoutReadsAsWhenDecodedWhole(t *testing.T) {
	for i, s := range layouts {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, err := Parse("l.yaml", []byte(s))
			want, werr := parseWhole("l.yaml", []byte(s))
			if fmt.Sprint(err) != fmt.Sprint(werr) {
				t.Fatalf("read by node: %v\ndecoded whole: %v", err, werr)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("read by node and decoded whole differ:\n%+v\n%+v", got.Nodes, want.Nodes)
			}
		})
	}
}

// TestBlockFilesAreReadByNode: the layout every example and generated file
// uses is the one read node by node.
func TestBlockFilesAreReadByNode(t *testing.T) {
	paths, _ := filepath.Glob("../examples/*.yaml")
	paths = append(paths, "testdata/bad/duplicate-container.yaml", "testdata/bad/over-capacity.yaml")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		header, items, _, ok := splitNodes(data)
		if !ok || len(items) == 0 {
			t.Fatalf("%s is not read node by node", p)
		}
		if strings.Count(string(header), "\n") != strings.Count(string(data), "\n") {
			t.Fatalf("%s: the settings lost lines", p)
		}
	}
	if _, ok := splitFile([]byte(layouts[6])); ok {
		t.Fatal("a flow-style file was cut into items")
	}
	if sp, ok := splitFile([]byte(layouts[14])); !ok || !sp.flow || len(sp.items) != 2 {
		t.Fatalf("a JSON file was not cut into its 2 nodes: %+v", sp)
	}
}

// TestJSONErrorsDeepInAFileNameTheLine: a 10,000-node JSON file (one
// node per line) with an unknown key at node 7,777 and a bad value at node
// 8,888: the line of the node, as the whole decoder says.
func TestJSONErrorsDeepInAFileNameTheLine(t *testing.T) {
	for _, tt := range []struct {
		at   int
		bad  string
		want string
	}{
		{7777, `"lables": {}`, "field lables not found in a node (keys: name, id, addr, cpus, memory, labels, health, failures, version, images, containers)"},
		{8888, `"health": "sick"`, `node node-8888: health "sick": want healthy, unhealthy or pending`},
	} {
		var b strings.Builder
		b.WriteString("{\n  \"strategy\": \"spread\",\n  \"nodes\": [\n")
		for k := 1; k <= 10000; k++ {
			extra := ""
			if k == tt.at {
				extra = ", " + tt.bad
			}
			sep := ","
			if k == 10000 {
				sep = ""
			}
			fmt.Fprintf(&b, "    {\"name\": \"node-%d\", \"cpus\": 16, \"memory\": \"64GiB\"%s}%s\n", k, extra, sep)
		}
		b.WriteString("  ]\n}\n")
		data := []byte(b.String())
		if _, ok := splitFile(data); !ok {
			t.Fatal("the JSON file is not read node by node")
		}
		_, err := Parse("big.json", data)
		_, werr := parseWhole("big.json", data)
		want := fmt.Sprintf("big.json:%d: %s", 3+tt.at, tt.want)
		if err == nil || err.Error() != want || werr == nil || werr.Error() != want {
			t.Fatalf("read by node: %v\ndecoded whole: %v\nwant %s", err, werr, want)
		}
	}
}

// bigFile is a generated file of n nodes, as scripts/c1m.sh makes them,
// with edit applied to node i's text (1-based); line is where node i
// starts. Each node takes 5 lines from line 3.
func bigFile(n, i int, edit func(node string) string) (data []byte, line int) {
	var b strings.Builder
	b.WriteString("strategy: spread\nnodes:\n")
	lines := 3
	for k := 1; k <= n; k++ {
		node := fmt.Sprintf("  - name: node-%d\n    cpus: 16\n    memory: 64GiB\n    labels: {zone: eu}\n    images: [nginx]\n", k)
		if k == i {
			node = edit(node)
			line = lines
		}
		lines += strings.Count(node, "\n")
		b.WriteString(node)
	}
	return []byte(b.String()), line
}

// withContainers gives a node two containers.
func withContainers(node string) string {
	return node + "    containers:\n    - {name: web, image: nginx, cpus: 0.1}\n    - {name: db, image: redis, memory: 64m}\n"
}

// TestBrokenBigFilesNameTheLineAndTheField breaks a 100,000-node file (and
// 10,000-node ones, to keep the test short) deep inside: the error names
// the line and the field, as for a small file.
func TestBrokenBigFilesNameTheLineAndTheField(t *testing.T) {
	tests := []struct {
		name string
		n    int // nodes in the file
		at   int // node broken
		edit func(string) string
		want func(line int) string // line: where the broken node starts
	}{
		{"duplicate node name at node 99,999", MaxNodes, 99999, func(s string) string {
			return strings.Replace(s, "node-99999", "node-12", 1)
		}, func(line int) string {
			return fmt.Sprintf("%d: node name node-12 is already the name of the node on line %d: node names are unique", line, 3+11*5)
		}},
		{"wrong type deep in the file", 10000, 7777, func(s string) string {
			return strings.Replace(withContainers(s), "cpus: 0.1", "cpus: [1, 2]", 1)
		}, func(line int) string {
			return fmt.Sprintf("%d: cannot unmarshal !!seq into string", line+6)
		}},
		{"unknown field deep in the file", 10000, 8888, func(s string) string {
			return strings.Replace(s, "labels:", "lables:", 1)
		}, func(line int) string {
			return fmt.Sprintf("%d: field lables not found in a node (keys: name, id, addr, cpus, memory, labels, health, failures, version, images, containers)", line+3)
		}},
		{"bad value deep in the file", 10000, 6666, func(s string) string {
			return strings.Replace(withContainers(s), "64m", "lots", 1)
		}, func(line int) string {
			return fmt.Sprintf("%d: container db: memory: invalid size: 'lots' (want bytes or a size such as 512m, 2g or 2GiB)", line+7)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, line := bigFile(tt.n, tt.at, tt.edit)
			_, err := Parse("big.yaml", data)
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v is not a *clusterfile.Error", err, err)
			}
			if want := "big.yaml:" + tt.want(line); err.Error() != want {
				t.Fatalf("got  %s\nwant %s", err, want)
			}
		})
	}
	t.Run("truncated file", func(t *testing.T) {
		const n = 10000
		data, _ := bigFile(n, n, withContainers)
		data = data[:len(data)-30] // inside the last node's last container
		_, err := Parse("big.yaml", data)
		if err == nil {
			t.Fatal("a truncated file loaded")
		}
		// The whole decoder's word for it, on the same bytes.
		_, werr := parseWhole("big.yaml", data)
		if want := fmt.Sprintf("big.yaml:%d: did not find expected ',' or '}'", 3+5*n+1); err.Error() != want || werr.Error() != want {
			t.Fatalf("read by node: %v\ndecoded whole: %v\nwant %s", err, werr, want)
		}
	})
}
