package ui

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// watched is the real cluster, with creates of 2 ms (a launch of 1,000
// lasts seconds), that counts the creates asked for while a test holds a
// frame.
type watched struct {
	*backend.Cluster
	creates atomic.Int64
	holding atomic.Bool
	during  atomic.Int64 // creates asked for while holding
}

func (w *watched) Create(ctx context.Context, cfg model.Config) (*model.Container, error) {
	w.creates.Add(1)
	if w.holding.Load() {
		w.during.Add(1)
	}
	time.Sleep(2 * time.Millisecond)
	return w.Cluster.Create(ctx, cfg)
}

// A key goes first: while the frame that answers it is drawn, a launch
// running in the background asks for no container. The frame of a key
// pressed during a launch is held here for 100 ms in its draw; without
// the gate the launch went on meanwhile (its creates, the manager's work
// and the rebuilds they cause share two cores with the UI goroutine, and
// a preempted frame waited behind them).
func TestALaunchWaitsWhileAKeysFrameIsDrawn(t *testing.T) {
	w := &watched{}
	var armed atomic.Bool
	drawn := make(chan struct{})
	h := startWith(t, demoSource(t), 160, 45, func(c *backend.Cluster) Backend { w.Cluster = c; return w }, func(a *App) {
		keys := a.app.GetInputCapture()
		a.app.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
			if ev.Key() == tcell.KeyRune && ev.Rune() == '1' && a.launching != nil {
				armed.Store(true) // the next draw is this key's frame
			}
			return keys(ev)
		})
		before := a.app.GetBeforeDrawFunc()
		a.app.SetBeforeDrawFunc(func(s tcell.Screen) bool {
			if armed.CompareAndSwap(true, false) {
				w.holding.Store(true)
				time.Sleep(100 * time.Millisecond)
				w.holding.Store(false)
				close(drawn)
			}
			return before(s)
		})
	})
	h.wait(settle, "Nodes: 5/6 healthy")
	h.fillLaunch("busybox", "bg", "", "1000")
	h.key(tcell.KeyEnter)
	h.wait(settle, "launching bg:")
	for w.creates.Load() < 20 { // under way
		time.Sleep(time.Millisecond)
	}
	h.typeText("1")
	select {
	case <-drawn:
	case <-time.After(settle):
		t.Fatal("the key pressed during the launch was never drawn")
	}
	h.wait(settle, "Nodes [6]")
	if n := w.during.Load(); n > 0 {
		t.Fatalf("the launch asked for %d containers while a key's frame was drawn", n)
	}
	h.typeText("2")
	h.wait(settle, "launching bg:") // still running: the key was pressed during it
}
