package backend

import (
	"context"
	"strings"
	"testing"
)

func TestParseNodes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // entries as name=addr, comma-joined
		err  string
	}{
		{name: "a plain list", in: "10.0.0.1:2375,10.0.0.2:2375", want: "=10.0.0.1:2375,=10.0.0.2:2375"},
		{name: "a range in the address", in: "10.0.0.[10:12]:2375", want: "=10.0.0.10:2375,=10.0.0.11:2375,=10.0.0.12:2375"},
		{name: "a range in the port", in: "192.168.1.2:[2:4]375", want: "=192.168.1.2:2375,=192.168.1.2:3375,=192.168.1.2:4375"},
		{name: "names", in: "db=10.0.0.1:2375,web=10.0.0.2:2375", want: "db=10.0.0.1:2375,web=10.0.0.2:2375"},
		{name: "a unix socket", in: "unix:///run/docker.sock", want: "=unix:///run/docker.sock"},
		{name: "spaces and empty entries are skipped", in: " a:1 ,, b:2 ", want: "=a:1,=b:2"},
		{name: "no port", in: "10.0.0.1", err: `invalid address "10.0.0.1": want host:port, please check you are using the correct discovery (missing token:// ?)`},
		{name: "a port out of range", in: "a:70000", err: `invalid address "a:70000": want host:port with a port from 1 to 65535, please check you are using the correct discovery (missing token:// ?)`},
		{name: "a reversed range", in: "10.0.0.[5:1]:2375", err: `invalid range in "10.0.0.[5:1]:2375": 5 is above 1, please check`},
		{name: "two ranges", in: "10.0.[1:2].[1:2]:2375", err: `holds more than one range`},
		{name: "a named range", in: "db=10.0.0.[1:2]:2375", err: `the named entry "db=10.0.0.[1:2]:2375" holds a range`},
		{name: "a duplicate", in: "a:1,a:1", err: "address a:1 is listed twice"},
		{name: "nothing", in: " , ", err: "lists no engine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNodes(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, e := range got {
				parts = append(parts, e.Name+"="+e.Addr)
			}
			if s := strings.Join(parts, ","); s != tt.want {
				t.Fatalf("got %s; want %s", s, tt.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	for _, tt := range []struct {
		url       string
		nodes     int
		simulated bool
		err       string
	}{
		{url: "nodes://a:1,b:2", nodes: 2},
		{url: "a:1,b:2", nodes: 2},
		{url: "sim://5", nodes: 5, simulated: true},
		{url: "sim://3?containers=4", nodes: 3, simulated: true},
		{url: "sim://../examples/demo.yaml", nodes: 6, simulated: true},
		{url: "sim://0", err: "a simulated cluster has 1 to 20000 nodes"},
		{url: "sim://1000?containers=-1", err: "containers=-1: want a whole number of containers per node, 0 to 1000"},
		{url: "sim://3?pods=4", err: "the only option is containers=K"},
		{url: "sim://nope.yaml", err: "nope.yaml: cannot read the cluster file"},
		{url: "mesos://10.0.0.1/swarm", err: "unsupported scheme mesos"},
	} {
		src, err := Open(tt.url, nil)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Open(%q) = %v; want %q", tt.url, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q): %v", tt.url, err)
			continue
		}
		ch, _ := src.Discovery.Watch(context.Background())
		entries := <-ch
		if len(entries) != tt.nodes || src.Simulated != tt.simulated {
			t.Errorf("Open(%q): %d entries, simulated %v", tt.url, len(entries), src.Simulated)
		}
	}
}

func TestGeneratedNodesAreVariedAndStable(t *testing.T) {
	a, b := GenerateNodes(30, 3), GenerateNodes(30, 3)
	zones, sizes := map[string]bool{}, map[int]bool{}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Containers[0].ID != b[i].Containers[0].ID {
			t.Fatal("two generations differ")
		}
		zones[a[i].Labels["zone"]] = true
		sizes[a[i].CPUs] = true
	}
	if len(zones) != 3 || len(sizes) < 4 {
		t.Fatalf("zones %v sizes %v", zones, sizes)
	}
}
