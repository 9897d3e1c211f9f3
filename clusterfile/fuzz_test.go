package clusterfile

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"swarmdeck/model"
)

// FuzzParse feeds the cluster-file loader arbitrary bytes, seeded with
// every good and bad file the tests know: it never panics, a file it
// accepts keeps the promises the manager relies on (unique node names,
// addresses and container IDs and names; sane, non-negative sizes), and
// reading it one node at a time gives what decoding it whole gives: the
// same nodes, or an error both ways.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/bad/*.yaml", "testdata/*.yaml", "../examples/*.yaml"} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("overcommit: 1e300\nnodes: [{name: a, cpus: 1, memory: 1g}]\n"))
	f.Add([]byte("nodes: [{name: a, cpus: 1, memory: 1g, containers: [{name: x/y, image: i, cpus: '-1', memory: 1e30}]}]\n---\nnodes: []\n"))
	for _, s := range layouts {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		whole, werr := parseWhole("fuzz.yaml", data)
		if (err == nil) != (werr == nil) {
			t.Fatalf("read by node: %v; decoded whole: %v", err, werr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(file, whole) {
			t.Fatalf("read by node and decoded whole differ:\n%+v\n%+v", file.Nodes, whole.Nodes)
		}
		names, addrs, ids, cnames := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
		for _, n := range file.Nodes {
			if names[n.Name] || addrs[n.Addr] {
				t.Fatalf("node %s / %s listed twice", n.Name, n.Addr)
			}
			names[n.Name], addrs[n.Addr] = true, true
			if n.CPUs < 1 || n.CPUs > model.MaxCPUs || n.Memory <= 0 || n.Memory > model.MaxBytes {
				t.Fatalf("node %s: %d CPUs, %d bytes", n.Name, n.CPUs, n.Memory)
			}
			for _, c := range n.Containers {
				if ids[c.ID] || (c.Name != "" && cnames[c.Name]) {
					t.Fatalf("container %s (%s) listed twice", c.Name, c.ID)
				}
				ids[c.ID], cnames[c.Name] = true, c.Name != ""
				if err := model.CheckName(c.Name); err != nil {
					t.Fatal(err)
				}
				if c.CPUs < 0 || c.Memory < 0 || c.Memory > model.MaxBytes {
					t.Fatalf("container %s: %s CPUs, %d bytes", c.Name, c.CPUs, c.Memory)
				}
			}
		}
		if file.Overcommit < -100 || file.Overcommit > model.Overcommit(model.MaxOvercommit*100) {
			t.Fatalf("overcommit %d%%", file.Overcommit)
		}
	})
}
