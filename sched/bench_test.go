package sched_test

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// bigCluster is n nodes in 3 zones with perNode containers each, shaped
// like Swarm's 1,000-node, 30,000-container scale test.
func bigCluster(n, perNode int) []*model.Node {
	rng := rand.New(rand.NewPCG(42, 42))
	zones := []string{"eu-west", "us-east", "ap-south"}
	disks := []string{"ssd", "hdd"}
	images := []string{"redis:7", "nginx:1.25", "postgres:16", "busybox:latest"}
	nodes := make([]*model.Node, n)
	for i := range nodes {
		nd := &model.Node{
			Name: fmt.Sprintf("node-%d", i+1), ID: fmt.Sprintf("ID%05d", i), Addr: fmt.Sprintf("10.%d.%d.%d:2375", i>>16, (i>>8)&255, i&255),
			CPUs: 16, Memory: 64 << 30, Health: model.Healthy,
			Labels: map[string]string{"zone": zones[i%3], "disk": disks[i%2], "storagedriver": "overlay2", "ostype": "linux"},
		}
		for _, im := range images[:1+i%len(images)] {
			nd.Images = append(nd.Images, model.Image{ID: "sha256:" + im, RepoTags: []string{im}})
		}
		for j := range perNode {
			nd.Containers = append(nd.Containers, &model.Container{
				Config: model.Config{Name: fmt.Sprintf("c-%d-%d", i, j), Image: images[j%len(images)],
					CPUs: model.MilliCPU(rng.IntN(300)), Memory: int64(rng.IntN(1 << 30)),
					Labels: map[string]string{"app": fmt.Sprintf("app-%d", j%10)}},
				ID: fmt.Sprintf("%064x", i*perNode+j), Node: nd.Addr, State: model.Running,
			})
		}
		nodes[i] = nd
	}
	return nodes
}

func benchPlace(b *testing.B, nodes []*model.Node, strategy string, opts ...runOpt) {
	s := scheduler(b, sched.Config{Strategy: strategy, Overcommit: model.DefaultOvercommit})
	snap := sched.NewSnapshot(nodes)
	r := request(b, append([]runOpt{want(500, 256<<20)}, opts...)...)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.Seed = uint64(i)
		if _, err := s.Place(snap, r); err != nil {
			b.Fatal(err)
		}
	}
}

// twoConstraintsAndAffinity is the second case: two constraints
// (an equality and a glob) and an image affinity.
var twoConstraintsAndAffinity = env("constraint:zone==eu*", "constraint:disk==ssd", "affinity:image==redis*")

func BenchmarkPlace1000NodesNoExpression(b *testing.B) {
	benchPlace(b, bigCluster(1000, 30), "spread")
}

func BenchmarkPlace1000NodesTwoConstraintsAndAffinity(b *testing.B) {
	benchPlace(b, bigCluster(1000, 30), "spread", twoConstraintsAndAffinity)
}

func BenchmarkPlace10000NodesNoExpression(b *testing.B) {
	benchPlace(b, bigCluster(10000, 30), "spread")
}

func BenchmarkPlace10000NodesTwoConstraintsAndAffinity(b *testing.B) {
	benchPlace(b, bigCluster(10000, 30), "spread", twoConstraintsAndAffinity)
}

func BenchmarkPlace1000NodesBinpack(b *testing.B) {
	benchPlace(b, bigCluster(1000, 30), "binpack")
}

func BenchmarkPlace1000NodesRandom(b *testing.B) {
	benchPlace(b, bigCluster(1000, 30), "random")
}

// The costlier expression shapes, for the record: a container-name glob
// and a container-label affinity look at all 30 containers of each node.
func BenchmarkPlace1000NodesContainerGlobAffinity(b *testing.B) {
	benchPlace(b, bigCluster(1000, 30), "spread", env("affinity:container!=web-*"))
}

func BenchmarkPlace1000NodesContainerLabelAffinity(b *testing.B) {
	benchPlace(b, bigCluster(1000, 30), "spread", env("affinity:app!=frontend"))
}

func BenchmarkPlace1000NodesPort(b *testing.B) {
	benchPlace(b, bigCluster(1000, 30), "spread", publish("8080:80"))
}

func BenchmarkExplain1000Nodes(b *testing.B) {
	nodes := bigCluster(1000, 30)
	s := scheduler(b, sched.Config{Overcommit: model.DefaultOvercommit})
	snap := sched.NewSnapshot(nodes)
	r := request(b, want(500, 256<<20), twoConstraintsAndAffinity)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Explain(snap, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExplainScale explains one placement (every filter on every
// node, with reasons) at 1,000, 10,000 and 100,000 nodes of 10 containers,
// with no expression and with two constraints and an image affinity (half
// the nodes rejected with reasons).
func BenchmarkExplainScale(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		// Each size is built only when one of its benchmarks runs.
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			nodes := bigCluster(n, 10)
			s := scheduler(b, sched.Config{Overcommit: model.DefaultOvercommit})
			snap := sched.NewSnapshot(nodes)
			for _, c := range []struct {
				name string
				opts []runOpt
			}{{"none", nil}, {"constraints", []runOpt{twoConstraintsAndAffinity}}} {
				r := request(b, append([]runOpt{want(500, 256<<20)}, c.opts...)...)
				b.Run(c.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, err := s.Explain(snap, r); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

func BenchmarkNewSnapshot1000Nodes30000Containers(b *testing.B) {
	nodes := bigCluster(1000, 30)
	b.ReportAllocs()
	for b.Loop() {
		sched.NewSnapshot(nodes)
	}
}

// TestPlacementAllocatesNothingPerNode compares allocations per placement
// on 100 and 1,000 nodes: the per-node loop must not allocate, so the
// counts are equal (the few allocations are per placement).
func TestPlacementAllocatesNothingPerNode(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []runOpt
	}{
		{"no expression", nil},
		{"two constraints and an affinity", []runOpt{twoConstraintsAndAffinity}},
		{"a container-name glob", []runOpt{env("affinity:container!=web-*")}},
		{"a port", []runOpt{publish("8080:80")}},
		{"a dependency", []runOpt{link("c-5-1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var allocs [2]float64
			for i, n := range []int{100, 1000} {
				s := scheduler(t, sched.Config{Overcommit: model.DefaultOvercommit})
				snap := sched.NewSnapshot(bigCluster(n, 30))
				r := request(t, tc.opts...)
				allocs[i] = testing.AllocsPerRun(20, func() {
					if _, err := s.Place(snap, r); err != nil {
						t.Fatal(err)
					}
				})
			}
			if allocs[0] != allocs[1] {
				t.Fatalf("%v allocations per placement on 100 nodes, %v on 1,000: something allocates per node", allocs[0], allocs[1])
			}
		})
	}
}

// BenchmarkSwarmStyleConstraintMatching is the baseline: Swarm compiled a
// regexp for every constraint on every node. Two constraints over 1,000
// nodes, measured here in the same run as the placements above.
func BenchmarkSwarmStyleConstraintMatching1000Nodes(b *testing.B) {
	nodes := bigCluster(1000, 0)
	exprs := [][2]string{{"zone", "eu*"}, {"disk", "ssd"}}
	b.ReportAllocs()
	for b.Loop() {
		kept := 0
		for _, n := range nodes {
			ok := true
			for _, e := range exprs {
				re := regexp.MustCompile("^" + strings.ReplaceAll(e[1], "*", ".*") + "$")
				ok = ok && re.MatchString(n.Labels[e[0]])
			}
			if ok {
				kept++
			}
		}
		if kept == 0 {
			b.Fatal("no node kept")
		}
	}
}

// benchPlaceAndRun places and then counts the container on the chosen
// node, as a manager or `place --count` does, so every placement sees the
// previous one: the index is updated for one node per placement. scan
// measures the same stream with every placement reading every node.
func benchPlaceAndRun(b *testing.B, nodes []*model.Node, strategy string, scan bool, opts ...runOpt) {
	s := scheduler(b, sched.Config{Strategy: strategy, Overcommit: model.DefaultOvercommit})
	snap := sched.NewSnapshot(nodes)
	if scan {
		sched.ScanOnly(snap)
	}
	r := request(b, append([]runOpt{want(10, 16<<20)}, opts...)...)
	if _, err := s.Place(snap, r); err != nil { // first use of the shape builds its index
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.Seed = uint64(i)
		p, err := s.Place(snap, r)
		if err != nil {
			b.Fatal(err)
		}
		snap.AddContainer(p.Node.Addr, &model.Container{Config: r.Config, Node: p.Node.Addr, State: model.Running})
	}
}

func BenchmarkPlaceAndRun10000Nodes(b *testing.B) {
	nodes := bigCluster(10000, 30)
	for _, strategy := range []string{"spread", "binpack", "random"} {
		for _, scan := range []bool{false, true} {
			how := "indexed"
			if scan {
				how = "scan"
			}
			b.Run(strategy+"/"+how, func(b *testing.B) { benchPlaceAndRun(b, nodes, strategy, scan) })
		}
	}
}

func BenchmarkPlaceAndRun10000NodesContainerGlobAffinity(b *testing.B) {
	nodes := bigCluster(10000, 30)
	for _, scan := range []bool{false, true} {
		how := "indexed"
		if scan {
			how = "scan"
		}
		b.Run(how, func(b *testing.B) { benchPlaceAndRun(b, nodes, "spread", scan, env("affinity:container!=web-*")) })
	}
}

func BenchmarkPlaceAndRun10000NodesTwoConstraintsAndAffinity(b *testing.B) {
	benchPlaceAndRun(b, bigCluster(10000, 30), "spread", false, twoConstraintsAndAffinity)
}
