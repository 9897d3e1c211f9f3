package backend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// stopTimeout is how long a move lets the old copy stop before the
// engine kills it.
const stopTimeout = 10 * time.Second

// moveConcurrency bounds the moves a drain or a rebalance runs at once.
const moveConcurrency = 4

// ErrAmbiguous is a node reference that names more than one node.
var ErrAmbiguous = errors.New("more than one node answers to that name")

// noSuchNode is a node reference that names no node; it is ErrNotFound.
type noSuchNode string

func (e noSuchNode) Error() string        { return "no such node: " + string(e) }
func (e noSuchNode) Is(target error) bool { return target == ErrNotFound }

// Blocker is a container that keeps a drained node from emptying, and why.
type Blocker struct {
	Container *model.Container
	Reason    string
	// Forcible says a drain with force would move it: it only lacks a
	// reschedule policy (not pinned, not without room, not being created).
	Forcible bool
}

// AvailabilityResult is what SetAvailability did: the node as it is now,
// the containers that leave it, and those that stay and why.
type AvailabilityResult struct {
	Node     *model.Node
	Moving   []*model.Container
	Blocking []Blocker
	// Global are the node's copies of global containers, removed from a
	// drained node rather than moved.
	Global []*model.Container
	// Warnings are what the change leaves wrong, such as a global
	// container with no running copy.
	Warnings []string
}

// DrainOutcome is how the move of one container off a drained node ended:
// To is its new node, or Err says why it stays.
type DrainOutcome struct {
	Container string
	To        string
	Err       string
	Removed   bool // a user removed it before it moved
}

// WaitDrain waits until each container res.Moving lists has left the
// drained node or failed to (a move that fails is retried in the
// background, but its first failure is the outcome), or ctx ends; the
// ones still moving then say so.
func (c *Cluster) WaitDrain(ctx context.Context, res *AvailabilityResult) []DrainOutcome {
	out := make([]DrainOutcome, len(res.Moving))
	done := make([]bool, len(res.Moving))
	for left := len(out); ; {
		c.mu.Lock()
		n := c.nodes[res.Node.Addr]
		for i, ct := range res.Moving {
			if done[i] {
				continue
			}
			out[i].Container = describe(ct)
			switch {
			case n == nil || n.containers[ct.ID] == nil:
				out[i].To = c.whereSwarmID(ct.SwarmID)
				switch {
				case out[i].To != "":
				case c.rmWhileDraining[res.Node.Addr][ct.ID]:
					out[i].Removed = true
				default:
					out[i].Err = "it left " + res.Node.Name + " but runs nowhere now"
				}
			case c.moveErrs[ct.ID] != "" && !c.relocating[ct.ID]:
				out[i].Err = c.moveErrs[ct.ID]
			case c.avail[res.Node.Addr] != model.Drain:
				out[i].Err = res.Node.Name + " is no longer draining"
			default:
				continue
			}
			done[i] = true
			left--
		}
		c.mu.Unlock()
		if left == 0 {
			return out
		}
		if !sleep(ctx, 200*time.Millisecond) {
			for i := range out {
				if !done[i] {
					out[i].Err = "still moving: " + context.Cause(ctx).Error()
				}
			}
			return out
		}
	}
}

// whereSwarmID names the node a container with that swarm ID is on.
// c.mu is held.
func (c *Cluster) whereSwarmID(sid string) string {
	if sid == "" {
		return ""
	}
	for _, n := range c.nodes {
		for _, ct := range n.containers {
			if ct.SwarmID == sid {
				return n.name()
			}
		}
	}
	return ""
}

// Movable reports whether a drain or a rebalance may move the container
// on its own: it has the reschedule policy or the opt-in label.
func Movable(ct *model.Container) bool { return movable(ct) }

func movable(ct *model.Container) bool {
	return !isGlobal(ct) && (hasPolicy(ct) || ct.Labels[model.LabelRebalance] == "true")
}

// blockReason says why a drain leaves a container where it is.
func blockReason(ct *model.Container) string {
	switch {
	case ct.ID == "":
		return "it is being created"
	default:
		return "it has no reschedule policy (run it with -e reschedule:on-node-failure or --label " +
			model.LabelRebalance + "=true, or drain with force)"
	}
}

// stuck says why no other node can take ct (its rules pin it to its
// node, or no node has room), or "" when one can: a drain lists it as
// blocking and does not try it on every pass. c.mu is held.
func (c *Cluster) stuck(ct *model.Container) string {
	req, err := sched.NewRequest(ct.Config)
	if err != nil {
		return ""
	}
	var pe *sched.PlacementError
	if _, err := c.sch.Place(c.snap, req); errors.As(err, &pe) {
		return "no other node can take it: " + strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(pe.Msg), " \n", "\n"), "\n", "; ")
	}
	return ""
}

// resolveNode finds a node by name, address or engine ID. c.mu is held.
func (c *Cluster) resolveNode(ref string) (*node, error) {
	var found []*node
	for _, n := range c.nodes {
		if n.entry.Addr == ref || n.nameLocked() == ref || (n.info.ID != "" && n.info.ID == ref) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return nil, noSuchNode(ref)
	case 1:
		return found[0], nil
	}
	addrs := make([]string, len(found))
	for i, n := range found {
		addrs[i] = n.entry.Addr
	}
	slices.Sort(addrs)
	return nil, fmt.Errorf("node %s: %w (%s): name it by address", ref, ErrAmbiguous, strings.Join(addrs, ", "))
}

// SetAvailability makes a node (by name, address or ID) active, paused or
// drained. The choice is saved in the state store first: if it cannot be
// saved nothing changes. Draining moves the node's containers that have a
// reschedule policy (or the opt-in label) off it, in the background; with
// force the others move too. The result lists what moves and what stays.
func (c *Cluster) SetAvailability(ctx context.Context, ref string, a model.Availability, force bool) (*AvailabilityResult, error) {
	c.mu.Lock()
	n, err := c.resolveNode(ref)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	addr := n.entry.Addr
	if err := c.state.Save(ctx, addr, a); err != nil {
		return nil, err
	}
	c.mu.Lock()
	was := c.avail[addr]
	setAvailability(c.avail, addr, a)
	delete(c.rmWhileDraining, addr) // this drain's removals, not an earlier one's
	if c.nodes[addr] == n {
		c.rebuild(n)
	}
	res := &AvailabilityResult{Node: c.viewOf(n)}
	if a == model.Drain {
		for _, ct := range res.Node.Containers {
			switch {
			case isGlobal(ct):
				// Its copy is removed, not moved: the node is drained.
				res.Global = append(res.Global, ct)
				if !c.globalRunsElsewhere(ct, addr) {
					res.Warnings = append(res.Warnings, fmt.Sprintf("global %s has no running copy left once %s's goes", describe(ct), n.name()))
				}
			case ct.ID != "" && (movable(ct) || force) && c.stuck(ct) != "":
				res.Blocking = append(res.Blocking, Blocker{Container: ct, Reason: c.stuck(ct)})
			case ct.ID != "" && (movable(ct) || force):
				delete(c.moveErrs, ct.ID) // the outcome of this drain, not of an earlier one
				delete(c.moveRetry, ct.ID)
				if force && !movable(ct) {
					c.forced[ct.ID] = true
				}
				res.Moving = append(res.Moving, ct)
			default:
				res.Blocking = append(res.Blocking, Blocker{Container: ct, Reason: blockReason(ct), Forcible: ct.ID != "" && c.stuck(ct) == ""})
			}
		}
	} else {
		for id := range c.forced {
			if ct := n.containers[id]; ct != nil {
				delete(c.forced, id)
			}
		}
	}
	c.mu.Unlock()
	msg := fmt.Sprintf("%s is now %s (was %s)", n.name(), a.Doing(), was.Doing())
	if a == model.Drain {
		if len(res.Moving) == 1 {
			msg += ": 1 container moves off it"
		} else {
			msg += fmt.Sprintf(": %d containers move off it", len(res.Moving))
		}
		switch len(res.Blocking) {
		case 0:
		case 1:
			msg += ", 1 blocks the drain"
		default:
			msg += fmt.Sprintf(", %d block the drain", len(res.Blocking))
		}
	}
	c.emit(model.Event{Kind: model.EventAvailability, Node: n.name(), Action: "node_" + a.String(), Message: msg})
	for _, w := range res.Warnings {
		c.emit(model.Event{Kind: model.EventAvailability, Node: n.name(), Action: "drain_warning", Message: w})
	}
	for _, b := range res.Blocking {
		c.emit(model.Event{Kind: model.EventAvailability, Node: n.name(), Container: describe(b.Container), ContainerID: b.Container.ID,
			Action: "drain_blocked", Message: fmt.Sprintf("%s blocks the drain of %s: %s", describe(b.Container), n.name(), b.Reason)})
	}
	c.nudge()
	return res, nil
}

// globalRunsElsewhere reports whether a copy of the global container ct
// runs on a healthy node other than addr that is not draining. c.mu is held.
func (c *Cluster) globalRunsElsewhere(ct *model.Container, addr string) bool {
	gid := ct.Labels[LabelGlobalID]
	for a, n := range c.nodes {
		if a == addr || n.health != model.Healthy || c.avail[a] == model.Drain {
			continue
		}
		for _, o := range n.containers {
			if o.Labels[LabelGlobalID] == gid && o.State == model.Running {
				return true
			}
		}
	}
	return false
}

// StateWhere says where node availability is kept.
func (c *Cluster) StateWhere() string { return c.state.Where() }

// loadState reads the saved availabilities, retrying until it can or ctx
// ends, then follows the store's changes made by other managers.
func (c *Cluster) loadState(ctx context.Context) {
	for reported := false; ; {
		m, err := c.state.Load(ctx)
		if err == nil {
			c.installState(m)
			break
		}
		if ctx.Err() != nil {
			return
		}
		if !reported {
			reported = true
			c.emit(model.Event{Kind: model.EventFailure, Action: "state", Message: "cannot read node availability: " + err.Error()})
		}
		if !sleep(ctx, time.Second) {
			return
		}
	}
	ch := c.state.Watch(ctx)
	if ch == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-ch:
			c.installState(m)
		}
	}
}

// installState replaces the known availabilities with m (read from the
// store) and reports what changed.
func (c *Cluster) installState(m map[string]model.Availability) {
	c.mu.Lock()
	var changed []string
	for addr := range mergeKeys(c.avail, m) {
		if c.avail[addr] == m[addr] {
			continue
		}
		name := addr
		if n := c.nodes[addr]; n != nil {
			name = n.name()
		}
		changed = append(changed, fmt.Sprintf("%s is %s", name, m[addr].Doing()))
	}
	c.avail = maps.Clone(m)
	if c.avail == nil {
		c.avail = map[string]model.Availability{}
	}
	for _, n := range c.nodes {
		c.rebuild(n)
	}
	c.mu.Unlock()
	slices.Sort(changed)
	for _, s := range changed {
		c.emit(model.Event{Kind: model.EventAvailability, Action: "state", Message: s + " (read from " + c.state.Where() + ")"})
	}
	c.nudge()
}

func mergeKeys[V any](a, b map[string]V) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// relocation is one container to move off its node, to a chosen node or
// wherever the scheduler says.
type relocation struct {
	ct    *model.Container
	from  *node
	to    string // a node address; empty: the scheduler's choice
	why   string
	drain bool // it leaves a draining node: only while it still drains
}

// drainPending lists the moves the drained nodes still need: every
// movable (or forced) container of a healthy drained node, not already
// moving. c.mu is held.
func (c *Cluster) drainPending() []relocation {
	var out []relocation
	for addr, a := range c.avail {
		n := c.nodes[addr]
		if a != model.Drain || n == nil || n.health != model.Healthy {
			continue
		}
		for _, ct := range n.containers {
			if c.relocating[ct.ID] || !(movable(ct) || c.forced[ct.ID]) || c.stuck(ct) != "" || time.Now().Before(c.moveRetry[ct.ID].at) {
				continue
			}
			out = append(out, relocation{ct: ct, from: n, why: n.name() + " is draining", drain: true})
		}
	}
	slices.SortFunc(out, func(a, b relocation) int {
		return cmp.Or(strings.Compare(a.from.entry.Addr, b.from.entry.Addr), strings.Compare(a.ct.Name, b.ct.Name))
	})
	return out
}

// continueDrains moves what drained nodes still hold; each move is
// tried once per call, failures are reported and retried later.
func (c *Cluster) continueDrains(ctx context.Context) {
	c.mu.Lock()
	todo := c.drainPending()
	c.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	c.relocateAll(ctx, todo, false)
}

// MoveOutcome is one executed move.
type MoveOutcome struct {
	Container string // name
	From, To  string // node names
	Why       string
	Err       error
}

// relocateAll runs the moves, each on its own, at most moveConcurrency
// at a time. With stopAtFailure no move starts after one has failed.
func (c *Cluster) relocateAll(ctx context.Context, moves []relocation, stopAtFailure bool) []MoveOutcome {
	units := make([][]relocation, len(moves))
	for i, m := range moves {
		units[i] = []relocation{m}
	}
	return c.relocateUnits(ctx, units, stopAtFailure)
}

// relocateUnits runs units of moves, at most moveConcurrency units at a
// time; the moves of one unit (a group an affinity ties) run in order,
// and a unit stops at its first failure. With stopAtFailure no unit
// starts after a move has failed. Outcomes are in the order of the moves.
func (c *Cluster) relocateUnits(ctx context.Context, units [][]relocation, stopAtFailure bool) []MoveOutcome {
	var out []MoveOutcome
	first := make([]int, len(units))
	for i, u := range units {
		first[i] = len(out)
		for _, m := range u {
			out = append(out, MoveOutcome{Container: describe(m.ct), From: m.from.name(), Why: m.why, Err: errEarlierFailed})
		}
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed bool
	)
	sem := make(chan struct{}, moveConcurrency)
	for i, u := range units {
		sem <- struct{}{}
		mu.Lock()
		stop := failed && stopAtFailure || ctx.Err() != nil
		mu.Unlock()
		if stop {
			<-sem
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for j, m := range u {
				to, err := c.relocateOnce(ctx, m)
				mu.Lock()
				out[first[i]+j].To, out[first[i]+j].Err = to, err
				if err != nil {
					failed = true
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// relocateOnce is relocate for a container no other move holds.
func (c *Cluster) relocateOnce(ctx context.Context, m relocation) (string, error) {
	c.mu.Lock()
	busy := c.relocating[m.ct.ID]
	drained := !m.drain || c.avail[m.from.entry.Addr] == model.Drain
	now := m.from.containers[m.ct.ID] // moves wait their turn: as it is now
	gone := now == nil || c.nodes[m.from.entry.Addr] != m.from
	userCall := c.userCalls[m.ct.ID] > 0
	if !busy && drained && !gone && !userCall {
		c.relocating[m.ct.ID] = true
		m.ct = now
	}
	c.mu.Unlock()
	switch {
	case busy:
		return "", fmt.Errorf("%s is already moving", describe(m.ct))
	case !drained: // activated or paused since the drain listed it: it stays
		return "", fmt.Errorf("%w: %s is no longer draining", errNotTried, m.from.name())
	case gone: // removed since it was listed
		return "", fmt.Errorf("%w: %s is no longer on %s", errNotTried, describe(m.ct), m.from.name())
	case userCall: // a drain tries it again once the user's change has ended
		return "", fmt.Errorf("%w: a user's change to %s is under way", errNotTried, describe(m.ct))
	}
	defer func() {
		c.mu.Lock()
		delete(c.relocating, m.ct.ID)
		c.mu.Unlock()
	}()
	return c.relocate(ctx, m)
}

// errNotTried marks a move skipped: an earlier one failed, or its reason
// no longer holds.
var errNotTried = errors.New("not tried")

var errEarlierFailed = fmt.Errorf("%w: an earlier move failed", errNotTried)

// IsNotTried reports whether a move was skipped (an earlier one failed,
// or its node no longer drains).
func IsNotTried(err error) bool { return errors.Is(err, errNotTried) }

// relocate moves one container: the new copy is created (same name and
// swarm ID) and started first, then the old one is stopped and removed,
// so a failure at any step leaves the old copy running.
//
// A running container on cluster-wide (overlay) networks is the
// exception: its name there is held by one endpoint at a time, so once
// the new copy is created the old one stops and leaves those networks
// before the new one starts, and is put back as it was if the move fails
// from there.
func (c *Cluster) relocate(ctx context.Context, m relocation) (string, error) {
	old := m.ct
	c.mu.Lock()
	running := old.State == model.Running || c.stoppedToMove[old.ID]
	c.mu.Unlock()
	cfg, shared, rest := c.sharedOf(ctx, m, running)
	req, err := sched.NewRequest(cfg)
	if err != nil {
		return "", c.moveFailed(m, err)
	}
	sid := cmp.Or(old.SwarmID, newID())
	q := &queued{c: old, from: m.from.entry.Addr, fromName: m.from.name(), since: time.Now(),
		wasRunning: running, live: true, pin: m.to}
	pctx, cancel := context.WithTimeout(ctx, 2*callTimeout) // a create and an inspect
	ct, to, err := c.place(pctx, req, sid, q)
	cancel()
	if err != nil {
		return "", c.moveFailed(m, err)
	}
	restore := func(why error) error { return why } // the old copy still runs
	stoppedFirst := len(shared) > 0
	if stoppedFirst {
		if restore, err = c.leave(ctx, m, to, shared); err != nil {
			return to.name(), c.moveFailed(m, c.takeBack(ctx, to, ct, err))
		}
		c.reattach(ctx, to, ct, rest)
	}
	if q.wasRunning {
		err := c.startNewCopy(ctx, to, ct.ID, stoppedFirst)
		if err != nil {
			// The old copy still runs (or is put back): take the new one back.
			rctx, cancel := context.WithTimeout(ctx, callTimeout)
			to.eng.Remove(rctx, ct.ID, true)
			cancel()
			c.reread(ctx, to, ct.ID)
			if IsConnectionError(err) {
				c.probeSoon(to) // the probe says whether the engine is down
				err = fmt.Errorf("%s stopped answering: %w", to.name(), err)
			}
			return to.name(), c.moveFailed(m, restore(fmt.Errorf("starting the new copy on %s: %w", to.name(), err)))
		}
		c.reread(ctx, to, ct.ID)
	} else {
		c.reread(ctx, to, ct.ID)
	}
	// The old copy goes only once the new one is confirmed on a node that
	// is healthy now; from here to its removal, a failure of that node
	// leaves the new copy to this move (see evacuate).
	sid = ct.SwarmID
	c.mu.Lock()
	err = c.landed(to, ct.ID, q.wasRunning)
	if err == nil {
		c.landing[sid] = &landing{to: to}
	}
	c.mu.Unlock()
	if err != nil {
		return to.name(), c.moveFailed(m, restore(c.takeBack(ctx, to, ct, err)))
	}
	defer func() {
		c.mu.Lock()
		delete(c.landing, sid)
		c.mu.Unlock()
	}()
	if q.wasRunning && !stoppedFirst {
		// The context outlasts the stop timeout: a start of the old copy
		// must never race an engine still stopping it.
		sctx, cancel := context.WithTimeout(ctx, stopTimeout+callTimeout)
		m.from.eng.Stop(sctx, old.ID, stopTimeout)
		cancel()
	}
	c.mu.Lock()
	err = c.landed(to, ct.ID, q.wasRunning)
	c.mu.Unlock()
	if err != nil {
		// The new copy's node failed while the old copy stopped: the old
		// copy runs again and stays; the move failed.
		if stoppedFirst {
			return to.name(), c.moveFailed(m, restore(c.takeBack(ctx, to, ct, err)))
		}
		if q.wasRunning {
			sctx, cancel := context.WithTimeout(ctx, callTimeout)
			if serr := m.from.eng.Start(sctx, old.ID); serr != nil {
				err = fmt.Errorf("%w; restarting the old copy on %s: %w", err, m.from.name(), serr)
			}
			cancel()
			c.reread(ctx, m.from, old.ID)
		}
		return to.name(), c.moveFailed(m, c.takeBack(ctx, to, ct, err))
	}
	sctx, cancel := context.WithTimeout(ctx, callTimeout)
	err = m.from.eng.Remove(sctx, old.ID, true)
	cancel()
	if err != nil && !IsNotFound(err) {
		if IsConnectionError(err) {
			c.probeSoon(m.from) // the probe says whether the engine is down
		}
		return to.name(), c.moveFailed(m, fmt.Errorf("removing the old copy from %s (the new one runs on %s): %w", m.from.name(), to.name(), err))
	}
	c.mu.Lock()
	m.from.reads++ // removed: newer than any read in flight
	c.applyRead(m.from, m.from.reads, old.ID, nil)
	delete(c.forced, old.ID)
	delete(c.moveErrs, old.ID)
	delete(c.stoppedToMove, old.ID)
	delete(c.moveRetry, old.ID)
	c.rebuild(m.from)
	var failed *node
	if l := c.landing[sid]; l.failed {
		failed = to
	}
	delete(c.landing, sid)
	if failed != nil {
		// The new copy's node failed while the old copy went: the new copy
		// waits to be rescheduled like any container of a failed node.
		if nct := failed.containers[ct.ID]; nct != nil {
			c.enqueue(failed, nct, failed.failedAt, fmt.Sprintf("%s failed while %s moved to it", failed.name(), describe(ct)))
			c.rebuild(failed)
			c.nudge()
		}
	}
	c.mu.Unlock()
	if failed != nil {
		return to.name(), c.moveFailed(m, fmt.Errorf("%s failed as the move ended: the container waits to be rescheduled", to.name()))
	}
	took := time.Since(q.since).Round(time.Microsecond) // a simulated move can take under a millisecond
	c.emit(model.Event{Kind: model.EventMove, Node: to.name(), Container: describe(ct), ContainerID: ct.ID, Action: "move", Duration: took,
		Message: fmt.Sprintf("moved %s from %s to %s: %s", describe(ct), m.from.name(), to.name(), m.why)},
		"from", m.from.name(), "cause", m.why)
	return to.name(), nil
}

// startNewCopy starts a move's new copy; right after the old one left its
// cluster-wide networks (stoppedFirst) a refusal is tried again a few
// times, as the cluster store can take a moment to forget the old
// endpoint ("endpoint with name … already exists").
func (c *Cluster) startNewCopy(ctx context.Context, to *node, id string, stoppedFirst bool) error {
	var first error // the cause; later tries can fail on what the first left
	for try := range connectTries {
		if try > 0 && (!stoppedFirst || IsConnectionError(first) || !sleep(ctx, connectRetry)) {
			break
		}
		sctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := to.eng.Start(sctx, id)
		cancel()
		if err == nil {
			return nil
		}
		first = cmp.Or(first, err)
	}
	return first
}

// moveRetry is when a drain's failed move is tried again, and how long it
// waited last time.
type moveRetry struct {
	at   time.Time
	wait time.Duration
}

// A drain's move that failed is tried again moveRetryFirst later, then
// twice as late each time, up to moveRetryMax.
const (
	moveRetryFirst = 15 * time.Second
	moveRetryMax   = 5 * time.Minute
)

// landing is a move whose old copy is going: evacuate leaves its new copy
// on to to the move, and says so with failed.
type landing struct {
	to     *node
	failed bool
}

// landed says why a move's new copy is not confirmed: its node is not
// healthy now, or the copy is gone or (when it should run) not running.
// c.mu is held.
func (c *Cluster) landed(to *node, id string, running bool) error {
	if c.nodes[to.entry.Addr] != to || to.health != model.Healthy {
		return fmt.Errorf("the new copy's node %s is %s", to.name(), to.health)
	}
	ct := to.containers[id]
	switch {
	case ct == nil:
		return fmt.Errorf("the new copy is gone from %s", to.name())
	case running && ct.State != model.Running:
		return fmt.Errorf("the new copy on %s is %s, not running", to.name(), ct.State)
	}
	return nil
}

// takeBack removes a move's unconfirmed new copy (the old one stays). If
// its engine cannot be reached, the copy is forgotten now and removed as a
// stale copy when the node comes back. It returns why, with what failed.
func (c *Cluster) takeBack(ctx context.Context, to *node, ct *model.Container, why error) error {
	rctx, cancel := context.WithTimeout(ctx, callTimeout)
	err := to.eng.Remove(rctx, ct.ID, true)
	cancel()
	c.mu.Lock()
	if err != nil && !IsNotFound(err) {
		c.takenBack[ct.ID] = true // the old copy wins when this one's node returns
	}
	if err == nil || IsNotFound(err) || to.health != model.Healthy {
		to.reads++ // newer than any read in flight
		c.applyRead(to, to.reads, ct.ID, nil)
		c.rebuild(to)
	}
	c.mu.Unlock()
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("%w (the new copy stays there until it can be removed)", why)
	}
	return why
}

func (c *Cluster) moveFailed(m relocation, err error) error {
	err = fmt.Errorf("moving %s off %s: %w", describe(m.ct), m.from.name(), err)
	c.mu.Lock()
	same := c.moveErrs[m.ct.ID] == err.Error()
	c.moveErrs[m.ct.ID] = err.Error()
	if m.drain {
		// Each try may stop the container for a moment (overlay networks)
		// or leave a copy on another engine for one: the next one waits,
		// longer each time, and is reported.
		r := c.moveRetry[m.ct.ID]
		r.wait = min(max(2*r.wait, moveRetryFirst), moveRetryMax)
		r.at = time.Now().Add(r.wait)
		c.moveRetry[m.ct.ID] = r
		err = fmt.Errorf("%w (tried again in %s)", err, r.wait)
		same = false
	}
	c.mu.Unlock()
	if same { // a rebalance's outcome is said once
		return err
	}
	c.emit(model.Event{Kind: model.EventFailure, Node: m.from.name(), Container: describe(m.ct), ContainerID: m.ct.ID, Action: "move_failed",
		Message: err.Error() + " (" + m.why + ")"}, "cause", m.why, "error", err.Error())
	return err
}
