package sched_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"swarmdeck/clusterfile"
	"swarmdeck/model"
	"swarmdeck/sched"
)

// moveText is a move as the tables spell it: "a1 n1→n4", with "+" for a
// move that follows its group's leader.
func moveText(m sched.Move) string {
	s := fmt.Sprintf("%s %s→%s", m.Container.Name, m.From.Name, m.To.Name)
	if m.Group != 0 {
		s = fmt.Sprintf("%s (group %d)", s, m.Group)
	}
	return s
}

func loadCluster(t testing.TB, name string) []*model.Node {
	t.Helper()
	f, err := clusterfile.Load(filepath.Join("testdata", "rebalance", name))
	if err != nil {
		t.Fatal(err)
	}
	return f.Nodes
}

func TestRebalancePlans(t *testing.T) {
	cases := []struct {
		name      string
		file      string
		strategy  string
		maxMoves  int
		budget    int
		want      []string
		truncated bool
		pinned    int
		cost      string
		// why are the first moves' reasons, exactly.
		why       []string
		bound     sched.Bound
		boundText string
	}{
		{name: "a recovered empty node takes one container from each of the busiest nodes until no move gains",
			file: "recovered.yaml", want: []string{"a1 n1→n4", "b1 n2→n4"},
			cost: "2 moves; no constraint or affinity touched",
			why: []string{
				"spread prefers n4: weight -963 there after the move (CPU 25%, memory 12%, 1 container) against -888 on n1 now (CPU 75%, memory 37%, 3 containers)",
				"spread prefers n4: weight -925 there after the move (CPU 50%, memory 25%, 2 containers) against -888 on n2 now (CPU 75%, memory 37%, 3 containers)"}},
		{name: "max-moves stops the plan after the first move",
			file: "recovered.yaml", maxMoves: 1, want: []string{"a1 n1→n4"}, truncated: true,
			bound: sched.BoundMaxMoves, boundText: "bounded by --max-moves 1: a further move would gain"},
		{name: "max-moves exactly the moves that gain is not a bound",
			file: "recovered.yaml", maxMoves: 2, want: []string{"a1 n1→n4", "b1 n2→n4"}},
		{name: "a budget of one try stops the plan and says so",
			file: "recovered.yaml", budget: 1, want: []string{"a1 n1→n4"}, truncated: true,
			bound: sched.BoundBudget, boundText: "bounded by the planning budget: stopped looking after 1 containers tried; plan again for more"},
		{name: "binpack consolidates: n1's containers fill n2 and n3 to the brim, the empty n4 stays empty",
			file: "recovered.yaml", strategy: sched.StrategyBinpack, want: []string{"a1 n1→n2", "a2 n1→n3"},
			why: []string{"binpack prefers n2: weight 1150 there after the move (CPU 100%, memory 50%, 4 containers) against 1112 on n1 now (CPU 75%, memory 37%, 3 containers)"}},
		{name: "random prefers nothing: no plan",
			file: "recovered.yaml", strategy: sched.StrategyRandom, want: nil},
		{name: "constraints keep e1..e3 in zone eu: they may go to n3, never to the empty n2",
			file: "constraints.yaml", want: []string{"e1 n1→n3", "free n1→n2"}, pinned: 2,
			cost: "2 moves; constraint zone==eu ×1"},
		{name: "a node that no longer satisfies a container's constraint sends it where it does, though that node is busier",
			file: "relabeled.yaml", want: []string{"e1 n1→n2"}, pinned: 1, cost: "1 move; constraint zone==eu ×1",
			why: []string{"n1 no longer satisfies its rules (constraint zone==eu: node has zone=us); n2 does: CPU 75%, memory 37%, 2 containers"}},
		{name: "an affinity pins web to db: they move together",
			file: "affinity.yaml", want: []string{"db n1→n2 (group 1)", "web n1→n2 (group 1)"},
			cost: "2 moves; affinity container==db ×1",
			why: []string{"spread prefers n2: weight -950 there after the move (CPU 25%, memory 25%, 1 container) against -882 on n1 now (CPU 75%, memory 43%, 3 containers); web goes with it (an affinity to it), and the group gains as a whole",
				"its affinity needs db, which moves to n2"}},
		{name: "an affinity to a container that cannot move: neither moves",
			file: "affinity-pinned.yaml", want: nil, pinned: 1},
		{name: "a group larger than what max-moves leaves does not move at all",
			file: "affinity.yaml", maxMoves: 1, want: []string{"side n1→n2"}, truncated: true,
			bound: sched.BoundMaxMoves, boundText: "bounded by --max-moves 1: a further move would gain"},
		{name: "a published port taken on n2 sends p1 to the smaller n3",
			file: "ports.yaml", want: []string{"p1 n1→n3", "q1 n1→n2"}, pinned: 1},
		{name: "only the policy or the rebalance label lets a container move; global ones never",
			file: "policy.yaml", want: []string{"opt n1→n2"}, pinned: 3},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			nodes := loadCluster(t, tt.file)
			s := scheduler(t, sched.Config{Strategy: tt.strategy})
			snap := sched.NewSnapshot(nodes)
			before := placements(t, s, snap)
			plan := s.Rebalance(snap, sched.RebalanceOptions{MaxMoves: tt.maxMoves, Budget: tt.budget})
			var got []string
			for _, m := range plan.Moves {
				got = append(got, moveText(m))
				if m.Why == "" {
					t.Errorf("%s has no reason", moveText(m))
				}
			}
			if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
				for _, m := range plan.Moves {
					t.Logf("%s: %s", moveText(m), m.Why)
				}
				t.Fatalf("moves %q\nwant  %q", got, tt.want)
			}
			if plan.Truncated != tt.truncated || plan.Pinned != tt.pinned {
				t.Errorf("truncated %v, pinned %d; want %v, %d", plan.Truncated, plan.Pinned, tt.truncated, tt.pinned)
			}
			for i, w := range tt.why {
				if i >= len(plan.Moves) || plan.Moves[i].Why != w {
					for _, m := range plan.Moves {
						t.Logf("%s: %s", moveText(m), m.Why)
					}
					t.Fatalf("move %d's reason differs; want %q", i+1, w)
				}
			}
			if plan.Bound != tt.bound || plan.BoundText() != tt.boundText {
				t.Errorf("bound %v %q; want %v %q", plan.Bound, plan.BoundText(), tt.bound, tt.boundText)
			}
			if tt.cost != "" && plan.Cost() != tt.cost {
				t.Errorf("cost %q; want %q", plan.Cost(), tt.cost)
			}
			// Planning leaves the snapshot as it was.
			if after := placements(t, s, snap); after != before {
				t.Errorf("the snapshot changed:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

// placements is where a few probe requests go and what every node holds:
// a fingerprint of the snapshot.
func placements(t *testing.T, s *sched.Scheduler, snap *sched.Snapshot) string {
	var sb strings.Builder
	for _, r := range []*sched.Request{request(t), request(t, want(1000, 1<<30)), request(t, publish("8080:80"))} {
		p, err := s.Explain(snap, r)
		if err != nil {
			fmt.Fprintf(&sb, "error %v\n", err)
			continue
		}
		for _, rep := range p.Nodes {
			fmt.Fprintf(&sb, "%s %d %+v; ", rep.Node.Name, rep.Rank, rep.Score)
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// randomCluster is a small cluster of random sizes, zones, reservations,
// ports, constraints and affinities.
func randomCluster(rng *rand.Rand) []*model.Node {
	zones := []string{"eu", "us"}
	var nodes []*model.Node
	seq := 0
	for i := range 3 + rng.IntN(5) {
		n := node(fmt.Sprintf("n%d", i+1), labels("zone", zones[rng.IntN(2)]), cpus(2<<rng.IntN(3)), memory(int64(4<<rng.IntN(3))*gib))
		var names []string
		port := false
		for range rng.IntN(7) {
			seq++
			name := fmt.Sprintf("c%d", seq)
			var opts []ctrOpt
			opts = append(opts, res(model.MilliCPU(250*rng.IntN(5)), int64(rng.IntN(9))*(256<<20)))
			if rng.IntN(10) < 7 {
				opts = append(opts, clabel(model.LabelReschedulePolicies, `["on-node-failure"]`))
			}
			var env []string
			if rng.IntN(10) < 3 {
				env = append(env, "constraint:zone=="+n.Labels["zone"])
			}
			if len(names) > 0 && rng.IntN(100) < 15 {
				env = append(env, "affinity:container=="+names[rng.IntN(len(names))])
			}
			if !port && rng.IntN(10) < 2 {
				port = true
				opts = append(opts, ports("8080:80"))
			}
			c := ctr(name, opts...)
			c.Env = env
			req, err := sched.NewRequest(c.Config)
			if err != nil {
				panic(err)
			}
			c.Config = req.Config
			rules := model.Rules{Constraints: rawOf(req.Constraints), Affinities: rawOf(req.Affinities)}
			if req.Reschedule != "" {
				rules.Reschedule = []string{req.Reschedule}
			}
			c.SetRules(rules)
			c.Node = n.Addr
			n.Containers = append(n.Containers, c)
			names = append(names, name)
		}
		nodes = append(nodes, n)
	}
	return nodes
}

func rawOf(es []*sched.Expr) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Raw)
	}
	return out
}

// report is the node's verdict for r in an explained placement.
func report(t *testing.T, s *sched.Scheduler, snap *sched.Snapshot, r *sched.Request, addr string) sched.NodeReport {
	t.Helper()
	p, err := s.Explain(snap, r)
	var reps []sched.NodeReport
	if err == nil {
		reps = p.Nodes
	} else if pe, ok := err.(*sched.PlacementError); ok {
		reps = pe.Nodes
	}
	for _, rep := range reps {
		if rep.Node.Addr == addr {
			return rep
		}
	}
	t.Fatalf("no report for %s", addr)
	return sched.NodeReport{}
}

// holds reports whether c's rules and resources hold on its node, as a
// placement of c there today would judge them.
func holds(t *testing.T, s *sched.Scheduler, snap *sched.Snapshot, c *model.Container) bool {
	r, err := sched.NewRequest(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	snap.RemoveContainer(c.Node, c)
	defer snap.AddContainer(c.Node, c)
	return report(t, s, snap, r, c.Node).Kept
}

func TestRebalanceNeverBreaksAFilterNorWorsensTheScore(t *testing.T) {
	planned := 0
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 7))
		nodes := randomCluster(rng)
		strategy := []string{sched.StrategySpread, sched.StrategyBinpack}[rng.IntN(2)]
		s := scheduler(t, sched.Config{Strategy: strategy})
		plan := s.Rebalance(sched.NewSnapshot(nodes), sched.RebalanceOptions{MaxMoves: 1 + rng.IntN(8)})
		planned += len(plan.Moves)

		// Replay the plan on a fresh snapshot, checking each move as it goes.
		snap := sched.NewSnapshot(nodes)
		where := map[string]*model.Container{} // container ID → the container as it sits now
		var all []*model.Container
		for _, n := range nodes {
			for _, c := range n.Containers {
				where[c.ID] = c
				all = append(all, c)
			}
		}
		heldBefore := map[string]bool{}
		for _, c := range all {
			heldBefore[c.ID] = holds(t, s, snap, c)
		}
		for i, m := range plan.Moves {
			ctx := fmt.Sprintf("seed %d (%s), move %d %s", seed, strategy, i, moveText(m))
			if !sched.Rebalanceable(m.Container) {
				t.Fatalf("%s: the container has neither the policy nor the label", ctx)
			}
			c := where[m.Container.ID]
			if c == nil || c.Node != m.From.Addr {
				t.Fatalf("%s: the container is not on %s", ctx, m.From.Name)
			}
			r, err := sched.NewRequest(c.Config)
			if err != nil {
				t.Fatal(err)
			}
			snap.RemoveContainer(c.Node, c)
			to, from := report(t, s, snap, r, m.To.Addr), report(t, s, snap, r, m.From.Addr)
			if !to.Kept {
				t.Fatalf("%s breaks a rule: %v", ctx, to.Reasons)
			}
			if m.Group == 0 && from.Kept && !better(strategy, to.Score, from.Score) {
				t.Fatalf("%s does not gain: to %+v, from %+v", ctx, to.Score, from.Score)
			}
			moved := *c
			moved.Node = m.To.Addr
			snap.AddContainer(moved.Node, &moved)
			where[c.ID] = &moved
		}
		// Whatever held before the plan holds after it.
		for _, c := range all {
			now := where[c.ID]
			if heldBefore[c.ID] && !holds(t, s, snap, now) {
				t.Fatalf("seed %d (%s): %s on %s lost its footing after the plan %v", seed, strategy, c.Name, now.Node, plan.Moves)
			}
		}
	}
	if planned == 0 {
		t.Fatal("no random cluster gave a single move: the property was never exercised")
	}
	t.Logf("%d moves planned over 400 random clusters", planned)
}

// better is the strategy's strict order on scores, without the name
// tie-break.
func better(strategy string, a, b sched.Score) bool {
	sign := int64(1)
	if strategy == sched.StrategyBinpack {
		sign = -1
	}
	if a.Weight != b.Weight {
		return sign*a.Weight < sign*b.Weight
	}
	return sign*int64(a.Containers) < sign*int64(b.Containers)
}

// recoveredBigCluster is bigCluster with a third of the containers under
// the reschedule policy and its last node back empty after a failure.
func recoveredBigCluster(n, perNode int) []*model.Node {
	nodes := bigCluster(n, perNode)
	for _, nd := range nodes {
		for j, c := range nd.Containers {
			if j%3 == 0 {
				c.Labels[model.LabelReschedulePolicies] = `["on-node-failure"]`
				c.SetRules(model.Rules{Reschedule: []string{sched.RescheduleOnNodeFailure}})
			}
		}
	}
	nodes[len(nodes)-1].Containers = nil
	return nodes
}

func benchRebalance(b *testing.B, n, perNode int) { benchRebalanceMax(b, n, perNode, 0) }

func BenchmarkRebalance1000Nodes30000Containers(b *testing.B)   { benchRebalance(b, 1000, 30) }
func BenchmarkRebalance10000Nodes300000Containers(b *testing.B) { benchRebalance(b, 10000, 30) }

func TestAHugeMaxMovesIsBoundedByTheClusterSize(t *testing.T) {
	// 2,000 nodes of one container each: a try may look at every node, so
	// the planner tries at most PlanWork/2000 = 250 containers.
	nodes := recoveredBigCluster(2000, 1)
	s := scheduler(t, sched.Config{})
	plan := s.Rebalance(sched.NewSnapshot(nodes), sched.RebalanceOptions{MaxMoves: 100000})
	if want := sched.PlanWork / 2000; plan.Budget != want || plan.Considered > want {
		t.Fatalf("budget %d, %d tried; want a budget of %d and no more tries", plan.Budget, plan.Considered, want)
	}
	if plan.MaxMoves != 100000 {
		t.Fatalf("max moves %d; want 100000 as asked", plan.MaxMoves)
	}
}

func benchRebalanceMax(b *testing.B, n, perNode, maxMoves int) {
	nodes := recoveredBigCluster(n, perNode)
	s := scheduler(b, sched.Config{Overcommit: model.DefaultOvercommit})
	snap := sched.NewSnapshot(nodes)
	var plan *sched.Plan
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		plan = s.Rebalance(snap, sched.RebalanceOptions{MaxMoves: maxMoves})
	}
	b.ReportMetric(float64(len(plan.Moves)), "moves")
	b.ReportMetric(float64(plan.Considered), "tries")
}

func BenchmarkRebalance1000Nodes30000ContainersHugeMaxMoves(b *testing.B) {
	benchRebalanceMax(b, 1000, 30, 100000)
}

func BenchmarkRebalance10000Nodes300000ContainersHugeMaxMoves(b *testing.B) {
	benchRebalanceMax(b, 10000, 30, 100000)
}
