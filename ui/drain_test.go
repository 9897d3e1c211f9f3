package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"swarmdeck/backend"
	"swarmdeck/model"
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
	h.wait(settle, "Healthy · draining", "Out of service: 1 draining, 0 paused", "eu-1 is now draining: 1 moving, 1 blocking")
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
	h.wait(settle, "eu-1 is now draining (was active): 1 containers move off it, 1 block the drain",
		"cache-eu blocks the drain of eu-1", "moved db from eu-1 to")
	// Pause then activate another node.
	h.typeText("1")
	h.typeText("/eu-3")
	h.key(tcell.KeyEnter)
	h.typeText("p")
	h.wait(settle, "Pause eu-3?")
	h.key(tcell.KeyTab)
	h.key(tcell.KeyEnter)
	h.wait(settle, "Healthy · paused", "1 draining, 1 paused")
	h.typeText("a")
	h.wait(settle, "eu-3 is now active", "1 draining, 0 paused")
}

// busySource is three nodes of three containers with the reschedule
// policy (1 CPU, 1 GiB each) and a fourth node, empty.
func busySource() *backend.Source {
	var nodes []*model.Node
	for i := range 4 {
		n := &model.Node{Name: fmt.Sprintf("n%d", i+1), ID: fmt.Sprintf("ID%d", i+1), Addr: fmt.Sprintf("10.0.0.%d:2375", i+1),
			CPUs: 4, Memory: 8 << 30, Health: model.Healthy, Labels: map[string]string{}}
		for j := range 3 {
			if i == 3 {
				break
			}
			name := fmt.Sprintf("%c%d", 'a'+i, j+1)
			n.Containers = append(n.Containers, &model.Container{
				Config: model.Config{Name: name, Image: "busybox", CPUs: 1000, Memory: 1 << 30, NetworkMode: "bridge",
					Labels: map[string]string{model.LabelReschedulePolicies: `["on-node-failure"]`}},
				ID: fmt.Sprintf("%064d", i*10+j), SwarmID: fmt.Sprintf("s%d", i*10+j), Node: n.Addr, State: model.Running,
				Reschedule: []string{"on-node-failure"},
			})
		}
		nodes = append(nodes, n)
	}
	return backend.SimSource("sim://busy", nodes)
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
