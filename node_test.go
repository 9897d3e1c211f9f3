package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"swarmdeck/api"
	"swarmdeck/backend"
	"swarmdeck/model"
)

// simManager serves the API of a simulated cluster: three nodes of three
// containers with the reschedule policy, and an empty fourth.
func simManager(t *testing.T) (*backend.Cluster, string) {
	t.Helper()
	var nodes []*model.Node
	for i := range 4 {
		n := &model.Node{Name: fmt.Sprintf("n%d", i+1), ID: fmt.Sprintf("ID%d", i+1), Addr: fmt.Sprintf("10.0.0.%d:2375", i+1),
			CPUs: 4, Memory: 8 << 30, Health: model.Healthy, Labels: map[string]string{}}
		for j := range 3 {
			if i == 3 {
				break
			}
			n.Containers = append(n.Containers, &model.Container{
				Config: model.Config{Name: fmt.Sprintf("%c%d", 'a'+i, j+1), Image: "busybox", CPUs: 1000, Memory: 1 << 30,
					NetworkMode: "bridge", Labels: map[string]string{model.LabelReschedulePolicies: `["on-node-failure"]`}},
				ID: fmt.Sprintf("%064d", i*10+j), SwarmID: fmt.Sprintf("s%d", i*10+j), Node: n.Addr, State: model.Running,
				Rules: &model.Rules{Reschedule: []string{"on-node-failure"}},
			})
		}
		nodes = append(nodes, n)
	}
	c, err := backend.New(backend.SimSource("sim://test", nodes), backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	srv := httptest.NewServer(api.New(c))
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	deadline := time.Now().Add(5 * time.Second)
	for healthy := 0; healthy < 4; {
		healthy = 0
		for _, n := range c.Nodes() {
			if n.Health == model.Healthy {
				healthy++
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the simulated nodes did not become healthy")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c, "tcp://" + strings.TrimPrefix(srv.URL, "http://")
}

func TestRebalanceAndNodeCommandsTalkToTheManager(t *testing.T) {
	c, host := simManager(t)
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		return out.String(), errb.String(), code
	}
	out, errs, code := run("rebalance", "--host", host, "--dry-run")
	want := `• a1: n1 → n4
    spread prefers n4: weight -963 there after the move (CPU 25%, memory 12%, 1 container) against -888 on n1 now (CPU 75%, memory 37%, 3 containers)
    touches no constraint or affinity
• b1: n2 → n4
    spread prefers n4: weight -925 there after the move (CPU 50%, memory 25%, 2 containers) against -888 on n2 now (CPU 75%, memory 37%, 3 containers)
    touches no constraint or affinity
plan: 2 moves; no constraint or affinity touched
dry run: nothing moved
`
	if code != exitOK || out != want {
		t.Fatalf("rebalance --dry-run: exit %d\n%s%s\nwant\n%s", code, out, errs, want)
	}
	if n := c.Node("10.0.0.4:2375"); len(n.Containers) != 0 {
		t.Fatalf("a dry run moved %d containers", len(n.Containers))
	}
	out, errs, code = run("rebalance", "--host", host, "--max-moves", "1")
	if code != exitOK || !strings.Contains(out, "✓ a1: n1 → n4\n") || strings.Count(out, "plan: 1 move;") != 1 ||
		!strings.Contains(out, "bounded by --max-moves 1: a further move would gain\n1 of 1 moves done\n") {
		t.Fatalf("rebalance --max-moves 1: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code = run("rebalance", "--host", host, "--max-moves", "0"); code != exitUsage || !strings.Contains(errs, "--max-moves must be at least 1") {
		t.Fatalf("--max-moves 0: exit %d, %s", code, errs)
	}
	out, errs, code = run("node", "drain", "n1", "--host", host)
	if code != exitOK || !strings.Contains(out, "n1 (10.0.0.1:2375) is now draining (kept in memory") || !strings.Contains(out, "moved off it: 2") {
		t.Fatalf("node drain: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code = run("node", "drain", "nope", "--host", host); code != exitRefused || !strings.Contains(errs, "swarmdeck node drain nope: No such node: nope") {
		t.Fatalf("drain of an unknown node: exit %d, %s", code, errs)
	}
	if _, errs, code = run("node", "evict", "n1", "--host", host); code != exitUsage || !strings.Contains(errs, `unknown action "evict"`) {
		t.Fatalf("an unknown action: exit %d, %s", code, errs)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"node", "drain", "n2", "--force=maybe"}, `swarmdeck node: invalid argument "maybe" for "--force" flag`},
		{[]string{"node", "pause", "n2", "--bogus"}, "swarmdeck node: unknown flag: --bogus"},
		{[]string{"rebalance", "--max-moves", "abc"}, `swarmdeck rebalance: invalid argument "abc" for "--max-moves" flag`},
		{[]string{"rebalance", "--max-moves", "1e3"}, `swarmdeck rebalance: invalid argument "1e3" for "--max-moves" flag`},
		{[]string{"node", "drain", "", "--host", host}, "swarmdeck node: the node name is empty"},
		{[]string{"node", "drain", "n1", "n2", "--host", host}, `swarmdeck node: too many arguments: want 2, got 3 ["drain" "n1" "n2"]`},
		{[]string{"node", "drain", "--host", host}, `swarmdeck node: too few arguments: want 2, got 1 ["drain"]`},
		{[]string{"node", "drain", "n2", "--wait", "-5s", "--host", host}, "swarmdeck node: --wait must be 0 or more, got -5s"},
	} {
		if _, errs, code := run(tc.args...); code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, %q; want exit %d and %q", tc.args, code, errs, exitUsage, tc.want)
		}
	}
}

// A drain's blockers say whether --force would move them: only the ones
// without a reschedule policy; a container pinned to its node stays
// whatever the flag.
func TestTheDrainSuggestsForceOnlyForWhatForceMoves(t *testing.T) {
	c, host := simManager(t)
	create := func(name string, env ...string) {
		t.Helper()
		if _, err := c.Create(context.Background(), model.Config{Name: name, Image: "busybox", Env: env}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	create("loose", "constraint:node==~n2")                                // no policy, a soft rule: force moves it
	create("pinned", "constraint:node==n2", "reschedule:on-node-failure")  // its rule keeps it on n2
	create("pinned3", "constraint:node==n3", "reschedule:on-node-failure") // alone on n3 but for the policy's three
	for _, tc := range []struct{ node, want, not string }{
		{"n2", "blocking the drain: 2 (drain again with --force to move the 1 without a reschedule policy)\n", ""},
		{"n3", "blocking the drain: 1\n", "--force"},
	} {
		var out, errb bytes.Buffer
		code := run([]string{"node", "drain", tc.node, "--host", host}, &out, &errb) // n3's own containers find no room left: exit 2
		if code == exitUsage || !strings.Contains(out.String(), tc.want) || tc.not != "" && strings.Contains(out.String(), tc.not) {
			t.Errorf("node drain %s: exit %d\n%s%s\nwant %q", tc.node, code, out.String(), errb.String(), tc.want)
		}
	}
}
