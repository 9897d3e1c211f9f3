package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"swarmdeck/backend"
	"swarmdeck/model"
	"swarmdeck/sched"
)

func TestDrainKeysAskThenMoveTheMovableContainers(t *testing.T) {
	h := start(t, demoSource(t), 200, 40)
	h.wait(settle, "Nodes: 5/6 healthy")
	h.typeText("/eu-1")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Nodes [1/6] /eu-1")
	h.typeText("d")
	h.wait(settle, "Drain eu-1?", "1 move off it: db", "Blocking the drain: cache-eu (no reschedule policy)", "Drain, force")
	h.key(tcell.KeyEscape) // Esc cancels: nothing changes
	h.gone(settle, "Drain eu-1?")
	if strings.Contains(h.lineWith("10.0.1.11"), "draining") {
		t.Fatalf("cancelled drain still drained eu-1:\n%s", h.text())
	}
	h.typeText("d")
	h.wait(settle, "Drain eu-1?")
	h.key(tcell.KeyTab) // Cancel → Drain
	h.key(tcell.KeyEnter)
	h.wait(settle, "draining · Healthy", "Out of service: 1 draining, 0 paused", "eu-1 is now draining: 1 moving, 1 blocking")
	// db left: eu-1 keeps cache-eu alone.
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(h.lineWith("10.0.1.11"), " 1/1 ") {
		if time.Now().After(deadline) {
			t.Fatalf("eu-1 after the drain: %q; want cache-eu alone (1/1)", h.lineWith("10.0.1.11"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.key(tcell.KeyEscape)
	h.typeText("4")
	h.wait(settle, "eu-1 is now draining (was active): 1 container moves off it, 1 blocks the drain",
		"cache-eu blocks the drain of eu-1", "moved db from eu-1 to")
	// Pause then activate another node.
	h.typeText("1")
	h.typeText("/eu-3")
	h.key(tcell.KeyEnter)
	h.typeText("p")
	h.wait(settle, "Pause eu-3?")
	h.key(tcell.KeyTab)
	h.key(tcell.KeyEnter)
	h.wait(settle, "paused · Healthy", "1 draining, 1 paused")
	h.typeText("a")
	h.wait(settle, "eu-3 is now active", "1 draining, 0 paused")
}

// busySource is three nodes of three containers with the reschedule
// policy (1 CPU, 1 GiB each on 4 CPUs, 8 GiB) and a fourth node, empty.
func busySource() *backend.Source {
	return policySource("sim://busy", 3, 1, 3, 4, func(i, j int) string { return fmt.Sprintf("%c%d", 'a'+i, j+1) })
}

func TestRebalancePreviewThenRun(t *testing.T) {
	h := start(t, busySource(), 160, 40)
	h.wait(settle, "Nodes: 4/4 healthy")
	h.typeText("b")
	h.wait(settle, "Rebalance", "Plan: 2 moves; no constraint or affinity touched",
		"1. a1  n1 → n4", "2. b1  n2 → n4", "spread prefers n4: weight -963 there after the move",
		"touches no constraint or affinity", "Run 2 moves", "Cancel")
	h.key(tcell.KeyEnter) // Cancel has the focus: Enter cancels, nothing moves
	h.gone(settle, "Run 2 moves")
	time.Sleep(200 * time.Millisecond)
	if l := h.lineWith("10.0.0.4"); !strings.Contains(l, " 0/0 ") {
		t.Fatalf("n4 after a cancelled rebalance: %q; want empty", l)
	}
	// The preview is an event, with its cost and the moves' reasons.
	h.typeText("4")
	h.wait(settle, "rebalance planned (preview): 2 moves; no constraint or affinity touched | a1 n1 → n4: spread prefers n4")
	h.typeText("1")
	h.typeText("b")
	h.wait(settle, "Run 2 moves")
	h.key(tcell.KeyEscape) // Esc cancels too
	h.gone(settle, "Run 2 moves")
	h.typeText("b")
	h.wait(settle, "Run 2 moves")
	h.key(tcell.KeyTab) // Cancel → Run
	h.key(tcell.KeyEnter)
	h.wait(settle, "rebalance: 2 of 2 moves done")
	deadline := time.Now().Add(settle)
	for !strings.Contains(h.lineWith("10.0.0.4"), " 2/2 ") {
		if time.Now().After(deadline) {
			t.Fatalf("n4 after the rebalance: %q; want 2/2", h.lineWith("10.0.0.4"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.typeText("4")
	h.wait(settle, "moved a1 from n1 to n4: spread prefers n4", "moved b1 from n2 to n4", "rebalance: 2 moves")
	// Balanced now: the preview says so and offers nothing to run.
	h.typeText(":rebalance 3")
	h.key(tcell.KeyEnter)
	s := h.wait(settle, "The cluster is balanced: no move would gain.", "Close")
	if strings.Contains(s, "Run ") {
		t.Fatalf("a balanced cluster offers a run:\n%s", s)
	}
}

func TestTheDrainDialogSaysWhatMovesWhatBlocksAndWhatGoes(t *testing.T) {
	ctr := func(name, id string, labels map[string]string) *model.Container {
		c := &model.Container{Config: model.Config{Name: name, Labels: labels}, ID: id}
		if labels[model.LabelReschedulePolicies] != "" {
			c.SetRules(model.Rules{Reschedule: []string{"on-node-failure"}})
		}
		return c
	}
	n := &model.Node{Name: "n1", Containers: []*model.Container{
		ctr("db", "1", map[string]string{model.LabelReschedulePolicies: `["on-node-failure"]`}),
		ctr("opt", "2", map[string]string{model.LabelRebalance: "true"}),
		ctr("cache", "3", nil),
		ctr("agent", "4", map[string]string{sched.LabelMode: sched.ModeGlobal, model.LabelRebalance: "true"}),
		ctr("new", "", map[string]string{model.LabelReschedulePolicies: `["on-node-failure"]`}),
	}}
	moving, blocking, global := drainPlan(n)
	got := fmt.Sprintf("moving %q, blocking %q, global %q", moving, blocking, global)
	want := `moving ["db" "opt"], blocking ["cache (no reschedule policy)" "new (being created)"], global ["agent"]`
	if got != want {
		t.Fatalf("%s\nwant %s", got, want)
	}
}
