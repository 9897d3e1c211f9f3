package ui

import (
	"context"
	"sync"
	"time"
)

// maxHold is the longest the console's background work waits for a
// key's frame: a safety bound, since every key is drawn.
const maxHold = time.Second

// keyGate lets a key go first: from the moment the UI goroutine takes a
// key until the frame that answers it is drawn, the console's own
// background work (the next rebuild, a launch's next container, the next
// launch preview) waits. On two cores shared with a launch, the manager
// and the collector, the Go scheduler runs goroutines in turn, 10 ms of
// wall time each: a frame of a few milliseconds of CPU, preempted once,
// waited behind the launch and the refresher for hundreds of
// milliseconds when the machine was loaded.
type keyGate struct {
	mu   sync.Mutex
	held chan struct{} // closed when the frame is drawn; nil: open
}

// hold closes the gate until release; on the UI goroutine.
func (g *keyGate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held == nil {
		g.held = make(chan struct{})
	}
}

// release opens the gate.
func (g *keyGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held != nil {
		close(g.held)
		g.held = nil
	}
}

// wait returns at once when the gate is open, else when it opens, ctx
// ends or maxHold has passed.
func (g *keyGate) wait(ctx context.Context) {
	g.mu.Lock()
	ch := g.held
	g.mu.Unlock()
	if ch == nil {
		return
	}
	t := time.NewTimer(maxHold)
	defer t.Stop()
	select {
	case <-ch:
	case <-ctx.Done():
	case <-t.C:
	}
}
