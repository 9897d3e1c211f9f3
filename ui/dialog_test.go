package ui

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// crowdedSource is busy nodes of perNode containers with the reschedule
// policy (1 CPU, 1 GiB each on 8 CPUs, 16 GiB) and empty ones after
// them: a rebalance plans many moves.
func crowdedSource(busy, empty, perNode int) *backend.Source {
	return policySource("sim://crowded", busy, empty, perNode, 8, func(i, j int) string { return fmt.Sprintf("svc-%d-%d", i+1, j+1) })
}

// policySource is busy nodes of perNode containers with the reschedule
// policy (1 CPU, 1 GiB each, named by name(node, container)) and empty
// nodes after them, each of cpus CPUs and 2 GiB per CPU.
func policySource(url string, busy, empty, perNode, cpus int, name func(i, j int) string) *backend.Source {
	var nodes []*model.Node
	for i := range busy + empty {
		n := &model.Node{Name: fmt.Sprintf("n%d", i+1), ID: fmt.Sprintf("ID%d", i+1), Addr: fmt.Sprintf("10.0.0.%d:2375", i+1),
			CPUs: cpus, Memory: int64(cpus) << 31, Health: model.Healthy, Labels: map[string]string{}}
		for j := range perNode {
			if i >= busy {
				break
			}
			n.Containers = append(n.Containers, &model.Container{
				Config: model.Config{Name: name(i, j), Image: "busybox", CPUs: 1000, Memory: 1 << 30, NetworkMode: "bridge",
					Labels: map[string]string{model.LabelReschedulePolicies: `["on-node-failure"]`}},
				ID: fmt.Sprintf("%064d", i*100+j), SwarmID: fmt.Sprintf("s%d", i*100+j), Node: n.Addr, State: model.Running,
				Rules: &model.Rules{Reschedule: []string{"on-node-failure"}},
			})
		}
		nodes = append(nodes, n)
	}
	return backend.SimSource(url, nodes)
}

// reasonEnd is the end of a move's reason, wrapped onto its own line or
// not, at the dialog's right edge.
var reasonEnd = regexp.MustCompile(`containers\) *║`)

// TestTheRebalancePreviewScrollsAt80x24 opens a plan far longer than an
// 80x24 screen: its buttons stay on screen, the title says which lines
// show, End reaches the last move, and Enter on the first focus cancels.
func TestTheRebalancePreviewScrollsAt80x24(t *testing.T) {
	h := start(t, crowdedSource(3, 3, 6), 80, 24)
	h.wait(settle, "6/6 healthy")
	h.typeText("b")
	s := h.wait(settle, "Rebalance: lines 1–", "Plan: 9 moves", " 1. svc-", "Cancel", "Run 9 moves")
	if strings.Contains(s, " 9. svc-") {
		t.Fatalf("the whole plan fits at 80x24; the test needs a longer one:\n%s", s)
	}
	h.key(tcell.KeyEnd)
	s = h.wait(settle, " 9. svc-", "Cancel", "Run 9 moves")
	if strings.Contains(s, "Rebalance: lines 1–") {
		t.Fatalf("End did not scroll the plan:\n%s", s)
	}
	// Every reason wraps in full, down to the last move's (a reason cut
	// at the edge would lose its "now (…containers)" part).
	if reasons, ends := strings.Count(s, "spread prefers"), len(reasonEnd.FindAllString(s, -1)); reasons == 0 || ends < reasons {
		t.Fatalf("%d reasons on screen, %d of them end: the text is cut, not wrapped:\n%s", reasons, ends, s)
	}
	h.key(tcell.KeyHome)
	h.wait(settle, "Rebalance: lines 1–", "Plan: 9 moves")
	h.key(tcell.KeyDown) // scrolls the text; the focus stays on Cancel
	h.wait(settle, "Rebalance: lines 2–")
	h.key(tcell.KeyEnter)
	h.gone(settle, "Run 9 moves")
	time.Sleep(200 * time.Millisecond)
	for _, addr := range []string{"10.0.0.4", "10.0.0.5", "10.0.0.6"} {
		if l := h.lineWith(addr); !strings.Contains(l, " 0/0 ") {
			t.Fatalf("%s after Enter on the preview's first focus: %q; want empty (Cancel has the focus)", addr, l)
		}
	}
}

// TestTheDrainDialogScrollsAt80x24 drains a node of twelve containers
// at 80x24: every name can be read by scrolling, Cancel has the focus.
func TestTheDrainDialogScrollsAt80x24(t *testing.T) {
	h := start(t, crowdedSource(1, 1, 12), 80, 24)
	h.wait(settle, "2/2 healthy")
	h.typeText("d")
	s := h.wait(settle, "Drain n1", "Drain n1? It takes no new containers", "Cancel", "Drain ")
	h.key(tcell.KeyEnd)
	s = h.wait(settle, "svc-1-12", "Cancel")
	h.key(tcell.KeyEnter)
	h.gone(settle, "Drain n1?")
	time.Sleep(200 * time.Millisecond)
	if l := h.lineWith("10.0.0.1"); strings.Contains(l, "drain") {
		t.Fatalf("Enter on the drain dialog's first focus drained n1: %q\n%s", l, s)
	}
}

// TestGoldenScreensDialogs draws the drain dialog and the rebalance
// preview at 80x24 (go test ./ui -run TestGoldenScreens -update rewrites
// them).
func TestGoldenScreensDialogs(t *testing.T) {
	h := start(t, steadySource(t), 80, 24)
	h.steady("Nodes [5]", "5/5", "eu-1")
	h.typeText("/eu-1")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Nodes [1/5] /eu-1")
	h.typeText("d")
	golden(t, "drain-80x24", h.steady("Drain eu-1?", "Cancel"))
	h.key(tcell.KeyEscape)
	h.gone(settle, "Drain eu-1?")

	h = start(t, busySource(), 80, 24)
	h.wait(settle, "4/4 healthy")
	h.typeText("b")
	golden(t, "rebalance-80x24", h.steady("Plan: 2 moves", "Run 2 moves"))
}
