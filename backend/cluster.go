package backend

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// Options tune a Cluster. The zero value gives Swarm's defaults where
// Swarm had one and swarmdeck's faster failure detection.
type Options struct {
	Sched sched.Config
	// FailureRetry is --engine-failure-retry: failed health probes in a
	// row that make a node Unhealthy (default 3). Only probes count: a
	// user's call that fails never does.
	FailureRetry int
	// ProbeInterval is how often an engine that fails its probes is probed
	// again (default 500ms, so the default three probes flag a dead engine
	// about a second after its first failure).
	ProbeInterval time.Duration
	// Heartbeat is how often a healthy engine is pinged, so that one that
	// hangs is noticed (default 1s).
	Heartbeat time.Duration
	// ProbeTimeout bounds a heartbeat or a probe: an engine that does not
	// answer a ping within it has failed once (default 1s).
	ProbeTimeout time.Duration
	// RefreshMin and RefreshMax bound the full refresh that backs up the
	// event stream (Swarm's 30s and 60s).
	RefreshMin, RefreshMax time.Duration
	// RescheduleGrace is how long an Unhealthy node may come back before its
	// containers move (--reschedule-grace, default 0).
	RescheduleGrace time.Duration
	// Logger receives the manager's log; nil discards it.
	Logger *slog.Logger
	// State keeps node availability (pause, drain); nil keeps it in memory.
	State StateStore
	// Observer is told of placements, reschedules, failed probes and role
	// changes, for metrics; nil: nobody.
	Observer Observer
	// RemovalRecordTTL is how long the record of a container removed
	// while its node was down is kept when the node does not come back
	// (default DefaultRemovalRecordTTL, 7 days).
	RemovalRecordTTL time.Duration
	// RebalanceOnRecovery rebalances (default bound of moves) when a node
	// comes back or joins after the first listing (--rebalance-on-recovery).
	RebalanceOnRecovery bool
}

func (o *Options) defaults() {
	if o.FailureRetry <= 0 {
		o.FailureRetry = sched.DefaultFailureRetry
	}
	o.Sched.FailureRetry = o.FailureRetry
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = 500 * time.Millisecond
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = time.Second
	}
	if o.RefreshMin <= 0 {
		o.RefreshMin = 30 * time.Second
	}
	if o.RefreshMax < o.RefreshMin {
		o.RefreshMax = 2 * o.RefreshMin
	}
	if o.RemovalRecordTTL <= 0 {
		o.RemovalRecordTTL = DefaultRemovalRecordTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler) // Enabled is false: nothing is formatted to be thrown away
	}
	if o.Observer == nil {
		o.Observer = noObserver{}
	}
}

// Cluster is the manager: a live model of every engine of a Source, the
// placements made on it, and the rescheduling of containers off failed
// nodes.
type Cluster struct {
	src  *Source
	opts Options
	sch  *sched.Scheduler
	log  *slog.Logger

	mu         sync.Mutex
	nodes      map[string]*node   // by address
	byEngineID map[string][]*node // by engine ID: who shares an ID, without a scan
	snap       *sched.Snapshot
	pending    map[string]*model.Container // creates in flight, by swarm ID
	ghosts     map[string]*ghost           // creates given up without an answer, by swarm ID: their room stays reserved
	abandoned  map[string]string           // swarm IDs of creates that failed half-way, or removed while waiting → why their copies go
	evacuated  map[string]string           // swarm ID → the failed node its container was taken off
	swarmIDs   map[string]int              // swarm ID → containers carrying it, on every node
	globals    map[*model.Container]bool   // the records of global containers, on every node (pending ones are not records)
	// globalNames counts the global records by name (without a leading
	// "/"): a bare name no global copy bears is told apart without
	// reading every container (globalNamedLocked).
	globalNames map[string]int
	// byID is every node's records by container ID, cluster-wide: the
	// node that holds it, so that a full ID is found with one lookup
	// rather than one per node (byIDLocked). When engines at two
	// addresses report the same container (one engine listed twice),
	// byID names one of them and sharedIDs counts the others.
	byID       map[string]*node
	sharedIDs  map[string]int
	queue      []*queued     // containers waiting to be rescheduled
	queueLen   atomic.Int64  // len(queue), stored with every change: Queued answers an empty queue without the lock
	queueVer   atomic.Uint64 // moves after queueLen with every change: NodesAndQueued sees the queue did not change while it read
	state      StateStore
	avail      map[string]model.Availability // by node address; absent: active
	forced     map[string]bool               // container IDs a forced drain moves despite no policy
	relocating map[string]bool               // container IDs being moved by a drain or rebalance
	userCalls  map[string]int                // container ID → users' changes under way (a stop, an rm…): no move starts meanwhile
	// rmWhileDraining are containers a user removed from a draining node,
	// by its address: the drain's outcome says removed, not lost. Reset
	// when the node's availability is set again.
	rmWhileDraining map[string]map[string]bool
	landing         map[string]*landing // moves whose old copy is going, by swarm ID
	moveErrs        map[string]string   // container ID → the last failed move's error, said once
	// stoppedToMove are running containers a move stopped to free their
	// name on a cluster-wide network and could not start again: the next
	// try still moves them as running containers. moveRetry holds back
	// the next try of a drain's move that failed, longer each time.
	stoppedToMove map[string]bool
	moveRetry     map[string]moveRetry
	initial       map[string]bool             // addresses of the first discovery listing
	goneGlobals   map[string]bool             // global IDs being removed: no new copies
	newGlobals    map[string]bool             // global IDs whose docker run is creating the copies: reconcile waits
	globalDefs    map[string]*model.Container // global ID → a copy, as its definition: it outlives its last copy (every node drained)
	globalFails   map[string]time.Time        // "global ID@address" → when its copy there last failed: retried after globalRetry
	rmGlobals     map[string]map[string]bool  // global ID → addresses of down nodes whose copy goes when they return
	takenBack     map[string]bool             // IDs of failed moves' new copies on down nodes: stale when they return
	buriedAt      map[string]time.Time        // removal records (Tombstones) by ID → when recorded, for their expiry
	renaming      map[string]bool             // names held by renames under way
	removingDown  map[string]bool             // IDs of containers an rm -f on their down node is recording, not queued meanwhile → an evacuation skipped it
	rebalancing   atomic.Bool                 // a rebalance on recovery is running
	gen           atomic.Uint64               // bumped on every change but a touch (under mu, read without it)
	touches       atomic.Uint64               // bumped by each touch: a view with only its refresh time moved on

	// views are the nodes' published models by address, kept apart from
	// mu so that readers (docker info, docker ps, the console) never wait
	// on startup or placement work holding mu. Written with mu held.
	viewMu sync.RWMutex
	views  map[string]*model.Node
	// order is the views' addresses in Nodes' order, valid while
	// orderAt == orderVer; orderVer moves when a node comes, goes or is
	// renamed, so Nodes sorts once per such batch, not per call.
	order             []string
	orderVer, orderAt uint64
	// maxCPUs is the CPU count of the largest view, valid while cpusAt ==
	// cpusVer; cpusVer moves when a view's CPUs change or a node goes.
	maxCPUs         int
	cpusVer, cpusAt uint64
	// nets is what Networks last answered, valid while netsAt == netsVer;
	// netsVer moves (under mu) when a node's networks change or a node
	// comes or goes, so the console's rebuild every second does not
	// collect, merge and sort every node's networks (30,000 at 10,000
	// nodes) each time.
	nets            []model.Network
	netsVer, netsAt uint64

	// stale are the nodes whose list is ahead of their published view
	// (some may have caught up since); staleN is len(stale), so that
	// readers find nothing to publish without the lock.
	stale  []*node
	staleN atomic.Int64

	events     *broker
	connecting chan struct{} // a slot per engine being connected (connectSlots)
	wheel      heartbeats    // every engine's heartbeat and refresh timer
	wake       chan struct{} // capacity may have appeared: look at the queue
	takeover   chan struct{} // this manager became primary: reconcile first
	wg         sync.WaitGroup
	ctx        atomic.Pointer[context.Context] // Run's, for goroutines started later

	replicated bool // with leader election; else always primary
	primary    atomic.Bool
	leader     atomic.Pointer[string] // the primary's address, as a replica knows it
}

// connectSlots bounds the engines whose state is read at once after they
// answer a probe (their first connection, or a reconnection).
const connectSlots = 64

// node is one engine's state as the manager keeps it.
type node struct {
	entry      Entry
	eng        Engine
	info       EngineInfo
	health     model.Health
	failures   int
	lastErr    string
	updated    time.Time
	failedAt   time.Time   // first failure of the current run of failures
	failing    atomic.Bool // failures > 0: set with failures, read by heartbeats without the lock
	healthyAt  time.Time   // since when it is Healthy; zero while it is not
	dupWarning string
	containers map[string]*model.Container // by ID
	sorted     []*model.Container          // the same, by name then ID
	changes    uint64                      // bumped whenever containers changes
	viewAt     uint64                      // changes when view (or list) was last brought up to date
	// list is what the node's view lists once showChange changed it
	// without publishing (nil: view.Containers is current). It is the
	// node's own, changed in place; publishView hands it to a new view.
	list     []*model.Container
	reads    uint64            // tickets handed to reads of the engine, in order
	readAt   map[string]uint64 // by container ID: the ticket of the read applied last, while an older read is under way
	flying   []uint64          // tickets of the reads under way (taken, not yet given back by readDone)
	images   []model.Image
	networks []model.Network
	view     *model.Node // the model built from all this
	cancel   context.CancelFunc
	probe    chan struct{}                      // a user's call failed to connect: probe now
	beat     beatState                          // heartbeats and refreshes, from the wheel
	slot     int                                // the node's slot on the wheel; c.wheel.mu
	callsMu  sync.Mutex                         // guards calls and callSeq
	calls    map[uint64]context.CancelCauseFunc // users' calls on the node, ended when it stops being Healthy (whileHealthyLocked)
	callSeq  uint64                             // numbers them
	shown    atomic.Pointer[string]             // name(), published by rebuild for use without the lock
}

// nameLocked is the node's name: the operator's, else the engine's, else
// its address while it is pending. c.mu is held.
func (n *node) nameLocked() string {
	return cmp.Or(n.entry.Name, n.info.Name, n.entry.Addr)
}

// name is the node's name as last rebuilt; safe without the lock.
func (n *node) name() string {
	if p := n.shown.Load(); p != nil {
		return *p
	}
	return n.entry.Addr
}

// New makes a manager for the engines src finds. Nothing starts until Run.
// The command line merges the scheduler's settings with the cluster
// file's itself (and resolves the strategy); only a caller that set none
// (opts.Sched without a strategy or filters) gets the file's as they are.
func New(src *Source, opts Options) (*Cluster, error) {
	opts.defaults()
	if src.File != nil && opts.Sched.Strategy == "" && opts.Sched.Filters == nil {
		fileCfg := src.File.SchedConfig()
		opts.Sched.Strategy, opts.Sched.Filters, opts.Sched.Overcommit = fileCfg.Strategy, fileCfg.Filters, fileCfg.Overcommit
	}
	sch, err := sched.New(opts.Sched)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		src: src, opts: opts, sch: sch, log: opts.Logger,
		nodes: map[string]*node{}, views: map[string]*model.Node{}, byEngineID: map[string][]*node{}, snap: sched.NewSnapshot(nil),
		pending: map[string]*model.Container{}, ghosts: map[string]*ghost{}, abandoned: map[string]string{}, evacuated: map[string]string{}, swarmIDs: map[string]int{}, globals: map[*model.Container]bool{},
		events: newBroker(), wake: make(chan struct{}, 1), takeover: make(chan struct{}, 1),
		state: opts.State, avail: map[string]model.Availability{}, forced: map[string]bool{}, relocating: map[string]bool{}, userCalls: map[string]int{}, rmWhileDraining: map[string]map[string]bool{}, landing: map[string]*landing{}, moveErrs: map[string]string{}, stoppedToMove: map[string]bool{}, moveRetry: map[string]moveRetry{}, goneGlobals: map[string]bool{}, newGlobals: map[string]bool{}, globalDefs: map[string]*model.Container{}, globalFails: map[string]time.Time{}, rmGlobals: map[string]map[string]bool{}, takenBack: map[string]bool{}, buriedAt: map[string]time.Time{}, renaming: map[string]bool{}, removingDown: map[string]bool{},
		connecting: make(chan struct{}, connectSlots),
	}
	c.wheel.slots = make([][]*node, beatSlots(opts.Heartbeat))
	if c.state == nil {
		c.state = &MemoryState{}
	}
	c.primary.Store(true)
	return c, nil
}

// Scheduler is the cluster's scheduler (strategy, filters, overcommit).
func (c *Cluster) Scheduler() *sched.Scheduler { return c.sch }

// Role is the manager's role ("primary" without replication) and, for a
// replica, the primary's address.
func (c *Cluster) Role() (role, primary string) {
	if !c.replicated || c.primary.Load() {
		return "primary", ""
	}
	if l := c.leader.Load(); l != nil {
		return "replica", *l
	}
	return "replica", ""
}

// Replicated makes the manager a replica until SetRole says otherwise:
// it keeps a live view but moves nothing. Call it before Run.
func (c *Cluster) Replicated() {
	c.replicated = true
	c.primary.Store(false)
}

// SetRole records the outcome of the leader election; it returns at once.
// A manager that becomes primary first reconciles, in the rescheduler's
// goroutine and before it moves anything: it removes duplicates, evacuates
// the nodes that failed meanwhile and places what is queued.
func (c *Cluster) SetRole(primary bool, leader string) {
	was := c.primary.Swap(primary)
	old := c.leader.Swap(&leader)
	if was == primary && old != nil && *old == leader {
		return
	}
	if was != primary {
		c.opts.Observer.RoleChanged(primary)
	}
	msg := "this manager is a replica; the primary is " + leader
	if primary {
		msg = "this manager is now the primary"
	} else if leader == "" {
		msg = "this manager is a replica; no primary is elected"
	}
	c.emit(model.Event{Kind: model.EventLeader, Action: "leader", Message: msg})
	switch {
	case primary && !was:
		select { // the rescheduler reconciles before it moves anything
		case c.takeover <- struct{}{}:
		default:
		}
	case was && !primary:
		c.nudge() // the rescheduler gives its queue back
	}
}

func (c *Cluster) isPrimary() bool { return c.primary.Load() }

// reconcile is what a new primary does before anything else.
func (c *Cluster) reconcile(ctx context.Context) {
	type work struct {
		n         *node
		stale     []*model.Container
		unstarted []*model.Container
	}
	var todo []work
	c.mu.Lock()
	c.giveBackQueue() // what an earlier term queued is judged again, from the cluster as it is
	c.mu.Unlock()
	c.loadTombstones(ctx)
	c.mu.Lock()
	for _, n := range c.nodes {
		switch n.health {
		case model.Unhealthy:
			c.evacuate(n, n.failedAt)
		case model.Healthy:
			stale := c.staleCopies(n)
			todo = append(todo, work{n, stale, c.unstarted(n, stale)})
		}
	}
	c.mu.Unlock()
	for _, w := range todo {
		c.removeStale(ctx, w.n, w.stale)
		for _, ct := range w.unstarted {
			c.startRescheduled(ctx, w.n, ct)
		}
	}
	c.nudge()
}

// Source is where the cluster's engines come from.
func (c *Cluster) Source() *Source { return c.src }

// Run watches discovery and keeps every engine's monitor and the
// rescheduler running until ctx ends; it returns when all of them have
// stopped.
func (c *Cluster) Run(ctx context.Context) error {
	c.ctx.Store(&ctx)
	entries, errs := c.src.Discovery.Watch(ctx)
	discoveryDown := false
	c.wg.Add(3)
	go func() {
		defer c.wg.Done()
		c.rescheduler(ctx)
	}()
	go func() {
		defer c.wg.Done()
		c.beats(ctx)
	}()
	go func() {
		defer c.wg.Done()
		c.loadState(ctx)
	}()
	defer c.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case es := <-entries:
			if discoveryDown {
				discoveryDown = false
				c.emit(model.Event{Kind: model.EventEngine, Action: "discovery", Message: "discovery answers again: " + c.src.URL})
			}
			c.apply(ctx, es)
		case err := <-errs:
			discoveryDown = true
			c.emit(model.Event{Kind: model.EventFailure, Action: "discovery", Message: err.Error()})
		}
	}
}

// apply brings the set of engines in line with discovery: removed entries
// first (their containers move), then new ones as Pending.
func (c *Cluster) apply(ctx context.Context, entries []Entry) {
	want := map[string]Entry{}
	for _, e := range entries {
		want[e.Addr] = e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.initial == nil { // the engines of the first listing: their first connection is no recovery
		c.initial = map[string]bool{}
		for addr := range want {
			c.initial[addr] = true
		}
	}
	for addr, n := range c.nodes {
		if _, ok := want[addr]; !ok {
			c.disconnect(n)
		}
	}
	for _, e := range entries {
		if _, ok := c.nodes[e.Addr]; ok {
			continue
		}
		eng, err := c.src.NewEngine(e)
		if err != nil {
			c.emit(model.Event{Kind: model.EventFailure, Node: cmp.Or(e.Name, e.Addr), Action: "engine", Message: err.Error()})
			continue
		}
		mctx, cancel := context.WithCancel(ctx)
		n := &node{entry: e, eng: eng, health: model.Pending, containers: map[string]*model.Container{}, readAt: map[string]uint64{}, cancel: cancel,
			probe: make(chan struct{}, 1), beat: newBeatState()}
		c.nodes[e.Addr] = n
		c.netsVer++
		c.wheel.add(n)
		c.rebuild(n)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer eng.Close()
			c.monitor(mctx, n)
		}()
	}
}

// disconnect drops a node that discovery no longer lists; its containers
// with a reschedule policy move. c.mu is held.
func (c *Cluster) disconnect(n *node) {
	n.cancel()
	c.setHealth(n, model.Disconnected)
	c.emit(model.Event{Kind: model.EventEngine, Node: n.name(), Action: "engine_disconnect",
		Message: fmt.Sprintf("%s (%s) left discovery", n.name(), n.entry.Addr)})
	if c.isPrimary() {
		c.evacuate(n, time.Now())
	}
	c.setContainers(n, nil)
	for sid, g := range c.ghosts {
		if g.c.Node == n.entry.Addr {
			delete(c.ghosts, sid)
		}
	}
	delete(c.nodes, n.entry.Addr)
	c.netsVer++
	c.wheel.remove(n)
	c.viewMu.Lock()
	delete(c.views, n.entry.Addr)
	c.orderVer++
	c.cpusVer++
	c.viewMu.Unlock()
	c.unindexEngineID(n, n.info.ID)
	c.warnDuplicateIDs(c.byEngineID[n.info.ID])
	c.snap.RemoveNode(n.entry.Addr)
	c.gen.Add(1)
}

// rebuild makes the node's model from its state and puts it in the
// scheduling snapshot. Creates in flight on the node count as its
// containers until the engine's own copy is seen. c.mu is held.
func (c *Cluster) rebuild(n *node) {
	name := n.nameLocked()
	n.shown.Store(&name)
	mn := &model.Node{
		ID: n.info.ID, Name: name, Addr: n.entry.Addr, Labels: n.info.Labels, CPUs: n.info.CPUs, Memory: n.info.Memory,
		Health: n.health, Availability: c.avail[n.entry.Addr], Failures: n.failures, Error: n.lastErr, Version: n.info.Version, Updated: n.updated,
		Warning: strings.Trim(n.info.Warning, "; "), Images: n.images, // as below without a concatenation per rebuild
	}
	if n.dupWarning != "" {
		mn.Warning = strings.Trim(n.info.Warning+"; "+n.dupWarning, "; ")
	}
	mn.Containers = c.viewContainers(n, true)
	n.list = nil
	c.publish(n, mn)
	c.snap.SetNode(mn)
	if checkViews {
		if p := c.indexProblem(); p != "" {
			panic("rebuild of " + n.entry.Addr + ": " + p)
		}
	}
}

// viewContainers is what a view of the node lists: its records, and the
// creates in flight and given up on it whose container the engine has not
// shown yet (bury drops the ghosts it finds shown). c.mu is held.
func (c *Cluster) viewContainers(n *node, bury bool) []*model.Container {
	// The node's containers are kept in this order as they change, so a
	// rebuild copies them rather than sorting every time. A pending
	// create shows until the engine's copy does; no container anywhere
	// carrying its swarm ID (the usual case) says so without a scan.
	cs := slices.Clone(n.sorted)
	seen := func(sid string) bool {
		return slices.ContainsFunc(n.sorted, func(ct *model.Container) bool { return ct.SwarmID == sid })
	}
	for sid, p := range c.pending {
		if p.Node == n.entry.Addr && (c.swarmIDs[sid] == 0 || !seen(sid)) {
			i, _ := slices.BinarySearchFunc(cs, p, byNameAndID)
			cs = slices.Insert(cs, i, p)
		}
	}
	for sid, g := range c.ghosts {
		switch {
		case g.c.Node != n.entry.Addr:
		case c.swarmIDs[sid] > 0 && seen(sid): // the engine did create it: the container itself counts now
			if bury {
				delete(c.ghosts, sid)
			}
		default:
			i, _ := slices.BinarySearchFunc(cs, g.c, byNameAndID)
			cs = slices.Insert(cs, i, g.c)
		}
	}
	return cs
}

// publish makes mn the node's view for readers. c.mu is held.
func (c *Cluster) publish(n *node, mn *model.Node) {
	c.show(n, mn)
	c.gen.Add(1)
}

// show makes mn the node's view without counting a change: publish, or
// touch, counts it. c.mu is held.
func (c *Cluster) show(n *node, mn *model.Node) {
	n.view, n.viewAt = mn, n.changes
	c.viewMu.Lock()
	old := c.views[n.entry.Addr]
	if old == nil || old.Name != mn.Name {
		c.orderVer++
	}
	if old == nil || old.CPUs != mn.CPUs {
		c.cpusVer++
	}
	c.views[n.entry.Addr] = mn
	c.viewMu.Unlock()
}

// showChange shows the node's containers with went (when not nil) taken
// out and came (when not nil) put in, and applies just that to the
// scheduler's snapshot: the usual create or remove, without copying the
// records into a new list and comparing it with the old one. The caller
// has changed the records (records changes of them, through putContainer
// or dropContainer) or the creates in flight by exactly that since the
// view was built. When the view is not as that implies, or a create in
// flight or given up could show or hide with the change, it rebuilds.
//
// The change goes to the node's own list, changed in place; readers get
// a view of it when they ask (publishStale), so a million creates that
// nobody reads meanwhile copy no view and no list. c.mu is held.
func (c *Cluster) showChange(n *node, went, came *model.Container, records uint64) {
	if n.view == nil || n.changes != n.viewAt+records || len(c.ghosts) > 0 || c.hides(n, went) || c.hides(n, came) {
		c.rebuild(n)
		return
	}
	cs := n.list
	if cs == nil {
		cs = n.view.Containers
	}
	at, in := -1, -1
	if went != nil {
		if at = slices.Index(cs, went); at < 0 {
			c.rebuild(n)
			return
		}
	}
	if came != nil {
		if slices.Contains(cs, came) {
			c.rebuild(n)
			return
		}
		in, _ = slices.BinarySearchFunc(cs, came, byNameAndID)
		if at >= 0 && at < in {
			in-- // its place once went is out
		}
	}
	if n.list == nil { // the published view's list is the readers': change a copy
		if len(c.stale) > 2*len(c.nodes)+64 {
			c.publishStaleLocked() // nobody reads: a node listed again after each rebuild must not pile up
		}
		n.list = make([]*model.Container, len(cs), len(cs)+len(cs)/8+4)
		copy(n.list, cs)
		c.stale = append(c.stale, n)
		c.staleN.Store(int64(len(c.stale)))
	}
	if at >= 0 {
		n.list = slices.Delete(n.list, at, at+1)
	}
	if came != nil {
		n.list = slices.Insert(n.list, in, came)
	}
	n.viewAt = n.changes
	if checkViews {
		if want := c.viewContainers(n, false); !sameView(want, n.list) {
			panic(fmt.Sprintf("showChange on %s: the view lists %s, a rebuild %s", n.entry.Addr, describeAll(n.list), describeAll(want)))
		}
		if p := c.indexProblem(); p != "" {
			panic("showChange on " + n.entry.Addr + ": " + p)
		}
		directViews.Add(1)
	}
	c.gen.Add(1)
	if !c.snap.ChangeContainer(n.entry.Addr, went, came, in) {
		c.rebuild(n)
	}
}

// viewOf is the node's view with every change shown. c.mu is held.
func (c *Cluster) viewOf(n *node) *model.Node {
	if n.list != nil {
		c.publishView(n)
	}
	return n.view
}

// publishView gives readers a view of the node's list, which becomes that
// view's own (the next change copies it again). c.mu is held.
func (c *Cluster) publishView(n *node) {
	mn := *n.view
	mn.Containers = n.list
	n.list = nil
	n.view = &mn
	c.viewMu.Lock()
	c.views[n.entry.Addr] = &mn
	c.viewMu.Unlock()
	c.snap.SetNode(&mn) // the same containers: only its model changes there
}

// publishStale publishes every node's changes not yet shown, for a
// reader of the views. It takes the lock only when there are some.
func (c *Cluster) publishStale() {
	if c.staleN.Load() == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.publishStaleLocked()
}

// publishStaleLocked is publishStale with c.mu held.
func (c *Cluster) publishStaleLocked() {
	for _, n := range c.stale {
		if n.list != nil && c.nodes[n.entry.Addr] == n {
			c.publishView(n)
		}
	}
	clear(c.stale)
	c.stale = c.stale[:0]
	c.staleN.Store(0)
}

// showRead publishes what a read of container id applied since the
// node's records were at change before: old, its record then, gave way to
// its record now (either may be nil). A read that changed nothing
// rebuilds only a view that is behind the records (a view that shows
// them already, as at the create event of a container its create just
// recorded, is kept). c.mu is held.
func (c *Cluster) showRead(n *node, id string, old *model.Container, before uint64) {
	now := n.containers[id]
	switch {
	case n.changes == before:
		if n.viewAt != n.changes {
			c.rebuild(n)
		}
	case n.changes == before+1 && now != old:
		c.showChange(n, old, now, 1)
	default:
		c.rebuild(n)
	}
}

// hides reports whether ct coming or going on n could change whether a
// create in flight with its swarm ID shows (it shows until a record on
// its node carries that ID), or ct is such a create that a record
// already hides. c.mu is held.
func (c *Cluster) hides(n *node, ct *model.Container) bool {
	if ct == nil || ct.SwarmID == "" {
		return false
	}
	p, ok := c.pending[ct.SwarmID]
	if !ok {
		return false
	}
	if p == ct {
		return c.swarmIDs[ct.SwarmID] > 0
	}
	return p.Node == n.entry.Addr
}

// sameView reports whether two lists of a view hold the same containers in
// the same order, up to the order of equal keys (creates in flight without
// a name are inserted among themselves in no set order).
func sameView(a, b []*model.Container) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if byNameAndID(a[i], b[i]) != 0 || !slices.Contains(b, a[i]) {
			return false
		}
	}
	return true
}

func describeAll(cs []*model.Container) string {
	var b strings.Builder
	for _, ct := range cs {
		fmt.Fprintf(&b, "[%q %.12s %p] ", ct.Name, ct.ID, ct)
	}
	return b.String()
}

// checkViews makes showChange compare every view it makes with a rebuild
// (tests set it).
var checkViews bool

// directViews counts the views showChange published without a rebuild,
// while checkViews is set.
var directViews atomic.Int64

// putContainer records a container on a node, keeping the swarm ID
// counts. c.mu is held; every change to a node's containers goes through
// putContainer, dropContainer or setContainers.
func (c *Cluster) putContainer(n *node, ct *model.Container) {
	old, ok := n.containers[ct.ID]
	if ok && (old == ct || reflect.DeepEqual(old, ct)) {
		// A re-read (the periodic refresh) that says nothing new keeps the
		// record: what readers cached for it stays right, and the
		// scheduler's indexes are not touched.
		return
	}
	if ok {
		c.count(old, -1)
		n.unsort(old)
	}
	n.containers[ct.ID] = ct
	if !ok {
		c.indexID(n, ct.ID)
	}
	c.count(ct, 1)
	n.changes++
	i, _ := slices.BinarySearchFunc(n.sorted, ct, byNameAndID)
	n.sorted = slices.Insert(n.sorted, i, ct)
}

// dropContainer forgets a container of a node. c.mu is held.
func (c *Cluster) dropContainer(n *node, id string) {
	if old, ok := n.containers[id]; ok {
		c.count(old, -1)
		delete(n.containers, id)
		c.unindexID(n, id)
		n.unsort(old)
		n.changes++
	}
}

// byNameAndID is the order of a node's containers: by name, then ID.
func byNameAndID(a, b *model.Container) int {
	return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
}

// unsort removes ct from the node's sorted containers.
func (n *node) unsort(ct *model.Container) {
	i, ok := slices.BinarySearchFunc(n.sorted, ct, byNameAndID)
	for ; ok && i < len(n.sorted); i++ {
		if n.sorted[i] == ct {
			n.sorted = slices.Delete(n.sorted, i, i+1)
			return
		}
	}
}

// setContainers replaces all of a node's containers. c.mu is held.
func (c *Cluster) setContainers(n *node, cs []*model.Container) {
	for _, ct := range n.containers {
		c.count(ct, -1)
	}
	was := n.containers
	n.containers = make(map[string]*model.Container, len(cs))
	n.changes++
	for _, ct := range cs {
		if old, ok := n.containers[ct.ID]; ok {
			c.count(old, -1)
		}
		n.containers[ct.ID] = ct
		c.count(ct, 1)
	}
	for id := range was {
		if n.containers[id] == nil {
			c.unindexID(n, id)
		}
	}
	for id := range n.containers {
		if was[id] == nil {
			c.indexID(n, id)
		}
	}
	n.sorted = slices.SortedFunc(maps.Values(n.containers), byNameAndID)
}

// indexID records that n now holds a container with this ID. c.mu is
// held.
func (c *Cluster) indexID(n *node, id string) {
	if c.byID == nil {
		c.byID = map[string]*node{}
	}
	if h, ok := c.byID[id]; ok && h != n {
		if c.sharedIDs == nil {
			c.sharedIDs = map[string]int{}
		}
		c.sharedIDs[id]++
		return
	}
	c.byID[id] = n
}

// unindexID records that n no longer holds a container with this ID.
// c.mu is held.
func (c *Cluster) unindexID(n *node, id string) {
	h, ok := c.byID[id]
	if !ok {
		return
	}
	if c.sharedIDs[id] == 0 {
		if h == n {
			delete(c.byID, id)
		}
		return
	}
	if c.sharedIDs[id]--; c.sharedIDs[id] == 0 {
		delete(c.sharedIDs, id)
	}
	if h != n {
		return
	}
	// Another node holds it too (an engine listed at two addresses):
	// found by a scan, which only shared IDs cost.
	delete(c.byID, id)
	for _, o := range c.nodes {
		if o != n && o.containers[id] != nil {
			c.byID[id] = o
			return
		}
	}
}

// ticket numbers a read of the node's engine (an inspect, a listing)
// before it is made: a read is applied only if no read that began later
// was applied first, so a slow event's inspect never undoes what a user's
// call has just re-read.
//
// Every ticket is given back by readDone once its read has ended,
// applied or not: only while a read is under way can an older one arrive.
func (c *Cluster) ticket(n *node) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n.reads++
	n.flying = append(n.flying, n.reads)
	return n.reads
}

// readDone gives back the ticket of a read that has ended.
func (c *Cluster) readDone(n *node, t uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDoneLocked(n, t)
}

// readDoneLocked is readDone with c.mu held.
func (c *Cluster) readDoneLocked(n *node, t uint64) {
	if i := slices.Index(n.flying, t); i >= 0 {
		n.flying[i] = n.flying[len(n.flying)-1]
		n.flying = n.flying[:len(n.flying)-1]
	}
}

// olderUnderWay reports whether a read begun before ticket t is still
// under way. c.mu is held.
func (n *node) olderUnderWay(t uint64) bool {
	for _, f := range n.flying {
		if f < t {
			return true
		}
	}
	return false
}

// applyRead records what a read begun with ticket t said of one
// container: ct, or nil when the engine has no such container. It
// reports whether the read was new enough to apply. c.mu is held.
func (c *Cluster) applyRead(n *node, t uint64, id string, ct *model.Container) bool {
	if n.readAt[id] > t {
		return false
	}
	// Only a read begun before t and still under way could come later
	// and undo this one: its ticket is kept for that. With none, no older
	// read can come (tickets only grow), and nothing is kept (the tickets
	// of a million records were 43 MiB).
	if n.olderUnderWay(t) {
		n.readAt[id] = t
	} else if len(n.readAt) > 0 {
		delete(n.readAt, id)
	}
	if ct == nil {
		c.dropContainer(n, id)
	} else {
		c.putContainer(n, ct)
	}
	return true
}

// applyList records a listing of every container begun with ticket t: a
// container read since then keeps what that newer read said. c.mu is
// held.
//
// The usual listing (the periodic refresh) names every record and nothing
// else: that is found by counting, without a set of the listed IDs.
func (c *Cluster) applyList(n *node, t uint64, cs []*model.Container) {
	kept := 0 // listed containers recorded after their read
	for _, ct := range cs {
		c.applyRead(n, t, ct.ID, ct)
		if n.containers[ct.ID] != nil {
			kept++
		}
	}
	if kept != len(cs) || len(n.containers) != kept { // else the records are the listed containers
		listed := make(map[string]bool, len(cs))
		for _, ct := range cs {
			listed[ct.ID] = true
		}
		for id := range n.containers {
			if !listed[id] {
				c.applyRead(n, t, id, nil)
			}
		}
	}
	for id, at := range n.readAt {
		if at <= t && n.containers[id] == nil {
			delete(n.readAt, id) // the listing is the newer word on it
		}
	}
}

// count adds (delta 1) or removes (delta -1) a node's record of a
// container in the cluster-wide indexes: swarm ID counts, the global
// containers and their names. c.mu is held.
func (c *Cluster) count(ct *model.Container, delta int) {
	if isGlobal(ct) {
		if c.globalNames == nil {
			c.globalNames = map[string]int{}
		}
		name := strings.TrimPrefix(ct.Name, "/")
		if delta > 0 {
			c.globals[ct] = true
		} else {
			delete(c.globals, ct)
		}
		if c.globalNames[name] += delta; c.globalNames[name] <= 0 {
			delete(c.globalNames, name)
		}
	}
	c.countSwarmID(ct.SwarmID, delta)
}

func (c *Cluster) countSwarmID(sid string, delta int) {
	if sid == "" {
		return
	}
	if c.swarmIDs[sid] += delta; c.swarmIDs[sid] <= 0 {
		delete(c.swarmIDs, sid)
	}
}

// Subscribe returns every cluster event from now on, and a function to
// stop. A subscriber that falls more than buffer events behind loses
// events rather than slowing the cluster.
func (c *Cluster) Subscribe(buffer int) (<-chan model.Event, func()) {
	return c.events.subscribe(buffer)
}

// Follow is Subscribe for a client that must keep up (an /events
// stream): once it falls buffer events behind, it is dropped and the
// channel closes.
func (c *Cluster) Follow(buffer int) (<-chan model.Event, func()) {
	return c.events.follow(buffer)
}

// RecentEvents returns the last events, oldest first.
func (c *Cluster) RecentEvents() []model.Event { return c.events.history() }

// Generation changes whenever the cluster's state does: a reader can skip
// work when it has not.
func (c *Cluster) Generation() uint64 { return c.gen.Load() + c.touches.Load() }

// Changes is Generation without the refreshes that found nothing new,
// which move only a view's Updated time (a quiet 10,000-node cluster makes
// about 200 a second): a reader that does not show Updated can skip work
// while it has not changed.
func (c *Cluster) Changes() uint64 { return c.gen.Load() }

// Nodes returns every node, pending ones included, in natural order of
// name. The values are immutable snapshots. It waits on the cluster's
// own lock only to publish the creates and removes made since the last
// reader (publishStale): never during a start, so a view rebuilt just
// after an event is emitted may show only on the next call (Generation
// moves once it is there).
func (c *Cluster) Nodes() []*model.Node {
	c.publishStale()
	return c.published()
}

// published is every node's published view, in natural order of name.
func (c *Cluster) published() []*model.Node {
	c.viewMu.RLock()
	if c.orderAt == c.orderVer && len(c.order) == len(c.views) {
		out := make([]*model.Node, len(c.order))
		for i, addr := range c.order {
			out[i] = c.views[addr]
		}
		c.viewMu.RUnlock()
		return out
	}
	out := make([]*model.Node, 0, len(c.views))
	for _, v := range c.views {
		out = append(out, v)
	}
	ver := c.orderVer
	c.viewMu.RUnlock() // the views are immutable: sort them without holding anything
	slices.SortFunc(out, func(a, b *model.Node) int {
		switch {
		case model.NaturalLess(a.Name, b.Name):
			return -1
		case model.NaturalLess(b.Name, a.Name):
			return 1
		}
		return strings.Compare(a.Addr, b.Addr)
	})
	order := make([]string, len(out))
	for i, v := range out {
		order[i] = v.Addr
	}
	c.viewMu.Lock()
	if c.orderVer == ver { // nobody came, went or was renamed meanwhile
		c.order, c.orderAt = order, ver
	}
	c.viewMu.Unlock()
	return out
}

// Views returns every node's view, pending ones included, in no order:
// for a reader that visits them all and needs no order (Nodes sorts them
// again after every node that comes, goes or is renamed, which at
// 10,000 nodes is milliseconds a call while a manager starts).
func (c *Cluster) Views() []*model.Node {
	c.publishStale()
	c.viewMu.RLock()
	defer c.viewMu.RUnlock()
	out := make([]*model.Node, 0, len(c.views))
	for _, v := range c.views {
		out = append(out, v)
	}
	return out
}

// MaxCPUs is the CPU count of the largest node (pending ones included),
// as Docker checks --cpus against the host. It is kept, not recounted,
// until a node's CPUs change or a node goes: a create at 10,000 nodes
// does not walk them.
func (c *Cluster) MaxCPUs() int {
	c.viewMu.RLock()
	if c.cpusAt == c.cpusVer {
		defer c.viewMu.RUnlock()
		return c.maxCPUs
	}
	c.viewMu.RUnlock()
	c.viewMu.Lock()
	defer c.viewMu.Unlock()
	m := 0
	for _, v := range c.views {
		m = max(m, v.CPUs)
	}
	c.maxCPUs, c.cpusAt = m, c.cpusVer
	return m
}

// Node returns the node at addr, or nil.
// It waits for the cluster's lock, so it agrees with every event already
// delivered (events are emitted with the lock held, before the node's view
// is rebuilt); Nodes does not wait, and may be a moment behind them.
func (c *Cluster) Node(addr string) *model.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.nodes[addr]; ok {
		return c.viewOf(n)
	}
	return nil
}

// Containers returns every container of every node (creates in flight
// included, with an empty ID).
func (c *Cluster) Containers() []*model.Container {
	var out []*model.Container
	for _, n := range c.Nodes() {
		out = append(out, n.Containers...)
	}
	return out
}

// Networks returns every network of every node; a cluster-wide one
// (global or swarm scope) once, without a node, with the containers every
// node reports on it. The slice is shared by every caller until the
// networks change: read it, never change it.
func (c *Cluster) Networks() []model.Network {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nets != nil && c.netsAt == c.netsVer {
		return c.nets
	}
	out := []model.Network{}
	for _, n := range c.nodes {
		out = append(out, n.networks...)
	}
	out = model.MergeShared(out)
	slices.SortFunc(out, func(a, b model.Network) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Node, b.Node))
	})
	c.nets, c.netsAt = out, c.netsVer
	return out
}

// setNetworks replaces a node's networks, when they changed, and reports
// whether they did; c.mu is held.
func (c *Cluster) setNetworks(n *node, nets []model.Network) bool {
	if slices.EqualFunc(n.networks, nets, model.Network.Equal) {
		return false
	}
	n.networks = nets
	c.netsVer++
	return true
}

// setQueue replaces the queue; every change to it goes through here, so
// that queueLen and queueVer follow. c.mu is held.
func (c *Cluster) setQueue(q []*queued) {
	c.queue = q
	c.queueLen.Store(int64(len(q)))
	c.queueVer.Add(1)
}

// Queued returns the containers waiting to be rescheduled, with why; one
// that a node already shows again (just placed, or back home) is not
// listed twice.
func (c *Cluster) Queued() []Queued {
	if c.queueLen.Load() == 0 {
		return []Queued{} // the usual case, and docker info asks it on every call: no wait on a start holding the lock
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queuedLocked(false)
}

// queuedLocked is Queued; c.mu is held. With shown, a container whose
// move is being created is left out: the views list creates in flight on
// their node (docker ps does not, so Queued keeps it).
func (c *Cluster) queuedLocked(shown bool) []Queued {
	waiting := c.waitingLocked()
	out := make([]Queued, 0, len(waiting))
	for _, q := range waiting {
		if _, creating := c.pending[q.c.SwarmID]; shown && creating && q.c.SwarmID != "" {
			continue
		}
		out = append(out, q.view())
	}
	return out
}

// NodesAndQueued is Nodes and Queued read at one moment: a container
// taken off a failed node to wait is in exactly one of them (one whose
// move is being created is on its new node, as a create in flight). Read one
// after the other, a container queued in between was in both (the
// console counted it twice, on its node and as waiting, until its next
// rebuild) or, placed in between, in neither. With nothing queued and no
// change to the queue while the nodes are read, it takes no lock.
func (c *Cluster) NodesAndQueued() ([]*model.Node, []Queued) {
	ver := c.queueVer.Load()
	if c.queueLen.Load() == 0 {
		nodes := c.Nodes()
		if c.queueVer.Load() == ver {
			return nodes, []Queued{}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.publishStaleLocked()
	return c.published(), c.queuedLocked(true)
}

// nodeOf finds a container's node; c.mu is held.
func (c *Cluster) nodeOf(ct *model.Container) *model.Node {
	if n, ok := c.nodes[ct.Node]; ok {
		return n.view
	}
	return nil
}

// allContainers lists every known container; c.mu is held.
func (c *Cluster) allContainers() []*model.Container {
	var out []*model.Container
	for _, n := range c.nodes {
		out = append(out, slices.Collect(maps.Values(n.containers))...)
	}
	return out
}

// indexProblem compares the cluster-wide indexes kept as records change
// (byID, sharedIDs, globalNames) with what a scan of every node's records
// gives, and says the first difference; "" when they agree. Tests run it
// after every view they check (checkViews). c.mu is held.
func (c *Cluster) indexProblem() string {
	holders := map[string][]*node{}
	names := map[string]int{}
	for _, n := range c.nodes {
		for id, ct := range n.containers {
			holders[id] = append(holders[id], n)
			if isGlobal(ct) {
				names[strings.TrimPrefix(ct.Name, "/")]++
			}
		}
	}
	if len(c.byID) != len(holders) {
		return fmt.Sprintf("the ID index holds %d IDs, the nodes %d", len(c.byID), len(holders))
	}
	for id, hs := range holders {
		if h := c.byID[id]; !slices.Contains(hs, h) {
			return fmt.Sprintf("the ID index says %.12s is on %v, which does not hold it", id, h)
		}
		if c.sharedIDs[id] != len(hs)-1 {
			return fmt.Sprintf("%.12s is on %d nodes, the index counts %d more", id, len(hs), c.sharedIDs[id])
		}
	}
	if len(c.sharedIDs) > len(holders) {
		return fmt.Sprintf("%d shared IDs counted, but only %d IDs recorded", len(c.sharedIDs), len(holders))
	}
	if !maps.Equal(names, c.globalNames) && (len(names) > 0 || len(c.globalNames) > 0) {
		return fmt.Sprintf("global names: the index counts %v, the records %v", c.globalNames, names)
	}
	return ""
}
