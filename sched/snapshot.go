package sched

import (
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"swarmdeck/model"
)

// Snapshot is the scheduler's indexed copy of a cluster: per node the
// reserved CPUs and memory, the container count, interned engine labels and
// images, and a name index, all kept up to date incrementally as containers
// are added (placed or pending) and removed. Building it walks every
// container once; placing then touches each node in O(1) for the common
// filters.
//
// A Snapshot is not safe for concurrent use: its owner (the manager, under
// its lock, or one command) serialises access.
type Snapshot struct {
	nodes  []*nodeState
	byAddr map[string]int
	keys   map[string]int32 // engine label key → slot in nodeState.labels
	strs   interner         // engine label values, node names and IDs, image refs
	names  map[string]int   // container names (no slash) in the whole cluster → count

	byRank    []int32 // node indexes in natural order of name
	rankDirty bool    // nodes came, went or were renamed since the last ranking

	shapes map[string]*shape // request shapes indexed for best-node placements
	keyBuf []byte            // scratch for a shape's key (Scheduler.indexed)
	tick   uint64            // placements answered from shapes, for eviction
	plain  bool              // never index: every placement scans (tests)

	mark map[*model.Container]uint8 // scratch for SetNode's container diff

	col cols // what every scan reads, by node index
}

// cols are the per-node values a scan of every node reads (Explain, the
// wording of a refusal, a shape's first build), side by side in flat
// arrays by node index, so that the health, slot and resource checks read
// them inline without following two pointers per node. row keeps them
// current: every change to a node ends in it.
type cols struct {
	node     []*model.Node
	ok       []bool // schedulable: past Pending, listed, neither paused nor drained
	health   []model.Health
	failures []int
	cpus     []int64 // the node's CPUs, before overcommit
	mem      []int64 // its memory, before overcommit
	usedCPU  []model.MilliCPU
	usedMem  []int64
	count    []int32 // containers, stopped ones included
	slots    []int64 // the containerslots label, noSlots when absent or not a number
	rank     []int32 // position of the name in natural order
}

// noSlots is the slot count of a node without a usable containerslots
// label: no count reaches it.
const noSlots = math.MaxInt64

// row sets node i's columns from its state; i may be one past the end (a
// node just appended).
func (s *Snapshot) row(i int) {
	c := &s.col
	if i == len(c.ok) {
		c.node = append(c.node, nil)
		c.ok = append(c.ok, false)
		c.health = append(c.health, 0)
		c.failures = append(c.failures, 0)
		c.cpus = append(c.cpus, 0)
		c.mem = append(c.mem, 0)
		c.usedCPU = append(c.usedCPU, 0)
		c.usedMem = append(c.usedMem, 0)
		c.count = append(c.count, 0)
		c.slots = append(c.slots, 0)
		c.rank = append(c.rank, 0)
	}
	ns := s.nodes[i]
	c.node[i] = ns.n
	c.ok[i] = ns.schedulable()
	c.health[i] = ns.n.Health
	c.failures[i] = ns.n.Failures
	c.cpus[i] = int64(ns.n.CPUs)
	c.mem[i] = ns.n.Memory
	c.usedCPU[i] = ns.usedCPU
	c.usedMem[i] = ns.usedMem
	c.count[i] = int32(len(ns.containers))
	c.slots[i] = noSlots
	if slot := keySlot(s, slotsLabel); ns.hasLabel(slot) {
		if n, err := strconv.Atoi(s.strs.strs[ns.label(slot)]); err == nil {
			c.slots[i] = int64(n)
		}
	}
	c.rank[i] = int32(ns.rank)
}

// changed brings node i's columns and every indexed shape up to date.
func (s *Snapshot) changed(i int) {
	s.row(i)
	s.touch(i)
}

type nodeState struct {
	n          *model.Node
	rank       int     // position of the name in natural order
	id, name   int32   // interned node ID and name
	labels     []int32 // by key slot: interned value, or -1 when absent
	images     []int32 // interned image IDs, tags and repositories
	containers []*model.Container
	clabels    map[string]map[string]int // container label key → value → containers with it
	ports      []portUse                 // host ports bound by the node's containers
	hostPorts  []portUse                 // ports exposed by its host-network containers
	usedCPU    model.MilliCPU
	usedMem    int64
}

// portUse is one port a container holds on its node: a bridge binding
// with a host port (ip, port), or an exposed port of a host-network
// container (port as "80/tcp").
type portUse struct {
	ip, port string
	c        *model.Container
}

type interner struct {
	ids  map[string]int32
	strs []string
}

func (in *interner) id(s string) int32 {
	if id, ok := in.ids[s]; ok {
		return id
	}
	if in.ids == nil {
		in.ids = make(map[string]int32)
	}
	id := int32(len(in.strs))
	in.ids[s] = id
	in.strs = append(in.strs, s)
	return id
}

// NewSnapshot indexes nodes and their containers. The nodes and containers
// are shared, not copied: callers must not change them afterwards.
func NewSnapshot(nodes []*model.Node) *Snapshot {
	s := &Snapshot{byAddr: make(map[string]int, len(nodes)), keys: make(map[string]int32), names: map[string]int{}}
	s.strs.id("") // id 0 is the empty string: what a missing label reads as
	for _, n := range nodes {
		s.addNode(n)
	}
	return s
}

// Node returns the node at addr, or nil.
func (s *Snapshot) Node(addr string) *model.Node {
	if i, ok := s.byAddr[addr]; ok {
		return s.nodes[i].n
	}
	return nil
}

// nodeOf is the node a container sits on, for node/name lookups.
func (s *Snapshot) nodeOf(c *model.Container) *model.Node { return s.Node(c.Node) }

// SetNode adds a node or replaces the node with the same address (its
// health, labels or resources changed). The node's Containers are indexed
// anew.
func (s *Snapshot) SetNode(n *model.Node) {
	i, ok := s.byAddr[n.Addr]
	if !ok {
		s.addNode(n)
		return
	}
	old := s.nodes[i]
	if sameIndexedFields(old.n, n) {
		s.swapContainers(old, n)
		s.changed(i)
		return
	}
	for _, c := range old.containers {
		s.countName(c, -1)
	}
	keys := len(s.keys)
	s.nodes[i] = s.index(n)
	s.nodes[i].rank = old.rank
	s.row(i)
	switch {
	case old.n.Name != n.Name:
		// Only a new name can move a node in the natural order.
		s.rankDirty = true
		s.dropShapes()
	case len(s.keys) != keys:
		s.dropShapes() // indexed expressions resolved their label slots
	default:
		s.touch(i)
	}
}

// SwapContainer moves the node at n.Addr from prev to n, where n is prev
// with went (when not nil) taken out of its Containers and came (when not
// nil) put in, and nothing else changed: the manager's usual change, a
// create or a remove. Only those two are indexed or unindexed, without
// comparing the two lists as SetNode does. It reports false, changing
// nothing, when the snapshot's node is not prev or went is not on it; the
// caller then uses SetNode.
func (s *Snapshot) SwapContainer(prev, n *model.Node, went, came *model.Container) bool {
	i, ok := s.byAddr[n.Addr]
	if !ok || s.nodes[i].n != prev {
		return false
	}
	ns := s.nodes[i]
	if went != nil {
		if !slices.Contains(ns.containers, went) {
			return false
		}
		s.unindexContainer(ns, went)
	}
	if came != nil {
		s.indexNew(ns, came)
	}
	ns.n = n
	ns.containers = append(ns.containers[:0], n.Containers...)
	s.changed(i)
	return true
}

// ChangeContainer is SwapContainer for a manager that publishes its model
// of the node later (or never, when nobody reads it): went (when not nil)
// leaves the node's containers and came (when not nil) is put in at
// index at of what remains; nothing else changed. Only those two are
// indexed or unindexed, and the node's containers change in place, so a
// create costs no copy of the node or of its list. The snapshot keeps the
// node's last model until a SetNode or SwapContainer gives it a new one,
// whose Containers must then be these. It reports false, changing
// nothing, when the node is unknown, went is not on it, came is, or at
// is out of range.
func (s *Snapshot) ChangeContainer(addr string, went, came *model.Container, at int) bool {
	i, ok := s.byAddr[addr]
	if !ok {
		return false
	}
	ns := s.nodes[i]
	j := -1
	if went != nil {
		if j = slices.Index(ns.containers, went); j < 0 {
			return false
		}
	}
	left := len(ns.containers)
	if j >= 0 {
		left--
	}
	if came != nil && (at < 0 || at > left || slices.Contains(ns.containers, came)) {
		return false
	}
	if j >= 0 {
		ns.containers = slices.Delete(ns.containers, j, j+1)
		s.unindexContainer(ns, went)
	}
	if came != nil {
		ns.containers = slices.Insert(ns.containers, at, came)
		s.indexNew(ns, came)
	}
	s.changed(i)
	return true
}

// sameIndexedFields reports whether b differs from a at most in what the
// snapshot reads live (resources, health) and in its containers.
// The manager republishes a node with the same labels map and images
// slice on every container change: those are recognised by identity
// before they are compared.
func sameIndexedFields(a, b *model.Node) bool {
	if a.ID != b.ID || a.Name != b.Name {
		return false
	}
	sameMap := reflect.ValueOf(a.Labels).UnsafePointer() == reflect.ValueOf(b.Labels).UnsafePointer()
	if !sameMap && !maps.Equal(a.Labels, b.Labels) {
		return false
	}
	if len(a.Images) == len(b.Images) && (len(a.Images) == 0 || &a.Images[0] == &b.Images[0]) {
		return true
	}
	return slices.EqualFunc(a.Images, b.Images, func(x, y model.Image) bool {
		return x.ID == y.ID && slices.Equal(x.RepoTags, y.RepoTags)
	})
}

// swapContainers moves ns to node n, indexing only the containers that
// came or went, not every container of the node. Containers are compared
// by pointer (they are never changed once indexed): what the old and new
// lists share at their start and end is skipped, and of the rest only the
// containers in one list alone are re-indexed, so the usual change (one
// container in, one out) costs O(containers) pointer comparisons and one
// re-index.
func (s *Snapshot) swapContainers(ns *nodeState, n *model.Node) {
	old, cur := ns.containers, n.Containers
	head := 0
	for head < len(old) && head < len(cur) && old[head] == cur[head] {
		head++
	}
	tail := 0
	for tail < len(old)-head && tail < len(cur)-head && old[len(old)-1-tail] == cur[len(cur)-1-tail] {
		tail++
	}
	// In what is left, a container in both lists (moved, as a sorted list
	// moves when one is inserted before it) is kept as indexed.
	went, came := old[head:len(old)-tail], cur[head:len(cur)-tail]
	if len(went) == 0 || len(came) == 0 {
		// The usual change: containers only came (a create) or only went
		// (a remove); nothing to match up.
		for _, c := range went {
			s.unindexContainer(ns, c)
		}
		for _, c := range came {
			s.indexNew(ns, c)
		}
		ns.n = n
		ns.containers = append(ns.containers[:0], cur...)
		return
	}
	if s.mark == nil {
		s.mark = map[*model.Container]uint8{}
	}
	for _, c := range went {
		s.mark[c] |= 1
	}
	for _, c := range came {
		s.mark[c] |= 2
	}
	for _, c := range went {
		if s.mark[c] == 1 {
			s.unindexContainer(ns, c)
		}
	}
	for _, c := range came {
		if s.mark[c] == 2 {
			s.indexNew(ns, c)
		}
	}
	clear(s.mark)
	ns.n = n
	ns.containers = append(ns.containers[:0], cur...)
}

// indexNew counts a container that came to ns: its reservation, names,
// labels and ports.
func (s *Snapshot) indexNew(ns *nodeState, c *model.Container) {
	ns.usedCPU += c.CPUs
	ns.usedMem += c.Memory
	ns.indexContainer(c, 1)
	s.countName(c, 1)
}

// unindexContainer forgets a container that left ns.
func (s *Snapshot) unindexContainer(ns *nodeState, c *model.Container) {
	ns.usedCPU -= c.CPUs
	ns.usedMem -= c.Memory
	ns.indexContainer(c, -1)
	s.countName(c, -1)
}

// RemoveNode drops the node at addr.
func (s *Snapshot) RemoveNode(addr string) {
	i, ok := s.byAddr[addr]
	if !ok {
		return
	}
	for _, c := range s.nodes[i].containers {
		s.countName(c, -1)
	}
	s.nodes = slices.Delete(s.nodes, i, i+1)
	c := &s.col
	c.node = slices.Delete(c.node, i, i+1)
	c.ok = slices.Delete(c.ok, i, i+1)
	c.health = slices.Delete(c.health, i, i+1)
	c.failures = slices.Delete(c.failures, i, i+1)
	c.cpus = slices.Delete(c.cpus, i, i+1)
	c.mem = slices.Delete(c.mem, i, i+1)
	c.usedCPU = slices.Delete(c.usedCPU, i, i+1)
	c.usedMem = slices.Delete(c.usedMem, i, i+1)
	c.count = slices.Delete(c.count, i, i+1)
	c.slots = slices.Delete(c.slots, i, i+1)
	c.rank = slices.Delete(c.rank, i, i+1)
	delete(s.byAddr, addr)
	for j := i; j < len(s.nodes); j++ {
		s.byAddr[s.nodes[j].n.Addr] = j
	}
	s.rankDirty = true
	s.dropShapes()
}

// AddContainer counts c on the node at addr: its reservation, its name,
// its ports and labels become visible to the next placement. It reports
// false when there is no such node.
func (s *Snapshot) AddContainer(addr string, c *model.Container) bool {
	i, ok := s.byAddr[addr]
	if !ok {
		return false
	}
	ns := s.nodes[i]
	ns.containers = append(ns.containers, c)
	s.indexNew(ns, c)
	s.changed(i)
	return true
}

// RemoveContainer forgets c (the same pointer that was added) on the node
// at addr.
func (s *Snapshot) RemoveContainer(addr string, c *model.Container) bool {
	i, ok := s.byAddr[addr]
	if !ok {
		return false
	}
	ns := s.nodes[i]
	j := slices.Index(ns.containers, c)
	if j < 0 {
		return false
	}
	ns.containers = slices.Delete(ns.containers, j, j+1)
	s.unindexContainer(ns, c)
	s.changed(i)
	return true
}

// NameInUse reports whether a container anywhere in the snapshot, pending
// ones included, is named name (with or without the leading slash). The
// empty name is always free.
func (s *Snapshot) NameInUse(name string) bool {
	name = strings.TrimPrefix(name, "/")
	return name != "" && s.names[name] > 0
}

func (s *Snapshot) countName(c *model.Container, delta int) {
	name := strings.TrimPrefix(c.Name, "/")
	if name == "" {
		return
	}
	if s.names[name] += delta; s.names[name] <= 0 {
		delete(s.names, name)
	}
}

// addNode appends a node. Its rank is computed by the next ranking, once
// for a whole batch of additions.
func (s *Snapshot) addNode(n *model.Node) {
	s.byAddr[n.Addr] = len(s.nodes)
	s.nodes = append(s.nodes, s.index(n))
	s.row(len(s.nodes) - 1)
	s.rankDirty = true
	s.dropShapes()
}

func (s *Snapshot) index(n *model.Node) *nodeState {
	ns := &nodeState{
		n:          n,
		id:         s.strs.id(n.ID),
		name:       s.strs.id(n.Name),
		containers: slices.Clone(n.Containers),
		clabels:    map[string]map[string]int{},
	}
	for k, v := range n.Labels {
		slot, ok := s.keys[k]
		if !ok {
			slot = int32(len(s.keys))
			s.keys[k] = slot
		}
		for int(slot) >= len(ns.labels) {
			ns.labels = append(ns.labels, -1)
		}
		ns.labels[slot] = s.strs.id(v)
	}
	for _, im := range n.Images {
		ns.images = appendUnique(ns.images, s.strs.id(im.ID))
		for _, t := range im.RepoTags {
			ns.images = appendUnique(ns.images, s.strs.id(t))
			ns.images = appendUnique(ns.images, s.strs.id(repository(t)))
		}
	}
	for _, c := range ns.containers {
		ns.usedCPU += c.CPUs
		ns.usedMem += c.Memory
		ns.indexContainer(c, 1)
		s.countName(c, 1)
	}
	return ns
}

// ensureRanked puts the nodes in natural order of name (then address)
// when nodes came, went or were renamed since the last time.
func (s *Snapshot) ensureRanked() {
	if !s.rankDirty && len(s.byRank) == len(s.nodes) {
		return
	}
	s.rankDirty = false
	s.byRank = s.byRank[:0]
	for i := range s.nodes {
		s.byRank = append(s.byRank, int32(i))
	}
	slices.SortFunc(s.byRank, func(i, j int32) int {
		a, b := s.nodes[i].n, s.nodes[j].n
		switch {
		case model.NaturalLess(a.Name, b.Name):
			return -1
		case model.NaturalLess(b.Name, a.Name):
			return 1
		}
		return strings.Compare(a.Addr, b.Addr)
	})
	for r, i := range s.byRank {
		s.nodes[i].rank = r
		s.col.rank[i] = int32(r)
	}
}

// schedulable reports whether the node is past Pending, still listed,
// and neither paused nor drained by its operator.
func (ns *nodeState) schedulable() bool {
	return ns.n.Health != model.Pending && ns.n.Health != model.Disconnected && ns.n.Availability == model.Active
}

// setAside reports whether the node is out of service by its operator's
// choice (paused or drained) rather than for its health.
func (ns *nodeState) setAside() bool {
	return ns.n.Health != model.Pending && ns.n.Health != model.Disconnected && ns.n.Availability != model.Active
}

// unschedulable is why a node that is not schedulable takes nothing.
func (ns *nodeState) unschedulable() Reason {
	if ns.n.Health == model.Pending || ns.n.Health == model.Disconnected {
		return Reason{Filter: reasonPending, Class: Exhausted, Detail: "node is " + ns.n.Health.String() + ", not yet schedulable"}
	}
	return Reason{Filter: ReasonAvailability, Class: Filtered, Detail: "node is " + ns.n.Availability.Doing()}
}

// label returns the interned value of engine label slot, 0 ("") if absent.
func (ns *nodeState) label(slot int32) int32 {
	if slot < 0 || int(slot) >= len(ns.labels) || ns.labels[slot] < 0 {
		return 0
	}
	return ns.labels[slot]
}

func (ns *nodeState) hasLabel(slot int32) bool {
	return slot >= 0 && int(slot) < len(ns.labels) && ns.labels[slot] >= 0
}

// indexContainer adds (delta 1) or removes (delta -1) c.s labels and
// ports in the node's indexes.
func (ns *nodeState) indexContainer(c *model.Container, delta int) {
	if delta < 0 {
		held := func(u portUse) bool { return u.c == c }
		ns.ports = slices.DeleteFunc(ns.ports, held)
		ns.hostPorts = slices.DeleteFunc(ns.hostPorts, held)
	} else {
		for _, b := range c.Ports {
			if b.HostPort != "" {
				ns.ports = append(ns.ports, portUse{ip: b.HostIP, port: b.HostPort, c: c})
			}
		}
		if c.NetworkMode == "host" {
			for _, p := range c.Expose {
				ns.hostPorts = append(ns.hostPorts, portUse{port: p, c: c})
			}
		}
	}
	for k, v := range c.Labels {
		if k == unindexedLabel {
			continue
		}
		vals := ns.clabels[k]
		if vals == nil {
			vals = map[string]int{}
			ns.clabels[k] = vals
		}
		if vals[v] += delta; vals[v] <= 0 {
			delete(vals, v)
			if len(vals) == 0 {
				delete(ns.clabels, k)
			}
		}
	}
}

// unindexedLabel is the container label kept out of clabels: the swarm
// ID, one value per container (a third of the index at 10,000 nodes × 30),
// which an affinity names rarely; one that does reads the node's
// containers.
const unindexedLabel = model.LabelSwarmID

// named reports whether a container of the node is named name (without
// the slash). Names are not indexed per node: the cluster-wide count
// answers the usual "nowhere" at once, and only a node of a cluster that
// has the name reads its containers (a per-node index was a map entry per
// container, 53 MiB at a million, and a map update per create).
func (ns *nodeState) named(s *Snapshot, name string) bool {
	if name == "" || s.names[name] == 0 {
		return false
	}
	for _, c := range ns.containers {
		if strings.TrimPrefix(c.Name, "/") == name {
			return true
		}
	}
	return false
}

// namedWithID reports whether a named container of the node has the ID
// (affinity sees the IDs of named containers only). IDs are not indexed:
// an affinity to a full ID is rare, and indexing them doubled the index
// (18 MiB at 10,000 nodes × 30).
func (ns *nodeState) namedWithID(id string) bool {
	for _, c := range ns.containers {
		if c.ID == id && strings.TrimPrefix(c.Name, "/") != "" {
			return true
		}
	}
	return false
}

func appendUnique(s []int32, v int32) []int32 {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// repository strips the tag from an image reference, keeping a registry
// port: localhost:5000/test:latest → localhost:5000/test.
func repository(ref string) string {
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[:i]
	}
	return ref
}
