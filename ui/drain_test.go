package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
)

func TestDrainKeysAskThenMoveTheMovableContainers(t *testing.T) {
	h := start(t, demoSource(t), 200, 40)
	h.wait(3*time.Second, "Nodes: 5/6 healthy")
	h.typeText("/eu-1")
	h.key(tcell.KeyEnter)
	h.wait(time.Second, "Nodes [1/6] /eu-1")
	h.typeText("d")
	h.wait(time.Second, "Drain eu-1?", "1 move off it: db", "Blocking the drain: cache-eu (no reschedule policy)", "Drain, force")
	h.key(tcell.KeyEscape) // Esc cancels: nothing changes
	h.gone(time.Second, "Drain eu-1?")
	if strings.Contains(h.lineWith("10.0.1.11"), "draining") {
		t.Fatalf("cancelled drain still drained eu-1:\n%s", h.text())
	}
	h.typeText("d")
	h.wait(time.Second, "Drain eu-1?")
	h.key(tcell.KeyTab) // Cancel → Drain
	h.key(tcell.KeyEnter)
	h.wait(3*time.Second, "Healthy · draining", "Out of service: 1 draining, 0 paused", "eu-1 is now draining: 1 moving, 1 blocking")
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
	h.wait(3*time.Second, "eu-1 is now draining (was active): 1 containers move off it, 1 block the drain",
		"cache-eu blocks the drain of eu-1", "moved db from eu-1 to")
	// Pause then activate another node.
	h.typeText("1")
	h.typeText("/eu-3")
	h.key(tcell.KeyEnter)
	h.typeText("p")
	h.wait(time.Second, "Pause eu-3?")
	h.key(tcell.KeyTab)
	h.key(tcell.KeyEnter)
	h.wait(3*time.Second, "Healthy · paused", "1 draining, 1 paused")
	h.typeText("a")
	h.wait(3*time.Second, "eu-3 is now active", "1 draining, 0 paused")
}
