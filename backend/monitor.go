package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"swarmdeck/model"
)

// monitor keeps one engine's state: it connects (a probe, info and a full
// refresh), follows the event stream with a heartbeat, and on any break
// probes at once and then every ProbeInterval. Only the probes (ping and
// info) decide the node's health: FailureRetry failed probes in a row make
// it Unhealthy, one that answers resets the count. It returns when ctx
// ends.
func (c *Cluster) monitor(ctx context.Context, n *node) {
	for ctx.Err() == nil {
		st, err := c.connect(ctx, n)
		if err == nil {
			followed := time.Now()
			err = c.follow(ctx, n, st)
			if ctx.Err() != nil {
				return
			}
			c.noteError(n, err)
			if time.Since(followed) >= c.opts.ProbeInterval {
				continue // reconnect at once: connect probes first
			}
			// A stream that broke soon after it opened: probe at once,
			// but reconnect only a probe interval later.
			if perr := c.probe(ctx, n); perr != nil {
				err = perr
			}
		}
		if ctx.Err() != nil {
			return
		}
		c.noteError(n, err)
		wait := c.opts.ProbeInterval
		var notEngine *notAnEngineError
		if errors.As(err, &notEngine) {
			wait = 10 * c.opts.ProbeInterval // alive but refusing to validate
		}
		if !c.sleepOrProbe(ctx, n, wait) {
			return
		}
	}
}

// notAnEngineError is an engine that answers but cannot be used (its info
// says it is no Docker engine, or it has an invalid label): alive, never
// counted as a failure, and retried slowly.
type notAnEngineError struct{ err error }

func (e *notAnEngineError) Error() string { return e.err.Error() }
func (e *notAnEngineError) Unwrap() error { return e.err }

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sleepOrProbe waits d, or less when a user's call asks for a probe.
func (c *Cluster) sleepOrProbe(ctx context.Context, n *node, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-n.probe:
	case <-ctx.Done():
		return false
	}
	return true
}

// connect probes the engine, validates it (info, itself a probe) and
// reads all of its state, then marks the node healthy and removes its
// stale copies of moved containers. A hung engine costs a probe timeout,
// not a call timeout.
//
// The event stream opens before the containers are listed, so a change
// made between the listing and the stream (a stale copy removed, a
// container moved onto the node by the primary) is not missed until the
// next full refresh: a manager that just started would count a removed
// container's reservation for half a minute.
func (c *Cluster) connect(ctx context.Context, n *node) (*stream, error) {
	if err := c.probe(ctx, n); err != nil {
		return nil, err
	}
	// At most connectSlots engines are read at once: a start of 10,000
	// engines then keeps a short run queue, and a request (docker info)
	// is not queued behind thousands of runnable refreshes. The probe
	// above is outside, so hung engines never hold a slot for long.
	select {
	case c.connecting <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.connecting }()
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	info, err := n.eng.Info(cctx)
	switch {
	case err != nil && IsConnectionError(err) && ctx.Err() == nil:
		c.probeFailed(n, err)
		return nil, err
	case err != nil:
		return nil, &notAnEngineError{err}
	}
	ectx, stop := context.WithCancel(ctx)
	st := &stream{stop: stop}
	st.evs, st.errs = n.eng.Events(ectx)
	if err := c.refresh(ctx, n, &info); err != nil {
		stop()
		return nil, err
	}
	c.connected(ctx, n)
	return st, nil
}

// stream is an engine's open event stream.
type stream struct {
	evs  <-chan EngineEvent
	errs <-chan error
	stop context.CancelFunc
}

// refresh reads every container, image and network of the engine and
// replaces the node's state with them. info, when set, is the engine's
// new identity.
func (c *Cluster) refresh(ctx context.Context, n *node, info *EngineInfo) error {
	cctx, cancel := context.WithTimeout(ctx, 4*callTimeout)
	defer cancel()
	t := c.ticket(n)
	defer c.readDone(n, t) // after the unlock deferred below
	began := time.Now()
	cs, err := n.eng.Containers(cctx)
	if err != nil {
		return err
	}
	ims, err := n.eng.Images(cctx)
	if err != nil {
		return err
	}
	nets, err := n.eng.Networks(cctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if info != nil {
		if n.info.ID != "" && n.info.ID != info.ID {
			c.emit(model.Event{Kind: model.EventEngine, Node: n.name(), Action: "engine_id_changed",
				Message: fmt.Sprintf("Engine (ID: %s, Addr: %s) shows up with another ID:%s", n.info.ID, n.entry.Addr, info.ID)})
		}
		old := n.info.ID
		n.info = *info
		c.indexEngineID(n, old)
	}
	before, ghosts := n.changes, len(c.ghosts)
	c.applyList(n, t, cs)
	c.buryGhosts(n, began)
	same := info == nil && n.changes == before && len(c.ghosts) == ghosts
	if !slices.EqualFunc(n.images, ims, sameImage) { // else the view and the scheduler keep the slice they know
		n.images, same = ims, false
	}
	if c.setNetworks(n, nets) {
		same = false
	}
	n.updated = time.Now()
	if same && c.touch(n) {
		return nil
	}
	c.rebuild(n)
	return nil
}

// sameImage reports whether two listings of an image say the same.
func sameImage(a, b model.Image) bool {
	return a.ID == b.ID && a.Created == b.Created && a.Size == b.Size &&
		slices.Equal(a.RepoTags, b.RepoTags) && slices.Equal(a.RepoDigests, b.RepoDigests) && maps.Equal(a.Labels, b.Labels)
}

// touch publishes the node's view with only its refresh time moved on
// (counted in Generation, not in Changes):
// a periodic refresh that found nothing new (10,000 nodes make over 200 a
// second) copies the view, not the node's containers, and the scheduler's
// snapshot only points at the new view (it indexes nothing new). It
// reports false, changing nothing, when the view is behind the node's
// records or shows a create in flight (a rebuild decides those). c.mu is
// held.
func (c *Cluster) touch(n *node) bool {
	old := c.viewOf(n)
	if old == nil || n.viewAt != n.changes || len(c.ghosts) > 0 {
		return false
	}
	for _, p := range c.pending {
		if p.Node == n.entry.Addr {
			return false
		}
	}
	mn := *old
	mn.Updated = n.updated
	if checkViews {
		if want := c.viewContainers(n, false); !sameView(want, mn.Containers) {
			panic(fmt.Sprintf("touch on %s: the view lists %s, a rebuild %s", n.entry.Addr, describeAll(mn.Containers), describeAll(want)))
		}
	}
	c.show(n, &mn)
	c.touches.Add(1) // Generation moves, Changes does not

	if !c.snap.SwapContainer(old, &mn, nil, nil) { // the snapshot follows the view, as showChange expects
		c.snap.SetNode(&mn)
	}
	return true
}

// indexEngineID moves n in the engine-ID index from old to its current
// ID and warns on every node whose engine ID another node shares: a
// warning, never a merge (nodes are keyed by address). Only the nodes that
// shared either ID are looked at, so a start of N engines costs O(N), not
// O(N²). c.mu is held.
func (c *Cluster) indexEngineID(n *node, old string) {
	if old != n.info.ID || !slices.Contains(c.byEngineID[old], n) {
		c.unindexEngineID(n, old)
		if n.info.ID != "" {
			c.byEngineID[n.info.ID] = append(c.byEngineID[n.info.ID], n)
		}
	}
	recheck := append(slices.Clone(c.byEngineID[old]), c.byEngineID[n.info.ID]...)
	if n.info.ID == "" {
		recheck = append(recheck, n)
	}
	c.warnDuplicateIDs(recheck)
}

// unindexEngineID forgets n under id. c.mu is held.
func (c *Cluster) unindexEngineID(n *node, id string) {
	same := slices.DeleteFunc(c.byEngineID[id], func(o *node) bool { return o == n })
	if len(same) == 0 {
		delete(c.byEngineID, id)
	} else {
		c.byEngineID[id] = same
	}
}

// warnDuplicateIDs sets or clears the shared-ID warning of each node.
// c.mu is held.
func (c *Cluster) warnDuplicateIDs(nodes []*node) {
	for _, n := range nodes {
		w := ""
		if same := c.byEngineID[n.info.ID]; n.info.ID != "" && len(same) > 1 {
			for _, o := range same {
				if o != n {
					w = fmt.Sprintf("engine ID %s is shared with %s (%s)", n.info.ID, o.name(), o.entry.Addr)
					break
				}
			}
		}
		if w != n.dupWarning {
			n.dupWarning = w
			if w != "" {
				c.emit(model.Event{Kind: model.EventEngine, Node: n.name(), Action: "engine_duplicate_id", Message: w})
			}
			c.rebuild(n)
		}
	}
}

// connected records a successful validation: Pending or Unhealthy become
// Healthy, and the node's copies of containers that now run elsewhere are
// removed (Swarm's engine_connect / engine_reconnect).
func (c *Cluster) connected(ctx context.Context, n *node) {
	c.mu.Lock()
	was, retries := n.health, n.failures
	c.setHealth(n, model.Healthy)
	n.failures, n.lastErr, n.failedAt = 0, "", time.Time{}
	n.failing.Store(false)
	// The view first: a reader told of the event must find the node
	// healthy (the console builds as an event comes).
	c.rebuild(n)
	switch was {
	case model.Pending:
		c.emit(model.Event{Kind: model.EventEngine, Node: n.name(), Action: "engine_connect",
			Message: fmt.Sprintf("%s (%s) connected: %d CPUs, %s", n.name(), n.entry.Addr, n.info.CPUs, model.FormatBytes(n.info.Memory))},
			"addr", n.entry.Addr)
	case model.Unhealthy:
		c.emit(model.Event{Kind: model.EventEngine, Node: n.name(), Action: "engine_reconnect",
			Message: fmt.Sprintf("Engine came back to life after %d retries. Hooray! (%s)", retries, n.name())},
			"addr", n.entry.Addr)
	}
	recovered := was == model.Unhealthy || was == model.Pending && !c.initial[n.entry.Addr]
	var stale, unstarted, globals []*model.Container
	var older map[*node][]*model.Container
	if c.isPrimary() { // a replica changes nothing; a new primary reconciles first
		stale = c.staleCopies(n)
		unstarted = c.unstarted(n, stale)
		older = c.olderCopies(n, stale)
		if recovered {
			globals = c.stoppedGlobals(n)
		}
	}
	c.mu.Unlock()
	c.removeStale(ctx, n, stale)
	for o, cs := range older {
		c.removeStale(ctx, o, cs)
	}
	for _, ct := range unstarted {
		c.startRescheduled(ctx, n, ct)
	}
	c.restartGlobals(ctx, n, globals)
	c.mu.Lock()
	c.checkGhostsLater(n)
	c.mu.Unlock()
	c.nudge()
	if recovered {
		c.rebalanceOnRecovery(n.name())
	}
}

// unstarted lists the node's rescheduled copies of running containers
// that were created but never started (their manager died in between).
// c.mu is held.
func (c *Cluster) unstarted(n *node, stale []*model.Container) []*model.Container {
	var out []*model.Container
	for _, ct := range n.containers {
		if ct.State == model.Created && ct.Labels[model.LabelStartAfterReschedule] == "true" && !slices.Contains(stale, ct) {
			out = append(out, ct)
		}
	}
	return out
}

// startRescheduled starts a rescheduled copy and re-reads it.
func (c *Cluster) startRescheduled(ctx context.Context, n *node, ct *model.Container) {
	sctx, cancel := context.WithTimeout(ctx, callTimeout)
	err := n.eng.Start(sctx, ct.ID)
	cancel()
	if err != nil {
		c.emit(model.Event{Kind: model.EventFailure, Node: n.name(), Container: ct.Name, Action: "start",
			Message: fmt.Sprintf("Failed to start rescheduled container %s on %s: %v", ct.Name, n.name(), err)})
	} else {
		c.emit(model.Event{Kind: model.EventReschedule, Node: n.name(), Container: ct.Name, Action: "start",
			Message: fmt.Sprintf("Container %s was running, starting it on %s", ct.Name, n.name())})
	}
	c.reread(ctx, n, ct.ID)
}

// staleCopies lists the node's containers whose swarm ID now runs on
// another node or is being created elsewhere, and the ones a failed create
// left behind; it takes back home the queued containers the node still
// holds. c.mu is held.
func (c *Cluster) staleCopies(n *node) []*model.Container {
	mine := map[string]int{}
	for _, ct := range n.containers {
		mine[ct.SwarmID]++
	}
	// a copy is stale when its move is in flight to another node, or when
	// a newer copy (the move) exists elsewhere: of two copies only the
	// older is stale, so a new primary that sees both, the moved copy and
	// the old one back with its node, keeps exactly one
	beaten := func(ct *model.Container) bool {
		if p, ok := c.pending[ct.SwarmID]; ok && p.Node != n.entry.Addr {
			return true
		}
		return c.swarmIDs[ct.SwarmID] > mine[ct.SwarmID] && c.newerCopy(n, ct)
	}
	// still queued (waiting, or being placed right now): the queue decides
	waiting := func(ct *model.Container) bool {
		return slices.ContainsFunc(c.queue, func(q *queued) bool { return q.c.SwarmID == ct.SwarmID })
	}
	var stale []*model.Container
	for _, ct := range n.containers {
		// taken off this node when it failed, and moved or removed since
		gone := c.evacuated[ct.SwarmID] == n.entry.Addr && !waiting(ct)
		removed := isGlobal(ct) && c.rmGlobals[ct.Labels[LabelGlobalID]][n.entry.Addr] || // rm while the node was down
			c.takenBack[ct.ID] || // a failed move's new copy
			ct.SwarmID == "" && c.abandoned[ct.ID] != "" // rm -f while the node was down, of a container the manager did not create
		if removed || ct.SwarmID != "" && (beaten(ct) || c.abandoned[ct.SwarmID] != "" || gone) {
			stale = append(stale, ct)
		}
	}
	for sid, from := range c.evacuated {
		if from == n.entry.Addr && !slices.ContainsFunc(stale, func(ct *model.Container) bool { return ct.SwarmID == sid }) {
			delete(c.evacuated, sid) // back home, or not on the node any more
		}
	}
	kept := c.queue[:0]
	for _, q := range c.queue {
		if home := n.containers[q.c.ID]; home != nil && q.from == n.entry.Addr && !q.inFlight {
			c.emit(model.Event{Kind: model.EventReschedule, Node: n.name(), Container: q.c.Name, Action: "reschedule_cancelled",
				Message: fmt.Sprintf("%s is back on %s: no need to move it", q.c.Name, n.name())})
			continue
		}
		kept = append(kept, q)
	}
	c.setQueue(kept)
	return stale
}

// staleWhy says truly why ct's copy on n goes. c.mu is held.
func (c *Cluster) staleWhy(n *node, ct *model.Container) string {
	mine := 0
	for _, o := range n.containers {
		if o.SwarmID == ct.SwarmID {
			mine++
		}
	}
	switch {
	case isGlobal(ct) && c.rmGlobals[ct.Labels[LabelGlobalID]][n.entry.Addr]:
		return removedWhileDown
	case c.takenBack[ct.ID]:
		return "a failed move's new copy"
	case c.swarmIDs[ct.SwarmID] > mine:
		return "it runs elsewhere"
	case c.abandoned[removalKey(ct)] != "":
		return c.abandoned[removalKey(ct)]
	case c.pending[ct.SwarmID] != nil:
		return "it is being moved to another node"
	}
	return "it was taken off the node while the node was down"
}

// newerCopy reports whether a node other than n holds a copy of ct's
// swarm ID created after ct (the later ID breaks a tie). c.mu is held.
func (c *Cluster) newerCopy(n *node, ct *model.Container) bool {
	for addr, o := range c.nodes {
		if addr == n.entry.Addr {
			continue
		}
		for _, x := range o.containers {
			if x.SwarmID != ct.SwarmID || c.takenBack[x.ID] {
				continue
			}
			if d := x.Created.Compare(ct.Created); d > 0 || d == 0 && x.ID > ct.ID {
				return true
			}
		}
	}
	return false
}

// olderCopies lists, per other Healthy node, the copies older than one n
// keeps (not in stale): a node that connects with the newer copy of a
// container makes the older one stale wherever it is. c.mu is held.
func (c *Cluster) olderCopies(n *node, stale []*model.Container) map[*node][]*model.Container {
	var out map[*node][]*model.Container
	for _, ct := range n.containers {
		if ct.SwarmID == "" || c.swarmIDs[ct.SwarmID] < 2 || isGlobal(ct) || c.takenBack[ct.ID] || slices.Contains(stale, ct) {
			continue
		}
		for addr, o := range c.nodes {
			if addr == n.entry.Addr || o.health != model.Healthy {
				continue
			}
			for _, x := range o.containers {
				if x.SwarmID == ct.SwarmID && c.newerCopy(o, x) {
					if out == nil {
						out = map[*node][]*model.Container{}
					}
					out[o] = append(out[o], x)
				}
			}
		}
	}
	return out
}

// removeStale force-removes the given containers from the node's engine,
// so each container runs exactly once.
func (c *Cluster) removeStale(ctx context.Context, n *node, stale []*model.Container) {
	var buried []string // removed while waiting: their tombstones can go
	for _, ct := range stale {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		c.mu.Lock()
		why := c.staleWhy(n, ct)
		c.mu.Unlock()
		err := n.eng.Remove(cctx, ct.ID, true)
		cancel()
		c.mu.Lock()
		if err != nil && !errors.Is(err, ErrNotFound) {
			c.emit(model.Event{Kind: model.EventFailure, Node: n.name(), Container: ct.Name, Action: "duplicate_remove",
				Message: fmt.Sprintf("cannot remove the stale copy of %s from %s: %v", ct.Name, n.name(), err)})
		} else {
			n.reads++ // removed: newer than any read in flight
			c.applyRead(n, n.reads, ct.ID, nil)
			if key := removalKey(ct); c.abandoned[key] != "" {
				buried = append(buried, key)
				delete(c.abandoned, key)
			}
			delete(c.evacuated, ct.SwarmID)
			delete(c.takenBack, ct.ID)
			if gid := ct.Labels[LabelGlobalID]; isGlobal(ct) && c.rmGlobals[gid] != nil {
				if delete(c.rmGlobals[gid], n.entry.Addr); len(c.rmGlobals[gid]) == 0 {
					delete(c.rmGlobals, gid)
				}
			}
			c.emit(model.Event{Kind: model.EventReschedule, Node: n.name(), Container: ct.Name, Action: "duplicate_removed",
				Message: fmt.Sprintf("removed the stale copy of %s from %s: %s", describe(ct), n.name(), why)})
			c.rebuild(n)
		}
		c.mu.Unlock()
	}
	for _, sid := range buried {
		if err := c.setTombstone(ctx, sid, false); err != nil {
			c.log.Warn("the removal of a container stays recorded", "swarm_id", sid, "err", err)
		}
	}
}

// follow applies the engine's events until the stream breaks, a
// heartbeat fails, or ctx ends. The wheel (beats) heartbeats the engine
// meanwhile and asks for a full refresh every RefreshMin–RefreshMax; it
// wakes this goroutine only for a ping it cannot make in place and for a
// refresh.
func (c *Cluster) follow(ctx context.Context, n *node, st *stream) error {
	defer st.stop()
	defer c.following(n)()
	evs, errs := st.evs, st.errs
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errs:
			return fmt.Errorf("event stream: %w", err)
		case ev, ok := <-evs:
			if !ok {
				return fmt.Errorf("event stream: %w", io.EOF)
			}
			if err := c.handle(ctx, n, ev); err != nil {
				return err
			}
		case <-n.beat.ping:
			if err := c.probe(ctx, n); err != nil {
				return fmt.Errorf("heartbeat: %w", err)
			}
		case <-n.probe:
			if err := c.probe(ctx, n); err != nil {
				return fmt.Errorf("probe: %w", err)
			}
		case <-n.beat.refresh:
			if err := c.refresh(ctx, n, nil); err != nil && IsConnectionError(err) {
				return err
			}
		}
	}
}

// probe is the health probe: a ping within the probe timeout. A ping
// that cannot connect (refused, reset, timed out) counts as one failure;
// one that gets through, even with an error status, resets the count. It
// returns the connection error, if any.
func (c *Cluster) probe(ctx context.Context, n *node) error {
	pctx, cancel := context.WithTimeout(ctx, c.opts.ProbeTimeout)
	defer cancel()
	err := n.eng.Ping(pctx)
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: not the engine's failure
	}
	if err != nil && IsConnectionError(err) {
		c.probeFailed(n, err)
		return err
	}
	c.probeOK(n)
	return nil
}

// probeSoon asks the node's monitor to probe now: a user's call could not
// reach the engine. Only the probe's result counts.
func (c *Cluster) probeSoon(n *node) {
	select {
	case n.probe <- struct{}{}:
	default:
	}
}

// probeOK records an answered probe: the failure count starts again.
// Health itself changes back to Healthy only after a full refresh
// (connected).
//
// The usual heartbeat of a node that never failed takes no lock: 10,000
// nodes' heartbeats would otherwise take the cluster's lock 10,000 times a
// second.
func (c *Cluster) probeOK(n *node) {
	if !n.failing.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.failures > 0 {
		n.failures, n.failedAt = 0, time.Time{}
		n.failing.Store(false)
		c.rebuild(n)
	}
}

func (c *Cluster) refreshDelay() time.Duration {
	spread := int64(c.opts.RefreshMax - c.opts.RefreshMin)
	if spread <= 0 {
		return c.opts.RefreshMin
	}
	return c.opts.RefreshMin + time.Duration(rand.Int64N(spread))
}

// handle applies one engine event: a container event re-reads that
// container, an image event the node's images, a network's connect or
// disconnect the container that joined or left it.
func (c *Cluster) handle(ctx context.Context, n *node, ev EngineEvent) error {
	if ev.Type == "image" { // pulled, tagged, untagged, loaded, deleted: docker images shows it at once
		c.refreshImages(ctx, n)
		return nil
	}
	if ev.Type == "network" && ev.Container != "" && (ev.Action == "connect" || ev.Action == "disconnect") {
		// Docker emits no container event for these; the record's
		// endpoints (which a reschedule reattaches) must follow them
		c.reread(ctx, n, ev.Container)
		return nil
	}
	if ev.Type != "container" || ev.ID == "" {
		return nil
	}
	if ev.Action == "create" && c.createdHere(n, ev.ID) {
		return nil
	}
	var ct *model.Container
	var err error
	t := c.ticket(n)
	defer c.readDone(n, t) // after the unlock deferred below
	if ev.Action != "destroy" {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		ct, err = n.eng.Inspect(cctx, ev.ID)
		cancel()
		if err != nil && !errors.Is(err, ErrNotFound) {
			if IsConnectionError(err) {
				return err
			}
			return nil
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := n.containers[ev.ID]
	before := n.changes
	if ct == nil {
		if old == nil {
			return nil
		}
		if !c.applyRead(n, t, ev.ID, nil) {
			return nil
		}
		c.showRead(n, ev.ID, old, before)
		c.emit(model.Event{Kind: model.EventContainer, Node: n.name(), Container: old.Name, ContainerID: old.ID, Action: "destroy",
			Message: fmt.Sprintf("%s removed from %s", old.Name, n.name())})
		c.nudge() // capacity appeared
		return nil
	}
	if c.applyRead(n, t, ct.ID, ct) {
		c.showRead(n, ct.ID, old, before)
	}
	if !strings.HasPrefix(ev.Action, "exec_") { // every container event, as docker events shows them
		c.emit(model.Event{Kind: model.EventContainer, Node: n.name(), Container: ct.Name, ContainerID: ct.ID, Action: ev.Action,
			Message: containerMessage(ct, n.name(), ev.Action)})
	}
	return nil
}

// createdHere tells of the create event of a container already recorded
// (a create through this manager records the engine's answer): reading it
// again would say nothing newer, as any later change comes with an event
// of its own. It reports false, doing nothing, for a container not yet
// recorded.
func (c *Cluster) createdHere(n *node, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := n.containers[id]
	if ct == nil {
		return false
	}
	c.emit(model.Event{Kind: model.EventContainer, Node: n.name(), Container: ct.Name, ContainerID: ct.ID, Action: "create",
		Message: containerMessage(ct, n.name(), "create")})
	return true
}

// containerMessage is a container event's text: "web on node-1: start
// (running)". Concatenated, not formatted: one is made per container
// event (a million at a million creates).
func containerMessage(ct *model.Container, node, action string) string {
	return ct.Name + " on " + node + ": " + action + " (" + ct.State.String() + ")"
}

// noteError records why the node's last call or stream failed, for the
// operator to read; it never counts toward the node's health.
func (c *Cluster) noteError(n *node, err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if msg := err.Error(); msg != n.lastErr {
		n.lastErr = msg
		c.rebuild(n)
	}
}

// probeFailed records a failed health probe: after FailureRetry in a row a
// Healthy node becomes Unhealthy and its containers with a reschedule
// policy move (after the grace period).
func (c *Cluster) probeFailed(n *node, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n.lastErr = err.Error()
	n.failures++
	n.failing.Store(true)
	c.opts.Observer.ProbeFailed(n.name())
	c.log.Debug("engine probe failed", "node", n.name(), "addr", n.entry.Addr, "failures", n.failures, "error", err)
	if n.failedAt.IsZero() {
		n.failedAt = time.Now()
	}
	if n.health == model.Pending && n.failures == c.opts.FailureRetry {
		// Never connected yet: said once per run of failures (the count
		// starts again when it answers), not at every probe.
		c.emit(model.Event{Kind: model.EventEngine, Node: n.name(), Action: "engine_unreachable",
			Message: fmt.Sprintf("Engine not reachable yet: connect failed %d times (%s: %v); still trying", n.failures, n.name(), err)},
			"addr", n.entry.Addr, "failures", n.failures, "error", err.Error())
	}
	if n.health == model.Healthy && n.failures >= c.opts.FailureRetry {
		c.setHealth(n, model.Unhealthy)
		c.rebuild(n) // before the event: a reader told of it finds the node unhealthy
		c.emit(model.Event{Kind: model.EventEngine, Node: n.name(), Action: "engine_disconnect",
			Message: fmt.Sprintf("Flagging engine as unhealthy. Connect failed %d times (%s: %v)", n.failures, n.name(), err)},
			"addr", n.entry.Addr, "failures", n.failures, "error", err.Error())
		if c.isPrimary() {
			c.afterGrace(n)
		}
	}
	c.rebuild(n)
}

// setHealth changes a node's health; users' calls in flight on a node
// that stops being Healthy end at once. c.mu is held.
func (c *Cluster) setHealth(n *node, h model.Health) {
	if n.health == h {
		return
	}
	switch {
	case h == model.Healthy:
		n.healthyAt = time.Now()
	case n.health == model.Healthy:
		n.callsMu.Lock()
		for id, cancel := range n.calls {
			cancel(ErrNodeDown)
			delete(n.calls, id)
		}
		n.callsMu.Unlock()
		n.healthyAt = time.Time{}
	}
	n.health = h
}
