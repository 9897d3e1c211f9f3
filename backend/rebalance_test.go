package backend

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"swarmdeck/model"
)

// busyAndEmpty is three nodes of three policy containers (1 CPU, 1 GiB
// each) and a fourth, empty one.
func busyAndEmpty() ([]*model.Node, []*model.Container) {
	var nodes []*model.Node
	var all []*model.Container
	for i, prefix := range []string{"a", "b", "c"} {
		var cs []*model.Container
		for j := range 3 {
			ct := running(fmt.Sprintf("%s%d", prefix, j+1), true)
			ct.CPUs, ct.Memory = 1000, 1<<30
			cs = append(cs, ct)
		}
		all = append(all, cs...)
		nodes = append(nodes, simNode(fmt.Sprintf("n%d", i+1), 4, 8<<30, nil, cs...))
	}
	return append(nodes, simNode("n4", 4, 8<<30, nil)), all
}

func TestRebalanceRunsThePlanAndLosesNothing(t *testing.T) {
	nodes, all := busyAndEmpty()
	c := startSim(t, SimSource("test", nodes), fast())
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 4))

	dry, err := c.Rebalance(context.Background(), 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Plan.Moves) != 2 || dry.Outcomes != nil || len(names(c, "n4:2375")) != 0 {
		t.Fatalf("dry run: %d moves, outcomes %v, n4 holds %v; want 2 planned, none run", len(dry.Plan.Moves), dry.Outcomes, names(c, "n4:2375"))
	}
	res, err := c.Rebalance(context.Background(), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary() != "2 of 2 moves done" {
		t.Fatalf("summary %q", res.Summary())
	}
	if got := strings.Join(names(c, "n4:2375"), ","); got != "a1,b1" {
		t.Fatalf("n4 holds %s; want a1,b1", got)
	}
	for _, ct := range all {
		n, where := copies(c, ct.SwarmID)
		if n != 1 {
			t.Fatalf("%s: %d copies on %v", ct.Name, n, where)
		}
		got, _, err := c.Inspect(ct.Name)
		if err != nil || got.State != model.Running {
			t.Fatalf("%s: %v, %v; want running", ct.Name, got, err)
		}
	}
	// Balanced now: a second plan is empty.
	if again := c.PlanRebalance(0); len(again.Moves) != 0 {
		t.Fatalf("a second plan moves %d", len(again.Moves))
	}
	var plans []string
	var moves int
	for _, e := range c.RecentEvents() {
		switch e.Kind {
		case model.EventPlan:
			plans = append(plans, e.Action+": "+e.Message)
		case model.EventMove:
			moves++
			if !strings.Contains(e.Message, "spread prefers n4") {
				t.Errorf("move event without its reason: %s", e.Message)
			}
		}
	}
	// The dry run, the run and its end, and the preview: each with its
	// cost, the planned ones with each move and why.
	want := []string{
		"rebalance_plan: rebalance (dry run): 2 moves; no constraint or affinity touched | a1 n1 → n4: spread prefers n4",
		"rebalance_run: rebalance: 2 moves; no constraint or affinity touched",
		"rebalance_done: rebalance: 2 of 2 moves done",
		"rebalance_plan: rebalance planned (preview): the cluster is balanced",
	}
	if len(plans) != len(want) || moves != 2 {
		t.Fatalf("plan events %q and %d move events; want %d and 2", plans, moves, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(plans[i], w) {
			t.Errorf("plan event %d: %q; want it to start %q", i+1, plans[i], w)
		}
	}
}

func TestARebalanceStopsAtTheFirstFailureAndKeepsTheOldCopies(t *testing.T) {
	nodes, all := busyAndEmpty()
	src := SimSource("test", nodes)
	sim := src.NewEngine
	src.NewEngine = func(e Entry) (Engine, error) {
		eng, err := sim(e)
		if e.Addr == "n4:2375" {
			return failingEngine{eng}, err
		}
		return eng, err
	}
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 4))
	res, err := c.Rebalance(context.Background(), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if f := res.Failed(); f == nil || !strings.Contains(res.Summary(), "0 of 2 moves done; stopped at the first failure") ||
		!strings.Contains(f.Err.Error(), "no space left on device") {
		t.Fatalf("summary %q", res.Summary())
	}
	for _, ct := range all {
		if n, where := copies(c, ct.SwarmID); n != 1 || where[0] == "n4" {
			t.Fatalf("%s: %d copies on %v; want one, where it was", ct.Name, n, where)
		}
	}
}

func TestRebalanceOnRecoveryMovesContainersToANodeThatJoins(t *testing.T) {
	nodes, _ := busyAndEmpty()
	src := SimSource("test", nodes)
	d := make(chanDiscovery, 1)
	src.Discovery = d
	d <- []Entry{{Addr: "n1:2375", Name: "n1"}, {Addr: "n2:2375", Name: "n2"}, {Addr: "n3:2375", Name: "n3"}}
	opts := fast()
	opts.RebalanceOnRecovery = true
	c := startSim(t, src, opts)
	waitFor(t, 2*time.Second, "three healthy", allHealthy(c, 3))
	time.Sleep(100 * time.Millisecond)
	if len(c.PlanRebalance(0).Moves) != 0 {
		t.Fatal("three equal nodes should need no move")
	}
	d <- []Entry{{Addr: "n1:2375", Name: "n1"}, {Addr: "n2:2375", Name: "n2"}, {Addr: "n3:2375", Name: "n3"}, {Addr: "n4:2375", Name: "n4"}}
	waitFor(t, 6*time.Second, "n4 gets a1 and b1", func() bool { return strings.Join(names(c, "n4:2375"), ",") == "a1,b1" })
}
