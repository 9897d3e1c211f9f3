package backend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/network"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// IsNotFound reports whether err is a container (or node) that does not
// exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// Create places a container and creates it on the chosen engine. It is
// atomic with respect to every other create: the placement, the name and
// the resources are reserved under the cluster's lock before the engine is
// called, so parallel creates never over-reserve a node or reuse a name,
// and a create the engine refuses releases all it reserved. The swarm ID
// and the placement rules go into the container's labels.
func (c *Cluster) Create(ctx context.Context, cfg model.Config) (*model.Container, error) {
	return c.CreateWarn(ctx, cfg, nil)
}

// CreateWarn is Create that also says, in *w when w is not nil, what went
// wrong without failing it: the nodes a global container got no copy on,
// and why (the Warnings of Docker's create answer).
func (c *Cluster) CreateWarn(ctx context.Context, cfg model.Config, w *[]string) (ct *model.Container, err error) {
	began := time.Now()
	defer func() { c.opts.Observer.Placed(time.Since(began), err) }()
	if err := model.CheckConfig(cfg); err != nil {
		return nil, err
	}
	cfg = globalShorthand(cfg)
	req, err := sched.NewRequest(cfg)
	if err != nil {
		return nil, err
	}
	if isGlobal(&model.Container{Config: cfg}) {
		ct, warnings, err := c.createGlobal(ctx, req)
		if w != nil && warnings != nil {
			*w = append(*w, warnings...)
		}
		return ct, err
	}
	swarmID := newID()
	ct, n, err := c.place(ctx, req, swarmID, nil)
	if errors.Is(err, ErrNoImage) && !req.HasHardNodeConstraint() && c.imageOnSomeNode(cfg.Image) {
		// Swarm's retry: the chosen engine lacks the image and could not
		// pull it, but another node has it: place again, pinned to the
		// image for this placement only.
		if e, perr := sched.ParseExpr(sched.KindAffinity, "image=="+cfg.Image); perr == nil {
			ct, n, err = c.place(ctx, req.WithAffinity(e), swarmID, nil)
		}
	}
	if err != nil {
		return nil, err
	}
	c.emit(model.Event{Kind: model.EventPlaced, Node: n.name(), Container: describe(ct), ContainerID: ct.ID, Action: "create",
		Message: "placed " + describe(ct) + " on " + n.name()})
	return ct, nil
}

// imageOnSomeNode reports whether a healthy node has the image (by a tag,
// with :latest when none is given, or by ID).
func (c *Cluster) imageOnSomeNode(image string) bool {
	tagged := image
	if i := strings.LastIndexByte(image, ':'); i <= strings.LastIndexByte(image, '/') {
		tagged = image + ":latest"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.health != model.Healthy {
			continue
		}
		for _, im := range n.images {
			if im.ID == image || slices.Contains(im.RepoTags, tagged) || slices.Contains(im.RepoTags, image) {
				return true
			}
		}
	}
	return false
}

// place is the critical section of a create: lock, check the name, place
// on the snapshot, reserve as a pending container, unlock, call the
// engine, lock again to record the container or release the reservation.
// moving is the queued container being rescheduled, if any. ctx bounds
// the engine's calls: the caller gives it a deadline.
func (c *Cluster) place(ctx context.Context, req *sched.Request, swarmID string, moving *queued) (*model.Container, *node, error) {
	// The swarm ID is the record's SwarmID and goes to the engine as a
	// label (CreateSpec.SwarmID), but is not put in the record's labels:
	// the usual create keeps the request's labels map (NewRequest makes
	// one per request and nothing changes it) instead of a copy of its
	// own, 300 MiB at a million containers; none at all when it is empty.
	cfg := req.Config
	if len(cfg.Labels) == 0 {
		cfg.Labels = nil
	}
	if hasAnyLabel(cfg.Labels, model.LabelSwarmID, model.LabelStartAfterReschedule, model.LabelRescheduledFrom) ||
		moving != nil && (moving.wasRunning || !moving.live) {
		cfg.Labels = maps.Clone(cfg.Labels)
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		delete(cfg.Labels, model.LabelSwarmID)
		delete(cfg.Labels, model.LabelStartAfterReschedule)
		delete(cfg.Labels, model.LabelRescheduledFrom)
		if moving != nil && moving.wasRunning {
			cfg.Labels[model.LabelStartAfterReschedule] = "true"
		}
		if moving != nil && !moving.live {
			cfg.Labels[model.LabelRescheduledFrom] = moving.from
		}
	}
	c.mu.Lock()
	live := moving != nil && moving.live // the old copy holds the name until it goes
	if cfg.Name != "" && (!live && c.snap.NameInUse(cfg.Name) || c.queuedName(cfg.Name, moving) || c.renaming[cfg.Name]) {
		c.mu.Unlock()
		return nil, nil, model.NameConflict(cfg.Name)
	}
	var p *sched.Placement
	var err error
	if moving != nil && moving.pin != "" {
		p, err = c.pinned(req, moving.pin)
	} else {
		p, err = c.sch.Place(c.snap, req)
	}
	if err != nil {
		c.mu.Unlock()
		return nil, nil, err
	}
	n := c.nodes[p.Node.Addr]
	pc := &model.Container{Config: cfg, SwarmID: swarmID, Node: n.entry.Addr, State: model.Created, Created: time.Now()}
	if len(req.Constraints)+len(req.Affinities)+len(req.Whitelists) > 0 || req.Reschedule != "" {
		rules := model.Rules{Constraints: exprs(req.Constraints), Affinities: exprs(req.Affinities), Whitelists: exprs(req.Whitelists)}
		if req.Reschedule != "" {
			rules.Reschedule = []string{req.Reschedule}
		}
		pc.SetRules(rules)
	}
	c.pending[swarmID] = pc
	c.showChange(n, nil, pc, 0)
	nodeCPUs := n.info.CPUs
	ctx, end, stop := c.healthyCallLocked(ctx, n) // a hung engine ends the create when flagged
	defer stop()
	c.mu.Unlock()
	// The create and the inspect after it share that context, and one
	// timer gives each call its time in turn: a timed context per call
	// was a context, a timer and a map of children each (a fifth of what
	// a create allocated).
	limit := &callLimit{end: end}
	defer limit.stop()

	spec := CreateSpec{Config: cfg, SwarmID: swarmID}
	if cfg.CPUs%1000 == 0 {
		spec.CPUShares = model.SharesForCPUs(cfg.CPUs, nodeCPUs)
	} else {
		spec.NanoCPUs = int64(cfg.CPUs) * 1e6
	}
	id, err := c.createOn(ctx, n, spec, limit)
	var ct *model.Container
	var t uint64
	if err == nil {
		t = c.ticket(n)
		limit.set(callTimeout)
		ct, _ = n.eng.Inspect(ctx, id)
		if ct == nil {
			cp := *pc
			cp.ID = id
			ct = &cp
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, swarmID)
	if t != 0 {
		c.readDoneLocked(n, t) // applied below
	}
	if err != nil {
		if IsConnectionError(err) || errors.Is(err, ErrNodeDown) {
			// The engine may still create it; the user was told it
			// failed, so when it shows up, it goes. Whether the engine is
			// down is the probe's to say.
			c.abandoned[swarmID] = "its create got no answer and was given up"
			c.probeSoon(n)
		}
		if unanswered(err) {
			// Its room stays taken until the engine shows it or a
			// listing says it never came (ghost).
			c.ghosts[swarmID] = &ghost{c: pc, ended: time.Now()}
			c.checkGhostsLater(n)
		}
		c.rebuild(n)
		return nil, nil, fmt.Errorf("creating %s on %s: %w", describe(pc), n.name(), err)
	}
	// The usual outcome: the engine's record replaces the create in
	// flight, and nothing else changed on the node meanwhile.
	before, known := n.changes, n.containers[ct.ID] != nil
	if c.applyRead(n, t, ct.ID, ct) && !known && n.changes == before+1 {
		c.showChange(n, pc, ct, 1)
	} else {
		c.rebuild(n)
	}
	return ct, n, nil
}

// hasAnyLabel reports whether labels has one of keys.
func hasAnyLabel(labels map[string]string, keys ...string) bool {
	for _, k := range keys {
		if _, ok := labels[k]; ok {
			return true
		}
	}
	return false
}

// createOn creates a container on the engine chosen for it. An engine
// that lacks the image pulls it first, as Swarm's did, then creates: one
// container either way. Each engine call gets userCallTimeout (limit ends
// ctx after it), the pull pullTimeout, within ctx. A pull that fails
// leaves ErrNoImage, with the pull's error, so that Swarm's retry on a
// node with the image can follow.
func (c *Cluster) createOn(ctx context.Context, n *node, spec CreateSpec, limit *callLimit) (string, error) {
	limit.set(userCallTimeout)
	id, err := n.eng.Create(ctx, spec)
	err = limit.said(ctx, NodeDownCause(ctx, err))
	if !errors.Is(err, ErrNoImage) {
		return id, err
	}
	limit.stop() // the pull has its own time
	if perr := c.pullForCreate(ctx, n, spec.Config.Image); perr != nil {
		if errors.Is(perr, ErrNoImage) {
			return "", err
		}
		return "", fmt.Errorf("%w; pulling it on %s failed: %w", err, n.name(), perr)
	}
	limit.set(userCallTimeout)
	id, err = n.eng.Create(ctx, spec)
	return id, limit.said(ctx, NodeDownCause(ctx, err))
}

// callLimit ends a context (cause context.DeadlineExceeded) once the
// engine call under way has had its time; set starts the next call's.
type callLimit struct {
	end   context.CancelCauseFunc
	timer *time.Timer
	d     time.Duration // the current call's time
}

func (l *callLimit) set(d time.Duration) {
	l.d = d
	if l.timer == nil {
		l.timer = time.AfterFunc(d, func() { l.end(context.DeadlineExceeded) })
		return
	}
	l.timer.Reset(d)
}

func (l *callLimit) stop() {
	if l.timer != nil {
		l.timer.Stop()
	}
}

// said is err as the call's caller must read it: a call the limit ended
// only saw its context canceled, and is a deadline exceeded, as with a
// timed context.
func (l *callLimit) said(ctx context.Context, err error) error {
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s: %w", l.d, context.DeadlineExceeded)
	}
	return err
}

// pinned places req on the node at addr if every filter and the
// resources still allow it. c.mu is held.
func (c *Cluster) pinned(req *sched.Request, addr string) (*sched.Placement, error) {
	p, err := c.sch.Explain(c.snap, req)
	var reps []sched.NodeReport
	if err == nil {
		reps = p.Nodes
	} else if pe := (*sched.PlacementError)(nil); errors.As(err, &pe) {
		reps = pe.Nodes
	}
	for _, r := range reps {
		if r.Node.Addr != addr {
			continue
		}
		if r.Kept {
			return &sched.Placement{Node: r.Node, Soft: p.Soft}, nil
		}
		why := make([]string, len(r.Reasons))
		for i, x := range r.Reasons {
			why[i] = x.String()
		}
		return nil, fmt.Errorf("%s no longer fits on %s: %s", describe(&model.Container{Config: req.Config}), r.Node.Name, strings.Join(why, "; "))
	}
	return nil, fmt.Errorf("%w: node %s", ErrNotFound, addr)
}

func exprs(es []*sched.Expr) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Raw
	}
	return out
}

// find resolves a container reference as Swarm did (ID, short ID, swarm
// ID, name, node/name, unique prefix) over the whole cluster, containers
// waiting to be rescheduled included (a *WaitingError, whatever the
// reference). It returns the node and its model as they were under the
// lock.
func (c *Cluster) find(ref string) (*model.Container, *node, *model.Node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	waiting := c.waitingLocked()
	ct := c.byIDLocked(ref, waiting) // a full ID, as after a create: no scan of every container
	var cs []*model.Container
	if ct == nil {
		cs = c.allContainers()
		for _, q := range waiting {
			cs = append(cs, q.c)
		}
		ct = model.FindContainer(cs, ref, c.nodeOf)
		if ct == nil {
			ct = c.movingNamedLocked(cs, ref)
		}
	}
	if ct == nil {
		if gid, copies := c.globalNamedLocked(ref); gid != "" {
			return nil, nil, nil, c.globalNameError(ref, copies)
		}
		if same := model.NamedContainers(cs, ref, c.nodeOf); len(same) > 1 {
			return nil, nil, nil, c.ambiguousName(ref, same)
		}
		return nil, nil, nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	for _, q := range waiting {
		if q.c == ct {
			return c.waitingAnswer(q)
		}
	}
	n := c.nodes[ct.Node]
	if n.health != model.Healthy {
		return ct, n, c.viewOf(n), &DownNodeError{Container: describe(ct), Node: n.name()}
	}
	return ct, n, c.viewOf(n), nil
}

// ambiguousName is the refusal of a name more than one container has
// (one made on an engine directly and one through the manager at the same
// moment, say): Swarm found nothing and said "No such container"; this
// says why and lists them, by node/name and short ID, so that one can be
// named. c.mu is held.
func (c *Cluster) ambiguousName(ref string, same []*model.Container) error {
	copies := make([]string, len(same))
	for i, ct := range same {
		where := ct.Node
		if n := c.nodes[ct.Node]; n != nil {
			where = n.name()
		}
		copies[i] = where + "/" + strings.TrimPrefix(ct.Name, "/") + " (" + model.ShortID(ct.ID) + ")"
	}
	slices.Sort(copies)
	return &model.InvalidError{Msg: fmt.Sprintf("container name %s is ambiguous: %d containers have it (%s); name one by its ID or as node/name",
		strings.TrimPrefix(ref, "/"), len(same), strings.Join(copies, ", "))}
}

// movingNamedLocked is the container a bare name means while a drain or
// rebalance moves it: the old copy, which still runs, and not the new one
// the move is creating under the same name and swarm ID. Nil when the name
// is ambiguous otherwise, or unknown. c.mu is held.
func (c *Cluster) movingNamedLocked(cs []*model.Container, ref string) *model.Container {
	name := strings.TrimPrefix(ref, "/")
	var old *model.Container
	var named []*model.Container
	for _, ct := range cs {
		if strings.TrimPrefix(ct.Name, "/") != name {
			continue
		}
		named = append(named, ct)
		if c.relocating[ct.ID] {
			if old != nil {
				return nil
			}
			old = ct
		}
	}
	if old == nil || old.SwarmID == "" {
		return nil
	}
	for _, ct := range named {
		if ct.SwarmID != old.SwarmID {
			return nil
		}
	}
	return old
}

// MovingError is the refusal of a change to a container a drain or a
// rebalance is moving (a removal, a rename, a stop…): the move would undo
// it or fail on it. Nil when it is not moving.
func (c *Cluster) MovingError(ct *model.Container) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.movingErrorLocked(ct)
}

// HoldAgainstMoves is MovingError that, when the container is not moving,
// also keeps moves off it until release is called: a user's change under
// way (an rm, a stop, a rename) and a drain's move never overlap, so a
// removed container is never moved back to life.
func (c *Cluster) HoldAgainstMoves(ct *model.Container) (release func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.movingErrorLocked(ct); err != nil {
		return nil, err
	}
	c.userCalls[ct.ID]++
	return sync.OnceFunc(func() {
		c.mu.Lock()
		if c.userCalls[ct.ID]--; c.userCalls[ct.ID] <= 0 {
			delete(c.userCalls, ct.ID)
		}
		c.mu.Unlock()
	}), nil
}

// movingErrorLocked is MovingError; c.mu is held.
func (c *Cluster) movingErrorLocked(ct *model.Container) error {
	if !c.relocating[ct.ID] {
		return nil
	}
	from := ct.Node
	if n := c.nodes[ct.Node]; n != nil {
		from = n.name()
	}
	return &model.ConflictError{Msg: fmt.Sprintf("Container %s is being moved off %s (a drain or a rebalance): try again when the move has ended; docker ps shows both copies until then",
		describe(ct), from)}
}

// byIDLocked finds the container whose full ID is ref, on a node or
// among the waiting ones: what model.FindContainer answers first, found
// by the cluster-wide index (byID) rather than by reading every
// container or every node's map. c.mu is held.
func (c *Cluster) byIDLocked(ref string, waiting []*queued) *model.Container {
	if n := c.byID[ref]; n != nil {
		if ct := n.containers[ref]; ct != nil {
			return ct
		}
	}
	for _, q := range waiting {
		if q.c.ID == ref {
			return q.c
		}
	}
	return nil
}

// DownNodeError is the answer about a container whose node is not
// Healthy, in Swarm's words (HTTP 500 over the API, as in Swarm).
type DownNodeError struct{ Container, Node string }

func (e *DownNodeError) Error() string {
	return fmt.Sprintf("Container %s running on unhealthy node %s", e.Container, e.Node)
}

// Locate finds a container, the node it is on and that node's engine,
// for requests passed through to the engine. A container of an unhealthy
// node is an error, as in Swarm.
func (c *Cluster) Locate(ref string) (*model.Container, *model.Node, Engine, error) {
	ct, n, view, err := c.find(ref)
	if err != nil {
		return nil, nil, nil, err
	}
	return ct, view, n.eng, nil
}

// Refresh re-reads one container from its engine after a call made
// around the manager (a proxied pause, rename…).
func (c *Cluster) Refresh(ctx context.Context, ref string) {
	ct, n, _, err := c.find(ref)
	if err == nil {
		c.reread(ctx, n, ct.ID)
	}
}

// RefreshNode re-reads everything of one node (after calls made around
// the manager, such as an image removal).
func (c *Cluster) RefreshNode(ctx context.Context, addr string) {
	c.mu.Lock()
	n := c.nodes[addr]
	c.mu.Unlock()
	if n != nil {
		if err := c.refresh(ctx, n, nil); err != nil && IsConnectionError(err) {
			c.probeSoon(n)
		}
	}
}

// Engines returns every healthy node with its engine.
func (c *Cluster) Engines() map[*model.Node]Engine {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[*model.Node]Engine{}
	for _, n := range c.nodes {
		if n.health == model.Healthy {
			out[c.viewOf(n)] = n.eng
		}
	}
	return out
}

// Inspect finds a container and its node.
func (c *Cluster) Inspect(ref string) (*model.Container, *model.Node, error) {
	ct, _, view, err := c.find(ref)
	if ct == nil {
		return nil, nil, err
	}
	return ct, view, nil
}

// act runs one user's engine call on a container, then re-reads it, so
// the caller's next read shows the effect. work is the time the call
// itself needs (a stop's grace period); the call gets that and
// userCallTimeout more, and ends early only if its node turns Unhealthy.
// Its failure never counts toward the node's health: a connection error
// makes the manager probe the engine, and the probe decides.
//
// A global container's bare name acts on every copy (see actGlobal).
func (c *Cluster) act(ctx context.Context, ref, what string, work time.Duration, call func(ctx context.Context, e Engine, id string) error) error {
	if gid := c.globalNamed(ref); gid != "" && what != "remove" {
		return c.actGlobal(ctx, gid, what, work, call)
	}
	ct, n, _, err := c.find(ref)
	if err != nil {
		return err
	}
	release, err := c.HoldAgainstMoves(ct)
	if err != nil {
		return err
	}
	defer release()
	cctx, cancel := c.userCtx(ctx, n, work)
	err = NodeDownCause(cctx, call(cctx, n.eng, ct.ID))
	cancel()
	if err == nil && what == "remove" {
		c.mu.Lock()
		if c.avail[n.entry.Addr] == model.Drain {
			if c.rmWhileDraining[n.entry.Addr] == nil {
				c.rmWhileDraining[n.entry.Addr] = map[string]bool{}
			}
			c.rmWhileDraining[n.entry.Addr][ct.ID] = true
		}
		c.mu.Unlock()
	}
	if err != nil {
		if IsConnectionError(err) {
			c.probeSoon(n)
		}
		return fmt.Errorf("%s %s on %s: %w", what, describe(ct), n.name(), err)
	}
	c.reread(ctx, n, ct.ID)
	return nil
}

// ErrNodeDown ends a user's call on a node that stopped being Healthy.
var ErrNodeDown = errors.New("the node became unhealthy during the call")

// userCtx bounds a user's call on node n: work plus userCallTimeout, or
// until the node stops being Healthy, or ctx ends.
func (c *Cluster) userCtx(ctx context.Context, n *node, work time.Duration) (context.Context, context.CancelFunc) {
	tctx, cancelT := context.WithTimeout(ctx, work+userCallTimeout)
	c.mu.Lock()
	uctx, cancel := c.whileHealthyLocked(tctx, n)
	c.mu.Unlock()
	return uctx, func() { cancel(); cancelT() }
}

// whileHealthyLocked is ctx ended, with cause ErrNodeDown, when node n
// stops being Healthy. A node already down only has ctx's own end: the
// caller knew. c.mu is held.
func (c *Cluster) whileHealthyLocked(ctx context.Context, n *node) (context.Context, context.CancelFunc) {
	uctx, _, stop := c.healthyCallLocked(ctx, n)
	return uctx, stop
}

// healthyCallLocked is whileHealthyLocked that also gives the function
// that ends the context with a cause of the caller's. c.mu is held.
func (c *Cluster) healthyCallLocked(ctx context.Context, n *node) (context.Context, context.CancelCauseFunc, context.CancelFunc) {
	uctx, cancel := context.WithCancelCause(ctx)
	if n.health != model.Healthy {
		return uctx, cancel, func() { cancel(nil) }
	}
	// Registered with the node rather than watched by a goroutine per
	// call (a million creates were a million goroutines): setHealth ends
	// them all when the node stops being Healthy.
	n.callsMu.Lock()
	if n.calls == nil {
		n.calls = map[uint64]context.CancelCauseFunc{}
	}
	n.callSeq++
	id := n.callSeq
	n.calls[id] = cancel
	n.callsMu.Unlock()
	return uctx, cancel, func() {
		n.callsMu.Lock()
		delete(n.calls, id)
		n.callsMu.Unlock()
		cancel(nil)
	}
}

// WhileHealthy is ctx for a call passed through to the engine of the
// node at addr (a proxied or streamed request): it ends, with cause
// ErrNodeDown, when that node stops being Healthy. Callers tell that end
// with NodeDownCause.
func (c *Cluster) WhileHealthy(ctx context.Context, addr string) (context.Context, context.CancelFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[addr]
	if n == nil {
		return context.WithCancel(ctx)
	}
	return c.whileHealthyLocked(context.WithValue(ctx, callNodeKey{}, n.nameLocked()), n)
}

// callNodeKey keys the name of the node of a call bound by WhileHealthy.
type callNodeKey struct{}

// CallNode is the name of the node whose health ctx, made by
// WhileHealthy, follows; "" for another context. An error of the call
// names the node with it, not the engine's address.
func CallNode(ctx context.Context) string {
	name, _ := ctx.Value(callNodeKey{}).(string)
	return name
}

// NodeDownCause is ErrNodeDown when ctx ended because its node turned
// Unhealthy (and the call failed); otherwise err. The call's own error
// says no more then: the engine's URL and the cancelled request.
func NodeDownCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, ErrNodeDown) {
		return cause
	}
	return err
}

// Start starts a container.
func (c *Cluster) Start(ctx context.Context, ref string) error {
	return c.act(ctx, ref, "start", 0, func(ctx context.Context, e Engine, id string) error { return e.Start(ctx, id) })
}

// Stop stops a container, killing it after timeout.
func (c *Cluster) Stop(ctx context.Context, ref string, timeout time.Duration) error {
	return c.act(ctx, ref, "stop", timeout, func(ctx context.Context, e Engine, id string) error { return e.Stop(ctx, id, timeout) })
}

// Restart restarts a container.
func (c *Cluster) Restart(ctx context.Context, ref string, timeout time.Duration) error {
	return c.act(ctx, ref, "restart", timeout, func(ctx context.Context, e Engine, id string) error { return e.Restart(ctx, id, timeout) })
}

// Kill kills a container.
func (c *Cluster) Kill(ctx context.Context, ref string) error {
	return c.act(ctx, ref, "kill", 0, func(ctx context.Context, e Engine, id string) error { return e.Kill(ctx, id) })
}

// Remove removes a container; its reservation and name are free at once,
// and queued containers get another chance at the capacity. A container
// waiting to be rescheduled leaves the queue; its copy on the failed node
// is removed when that node comes back. So is the copy of a container
// without the policy whose node is down (removeOnDownNode: force only).
func (c *Cluster) Remove(ctx context.Context, ref string, force bool) error {
	if gid := c.globalNamed(ref); gid != "" {
		return c.removeGlobal(ctx, gid, force)
	}
	ct, n, _, err := c.find(ref)
	if w, ok := IsWaiting(err); ok {
		return c.forget(ctx, w)
	}
	if ct != nil && isGlobal(ct) {
		return c.removeGlobal(ctx, ct.Labels[LabelGlobalID], force)
	}
	if down := (*DownNodeError)(nil); errors.As(err, &down) {
		return c.removeOnDownNode(ctx, ct, n, force)
	}
	if ct != nil {
		if err := c.MovingError(ct); err != nil {
			return err
		}
	}
	// The removal of a moved container whose old copy is still on a failed
	// node is recorded before the engine removes it: a primary killed in
	// between must not leave a successor that moves the old copy again.
	var record string
	if ct != nil {
		record = c.movedAway(ct)
	}
	if record != "" {
		if err := c.setTombstone(ctx, record, true); err != nil {
			return fmt.Errorf("cannot remove %s: its old copy is on a failed node and the removal could not be recorded for other managers: %w", describe(ct), err)
		}
	}
	err = c.act(ctx, ref, "remove", 0, func(ctx context.Context, e Engine, id string) error { return e.Remove(ctx, id, force) })
	switch {
	case err == nil:
		c.mu.Lock()
		if record != "" {
			c.abandoned[record] = removedWhileDown // its old copy goes when its node is back
		}
		c.mu.Unlock()
		c.nudge()
	case record != "" && refused(err):
		// Not removed (a running container without force…): the record
		// would make the next primary remove it.
		if uerr := c.setTombstone(ctx, record, false); uerr != nil {
			c.log.Warn("a removal that did not happen stays recorded", "container", describe(ct), "err", uerr)
		}
	}
	return err
}

// refused reports whether a user's engine call certainly did nothing: the
// engine answered, and with a refusal other than "no such container".
func refused(err error) bool {
	return err != nil && !IsNotFound(err) && !IsConnectionError(err) && !errors.Is(err, ErrNodeDown) && !errors.Is(err, context.Canceled)
}

// movedAway is the removal record a removal of ct needs: its swarm ID
// when it is a moved container whose old copy may still be on a failed
// node, else "". The node is the one this manager took it off, or the
// one its label names (a move this manager did not see: it started later,
// or that node was never listed to it); a Healthy node that lists no copy
// holds none.
func (c *Cluster) movedAway(ct *model.Container) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	sid := ct.SwarmID
	if sid == "" || c.swarmIDs[sid] > 1 {
		return ""
	}
	from := cmp.Or(c.evacuated[sid], ct.Labels[model.LabelRescheduledFrom])
	if from == "" || from == ct.Node {
		return ""
	}
	if n := c.nodes[from]; n != nil && n.health == model.Healthy &&
		!slices.ContainsFunc(n.sorted, func(x *model.Container) bool { return x.SwarmID == sid }) {
		return "" // back, without the old copy
	}
	return sid
}

// removalKey is the ID a removal record of ct is kept under: its swarm
// ID, or its own ID when the manager did not create it.
func removalKey(ct *model.Container) string { return cmp.Or(ct.SwarmID, ct.ID) }

// removeOnDownNode is `docker rm -f` of a container whose node is down
// (Unhealthy). The manager cannot reach the engine, so it records the
// removal first (Tombstones: a manager that takes over knows it too),
// then takes the container out of its view (its name and reservation are
// free at once), and removes the copy from the engine when the node comes
// back. Without force it is refused, as Docker refuses to remove a running
// container without -f: whether it runs is unknown.
func (c *Cluster) removeOnDownNode(ctx context.Context, ct *model.Container, n *node, force bool) error {
	if !force {
		return &model.ConflictError{Msg: fmt.Sprintf("You cannot remove container %s: its node %s is down, so whether it runs is unknown. "+
			"Use docker rm -f to remove it now: its copy is removed from %s when the node comes back", describe(ct), n.name(), n.name())}
	}
	key := removalKey(ct)
	// While the removal is recorded, the node's evacuation (a new primary's
	// reconcile, the end of a grace period) leaves the container on it:
	// queued meanwhile, it would be moved after the rm said it was gone.
	c.mu.Lock()
	if n.containers[ct.ID] == nil {
		c.mu.Unlock()
		return c.Remove(ctx, ct.ID, force) // queued or gone since it was found: as it is now
	}
	c.removingDown[ct.ID] = false
	c.mu.Unlock()
	if err := c.setTombstone(ctx, key, true); err != nil {
		c.mu.Lock()
		if skipped := c.removingDown[ct.ID]; skipped && n.containers[ct.ID] != nil && hasPolicy(ct) {
			c.enqueue(n, ct, n.failedAt, failedWhy(n)) // as the evacuation would have
			c.rebuild(n)
			c.nudge()
		}
		delete(c.removingDown, ct.ID)
		c.mu.Unlock()
		return fmt.Errorf("cannot remove %s: its node %s is down and the removal could not be recorded: %w", describe(ct), n.name(), err)
	}
	c.mu.Lock()
	delete(c.removingDown, ct.ID)
	c.abandoned[key] = removedWhileDown
	back := n.health == model.Healthy // it came back meanwhile: remove it now
	if !back && n.containers[ct.ID] != nil {
		c.dropContainer(n, ct.ID)
		c.rebuild(n)
		c.emit(model.Event{Kind: model.EventContainer, Node: n.name(), Container: ct.Name, ContainerID: ct.ID, Action: "destroy",
			Message: fmt.Sprintf("%s removed while %s is down; its copy there goes when %s comes back", describe(ct), n.name(), n.name())})
	}
	c.mu.Unlock()
	if back {
		c.removeStale(ctx, n, []*model.Container{ct})
	}
	c.nudge()
	return nil
}

// Logs streams a container's output; follow keeps it open.
func (c *Cluster) Logs(ctx context.Context, ref string, follow bool) (io.ReadCloser, error) {
	ct, n, _, err := c.find(ref)
	if err != nil {
		return nil, err
	}
	return n.eng.Logs(ctx, ct.ID, follow)
}

// CreateNetwork creates a network on one node ("node/name" pins it) or
// on every healthy node, and returns the IDs it got. A name any target
// node already has is a conflict, and nothing is created.
//
// A network of a multi-host driver (overlay) is one network of the whole
// cluster: it is created once, on the pinned node or the first healthy
// one, and the other engines see it through their shared cluster store
// (their lists are read again at once), as Swarm created it. A cluster-wide
// network of that name anywhere is a conflict.
func (c *Cluster) CreateNetwork(ctx context.Context, name, driver string) ([]string, error) {
	return c.CreateNetworkWith(ctx, name, network.CreateOptions{Driver: driver})
}

// CreateNetworkWith is CreateNetwork with every option of docker network
// create (subnet, gateway, labels, internal, attachable, driver options…),
// passed to the engines as given.
func (c *Cluster) CreateNetworkWith(ctx context.Context, name string, opts network.CreateOptions) ([]string, error) {
	driver := opts.Driver
	var targets []*node
	c.mu.Lock()
	nodeName, netName, pinned := strings.Cut(name, "/")
	if pinned {
		for _, n := range c.nodes {
			if n.name() == nodeName {
				targets = append(targets, n)
			}
		}
		if len(targets) == 0 {
			c.mu.Unlock()
			return nil, &model.NotFoundError{Kind: "node", Ref: nodeName}
		}
		name = netName
	} else {
		for _, n := range c.nodes {
			if n.health == model.Healthy {
				targets = append(targets, n)
			}
		}
	}
	if name == "" || strings.Contains(name, "/") {
		c.mu.Unlock()
		return nil, &model.InvalidError{Msg: "a network create names the network: NAME or NODE/NAME"}
	}
	for _, n := range targets {
		for _, nw := range n.networks {
			if nw.Name == name {
				c.mu.Unlock()
				return nil, model.NetworkExists(name)
			}
		}
	}
	global := model.MultiHost(driver)
	if global {
		for _, n := range c.nodes {
			for _, nw := range n.networks {
				if nw.Name == name && !model.Local(nw) {
					c.mu.Unlock()
					return nil, model.NetworkExists(name)
				}
			}
		}
		slices.SortFunc(targets, func(a, b *node) int { return strings.Compare(a.nameLocked(), b.nameLocked()) })
		targets = targets[:min(len(targets), 1)]
	}
	c.mu.Unlock()
	var errs []error
	var ids []string
	for _, n := range targets {
		// A user's call: it gets the time the engine takes (an unknown
		// driver takes dockerd 15 s to refuse, in its own words).
		cctx, cancel := context.WithTimeout(ctx, userCallTimeout)
		id, err := n.eng.CreateNetwork(cctx, name, opts)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.name(), err))
			continue
		}
		ids = append(ids, id)
		c.refreshNetworks(ctx, n)
	}
	if global && len(ids) > 0 {
		c.refreshAllNetworks(ctx, targets[0])
	}
	return ids, errors.Join(errs...)
}

// refreshAllNetworks reads the networks of every healthy node but skip
// again, so a change of a cluster-wide network shows on all of them.
func (c *Cluster) refreshAllNetworks(ctx context.Context, skip *node) {
	for _, n := range c.healthyNodes() {
		if n != skip {
			c.refreshNetworks(ctx, n)
		}
	}
}

// healthyNodes are the nodes that are Healthy now.
func (c *Cluster) healthyNodes() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node
	for _, n := range c.nodes {
		if n.health == model.Healthy {
			out = append(out, n)
		}
	}
	return out
}

// NameInUse reports whether a container anywhere in the cluster, or one
// being created or waiting to be rescheduled, has the name.
func (c *Cluster) NameInUse(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nameTaken(name, nil)
}

// nameTaken reports whether a container, a queued one other than except,
// or a rename under way holds name. c.mu is held.
func (c *Cluster) nameTaken(name string, except *queued) bool {
	name = strings.TrimPrefix(name, "/")
	return c.snap.NameInUse(name) || c.queuedName(name, except) || c.renaming[name]
}

// ReserveName holds name for a rename under way, so that two renames (or
// a rename and a create) cannot both take it: it fails with Swarm's name
// conflict if the name is taken or held. release frees it once the
// rename is done and re-read.
func (c *Cluster) ReserveName(name string) (release func(), err error) {
	name = strings.TrimPrefix(name, "/")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nameTaken(name, nil) {
		return nil, model.NameConflict(name)
	}
	c.renaming[name] = true
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.renaming, name)
	}, nil
}

// CheckUpdate reports whether a container's reservations can change to
// cpus and memory (negative: unchanged) on its node, with overcommit.
func (c *Cluster) CheckUpdate(ref string, cpus model.MilliCPU, memory int64) error {
	ct, n, _, err := c.find(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.sch.Overcommit()
	view := c.viewOf(n)
	usedCPU, usedMem := view.Reserved()
	if cpus >= 0 {
		if total := view.TotalCPUs(o); usedCPU-ct.CPUs+cpus > total {
			return fmt.Errorf("cannot update %s: %s CPUs do not fit on %s (%s of %s reserved by the others)",
				describe(ct), cpus, n.name(), usedCPU-ct.CPUs, total)
		}
	}
	if memory >= 0 {
		if total := view.TotalMemory(o); usedMem-ct.Memory+memory > total {
			return fmt.Errorf("cannot update %s: %s of memory does not fit on %s (%s of %s reserved by the others)",
				describe(ct), model.FormatBytes(memory), n.name(), model.FormatBytes(usedMem-ct.Memory), model.FormatBytes(total))
		}
	}
	return nil
}

// FindNetwork finds one network by full or short ID, name, node/name or
// unique ID prefix (model.FindNetwork).
func (c *Cluster) FindNetwork(ref string) (model.Network, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.findNetwork(ref)
}

// findNetwork is FindNetwork; c.mu is held.
func (c *Cluster) findNetwork(ref string) (model.Network, error) {
	var all []model.Network
	for _, n := range c.nodes {
		all = append(all, n.networks...)
	}
	return model.FindNetwork(all, ref, func(addr string) (string, string) {
		if n := c.nodes[addr]; n != nil && n.view != nil {
			return n.nameLocked(), n.view.ID
		}
		return "", ""
	})
}

// RemoveNetwork removes the one network ref names (FindNetwork), on the
// node that has it. A predefined network (bridge, host, none) is never
// removed, and an ambiguous ref removes nothing.
func (c *Cluster) RemoveNetwork(ctx context.Context, ref string) error {
	c.mu.Lock()
	nw, err := c.findNetwork(ref)
	n := c.nodes[nw.Node]
	if err == nil && !model.Local(nw) && (n == nil || n.health != model.Healthy) {
		n = c.holderLocked(nw.ID) // a cluster-wide network goes through any healthy node that has it
	}
	c.mu.Unlock()
	if err != nil {
		if bare := ref[strings.LastIndexByte(ref, '/')+1:]; model.Predefined(bare) {
			return &model.ForbiddenError{Msg: bare + " is a pre-defined network and cannot be removed"}
		}
		return err
	}
	if model.Local(nw) && model.Predefined(nw.Name) {
		return &model.ForbiddenError{Msg: nw.Name + " is a pre-defined network and cannot be removed"}
	}
	if n == nil {
		return &model.NotFoundError{Kind: "network", Ref: ref}
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	err = n.eng.RemoveNetwork(cctx, nw.ID)
	cancel()
	if err != nil {
		return fmt.Errorf("%s: %w", n.name(), err)
	}
	c.refreshNetworks(ctx, n)
	if !model.Local(nw) {
		c.refreshAllNetworks(ctx, n)
	}
	return nil
}

// holderLocked is a healthy node that lists the network, or nil. c.mu is
// held.
func (c *Cluster) holderLocked(id string) *node {
	for _, n := range c.nodes {
		if n.health != model.Healthy {
			continue
		}
		for _, nw := range n.networks {
			if nw.ID == id {
				return n
			}
		}
	}
	return nil
}

func (c *Cluster) refreshNetworks(ctx context.Context, n *node) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	nets, err := n.eng.Networks(cctx)
	cancel()
	if err != nil {
		return
	}
	c.mu.Lock()
	c.setNetworks(n, nets)
	c.gen.Add(1)
	c.mu.Unlock()
}
