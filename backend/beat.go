package backend

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The heartbeats of every engine come from one timer. A single goroutine
// (beats) turns a wheel of slots, one slot per tick, so each engine is
// visited once per Heartbeat and the visits are spread evenly over it.
// A visit pings a simulated engine in place (no goroutine woken, no
// context made: quickPinger); any other engine, and a simulated one that
// hangs, is pinged by its own monitor goroutine with its own probe
// timeout, so a hung or slow engine never delays another's heartbeat. A
// visit also starts the engine's periodic full refresh when it is due
// (every RefreshMin–RefreshMax, at a random point so they spread), again
// in the engine's own goroutine.
type heartbeats struct {
	mu    sync.Mutex
	slots [][]*node // the nodes visited at each tick of the wheel
}

// beatState is what the wheel reads of a node, without a lock, and the
// wake-ups it sends the node's monitor.
type beatState struct {
	following  atomic.Bool   // the monitor is in follow: heartbeats and refreshes are due
	refreshDue atomic.Int64  // unix nanoseconds of the next full refresh
	ping       chan struct{} // the wheel asks the monitor to ping (it cannot be pinged in place, or failed there)
	refresh    chan struct{} // the wheel asks the monitor for a full refresh
}

func newBeatState() beatState {
	return beatState{ping: make(chan struct{}, 1), refresh: make(chan struct{}, 1)}
}

// quickPinger is an engine that can answer a ping at once (a simulated
// one). answered is false when the ping would wait (the engine hangs):
// then nothing was done and the ping must be made with a timeout.
type quickPinger interface {
	PingNow() (answered bool, err error)
}

// beatTick is the shortest tick of the wheel: a 1 s heartbeat turns ten
// slots of 100 ms, a test's 20 ms heartbeat one.
const (
	beatTick     = 20 * time.Millisecond
	maxBeatSlots = 10
)

func beatSlots(heartbeat time.Duration) int {
	return max(1, min(maxBeatSlots, int(heartbeat/beatTick)))
}

// add puts a node on the wheel, in the slot with the fewest nodes.
func (h *heartbeats) add(n *node) {
	h.mu.Lock()
	defer h.mu.Unlock()
	best := 0
	for i, s := range h.slots {
		if len(s) < len(h.slots[best]) {
			best = i
		}
	}
	n.slot = best
	h.slots[best] = append(h.slots[best], n)
}

// remove takes a node off the wheel.
func (h *heartbeats) remove(n *node) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.slots[n.slot]
	for i, o := range s {
		if o == n {
			s[i] = s[len(s)-1]
			s[len(s)-1] = nil
			h.slots[n.slot] = s[:len(s)-1]
			return
		}
	}
}

// beats turns the wheel until ctx ends.
func (c *Cluster) beats(ctx context.Context) {
	slots := len(c.wheel.slots)
	t := time.NewTicker(c.opts.Heartbeat / time.Duration(slots))
	defer t.Stop()
	var visit []*node
	for hand := 0; ; hand = (hand + 1) % slots {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.wheel.mu.Lock()
		visit = append(visit[:0], c.wheel.slots[hand]...)
		c.wheel.mu.Unlock()
		now := time.Now().UnixNano()
		for i, n := range visit {
			c.beat(n, now)
			visit[i] = nil
		}
	}
}

// beat is one node's heartbeat, and its refresh when due.
func (c *Cluster) beat(n *node, now int64) {
	b := &n.beat
	if !b.following.Load() {
		return // connecting or failing: the monitor probes on its own
	}
	if due := b.refreshDue.Load(); now >= due && b.refreshDue.CompareAndSwap(due, now+int64(c.refreshDelay())) {
		wakeUp(b.refresh)
	}
	if q, ok := n.eng.(quickPinger); ok {
		if answered, err := q.PingNow(); answered && (err == nil || !IsConnectionError(err)) {
			c.probeOK(n)
			return
		}
		// failed, or hangs: the monitor probes, with the probe timeout,
		// and its probe is the one that counts
	}
	wakeUp(b.ping)
}

// wakeUp sends on a channel of one that may already hold a wake-up.
func wakeUp(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// following marks the start of a follow: the next full refresh is due in
// RefreshMin–RefreshMax, and wake-ups left from an earlier follow are
// dropped. It returns the function that ends the follow.
func (c *Cluster) following(n *node) func() {
	b := &n.beat
	for _, ch := range []chan struct{}{b.ping, b.refresh} {
		select {
		case <-ch:
		default:
		}
	}
	b.refreshDue.Store(time.Now().Add(c.refreshDelay()).UnixNano())
	b.following.Store(true)
	return func() { b.following.Store(false) }
}
