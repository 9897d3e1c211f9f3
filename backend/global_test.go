package backend

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// globalNodes lists the nodes that hold a copy of the named container.
func globalNodes(c *Cluster, name string) []string {
	var out []string
	for _, n := range c.Nodes() {
		for _, ct := range n.Containers {
			if ct.Name == name && ct.ID != "" {
				out = append(out, n.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}

func TestAGlobalContainerRunsOnEveryMatchingNodeAndFollowsThem(t *testing.T) {
	eu := map[string]string{"zone": "eu"}
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, eu), simNode("b", 4, 8<<30, eu),
		simNode("c", 4, 8<<30, map[string]string{"zone": "us"}), simNode("d", 4, 8<<30, eu)})
	d := make(chanDiscovery, 1)
	src.Discovery = d
	three := []Entry{{Addr: "a:2375", Name: "a"}, {Addr: "b:2375", Name: "b"}, {Addr: "c:2375", Name: "c"}}
	d <- three
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "three healthy", allHealthy(c, 3))
	ctx := context.Background()

	_, err := c.Create(ctx, model.Config{Name: "agent", Image: "busybox", Labels: map[string]string{sched.LabelMode: sched.ModeGlobal}})
	if err != nil {
		t.Fatal(err)
	}
	if got := globalNodes(c, "agent"); strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("agent on %v; want a,b,c", got)
	}
	// The -e shorthand, with a constraint: eu nodes only.
	if _, err := c.Create(ctx, model.Config{Name: "eu-agent", Image: "busybox", Labels: map[string]string{},
		Env: []string{"mode:global", "constraint:zone==eu"}}); err != nil {
		t.Fatal(err)
	}
	if got := globalNodes(c, "eu-agent"); strings.Join(got, ",") != "a,b" {
		t.Fatalf("eu-agent on %v; want a,b", got)
	}
	for _, name := range []string{"agent", "eu-agent"} {
		ct, _, err := c.Inspect("a/" + name)
		if err != nil || ct.State != model.Running || slices.Contains(ct.Env, "mode:global") {
			t.Fatalf("a/%s: %+v %v; want running, without the shorthand in its env", name, ct, err)
		}
	}
	if _, err := c.Create(ctx, model.Config{Name: "agent", Image: "busybox"}); !model.IsConflict(err) {
		t.Fatalf("a second agent: %v; want a name conflict", err)
	}
	// A node that joins gets its copies.
	d <- append(slices.Clone(three), Entry{Addr: "d:2375", Name: "d"})
	waitFor(t, 5*time.Second, "d gets agent and eu-agent", func() bool {
		return strings.Join(globalNodes(c, "agent"), ",") == "a,b,c,d" && strings.Join(globalNodes(c, "eu-agent"), ",") == "a,b,d"
	})
	// A drained node loses them; nothing else moves.
	res, err := c.SetAvailability(ctx, "d", model.Drain, false)
	if err != nil || len(res.Moving)+len(res.Blocking) != 0 {
		t.Fatalf("drain d: %+v %v; want the global copies neither moving nor blocking", res, err)
	}
	waitFor(t, 5*time.Second, "d loses its copies", func() bool {
		return strings.Join(globalNodes(c, "agent"), ",") == "a,b,c" && strings.Join(globalNodes(c, "eu-agent"), ",") == "a,b"
	})
	// A failed node keeps its copy: never rescheduled.
	src.Sim("c:2375").Crash()
	waitFor(t, 3*time.Second, "c unhealthy", func() bool { return health(c, "c:2375") == model.Unhealthy })
	time.Sleep(200 * time.Millisecond)
	if got := globalNodes(c, "agent"); strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("agent after c failed: %v; want a,b,c (c keeps its copy)", got)
	}
	for _, e := range c.RecentEvents() {
		if e.Action == "lost" && e.Container == "agent" {
			t.Fatalf("a global copy was reported lost: %s", e.Message)
		}
	}
	src.Sim("c:2375").Heal()
	waitFor(t, 3*time.Second, "c healthy", func() bool { return health(c, "c:2375") == model.Healthy })
	// The bare name stops and starts every copy; a call on one copy
	// names the copies to choose from.
	if err := c.Stop(ctx, "agent", time.Second); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"a/agent", "b/agent", "c/agent"} {
		if ct, _, err := c.Inspect(ref); err != nil || ct.State != model.Exited {
			t.Fatalf("%s after stop agent: %v %v; want exited", ref, ct, err)
		}
	}
	if err := c.Start(ctx, "agent"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"a/agent", "b/agent", "c/agent"} {
		if ct, _, err := c.Inspect(ref); err != nil || ct.State != model.Running {
			t.Fatalf("%s after start agent: %v %v; want running", ref, ct, err)
		}
	}
	var inv *model.InvalidError
	if _, err := c.Logs(ctx, "agent", false); !errors.As(err, &inv) ||
		!strings.Contains(err.Error(), "name the copy this acts on, as NODE/agent (a/agent, b/agent, c/agent)") {
		t.Fatalf("logs of agent: %v; want an invalid request naming the copies", err)
	}
	// rm through the manager removes every copy.
	if err := c.Remove(ctx, "agent", true); err != nil { // the bare name: every node has an agent
		t.Fatal(err)
	}
	if got := globalNodes(c, "agent"); len(got) != 0 {
		t.Fatalf("agent after rm: %v", got)
	}
	var adds, drops int
	for _, e := range c.RecentEvents() {
		if e.Kind == model.EventGlobal {
			switch e.Action {
			case "global_copy":
				adds++
			case "global_remove":
				drops++
			}
		}
	}
	if adds != 7 || drops != 3 {
		t.Fatalf("%d copy and %d removal events; want 7 and 3", adds, drops)
	}
}

// TestTheReconcilerLeavesAGlobalAloneWhileItsRunCreatesTheCopies holds
// the create of b's copy while a's exists and c's is yet to come, and
// runs a reconcile pass then (on a large cluster the pass comes every
// 5 s during a docker run of a global): it must not create c's copy
// behind the run's back, which made the run's own create on c a Conflict.
func TestTheReconcilerLeavesAGlobalAloneWhileItsRunCreatesTheCopies(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil), simNode("b", 4, 8<<30, nil), simNode("c", 4, 8<<30, nil)})
	opts := fast()
	opts.ProbeInterval, opts.ProbeTimeout = time.Second, 5*time.Second // b hangs without being flagged
	c := startSim(t, src, opts)
	waitFor(t, 2*time.Second, "three healthy", allHealthy(c, 3))
	ctx := context.Background()
	src.Sim("b:2375").Hang()
	type result struct {
		warnings []string
		err      error
	}
	done := make(chan result, 1)
	go func() {
		var w []string
		_, err := c.CreateWarn(ctx, model.Config{Name: "agent", Image: "busybox", Env: []string{"mode:global"}}, &w)
		done <- result{w, err}
	}()
	waitFor(t, 5*time.Second, "a's copy made, b's in flight", func() bool {
		return strings.Join(globalNodes(c, "agent"), ",") == "a" && len(c.Node("b:2375").Containers) == 1
	})
	c.reconcileGlobals(ctx)
	src.Sim("b:2375").Heal()
	r := <-done
	if r.err != nil || len(r.warnings) != 0 {
		t.Fatalf("docker run of agent: %v, warnings %q; want every copy made", r.err, r.warnings)
	}
	if got := strings.Join(globalNodes(c, "agent"), ","); got != "a,b,c" {
		t.Fatalf("agent on %s; want a,b,c", got)
	}
	for _, e := range c.RecentEvents() {
		if e.Kind == model.EventFailure {
			t.Errorf("a failure during the run: %s", e.Message)
		}
	}
}

// TestAGlobalContainerOutlivesDrainingEveryNodeItRunsOn drains both nodes
// a global container runs on: it has no copy left, yet once a node is
// active again it gets its copy back (the outside trial lost it for good).
func TestAGlobalContainerOutlivesDrainingEveryNodeItRunsOn(t *testing.T) {
	eu := map[string]string{"zone": "eu"}
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, eu), simNode("b", 4, 8<<30, eu), simNode("c", 4, 8<<30, map[string]string{"zone": "us"})})
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "three healthy", allHealthy(c, 3))
	ctx := context.Background()
	if _, err := c.Create(ctx, model.Config{Name: "agent", Image: "busybox", Env: []string{"mode:global", "constraint:zone==eu"}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if _, err := c.SetAvailability(ctx, n, model.Drain, false); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "no copy left", func() bool { return len(globalNodes(c, "agent")) == 0 })
	if _, err := c.SetAvailability(ctx, "b", model.Active, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "b gets its copy back", func() bool { return strings.Join(globalNodes(c, "agent"), ",") == "b" })
	// Removed by the user, it stays removed.
	if err := c.Remove(ctx, "agent", true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetAvailability(ctx, "a", model.Active, false); err != nil {
		t.Fatal(err)
	}
	c.reconcileGlobals(ctx)
	if got := globalNodes(c, "agent"); len(got) != 0 {
		t.Fatalf("agent on %v after rm and a's activation; want it gone", got)
	}
}
