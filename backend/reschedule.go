package backend

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// queued is a container of a failed node waiting to be placed elsewhere.
type queued struct {
	c          *model.Container // as it was on the failed node
	from       string           // the failed node's address
	fromName   string
	since      time.Time // the node's first failure
	wasRunning bool
	lastErr    string // why the last attempt failed
	inFlight   bool   // being placed right now
	// live is set for a drain or rebalance move: the old copy still runs
	// and holds the name until the new one has started.
	live bool
	pin  string // the node address the move must go to; empty: any
	why  string // why it moves: what happened to its node
}

// Queued is a container waiting to be rescheduled, as readers see it.
type Queued struct {
	Container *model.Container
	From      string // the failed node's name
	FromAddr  string // and its address
	Since     time.Time
	Reason    string // why it could not be placed yet; empty before the first try
}

// hasPolicy reports whether a container asked to move when its node fails.
func hasPolicy(ct *model.Container) bool {
	return slices.Contains(ct.Reschedule(), sched.RescheduleOnNodeFailure)
}

// afterGrace evacuates an Unhealthy node now, or after the grace period
// if it is still Unhealthy then. c.mu is held.
func (c *Cluster) afterGrace(n *node) {
	if c.opts.RescheduleGrace <= 0 {
		c.evacuate(n, n.failedAt)
		return
	}
	c.emit(model.Event{Kind: model.EventReschedule, Node: n.name(), Action: "reschedule_grace",
		Message: fmt.Sprintf("%s is down: its containers move in %s unless it comes back", n.name(), c.opts.RescheduleGrace)})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if !sleep(c.runCtx(), c.opts.RescheduleGrace) {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.nodes[n.entry.Addr] == n && n.health == model.Unhealthy && c.isPrimary() {
			c.evacuate(n, n.failedAt)
		}
	}()
}

// evacuate takes the containers of a failed node off it: those with the
// on-node-failure policy join the queue (and their names are free at
// once); the others are reported lost and stay, shown with their node.
// c.mu is held.
func (c *Cluster) evacuate(n *node, since time.Time) {
	if since.IsZero() {
		since = time.Now()
	}
	cs := make([]*model.Container, 0, len(n.containers))
	for _, ct := range n.containers {
		cs = append(cs, ct)
	}
	slices.SortFunc(cs, func(a, b *model.Container) int { return strings.Compare(a.Name, b.Name) })
	why := failedWhy(n)
	for _, ct := range cs {
		if isGlobal(ct) {
			continue // a global container's copy belongs to its node: never rescheduled
		}
		if _, ok := c.removingDown[ct.ID]; ok {
			c.removingDown[ct.ID] = true // an rm -f is recording its removal: it goes, it does not move
			continue
		}
		if l := c.landing[ct.SwarmID]; l != nil && l.to == n {
			// The new copy of a move whose old copy is going: the move
			// decides (it queues this copy once the old one is gone).
			l.failed = true
			continue
		}
		if hasPolicy(ct) && (c.swarmIDs[ct.SwarmID] > 1 || c.abandoned[ct.SwarmID] != "") {
			// Another copy runs elsewhere already (moved by an earlier
			// primary), or it was removed while it waited: this one is
			// stale, never moved again, and goes when its node comes back,
			// even once the other copy is removed too.
			c.dropContainer(n, ct.ID)
			c.evacuated[ct.SwarmID] = n.entry.Addr
			continue
		}
		if !hasPolicy(ct) && c.abandoned[removalKey(ct)] != "" {
			// removed while its node was down (rm -f, maybe through an
			// earlier primary): not lost, gone; its copy goes when the
			// node comes back
			c.dropContainer(n, ct.ID)
			continue
		}
		if !hasPolicy(ct) {
			c.emit(model.Event{Kind: model.EventFailure, Node: n.name(), Container: ct.Name, Action: "lost",
				Message: fmt.Sprintf("%s is down with %s and not moved: it has no reschedule policy", ct.Name, n.name())})
			continue
		}
		c.enqueue(n, ct, since, why)
	}
	c.rebuild(n)
	c.nudge()
}

// failedWhy says why n's containers leave it.
func failedWhy(n *node) string {
	if n.health == model.Disconnected {
		return fmt.Sprintf("%s left discovery", n.name())
	}
	return fmt.Sprintf("%s is %s after %d failed connections: %s", n.name(), n.health, n.failures, n.lastErr)
}

// enqueue takes one container off its failed node and queues it to be
// rescheduled; its name is free at once. c.mu is held.
func (c *Cluster) enqueue(n *node, ct *model.Container, since time.Time, why string) {
	c.dropContainer(n, ct.ID)
	c.evacuated[ct.SwarmID] = n.entry.Addr
	c.setQueue(append(c.queue, &queued{c: ct, from: n.entry.Addr, fromName: n.name(), since: since, wasRunning: ct.State == model.Running, why: why}))
	c.log.Info("container queued to move: "+why, "event", "reschedule_queued", "node", n.name(), "container", ct.Name, "cause", why)
}

// giveBackQueue undoes the queue this manager built while it was primary,
// once it is not, and again when it takes over: meanwhile another primary
// decided (moved a container, or the user removed it through that
// primary, or its node came back), and only the engines tell this manager
// so. A queued container goes back on its failed node, as a replica that
// never queued it shows it, and a new primary's reconcile evacuates that
// node again from the cluster as it is; one whose node is Healthy again
// is left to that node's listing; one whose node left discovery stays
// queued unless a copy of it runs somewhere. Without this, a manager that
// was primary again moved a container another primary had removed, and
// counted the reservation of a container removed from a Healthy node as
// waiting on that node (soak run 5). Moves being made (in flight, or a
// drain's live move) are left alone. c.mu is held.
func (c *Cluster) giveBackQueue() {
	if len(c.queue) == 0 {
		return
	}
	kept := c.queue[:0]
	for _, q := range c.queue {
		n := c.nodes[q.from]
		if q.inFlight || q.live || n == nil && c.swarmIDs[q.c.SwarmID] == 0 {
			kept = append(kept, q)
			continue
		}
		if c.evacuated[q.c.SwarmID] == q.from {
			delete(c.evacuated, q.c.SwarmID)
		}
		if n != nil && n.health != model.Healthy && n.containers[q.c.ID] == nil {
			c.putContainer(n, q.c)
			c.rebuild(n)
		}
	}
	clear(c.queue[len(kept):])
	c.setQueue(kept)
	c.gen.Add(1)
}

// nudge tells the rescheduler that capacity may have appeared.
func (c *Cluster) nudge() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// rescheduleRetry is how often the queue is retried when nothing nudges.
const rescheduleRetry = 5 * time.Second

// rescheduler places queued containers whenever it is nudged (a node
// failed, came back or joined, a container was removed) and every few
// seconds, until ctx ends. When the manager has just become primary it
// reconciles first. It is the one goroutine that moves containers.
func (c *Cluster) rescheduler(ctx context.Context) {
	t := time.NewTicker(rescheduleRetry)
	defer t.Stop()
	for {
		takeover := false
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-t.C:
		case <-c.takeover:
			takeover = true
		}
		select {
		case <-c.takeover:
			takeover = true
		default:
		}
		if !c.isPrimary() {
			c.mu.Lock()
			c.giveBackQueue()
			c.mu.Unlock()
			continue
		}
		if takeover {
			c.reconcile(ctx)
		}
		c.drain(ctx)
		c.expireRemovals(ctx)
		c.continueDrains(ctx)
		c.reconcileGlobals(ctx)
	}
}

// drain tries every queued container once, in queue order. One that
// cannot be placed stays queued and never stops the others.
func (c *Cluster) drain(ctx context.Context) {
	c.mu.Lock()
	var items []*queued
	for _, q := range c.queue {
		if !q.inFlight {
			q.inFlight = true
			items = append(items, q)
		}
	}
	c.mu.Unlock()
	for _, q := range items {
		if ctx.Err() != nil {
			return
		}
		c.move(ctx, q)
	}
}

// move recreates one queued container on a healthy node, with its name
// and swarm ID, and starts it if it was running.
func (c *Cluster) move(ctx context.Context, q *queued) {
	cfg, shared, err := q.c.Config, []model.Endpoint(nil), error(nil)
	if !q.live {
		cfg, shared, err = c.detachShared(ctx, q.c)
	}
	var req *sched.Request
	if err == nil {
		req, err = sched.NewRequest(cfg)
	}
	var ct *model.Container
	var to *node
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 2*callTimeout) // a create and an inspect
		ct, to, err = c.place(pctx, req, q.c.SwarmID, q)
		cancel()
	}
	c.opts.Observer.Rescheduled(time.Since(q.since), err)
	c.mu.Lock()
	q.inFlight = false
	if err != nil {
		if err.Error() != q.lastErr {
			q.lastErr = err.Error()
			c.emit(model.Event{Kind: model.EventFailure, Node: q.fromName, Container: q.c.Name, Action: "reschedule_failed",
				Message: fmt.Sprintf("cannot reschedule %s from %s yet: %v", q.c.Name, q.fromName, err)}, "cause", q.why, "error", err.Error())
		}
		c.mu.Unlock()
		return
	}
	c.setQueue(slices.DeleteFunc(c.queue, func(x *queued) bool { return x == q }))
	c.mu.Unlock()

	c.reattach(ctx, to, ct, shared)
	if q.wasRunning {
		c.startRescheduled(ctx, to, ct)
	}
	took := time.Since(q.since).Round(time.Millisecond)
	c.emit(model.Event{Kind: model.EventReschedule, Node: to.name(), Container: ct.Name, Action: "reschedule", Duration: took,
		Message: fmt.Sprintf("Rescheduled container %s from %s to %s as %s in %s", ct.Name, q.fromName, to.name(), model.ShortID(ct.ID), took)},
		"from", q.fromName, "cause", q.why)
}

// reread inspects one container and records what the engine says.
func (c *Cluster) reread(ctx context.Context, n *node, id string) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	t := c.ticket(n)
	defer c.readDone(n, t) // after the unlock deferred below
	ct, err := n.eng.Inspect(cctx, id)
	cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	old, before := n.containers[id], n.changes
	gone := false
	switch {
	case err == nil:
		c.applyRead(n, t, id, ct)
	case IsNotFound(err):
		gone = c.applyRead(n, t, id, nil) && old != nil
	case IsConnectionError(err):
		c.probeSoon(n) // the probe, not this read, says whether the engine is down
	}
	if n.changes == before {
		c.rebuild(n)
		return
	}
	c.showRead(n, id, old, before)
	if gone {
		// The engine's destroy event, which comes after, finds no record
		// and says nothing: the read that dropped it tells, once (a
		// removal through the manager showed no destroy in docker events
		// on simulated engines, outside trial t5scale).
		c.emit(model.Event{Kind: model.EventContainer, Node: n.name(), Container: old.Name, ContainerID: old.ID, Action: "destroy",
			Message: fmt.Sprintf("%s removed from %s", old.Name, n.name())})
		c.nudge() // capacity appeared
	}
}

// runCtx is the context Run was given, for goroutines started later.
func (c *Cluster) runCtx() context.Context {
	if ctx := c.ctx.Load(); ctx != nil {
		return *ctx
	}
	return context.Background()
}

// queuedName reports whether a queued container other than except holds
// name. c.mu is held.
func (c *Cluster) queuedName(name string, except *queued) bool {
	for _, q := range c.queue {
		if q != except && q.c.Name == name {
			return true
		}
	}
	return false
}

// describe names a container for messages.
func describe(ct *model.Container) string {
	return cmp.Or(ct.Name, model.ShortID(ct.ID), "a container")
}
