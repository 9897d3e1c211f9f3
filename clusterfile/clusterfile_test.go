package clusterfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"swarmdeck/model"
)

func TestBrokenFilesNameTheLineAndTheProblem(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"unknown-node-key.yaml", "5: field lables not found in a node (keys: name, id, addr, cpus, memory, labels, health, failures, version, images, containers)"},
		{"bad-memory.yaml", `4: node a: memory: invalid size: 'lots' (want bytes or a size such as 512m, 2g or 2GiB)`},
		{"fractional-node-cpus.yaml", "3: node a: cpus must be a whole number from 1 to 1048576"},
		{"words-for-cpus.yaml", "3: cpus: cannot unmarshal !!str `four` into float64"},
		{"no-cpus.yaml", "2: node a: cpus must be a whole number from 1 to 1048576"},
		{"bad-strategy.yaml", `1: strategy not supported: "roundrobin" (use spread, binpack or random)`},
		{"bad-filter.yaml", `1: filter not supported: "ports" (use health, port, containerslots, dependency, affinity, constraint, whitelist)`},
		{"bad-overcommit.yaml", "1: overcommit: swarm.overcommit should be larger than -1, -2.000000 is invalid"},
		{"duplicate-container.yaml", "12: container name db is already used on line 6: names are unique in the cluster"},
		{"duplicate-addr.yaml", "7: node b: address 10.0.0.1:2375 is already the address of the node on line 2"},
		{"bad-constraint.yaml", `8: container db: invalid constraint "a==b": Key 'a' is invalid`},
		{"bad-port.yaml", `8: container db: ports: "80:80:80:80": invalid IP address: 80:80`},
		{"bad-state.yaml", `8: container db: unknown container state "sleeping" (want running, exited, paused or created)`},
		{"bad-health.yaml", `5: node a: health "sick": want healthy, unhealthy or pending`},
		{"node-label.yaml", "5: node a: label node is reserved: constraint:node== matches the node's name and ID"},
		{"syntax.yaml", "5: mapping values are not allowed in this context"},
		// The parser names the line the list began on (2); the line out
		// of step is the one to fix.
		{"misindented-key.yaml", "7: this line is indented 3 spaces, but the keys of the item on line 6 are indented 4: keys of one item line up"},
		{"misindented-container-key.yaml", "8: this line is indented 7 spaces, but the keys of the item on line 6 are indented 8: keys of one item line up"},
		{"no-nodes.yaml", "no nodes: a cluster file lists at least one node under nodes:"},
		{"empty.yaml", "the file is empty: a cluster file lists its nodes under nodes:"},
		{"no-image.yaml", "6: container db on node a has no image"},
		{"no-name.yaml", "2: node 1 has no name"},
		{"duplicate-node-name.yaml", "6: node name a is already the name of the node on line 2: node names are unique"},
		{"duplicate-container-id.yaml", "14: container id 1111111111111111111111111111111111111111111111111111111111111111 is already used on line 7: container ids are unique in the cluster"},
		{"two-documents.yaml", "5: a second YAML document (after ---): a cluster file is one document"},
		{"huge-overcommit.yaml", "1: overcommit: swarm.overcommit should be at most 100 (101 times the node), 1e+300 is invalid"},
		{"bad-container-name.yaml", "6: container t3/x: Invalid container name (t3/x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"over-capacity.yaml", "10: container a2 on node n1: the node's containers would reserve 4 CPUs and 8 GiB, more than its 2 CPUs and 4.2 GiB (with 5% overcommit)"},
		{"control-node-name.yaml", `2: node 1: invalid node name "n1\x1b[31mRED\nFORGEDLINE": a node name is a hostname of at most 253 characters, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`},
		{"slash-node-name.yaml", `5: node 2: invalid node name "a/b": a node name is a hostname of at most 253 characters, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`},
		{"negative-container-memory.yaml", "8: container web: memory: invalid size: '99999999999999999999g': larger than 1 EiB"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tt.file)
			f, err := Load(path)
			if err == nil {
				t.Fatalf("loaded %d nodes; want an error", len(f.Nodes))
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %T %v is not a *clusterfile.Error", err, err)
			}
			sep := ":"
			if fe.Line == 0 {
				sep = ": "
			}
			if want := path + sep + tt.want; err.Error() != want {
				t.Fatalf("got  %s\nwant %s", err, want)
			}
			// Read node by node or decoded whole: the same words.
			data, _ := os.ReadFile(path)
			if _, werr := parseWhole(path, data); werr == nil || werr.Error() != err.Error() {
				t.Fatalf("decoded whole: %v\nread by node: %v", werr, err)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load("testdata/nope.yaml")
	if err == nil || err.Error() != "testdata/nope.yaml: cannot read the cluster file: no such file or directory" {
		t.Fatalf("got %v", err)
	}
}

func TestDemoClusterLoads(t *testing.T) {
	f, err := Load("../examples/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Nodes) != 6 || f.Strategy != "spread" || f.Overcommit != model.DefaultOvercommit {
		t.Fatalf("demo: %d nodes, strategy %q, overcommit %d", len(f.Nodes), f.Strategy, f.Overcommit)
	}
	zones := map[string]bool{}
	containers := 0
	for _, n := range f.Nodes {
		zones[n.Labels["zone"]] = true
		containers += len(n.Containers)
	}
	if len(zones) < 2 || containers < 5 {
		t.Fatalf("demo has zones %v and %d containers; want a varied cluster", zones, containers)
	}
	eu1 := f.Nodes[0]
	if eu1.Name != "eu-1" || eu1.ID != "eu-1" || eu1.Addr != "10.0.1.11:2375" || eu1.CPUs != 8 || eu1.Memory != 16<<30 {
		t.Fatalf("eu-1 read as %+v", eu1)
	}
	db := eu1.Containers[0]
	if db.Name != "db" || db.CPUs != model.CPUs(2) || db.Memory != 4<<30 || len(db.Ports) != 1 || db.Ports[0].HostPort != "5432" {
		t.Fatalf("db read as %+v", db)
	}
	if cs, rs := db.Constraints(), db.Reschedule(); len(cs) != 1 || cs[0] != "disk==ssd" || len(rs) != 1 || rs[0] != "on-node-failure" {
		t.Fatalf("db rules: constraints %q, reschedule %q", cs, rs)
	}
	if db.Labels[model.LabelConstraints] != `["disk==ssd"]` || len(db.Env) != 0 {
		t.Fatalf("db labels %v env %v: expressions belong in the labels", db.Labels, db.Env)
	}
	if len(db.SwarmID) != 64 || db.Labels[model.LabelSwarmID] != db.SwarmID {
		t.Fatalf("db swarm ID %q", db.SwarmID)
	}
	again, _ := Load("../examples/demo.yaml")
	if again.Nodes[0].Containers[0].ID != db.ID {
		t.Fatal("IDs differ between two loads of the same file")
	}
}

func TestPortsAndExposeAsDockerRun(t *testing.T) {
	ps, err := ParsePorts([]string{"127.0.0.1:53:53/udp", "8080:80", "80"})
	if err != nil {
		t.Fatal(err)
	}
	want := []model.PortBinding{
		{HostIP: "127.0.0.1", HostPort: "53", ContainerPort: "53", Proto: "udp"},
		{HostPort: "8080", ContainerPort: "80", Proto: "tcp"},
		{ContainerPort: "80", Proto: "tcp"},
	}
	for i := range want {
		if ps[i] != want[i] {
			t.Errorf("binding %d = %+v; want %+v", i, ps[i], want[i])
		}
	}
	ex, err := ParseExpose([]string{"80", "53/udp", "7000-7001"})
	if err != nil || len(ex) != 4 || ex[0] != "80/tcp" || ex[1] != "53/udp" || ex[3] != "7001/tcp" {
		t.Fatalf("expose = %q, %v", ex, err)
	}
	if _, err := ParseExpose([]string{"80/icmp"}); err == nil {
		t.Fatal("icmp accepted")
	}
}
