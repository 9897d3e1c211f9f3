package backend

import (
	"cmp"
	"context"
	"encoding/json"
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

// LabelGlobalID ties the copies of one global container together; each
// copy has its own swarm ID.
const LabelGlobalID = "com.swarmdeck.global-id"

// globalEnv is the -e shorthand for --label com.swarmdeck.mode=global, in
// the style of Swarm's -e constraint:… and -e reschedule:….
const globalEnv = "mode:global"

// isGlobal reports whether a container runs one copy on every node.
func isGlobal(ct *model.Container) bool { return ct.Labels[sched.LabelMode] == sched.ModeGlobal }

// globalShorthand turns -e mode:global into the label.
func globalShorthand(cfg model.Config) model.Config {
	if !slices.Contains(cfg.Env, globalEnv) {
		return cfg
	}
	cfg.Env = slices.DeleteFunc(slices.Clone(cfg.Env), func(e string) bool { return e == globalEnv })
	cfg.Labels = maps.Clone(cfg.Labels)
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	cfg.Labels[sched.LabelMode] = sched.ModeGlobal
	return cfg
}

// autoRemove reports whether a create body asks for --rm.
func autoRemove(raw []byte) bool {
	if len(raw) == 0 {
		return false
	}
	var body struct{ HostConfig struct{ AutoRemove bool } }
	return json.Unmarshal(raw, &body) == nil && body.HostConfig.AutoRemove
}

// globalWork is what reconciling one global container changes: the nodes
// that get a copy and the copies that go, each with why.
type globalWork struct {
	name string
	req  *sched.Request
	add  []string // node addresses
	why  map[string]string
	drop []globalCopy
}

type globalCopy struct {
	n   *node
	ct  *model.Container
	why string
}

// createGlobal creates a copy of a global container on every node that
// satisfies its rules, and starts each; it returns the first copy that
// runs, and a warning per node that got none. A copy that was created
// but would not start is removed: no node keeps a half-made copy. When no
// copy runs, nothing is left and the error names each node's failure.
// The reconciler leaves the container alone until this returns.
func (c *Cluster) createGlobal(ctx context.Context, req *sched.Request) (*model.Container, []string, error) {
	cfg := req.Config
	if autoRemove(cfg.Raw) {
		// Each copy would be removed as it exits and made again by the
		// reconciler, for ever.
		return nil, nil, &model.InvalidError{Msg: "a global container cannot be run with --rm (AutoRemove): its copies are kept on every node, so one that exits would be removed and created again"}
	}
	if cfg.Name != "" && c.NameInUse(cfg.Name) {
		return nil, nil, model.NameConflict(cfg.Name)
	}
	gid := newID()
	req.Config.Labels = maps.Clone(cfg.Labels)
	req.Config.Labels[LabelGlobalID] = gid
	c.mu.Lock()
	c.newGlobals[gid] = true
	targets, err := c.globalTargets(req)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.newGlobals, gid)
		c.mu.Unlock()
	}()
	if err != nil {
		return nil, nil, err
	}
	var first *model.Container
	var errs []error
	var warnings []string
	name := describe(&model.Container{Config: req.Config})
	for _, addr := range targets {
		ct, err := c.addGlobalCopy(ctx, req, addr, "docker run: the node satisfies its rules", true)
		if err != nil {
			errs = append(errs, err)
			warnings = append(warnings, fmt.Sprintf("global %s: no copy on %s: %v", name, c.nodeName(addr), err))
			continue
		}
		if first == nil {
			first = ct
		}
	}
	if first == nil {
		return nil, nil, fmt.Errorf("global %s: no copy runs, and none is left: %w", name, errors.Join(errs...))
	}
	return first, warnings, nil
}

// nodeName is the name of the node at addr, or addr when it is gone.
func (c *Cluster) nodeName(addr string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[addr]; n != nil {
		return n.name()
	}
	return addr
}

// globalTargets are the nodes a global container may run on today, in
// natural order; with none, the scheduler's refusal. c.mu is held.
func (c *Cluster) globalTargets(req *sched.Request) ([]string, error) {
	p, err := c.sch.Explain(c.snap, req)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range p.Nodes {
		if r.Kept {
			out = append(out, r.Node.Addr)
		}
	}
	return out, nil
}

// addGlobalCopy creates and starts one copy on the node at addr. A copy
// that will not start stays created (as a container whose start failed),
// or with clean is removed and its failure returned.
func (c *Cluster) addGlobalCopy(ctx context.Context, req *sched.Request, addr, why string, clean bool) (*model.Container, error) {
	q := &queued{c: &model.Container{Config: req.Config}, live: true, pin: addr}
	ct, n, err := c.place(ctx, req, newID(), q)
	if err != nil {
		c.globalFailed(req, addr)
		name := c.nodeName(addr)
		c.emit(model.Event{Kind: model.EventFailure, Node: name, Container: req.Config.Name, Action: "global_failed",
			Message: fmt.Sprintf("global %s: no copy on %s: %v", describe(&model.Container{Config: req.Config}), name, err)})
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, callTimeout)
	err = n.eng.Start(sctx, ct.ID)
	cancel()
	c.reread(ctx, n, ct.ID)
	if err != nil {
		c.globalFailed(req, addr)
		err = fmt.Errorf("starting the global copy of %s on %s: %w", describe(ct), n.name(), err)
		if !clean {
			c.emit(model.Event{Kind: model.EventFailure, Node: n.name(), Container: describe(ct), ContainerID: ct.ID, Action: "global_failed", Message: err.Error()})
			return ct, nil // created: it stays, as a container that failed to start would
		}
		rctx, cancel := context.WithTimeout(ctx, callTimeout)
		rerr := n.eng.Remove(rctx, ct.ID, true)
		cancel()
		if rerr != nil && !IsNotFound(rerr) {
			err = fmt.Errorf("%w; removing that copy failed too: %v", err, rerr)
		} else {
			c.mu.Lock()
			c.dropContainer(n, ct.ID)
			c.rebuild(n)
			c.mu.Unlock()
			err = fmt.Errorf("%w (the copy was removed)", err)
		}
		c.emit(model.Event{Kind: model.EventFailure, Node: n.name(), Container: describe(ct), ContainerID: ct.ID, Action: "global_failed", Message: err.Error()})
		return nil, err
	}
	c.emit(model.Event{Kind: model.EventGlobal, Node: n.name(), Container: describe(ct), ContainerID: ct.ID, Action: "global_copy",
		Message: fmt.Sprintf("global %s: copy on %s (%s)", describe(ct), n.name(), why)})
	return ct, nil
}

// globalRetry is how long the reconciler waits before it tries again a
// node where a global container's copy failed (an image the node cannot
// get, a command that does not start): once a minute, not every pass.
const globalRetry = time.Minute

// globalFailed records that req's copy on the node at addr failed now.
func (c *Cluster) globalFailed(req *sched.Request, addr string) {
	c.mu.Lock()
	c.globalFails[req.Config.Labels[LabelGlobalID]+"@"+addr] = time.Now()
	c.mu.Unlock()
}

// reconcileGlobals gives every node that satisfies a global container's
// rules its copy, and takes the copy from a node that is drained or no
// longer satisfies them. Copies on unhealthy or paused nodes stay.
func (c *Cluster) reconcileGlobals(ctx context.Context) {
	c.mu.Lock()
	groups := c.globalCopies()
	for k, at := range c.globalFails {
		if time.Since(at) >= globalRetry {
			delete(c.globalFails, k) // due again (or its container is gone)
		}
	}
	for gid := range c.goneGlobals {
		if len(groups[gid]) == 0 {
			delete(c.goneGlobals, gid) // every copy is gone
			delete(c.globalDefs, gid)
		}
	}
	// A global container outlives its last copy (every node it ran on was
	// drained, or left): its definition is kept, and a node that suits
	// it again gets a copy.
	for gid, cs := range groups {
		for _, ct := range cs {
			if ct.ID != "" && !c.goneGlobals[gid] {
				c.globalDefs[gid] = ct
				break
			}
		}
	}
	var work []globalWork
	for _, gid := range slices.Sorted(maps.Keys(c.globalDefs)) {
		if c.goneGlobals[gid] || c.rmGlobals[gid] != nil || c.newGlobals[gid] {
			continue
		}
		if w, ok := c.globalDiff(c.globalDefs[gid], groups[gid]); ok {
			work = append(work, w)
		}
	}
	c.mu.Unlock()
	for _, w := range work {
		for _, addr := range w.add {
			c.addGlobalCopy(ctx, w.req, addr, w.why[addr], false)
		}
		for _, d := range w.drop {
			c.dropGlobalCopy(ctx, d)
		}
	}
}

// globalCopies groups the copies of every global container by global ID,
// creates in flight and given up included (as the nodes' views show them:
// a pending copy or ghost until its engine's copy is recorded). It reads the index of global
// records, not every container. c.mu is held.
func (c *Cluster) globalCopies() map[string][]*model.Container {
	groups := map[string][]*model.Container{}
	add := func(ct *model.Container) {
		if gid := ct.Labels[LabelGlobalID]; gid != "" {
			groups[gid] = append(groups[gid], ct)
		}
	}
	recorded := map[[2]string]bool{} // node address and swarm ID of each record
	for ct := range c.globals {
		add(ct)
		recorded[[2]string{ct.Node, ct.SwarmID}] = true
	}
	for sid, p := range c.pending {
		if isGlobal(p) && c.nodes[p.Node] != nil && !recorded[[2]string{p.Node, sid}] {
			add(p)
		}
	}
	for sid, g := range c.ghosts { // creates given up without an answer: shown (and reserved) as the views show them
		if isGlobal(g.c) && c.nodes[g.c.Node] != nil && !recorded[[2]string{g.c.Node, sid}] {
			add(g.c)
		}
	}
	return groups
}

// globalDiff compares one global container's copies with the nodes that
// should have one. c.mu is held.
func (c *Cluster) globalDiff(def *model.Container, copies []*model.Container) (globalWork, bool) {
	slices.SortFunc(copies, func(a, b *model.Container) int { return cmp.Compare(b.ID, a.ID) }) // a created copy before a pending one
	tmpl := def
	if len(copies) > 0 {
		if copies[0].ID == "" {
			return globalWork{}, false // still being created
		}
		tmpl = copies[0]
	}
	req, err := sched.NewRequest(tmpl.Config)
	if err != nil {
		return globalWork{}, false
	}
	have := map[string]*model.Container{}
	for _, ct := range copies {
		have[ct.Node] = ct
	}
	var reps []sched.NodeReport
	if p, err := c.sch.Explain(c.snap, req); err == nil {
		reps = p.Nodes
	} else if pe := (*sched.PlacementError)(nil); errors.As(err, &pe) {
		reps = pe.Nodes
	}
	w := globalWork{name: describe(tmpl), req: req, why: map[string]string{}}
	for _, r := range reps {
		n := c.nodes[r.Node.Addr]
		if n == nil || n.health != model.Healthy {
			continue
		}
		ct := have[r.Node.Addr]
		if ct == nil {
			if at, ok := c.globalFails[tmpl.Labels[LabelGlobalID]+"@"+r.Node.Addr]; ok && time.Since(at) < globalRetry {
				continue // failed there a moment ago: not every pass
			}
			if r.Kept {
				w.add = append(w.add, r.Node.Addr)
				w.why[r.Node.Addr] = "the node satisfies its rules"
			}
			continue
		}
		if ct.ID == "" || c.relocating[ct.ID] {
			continue
		}
		switch {
		case c.avail[r.Node.Addr] == model.Drain:
			w.drop = append(w.drop, globalCopy{n, ct, r.Node.Name + " is draining"})
		default:
			for _, why := range r.Reasons {
				if why.Filter == sched.FilterConstraint || why.Filter == sched.FilterWhitelist {
					w.drop = append(w.drop, globalCopy{n, ct, r.Node.Name + " no longer satisfies " + why.String()})
					break
				}
			}
		}
	}
	return w, len(w.add)+len(w.drop) > 0
}

// dropGlobalCopy removes one copy from its node.
func (c *Cluster) dropGlobalCopy(ctx context.Context, d globalCopy) {
	cctx, cancel := context.WithTimeout(ctx, 3*callTimeout)
	err := d.n.eng.Remove(cctx, d.ct.ID, true)
	cancel()
	if err != nil && !IsNotFound(err) {
		c.emit(model.Event{Kind: model.EventFailure, Node: d.n.name(), Container: describe(d.ct), ContainerID: d.ct.ID, Action: "global_failed",
			Message: fmt.Sprintf("global %s: cannot remove the copy on %s (%s): %v", describe(d.ct), d.n.name(), d.why, err)})
		return
	}
	c.mu.Lock()
	c.dropContainer(d.n, d.ct.ID)
	c.rebuild(d.n)
	c.mu.Unlock()
	c.emit(model.Event{Kind: model.EventGlobal, Node: d.n.name(), Container: describe(d.ct), ContainerID: d.ct.ID, Action: "global_remove",
		Message: fmt.Sprintf("global %s: copy removed from %s (%s)", describe(d.ct), d.n.name(), d.why)})
}

// removeGlobal removes every copy of a global container.
func (c *Cluster) removeGlobal(ctx context.Context, gid string, force bool) error {
	var copies []globalCopy
	c.mu.Lock()
	c.goneGlobals[gid] = true // no copy comes back while the others go
	delete(c.globalDefs, gid)
	for _, n := range c.nodes {
		for _, ct := range n.containers {
			if ct.Labels[LabelGlobalID] == gid {
				copies = append(copies, globalCopy{n: n, ct: ct})
			}
		}
	}
	c.mu.Unlock()
	var errs []error
	var later []string
	for _, d := range copies {
		cctx, cancel := context.WithTimeout(ctx, 3*callTimeout)
		err := d.n.eng.Remove(cctx, d.ct.ID, force)
		cancel()
		c.mu.Lock()
		down := d.n.health != model.Healthy
		c.mu.Unlock()
		if err != nil && (down || IsConnectionError(err)) {
			// Its node is down: the copy goes when the node returns, as a
			// rescheduled container's stale copy does.
			c.mu.Lock()
			if c.rmGlobals[gid] == nil {
				c.rmGlobals[gid] = map[string]bool{}
			}
			c.rmGlobals[gid][d.n.entry.Addr] = true
			c.dropContainer(d.n, d.ct.ID)
			c.rebuild(d.n)
			c.mu.Unlock()
			later = append(later, d.n.name())
			continue
		}
		if err != nil && !IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing the copy of %s on %s: %w", describe(d.ct), d.n.name(), err))
			continue
		}
		c.mu.Lock()
		c.dropContainer(d.n, d.ct.ID)
		c.rebuild(d.n)
		c.mu.Unlock()
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(copies) > 0 {
		msg := fmt.Sprintf("global %s: removed with its %d copies", describe(copies[0].ct), len(copies))
		if len(later) > 0 {
			slices.Sort(later)
			msg += fmt.Sprintf(" (the copies on %s, which are down, go when they come back)", strings.Join(later, ", "))
		}
		c.emit(model.Event{Kind: model.EventGlobal, Container: describe(copies[0].ct), Action: "global_remove", Message: msg})
	}
	c.nudge()
	return nil
}

// globalNamed is the global ID of the global container whose copies
// answer to the bare name ref (each node has one, so the name alone is
// ambiguous to find); empty when ref names something else.
func (c *Cluster) globalNamed(ref string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	gid, _ := c.globalNamedLocked(ref)
	return gid
}

// globalNamedLocked is globalNamed with the copies, in natural order of
// node. c.mu is held.
func (c *Cluster) globalNamedLocked(ref string) (string, []*model.Container) {
	name := strings.TrimPrefix(ref, "/")
	if name == "" || c.globalNames[name] == 0 || strings.Contains(name, "/") || c.byIDLocked(ref, nil) != nil {
		// No global copy bears the name (the usual case: found without
		// reading every container), or a container's full ID is that
		// container, whatever the names.
		return "", nil
	}
	gid := ""
	var copies []*model.Container
	for _, n := range c.nodes {
		for _, ct := range n.containers {
			if strings.TrimPrefix(ct.Name, "/") != name {
				continue
			}
			g := ct.Labels[LabelGlobalID]
			if !isGlobal(ct) || g == "" || gid != "" && g != gid {
				return "", nil
			}
			gid = g
			copies = append(copies, ct)
		}
	}
	slices.SortFunc(copies, func(a, b *model.Container) int {
		x, y := c.nodes[a.Node].name(), c.nodes[b.Node].name()
		if model.NaturalLess(x, y) {
			return -1
		}
		if model.NaturalLess(y, x) {
			return 1
		}
		return 0
	})
	return gid, copies
}

// globalNameError refuses a call that acts on one container when ref is
// a global container's bare name: it names the copies to choose from.
// c.mu is held.
func (c *Cluster) globalNameError(ref string, copies []*model.Container) error {
	name := strings.TrimPrefix(ref, "/")
	refs := make([]string, len(copies))
	for i, ct := range copies {
		refs[i] = c.nodes[ct.Node].name() + "/" + name
	}
	return &model.InvalidError{Msg: fmt.Sprintf("%s is a global container, one copy per node: name the copy this acts on, as NODE/%s (%s); stop, start, restart and rm act on every copy",
		name, name, strings.Join(refs, ", "))}
}

// actGlobal runs a user's call (stop, start, restart, kill) on every copy
// of a global container at once, each as act runs it on one container;
// the error names each copy that failed.
func (c *Cluster) actGlobal(ctx context.Context, gid, what string, work time.Duration, call func(ctx context.Context, e Engine, id string) error) error {
	c.mu.Lock()
	var ids []string
	for _, n := range c.nodes {
		for _, ct := range n.containers {
			if ct.Labels[LabelGlobalID] == gid && ct.ID != "" {
				ids = append(ids, ct.ID)
			}
		}
	}
	c.mu.Unlock()
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.act(ctx, id, what, work, call)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stoppedGlobals lists the node's global copies that are not running
// (its engine died with them): a recovered node gets its copies back.
// c.mu is held.
func (c *Cluster) stoppedGlobals(n *node) []*model.Container {
	var out []*model.Container
	for _, ct := range n.sorted {
		if isGlobal(ct) && ct.ID != "" && ct.State != model.Running && ct.State != model.Paused &&
			!c.goneGlobals[ct.Labels[LabelGlobalID]] && !c.rmGlobals[ct.Labels[LabelGlobalID]][n.entry.Addr] {
			out = append(out, ct)
		}
	}
	return out
}

// restartGlobals starts the global copies of a node that came back.
func (c *Cluster) restartGlobals(ctx context.Context, n *node, cs []*model.Container) {
	for _, ct := range cs {
		sctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := n.eng.Start(sctx, ct.ID)
		cancel()
		c.reread(ctx, n, ct.ID)
		if err != nil {
			c.emit(model.Event{Kind: model.EventFailure, Node: n.name(), Container: describe(ct), ContainerID: ct.ID, Action: "global_failed",
				Message: fmt.Sprintf("global %s: cannot start the copy on %s, which came back: %v", describe(ct), n.name(), err)})
			continue
		}
		c.emit(model.Event{Kind: model.EventGlobal, Node: n.name(), Container: describe(ct), ContainerID: ct.ID, Action: "global_copy",
			Message: fmt.Sprintf("global %s: copy started again on %s (the node came back)", describe(ct), n.name())})
	}
}
