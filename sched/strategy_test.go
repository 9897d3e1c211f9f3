package sched_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"swarmdeck/model"
	"swarmdeck/sched"
)

func TestStrategies(t *testing.T) {
	runCases(t, []placeCase{
		{name: "spread takes the lowest weight",
			nodes: []*model.Node{node("a", with(ctr("x", res(0, 4*gib)))), node("b", with(ctr("y", res(0, 1*gib))))},
			run:   []runOpt{want(0, 1*gib)}, want: "b"},
		{name: "binpack takes the highest weight",
			nodes: []*model.Node{node("a", with(ctr("x", res(0, 4*gib)))), node("b", with(ctr("y", res(0, 1*gib))))},
			cfg:   sched.Config{Strategy: "binpack"},
			run:   []runOpt{want(0, 1*gib)}, want: "a"},
		{name: "binpacking is binpack",
			nodes: []*model.Node{node("a", with(ctr("x", res(0, 4*gib)))), node("b", with(ctr("y", res(0, 1*gib))))},
			cfg:   sched.Config{Strategy: "binpacking"},
			run:   []runOpt{want(0, 1*gib)}, want: "a"},
		{name: "equal weight: spread prefers fewer containers, stopped ones counted",
			nodes: []*model.Node{node("a", with(ctr("x", state(model.Exited)))), node("b")},
			want:  "b"},
		{name: "equal weight: binpack prefers more containers",
			nodes: []*model.Node{node("a"), node("b", with(ctr("x", state(model.Exited))))},
			cfg:   sched.Config{Strategy: "binpack"},
			want:  "b"},
		{name: "still tied: the first name in natural order, spread",
			nodes: []*model.Node{node("node-10"), node("node-2"), node("node-9")},
			want:  "node-2"},
		{name: "still tied: the first name in natural order, binpack",
			nodes: []*model.Node{node("node-10"), node("node-2")},
			cfg:   sched.Config{Strategy: "binpack"},
			want:  "node-2"},
		{name: "a request larger than any node",
			nodes:   []*model.Node{node("a", cpus(2))},
			run:     []runOpt{want(model.CPUs(3), 0)},
			wantErr: "no resources available to schedule container"},
		{name: "random respects resources (swarmdeck)",
			nodes: []*model.Node{node("a", memory(1*gib)), node("b", memory(1*gib)), node("c", memory(4*gib)), node("d", memory(1*gib))},
			cfg:   sched.Config{Strategy: "random"},
			run:   []runOpt{want(0, 2*gib)}, want: "c"},
		{name: "random with no room fails like the others",
			nodes:   []*model.Node{node("a", memory(1*gib))},
			cfg:     sched.Config{Strategy: "random"},
			run:     []runOpt{want(0, 2*gib)},
			wantErr: "no resources available to schedule container"},
	})
}

func TestStrategyRejectsUnknownNames(t *testing.T) {
	for _, tt := range []struct {
		cfg  sched.Config
		want string
	}{
		{sched.Config{Strategy: "roundrobin"}, "strategy not supported"},
		{sched.Config{Filters: []string{"health", "ports"}}, "filter not supported"},
	} {
		if _, err := sched.New(tt.cfg); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v; want %q first", tt.cfg, err, tt.want)
		}
	}
}

func TestResourceAccounting(t *testing.T) {
	runCases(t, []placeCase{
		{name: "5% overcommit adds no CPU below 20 CPUs",
			nodes:   []*model.Node{node("a", cpus(8))},
			cfg:     sched.Config{Overcommit: model.DefaultOvercommit},
			run:     []runOpt{want(model.CPUs(9), 0)},
			wantErr: "no resources available to schedule container"},
		{name: "5% overcommit makes 20 CPUs 21",
			nodes: []*model.Node{node("a", cpus(20))},
			cfg:   sched.Config{Overcommit: model.DefaultOvercommit},
			run:   []runOpt{want(model.CPUs(21), 0)}, want: "a"},
		{name: "5% overcommit grows memory",
			nodes: []*model.Node{node("a", memory(1024*mib))},
			cfg:   sched.Config{Overcommit: model.DefaultOvercommit},
			run:   []runOpt{want(0, 1075*mib)}, want: "a"},
		{name: "and no further",
			nodes:   []*model.Node{node("a", memory(1024*mib))},
			cfg:     sched.Config{Overcommit: model.DefaultOvercommit},
			run:     []runOpt{want(0, 1076*mib)},
			wantErr: "no resources available to schedule container"},
		{name: "reservations of stopped containers still count",
			nodes:   []*model.Node{node("a", memory(2*gib), with(ctr("x", res(0, 2*gib), state(model.Exited))))},
			run:     []runOpt{want(0, 1*gib)},
			wantErr: "no resources available to schedule container"},
		{name: "integer truncation lets use pass the total by under 1%",
			nodes: []*model.Node{node("a", cpus(200), with(ctr("x", res(model.CPUs(200), 0))))},
			run:   []runOpt{want(model.CPUs(1), 0)}, want: "a"},
		{name: "but not by 1%",
			nodes:   []*model.Node{node("a", cpus(200), with(ctr("x", res(model.CPUs(200), 0))))},
			run:     []runOpt{want(model.CPUs(2), 0)},
			wantErr: "no resources available to schedule container"},
		{name: "fractional CPUs add up (swarmdeck)",
			nodes: []*model.Node{node("a", cpus(1), with(ctr("x", res(500, 0)))), node("b", cpus(1), with(ctr("y", res(600, 0))))},
			run:   []runOpt{want(500, 0)}, want: "a"},
		{name: "and refuse what does not fit",
			nodes:   []*model.Node{node("a", cpus(1), with(ctr("x", res(600, 0))))},
			run:     []runOpt{want(500, 0)},
			wantErr: "no resources available to schedule container"},
	})
}

// placeMany places n copies of r one after the other, each seeing the
// ones before, and counts them per node.
func placeMany(t *testing.T, s *sched.Scheduler, snap *sched.Snapshot, n int, opts ...runOpt) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := range n {
		r := request(t, opts...)
		r.Seed = uint64(i)
		p, err := s.Place(snap, r)
		if err != nil {
			t.Fatalf("placement %d: %v", i, err)
		}
		got[p.Node.Name]++
		snap.AddContainer(p.Node.Addr, &model.Container{Config: r.Config, Node: p.Node.Addr})
	}
	return got
}

func TestSpreadEvensOutContainerCounts(t *testing.T) {
	// Swarm's TestSpreadPlaceDifferentNodeSize: nodes of different sizes end
	// with the same count when requests reserve nothing.
	snap := sched.NewSnapshot([]*model.Node{node("a", cpus(21), memory(64*gib)), node("b", cpus(42), memory(128*gib))})
	got := placeMany(t, scheduler(t, sched.Config{}), snap, 60)
	if got["a"] != 30 || got["b"] != 30 {
		t.Fatalf("spread placed %v; want 30 on each", got)
	}
}

func TestBinpackFillsOneNodeFirst(t *testing.T) {
	snap := sched.NewSnapshot([]*model.Node{node("a", cpus(4)), node("b", cpus(4))})
	got := placeMany(t, scheduler(t, sched.Config{Strategy: "binpack"}), snap, 6, want(model.CPUs(1), 0))
	if got["a"] != 4 || got["b"] != 2 {
		t.Fatalf("binpack placed %v; want a full (4) before b (2)", got)
	}
}

func TestSpreadBalancesReservations(t *testing.T) {
	snap := sched.NewSnapshot([]*model.Node{node("a", cpus(4), memory(4*gib)), node("b", cpus(4), memory(4*gib))})
	got := placeMany(t, scheduler(t, sched.Config{}), snap, 8, want(model.CPUs(1), 512*mib))
	if got["a"] != 4 || got["b"] != 4 {
		t.Fatalf("spread placed %v; want 4 and 4", got)
	}
	r := request(t, want(model.CPUs(1), 512*mib))
	if _, err := scheduler(t, sched.Config{}).Place(snap, r); err == nil || err.Error() != "no resources available to schedule container" {
		t.Fatalf("ninth CPU on two full 4-CPU nodes: %v; want no resources", err)
	}
}

func TestRandomIsUniformAndSeeded(t *testing.T) {
	var nodes []*model.Node
	for i := range 4 {
		nodes = append(nodes, node(fmt.Sprintf("n%d", i)))
	}
	s := scheduler(t, sched.Config{Strategy: "random"})
	snap := sched.NewSnapshot(nodes)
	counts := map[string]int{}
	for seed := range uint64(4000) {
		r := request(t)
		r.Seed = seed
		p, err := s.Rank(snap, r)
		if err != nil {
			t.Fatal(err)
		}
		if p.Ranked[0] != p.Node {
			t.Fatalf("seed %d: ranked[0] %s is not the chosen %s", seed, p.Ranked[0].Name, p.Node.Name)
		}
		q, _ := s.Place(snap, r)
		if q.Node != p.Node {
			t.Fatalf("seed %d: Place chose %s, Rank %s", seed, q.Node.Name, p.Node.Name)
		}
		counts[p.Node.Name]++
	}
	for n, c := range counts {
		if c < 850 || c > 1150 {
			t.Errorf("node %s chosen %d times out of 4000; want about 1000 (%v)", n, c, counts)
		}
	}
}

func TestSamePlacementWhateverTheNodeOrder(t *testing.T) {
	build := func(order []int) *sched.Snapshot {
		all := []*model.Node{
			node("node-1", labels("zone", "eu")), node("node-2", labels("zone", "eu")),
			node("node-10", labels("zone", "eu")), node("node-3", labels("zone", "us")),
		}
		var nodes []*model.Node
		for _, i := range order {
			nodes = append(nodes, all[i])
		}
		return sched.NewSnapshot(nodes)
	}
	for _, strategy := range []string{"spread", "binpack", "random"} {
		s := scheduler(t, sched.Config{Strategy: strategy})
		var first []string
		rng := rand.New(rand.NewPCG(7, 7))
		for range 10 {
			order := rng.Perm(4)
			snap := build(order)
			var got []string
			for seed := range uint64(8) {
				r := request(t, env("constraint:zone==eu"))
				r.Seed = seed
				p, err := s.Rank(snap, r)
				if err != nil {
					t.Fatal(err)
				}
				names := []string{}
				for _, n := range p.Ranked {
					names = append(names, n.Name)
				}
				got = append(got, strings.Join(names, ","))
				snap.AddContainer(p.Node.Addr, &model.Container{Config: r.Config, Node: p.Node.Addr})
			}
			if first == nil {
				first = got
			} else if strings.Join(got, " ") != strings.Join(first, " ") {
				t.Fatalf("%s: node order %v ranked %v; another order ranked %v", strategy, order, got, first)
			}
		}
	}
}

func TestHealthIndicator(t *testing.T) {
	s := scheduler(t, sched.Config{})
	for _, tt := range []struct {
		health   model.Health
		failures int
		want     int64
	}{
		{model.Healthy, 0, 100}, {model.Healthy, 1, 67}, {model.Healthy, 2, 34}, {model.Healthy, 3, 0},
		{model.Unhealthy, 0, 0}, {model.Pending, 0, 0},
	} {
		n := node("a", health(tt.health), failures(tt.failures))
		if got := s.HealthIndicator(n); got != tt.want {
			t.Errorf("%v with %d failures: %d; want %d", tt.health, tt.failures, got, tt.want)
		}
	}
}
