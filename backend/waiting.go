package backend

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"swarmdeck/model"
)

// WaitingError is the answer about a container the manager is waiting to
// reschedule: its node is down and no other node has taken it yet. Found
// by ID, swarm ID or name alike.
type WaitingError struct{ Queued }

func (e *WaitingError) Error() string {
	msg := fmt.Sprintf("Container %s is waiting to be rescheduled: its node %s is down", describe(e.Container), e.From)
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	return msg
}

// IsWaiting reports whether err is about a container waiting to be
// rescheduled, and returns it.
func IsWaiting(err error) (*WaitingError, bool) {
	var w *WaitingError
	ok := errors.As(err, &w)
	return w, ok
}

// waitingLocked lists the queued containers that no node shows: one that
// has just been placed elsewhere, or is back on its node, is shown there
// and not twice. c.mu is held.
func (c *Cluster) waitingLocked() []*queued {
	var out []*queued
	for _, q := range c.queue {
		if q.c.SwarmID != "" && c.swarmIDs[q.c.SwarmID] > 0 {
			continue
		}
		out = append(out, q)
	}
	return out
}

// waitingAnswer is find's answer for a container that waits: the queued
// entry, and its failed node if the cluster still has it. c.mu is held.
func (c *Cluster) waitingAnswer(q *queued) (*model.Container, *node, *model.Node, error) {
	err := &WaitingError{q.view()}
	if n := c.nodes[q.from]; n != nil {
		return q.c, n, c.viewOf(n), err
	}
	return q.c, nil, nil, err
}

// view is the queued container as readers see it. c.mu is held.
func (q *queued) view() Queued {
	return Queued{Container: q.c, From: q.fromName, FromAddr: q.from, Since: q.since, Reason: q.lastErr}
}

// forget takes a waiting container out of the queue at the user's
// request (docker rm): it will not be rescheduled, and its copy on the
// failed node goes when that node comes back. The removal is recorded in
// the cluster's state first (Tombstones), so a manager that takes over
// before the node comes back does not move it again.
func (c *Cluster) forget(ctx context.Context, w *WaitingError) error {
	c.mu.Lock()
	i := slices.IndexFunc(c.queue, func(q *queued) bool { return q.c == w.Container })
	if i < 0 {
		c.mu.Unlock()
		return nil // placed or back home meanwhile: nothing waits any more
	}
	q := c.queue[i]
	if q.inFlight {
		c.mu.Unlock()
		return fmt.Errorf("cannot remove %s: it is being rescheduled right now; try again", describe(q.c))
	}
	q.inFlight = true // the rescheduler leaves it alone while the removal is recorded
	c.mu.Unlock()
	err := c.setTombstone(ctx, q.c.SwarmID, true)
	c.mu.Lock()
	defer c.mu.Unlock()
	q.inFlight = false
	if err != nil {
		return fmt.Errorf("cannot remove %s: %w", describe(q.c), err)
	}
	c.setQueue(slices.DeleteFunc(c.queue, func(x *queued) bool { return x == q }))
	if q.c.SwarmID != "" {
		c.abandoned[q.c.SwarmID] = removedWhileDown
	}
	c.emit(model.Event{Kind: model.EventReschedule, Node: q.fromName, Container: q.c.Name, ContainerID: q.c.ID, Action: "destroy",
		Message: fmt.Sprintf("%s removed while waiting to be rescheduled off %s; its copy there goes when %s comes back", describe(q.c), q.fromName, q.fromName)})
	c.gen.Add(1)
	return nil
}

// setTombstone records (now) or forgets a removal record, in the
// cluster's state if it keeps them, and in this manager's account of the
// records' ages.
func (c *Cluster) setTombstone(ctx context.Context, id string, removed bool) error {
	ts, ok := c.state.(Tombstones)
	if !ok || id == "" {
		return nil
	}
	if err := ts.SetRemoved(ctx, id, removed); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.buriedAt[id]; removed && !ok {
		c.buriedAt[id] = time.Now()
	} else if !removed {
		delete(c.buriedAt, id)
	}
	return nil
}

// loadTombstones reads the removal records (maybe an earlier primary's)
// before a new primary moves anything: their containers are abandoned,
// never moved, and leave the queue. Records older than RemovalRecordTTL
// are deleted instead (expireRemovals).
func (c *Cluster) loadTombstones(ctx context.Context) {
	ts, ok := c.state.(Tombstones)
	if !ok {
		return
	}
	var recs []Removal
	var err error
	for try := 0; try < 3 && ctx.Err() == nil; try++ {
		if recs, err = ts.Removed(ctx); err == nil {
			break
		}
		sleep(ctx, time.Second)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.emit(model.Event{Kind: model.EventFailure, Action: "state",
			Message: fmt.Sprintf("cannot read the containers removed while waiting to be rescheduled (%s): %v", c.state.Where(), err)})
		return
	}
	now := time.Now()
	for _, r := range recs {
		at := r.At
		if at.IsZero() { // an older version's record: its age counts from now
			at = now
			if seen, ok := c.buriedAt[r.ID]; ok {
				at = seen
			}
		}
		c.buriedAt[r.ID] = at // expireRemovals deletes it once too old
		c.abandoned[r.ID] = removedWhileDown
	}
	c.setQueue(slices.DeleteFunc(c.queue, func(q *queued) bool { return !q.inFlight && c.abandoned[q.c.SwarmID] != "" }))
}

// DefaultRemovalRecordTTL is how long a removal record is kept when the
// node with the removed container's copy does not come back.
const DefaultRemovalRecordTTL = 7 * 24 * time.Hour

// expireRemovals deletes the removal records older than RemovalRecordTTL:
// the node that held the removed container's copy has not come back
// since (a node that comes back has its copy removed and the record
// deleted with it). A node that comes back after that brings the copy
// back as an ordinary container (unless this manager, primary all along,
// still remembers moving it): remove it again.
// Only the primary calls it.
func (c *Cluster) expireRemovals(ctx context.Context) {
	c.mu.Lock()
	var old []string
	for id, at := range c.buriedAt {
		if time.Since(at) > c.opts.RemovalRecordTTL {
			old = append(old, id)
		}
	}
	c.mu.Unlock()
	for _, id := range old {
		if err := c.setTombstone(ctx, id, false); err != nil {
			c.log.Warn("an expired removal record stays recorded", "id", id, "err", err)
			continue
		}
		c.mu.Lock()
		if c.abandoned[id] == removedWhileDown {
			delete(c.abandoned, id)
		}
		c.emit(model.Event{Kind: model.EventReschedule, Action: "removal_expired",
			Message: fmt.Sprintf("the removal record of %s is deleted after %s: the node with its copy has not come back", model.ShortID(id), c.opts.RemovalRecordTTL)})
		c.mu.Unlock()
	}
}

// removedWhileDown is why the copy of a container removed while it
// waited to be rescheduled goes when its node comes back.
const removedWhileDown = "removed by the user while its node was down"

// ghost is the reservation of a create that ended without the engine's
// answer (a connection that broke, a timeout, a node flagged down, a
// caller that gave up): the engine may still carry it out — a hung engine
// does when it runs again — so its room stays taken on the node, lest the
// node hold more than it has once the container appears. It goes when the
// engine shows the container (which then counts itself), or when a full
// listing of the node, begun ghostGrace after the create ended and after
// the node turned Healthy, does not have it.
type ghost struct {
	c     *model.Container // the reservation, as the create's pending container
	ended time.Time        // when the create call ended
}

// ghostGrace is how long after an unanswered create, and after its node
// answers again, a listing without the container proves it never came: a
// hung engine that runs again carries out the requests it had received
// alongside the manager's first listing.
const ghostGrace = 3 * time.Second

// unanswered reports whether a create's error leaves its outcome unknown.
func unanswered(err error) bool {
	return IsConnectionError(err) || errors.Is(err, ErrNodeDown) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// buryGhosts drops the ghosts of node n that a listing begun at began
// proves never came. c.mu is held.
func (c *Cluster) buryGhosts(n *node, began time.Time) {
	for sid, g := range c.ghosts {
		if g.c.Node == n.entry.Addr && n.health == model.Healthy &&
			began.Sub(g.ended) >= ghostGrace && began.Sub(n.healthyAt) >= ghostGrace {
			delete(c.ghosts, sid)
		}
	}
}

// checkGhostsLater lists node n again once its ghosts can be judged, so
// their room is not held until the next periodic refresh. c.mu is held.
func (c *Cluster) checkGhostsLater(n *node) {
	if !slices.ContainsFunc(slices.Collect(maps.Values(c.ghosts)), func(g *ghost) bool { return g.c.Node == n.entry.Addr }) {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx := c.runCtx()
		if sleep(ctx, ghostGrace+500*time.Millisecond) {
			c.RefreshNode(ctx, n.entry.Addr)
		}
	}()
}
