package sched

import (
	"strconv"
	"strings"
)

// maxShapes bounds the request shapes a snapshot indexes at once: every
// change to a node is re-evaluated once per indexed shape.
const maxShapes = 16

// shape is one request shape's index over a snapshot: for each node
// whether a placement of that shape may use it (every active filter and
// the resource check, exactly as a pass does) and its score. Spread and
// binpack keep the fitting nodes in a heap ordered by the strategy's total
// order (weight, then container count, then natural name), so the best is
// on top; random keeps a Fenwick tree over name ranks, so the k-th fitting
// node by name is found in O(log N). A change to one node costs one
// evaluation of that node and O(log N) per indexed shape.
type shape struct {
	sch    *Scheduler
	ev     *eval // compiled expressions and their memos, kept across placements
	active []int
	used   uint64      // snapshot tick of the last use, for eviction
	cands  []candidate // by node index in the snapshot; ns nil when the node does not fit
	heap   []int32     // node indexes, best first (spread and binpack)
	pos    []int32     // by node index: position in heap, -1 when absent
	fen    []int32     // random: Fenwick tree over name ranks, 1 per fitting node
	count  int         // fitting nodes
}

// fitAt is the verdict of one pass on node i without reasons: the same
// checks, in the same order, as the loop of pass.
func (s *Scheduler) fitAt(ev *eval, active []int, i int) (Score, bool) {
	col := &ev.s.col
	if !col.ok[i] || s.checkAt(ev, active, i, nil) >= 0 {
		return Score{}, false
	}
	return s.weighAt(col, i, ev.r, nil)
}

// fit is fitAt for a node of the snapshot.
func (s *Scheduler) fit(ev *eval, active []int, ns *nodeState) (Score, bool) {
	return s.fitAt(ev, active, ev.s.byAddr[ns.n.Addr])
}

// checkAt runs the active filters on node i in chain order and returns
// the first that fails (-1: none). Health and container slots are checked
// inline on the snapshot's columns, the others by the filter. Without why
// it stops at the first failure; with why it goes on and every failing
// filter words its reasons.
func (s *Scheduler) checkAt(ev *eval, active []int, i int, why *[]Reason) int {
	col := &ev.s.col
	failed := -1
	for _, k := range active {
		var ok, worded bool
		switch s.kinds[k] {
		case kindHealth:
			ok = s.healthOf(col.health[i], col.failures[i]) > 0
		case kindSlots:
			ok = int64(col.count[i]) < col.slots[i]
		default:
			ok, worded = s.filters[k].check(ev, ev.s.nodes[i], why), true
		}
		if ok {
			continue
		}
		if why != nil && !worded {
			s.filters[k].check(ev, ev.s.nodes[i], why)
		}
		if failed < 0 {
			failed = k
		}
		if why == nil {
			return failed
		}
	}
	return failed
}

// activeFilters are the indexes of the filters that have something to
// check in ev's pass.
func (s *Scheduler) activeFilters(ev *eval) []int {
	var active []int
	for i, f := range s.filters {
		if f.active(ev) {
			active = append(active, i)
		}
	}
	return active
}

// indexed answers a best-node placement from the shape's index, building
// it on first use. It returns nil when no node fits: the pass fails, and
// only a scan can word the error.
func (s *Scheduler) indexed(snap *Snapshot, r *Request, soft bool) *Placement {
	// The key is written into the snapshot's buffer and looked up
	// without a string of its own: one is made only for a new shape (a
	// key per placement was a fifth of what placing allocated).
	snap.keyBuf = appendShapeKey(append(snap.keyBuf[:0], s.key...), r, soft)
	sh := snap.shapes[string(snap.keyBuf)]
	if sh == nil {
		sh = s.newShape(snap, r, soft)
		snap.keepShape(string(snap.keyBuf), sh)
	}
	snap.tick++
	sh.used = snap.tick
	if sh.count == 0 {
		return nil
	}
	if s.strategy != StrategyRandom {
		return &Placement{Node: sh.cands[sh.heap[0]].ns.n, Soft: soft}
	}
	// Today's draw: the fitting nodes in name order, the first IntN of the
	// request's generator.
	rng := newRand(r.Seed)
	k := rng.IntN(sh.count)
	return &Placement{Node: snap.nodes[snap.byRank[sh.kth(k)]].n, Soft: soft}
}

func (s *Scheduler) newShape(snap *Snapshot, r *Request, soft bool) *shape {
	ev := s.newEval(snap, r, soft)
	n := len(snap.nodes)
	sh := &shape{sch: s, ev: ev, active: s.activeFilters(ev), cands: make([]candidate, n)}
	for i, ns := range snap.nodes {
		if sc, ok := s.fitAt(ev, sh.active, i); ok {
			sh.cands[i] = candidate{ns: ns, score: sc, rank: snap.col.rank[i]}
			sh.count++
		}
	}
	if s.strategy == StrategyRandom {
		sh.fen = make([]int32, n+1)
		for _, c := range sh.cands {
			if c.ns != nil {
				sh.fen[c.ns.rank+1]++
			}
		}
		for i := 1; i <= n; i++ { // linear Fenwick build
			if j := i + i&-i; j <= n {
				sh.fen[j] += sh.fen[i]
			}
		}
		return sh
	}
	sh.pos = make([]int32, n)
	sh.heap = make([]int32, 0, sh.count)
	for i, c := range sh.cands {
		sh.pos[i] = -1
		if c.ns != nil {
			sh.pos[i] = int32(len(sh.heap))
			sh.heap = append(sh.heap, int32(i))
		}
	}
	for i := len(sh.heap)/2 - 1; i >= 0; i-- {
		sh.down(i)
	}
	return sh
}

// update re-evaluates the node at index i after it changed.
func (sh *shape) update(i int) {
	ns := sh.ev.s.nodes[i]
	sc, ok := sh.sch.fitAt(sh.ev, sh.active, i)
	was := sh.cands[i].ns != nil
	if ok {
		sh.cands[i] = candidate{ns: ns, score: sc, rank: sh.ev.s.col.rank[i]}
	} else {
		sh.cands[i] = candidate{}
	}
	switch {
	case ok && !was:
		sh.count++
	case !ok && was:
		sh.count--
	}
	if sh.fen != nil {
		if ok != was {
			d := int32(1)
			if was {
				d = -1
			}
			for j := ns.rank + 1; j < len(sh.fen); j += j & -j {
				sh.fen[j] += d
			}
		}
		return
	}
	switch {
	case ok && was:
		sh.fix(int(sh.pos[i]))
	case ok:
		sh.pos[i] = int32(len(sh.heap))
		sh.heap = append(sh.heap, int32(i))
		sh.up(len(sh.heap) - 1)
	case was:
		p := int(sh.pos[i])
		last := len(sh.heap) - 1
		sh.swap(p, last)
		sh.heap = sh.heap[:last]
		sh.pos[i] = -1
		if p < last {
			sh.fix(p)
		}
	}
}

// kth is the name rank of the k-th (0-based) fitting node.
func (sh *shape) kth(k int) int {
	pos, rem := 0, int32(k+1)
	step := 1
	for step*2 < len(sh.fen) {
		step *= 2
	}
	for ; step > 0; step /= 2 {
		if next := pos + step; next < len(sh.fen) && sh.fen[next] < rem {
			pos = next
			rem -= sh.fen[next]
		}
	}
	return pos // the 1-based Fenwick position pos+1 is rank pos
}

func (sh *shape) less(a, b int) bool {
	return sh.sch.better(&sh.cands[sh.heap[a]], &sh.cands[sh.heap[b]])
}

func (sh *shape) swap(a, b int) {
	sh.heap[a], sh.heap[b] = sh.heap[b], sh.heap[a]
	sh.pos[sh.heap[a]] = int32(a)
	sh.pos[sh.heap[b]] = int32(b)
}

func (sh *shape) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !sh.less(i, p) {
			return
		}
		sh.swap(i, p)
		i = p
	}
}

func (sh *shape) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(sh.heap) {
			break
		}
		m := l
		if r := l + 1; r < len(sh.heap) && sh.less(r, l) {
			m = r
		}
		if !sh.less(m, i) {
			break
		}
		sh.swap(i, m)
		i = m
	}
	return i > start
}

func (sh *shape) fix(i int) {
	if !sh.down(i) {
		sh.up(i)
	}
}

// keepShape stores a new shape, evicting the least recently used one when
// the snapshot already indexes maxShapes.
func (s *Snapshot) keepShape(key string, sh *shape) {
	if s.shapes == nil {
		s.shapes = map[string]*shape{}
	}
	if len(s.shapes) >= maxShapes {
		var oldest string
		for k, o := range s.shapes {
			if oldest == "" || o.used < s.shapes[oldest].used {
				oldest = k
			}
		}
		delete(s.shapes, oldest)
	}
	s.shapes[key] = sh
}

// touch re-evaluates node i in every indexed shape.
func (s *Snapshot) touch(i int) {
	for _, sh := range s.shapes {
		sh.update(i)
	}
}

// dropShapes forgets every index: node indexes, name ranks or label slots
// changed. The next placement of each shape builds its index anew.
func (s *Snapshot) dropShapes() { s.shapes = nil }

// schedulerKey is what a shape's verdicts depend on in the scheduler.
func schedulerKey(s *Scheduler) string {
	var b strings.Builder
	b.WriteString(s.strategy)
	for _, f := range s.filters {
		b.WriteString("," + f.name())
	}
	b.WriteString("|" + strconv.FormatInt(int64(s.overcommit), 10) + "|" + strconv.Itoa(s.retry) + "|")
	return b.String()
}

// appendShapeKey appends to b everything of r that a filter or the resource check reads,
// and the pass: two requests with the same key get the same verdict on
// every node.
func appendShapeKey(b []byte, r *Request, soft bool) []byte {
	if soft {
		b = append(b, 's')
	}
	b = strconv.AppendInt(b, int64(r.Config.CPUs), 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, r.Config.Memory, 10)
	if r.hostMode {
		b = append(b, "\x00host"...)
		for _, p := range r.Config.Expose {
			b = append(b, ' ')
			b = append(b, p...)
		}
	}
	for _, p := range r.bindings {
		b = append(b, "\x00p"...)
		b = append(b, p.HostIP...)
		b = append(b, ' ')
		b = append(b, p.HostPort...)
	}
	for _, d := range r.deps {
		b = append(b, "\x00d"...)
		b = append(b, d.desc...)
	}
	for i, es := range [3][]*Expr{r.Constraints, r.Affinities, r.Whitelists} {
		for _, e := range es {
			b = append(b, 0, byte('0'+i))
			b = append(b, e.Raw...)
		}
	}
	return b
}
