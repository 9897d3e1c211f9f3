package sched

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"swarmdeck/model"
)

// Strategy names. "binpacking" is accepted as an alias of binpack.
const (
	StrategySpread  = "spread"
	StrategyBinpack = "binpack"
	StrategyRandom  = "random"
)

// DefaultFailureRetry is Swarm's --engine-failure-retry.
const DefaultFailureRetry = 3

// Swarm's error texts.
const (
	msgNoHealthy   = "No healthy node available in the cluster"
	msgUnable      = "Unable to find a node that satisfies the following conditions "
	msgNoResources = "no resources available to schedule container"
	msgNoNodes     = "No nodes available in the cluster"
	msgNoActive    = "No active node available in the cluster: every node that could take it is paused or draining"
)

// Config chooses a scheduler's strategy, filter chain and accounting.
type Config struct {
	Strategy     string           // spread (default), binpack or random
	Filters      []string         // nil: DefaultFilters(); order matters
	Overcommit   model.Overcommit // percent; use model.DefaultOvercommit for Swarm's 5%
	FailureRetry int              // connection failures that make a node unhealthy; 0: 3
}

// Scheduler places containers on a Snapshot. It holds only its
// configuration: it is safe for concurrent use, and the same snapshot,
// request and seed always give the same placement and explanation.
type Scheduler struct {
	strategy   string
	filters    []filter
	kinds      []filterKind // by filter: checked inline on columns or by the filter
	overcommit model.Overcommit
	retry      int
	key        string // what an indexed shape's verdicts depend on here
}

// New builds a scheduler. An unknown strategy or filter is refused with
// Swarm's message.
func New(cfg Config) (*Scheduler, error) {
	s := &Scheduler{overcommit: cfg.Overcommit, retry: cfg.FailureRetry}
	if s.retry <= 0 {
		s.retry = DefaultFailureRetry
	}
	switch cfg.Strategy {
	case "", StrategySpread:
		s.strategy = StrategySpread
	case StrategyBinpack, "binpacking":
		s.strategy = StrategyBinpack
	case StrategyRandom:
		s.strategy = StrategyRandom
	default:
		return nil, fmt.Errorf("strategy not supported: %q (use spread, binpack or random)", cfg.Strategy)
	}
	names := cfg.Filters
	if names == nil {
		names = DefaultFilters()
	}
	for _, n := range names {
		f, ok := newFilter(n)
		if !ok {
			return nil, fmt.Errorf("filter not supported: %q (use %s)", n, strings.Join(DefaultFilters(), ", "))
		}
		s.filters = append(s.filters, f)
		s.kinds = append(s.kinds, kindOf(f))
	}
	s.key = schedulerKey(s)
	return s, nil
}

// Strategy is the strategy's name as `docker info` shows it.
func (s *Scheduler) Strategy() string { return s.strategy }

// Filters are the filter names in chain order.
func (s *Scheduler) Filters() []string {
	out := make([]string, len(s.filters))
	for i, f := range s.filters {
		out[i] = f.name()
	}
	return out
}

// Overcommit is the overcommit percentage the scheduler counts with.
func (s *Scheduler) Overcommit() model.Overcommit { return s.overcommit }

// HealthIndicator is Swarm's 0..100 health of a node: 0 unless Healthy with
// fewer failures than the retry count, else 100 - failures*100/retry.
func (s *Scheduler) HealthIndicator(n *model.Node) int64 {
	return s.healthOf(n.Health, n.Failures)
}

func (s *Scheduler) healthOf(h model.Health, failures int) int64 {
	if h != model.Healthy || failures >= s.retry {
		return 0
	}
	return 100 - int64(failures)*100/int64(s.retry)
}

// Class tells a node that can never run a request from one that is full
// right now: the second is worth retrying when capacity changes.
type Class int

// Reason classes.
const (
	Filtered  Class = iota // the node can never run it (constraint, affinity, dependency…)
	Exhausted              // the node is full or down right now (resources, ports, slots, health)
)

func (c Class) String() string {
	if c == Exhausted {
		return "exhausted"
	}
	return "filtered"
}

// MarshalText writes the class by name.
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Reason is why one node was rejected: the filter (or resource), the
// condition it checked, as counted in summaries, and what the node had.
type Reason struct {
	Filter string `json:"filter"`              // a filter name, or "cpus" / "memory" / "pending"
	Class  Class  `json:"class"`               // filtered or exhausted
	Cond   string `json:"condition,omitempty"` // e.g. "zone==eu", "80 (Bridge mode)"; empty for resources
	Detail string `json:"detail"`              // e.g. "node has zone=us"
}

// String reads "constraint zone==eu: node has zone=us", or for reasons
// without a condition "memory: needs 4 GiB, 1 GiB of 8.4 GiB free".
func (r Reason) String() string {
	return r.label(false) + ": " + r.Detail
}

// label names what blocked: the filter and its condition, or for
// resources and health what ran out (summary wording when summary is set).
func (r Reason) label(summary bool) string {
	if r.Cond != "" {
		return r.Filter + " " + r.Cond
	}
	if !summary {
		return r.Filter
	}
	switch r.Filter {
	case FilterHealth:
		return "unhealthy"
	case FilterSlots:
		return "no container slot left"
	case reasonPending:
		return "pending"
	case ReasonAvailability:
		return r.Detail
	}
	return r.Filter + " exhausted"
}

// ReasonAvailability rejects a node its operator paused or drained; the
// detail reads "node is draining" or "node is paused".
const ReasonAvailability = "availability"

// Reasons that are not filters.
const (
	reasonCPUs    = "cpus"
	reasonMemory  = "memory"
	reasonPending = "pending"
)

// Score is a kept node's strategy weight and its parts.
type Score struct {
	Weight     int64 `json:"weight"`
	CPU        int64 `json:"cpu"`    // percent of CPUs reserved after placing
	Memory     int64 `json:"memory"` // percent of memory reserved after placing
	Health     int64 `json:"health"` // health indicator 0..100
	Containers int   `json:"containers"`
}

// NodeReport is one node's verdict in an explained placement.
type NodeReport struct {
	Node    *model.Node
	Kept    bool     // passed every filter and the resource check
	Rank    int      // 1-based position among kept nodes; 0 when rejected
	Score   Score    // for nodes that passed the filters
	Reasons []Reason // every blocker found, in chain order
}

// Placement is where a request goes.
type Placement struct {
	Node *model.Node
	// Ranked is every node that passed (in the pass that succeeded), best
	// first; Ranked[0] is Node. Filled when ranking or explaining.
	Ranked []*model.Node
	// Soft reports whether soft expressions were honoured (pass 1
	// succeeded) or dropped (pass 2).
	Soft bool
	// Nodes is the per-node explanation, in natural order of name; filled
	// only by Explain.
	Nodes []NodeReport
}

// PlacementError is a refusal to place. Error() is Swarm's text exactly;
// Summary counts the blockers per condition over every node, as
// "0/5 nodes are available: 3 constraint zone==eu; 2 memory"; Nodes is the
// per-node explanation when the placement was explained.
type PlacementError struct {
	Msg     string
	Summary string
	Nodes   []NodeReport
}

func (e *PlacementError) Error() string { return e.Msg }

// mode says how much a placement computes.
type mode int

const (
	modeBest    mode = iota // the chosen node only
	modeRank                // and every kept node in order
	modeExplain             // and every node's reasons
)

// Place picks the node for r. It runs Swarm's two passes: soft expressions
// honoured, then, if that fails for any reason, dropped together.
//
// Place answers from an index of r's shape kept in the snapshot (built by
// the first placement of the shape, then updated one node per change), so
// after first use it costs O(log N); the choice is the one a scan of every
// node makes. Calls on one snapshot must be serialised, as all its uses.
func (s *Scheduler) Place(snap *Snapshot, r *Request) (*Placement, error) {
	return s.place(snap, r, modeBest)
}

// Rank is Place with Placement.Ranked filled.
func (s *Scheduler) Rank(snap *Snapshot, r *Request) (*Placement, error) {
	return s.place(snap, r, modeRank)
}

// Explain is Rank that also evaluates every filter on every node, so each
// rejected node lists every blocker, not only the first.
func (s *Scheduler) Explain(snap *Snapshot, r *Request) (*Placement, error) {
	return s.place(snap, r, modeExplain)
}

func (s *Scheduler) place(snap *Snapshot, r *Request, m mode) (*Placement, error) {
	snap.ensureRanked()
	if m == modeBest && !snap.plain {
		// An empty index means the pass fails; only a scan words why, and
		// the first pass's error is dropped when a second pass runs.
		if p := s.indexed(snap, r, true); p != nil {
			return p, nil
		}
		if r.hasSoft {
			if p := s.indexed(snap, r, false); p != nil {
				return p, nil
			}
			return s.pass(snap, r, false, m)
		}
		return s.pass(snap, r, true, m)
	}
	p, err := s.pass(snap, r, true, m)
	if err != nil && r.hasSoft {
		p, err = s.pass(snap, r, false, m)
	}
	return p, err
}

// newRand is the generator of a request's random draw.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x5357_4152_4d44_4543))
}

// eval is the state of one pass over the snapshot.
type eval struct {
	s        *Snapshot
	sch      *Scheduler
	r        *Request
	soft     bool // honour soft expressions
	cons     []active
	affs     []active
	wls      []active
	slotsKey int32
	nodeOf   func(*model.Container) *model.Node // bound once: a method value per call would allocate
}

func (ev *eval) health(ns *nodeState) int64 { return ev.sch.HealthIndicator(ns.n) }

func (s *Scheduler) newEval(snap *Snapshot, r *Request, soft bool) *eval {
	ev := &eval{s: snap, sch: s, r: r, soft: soft, slotsKey: keySlot(snap, slotsLabel), nodeOf: snap.nodeOf}
	pick := func(es []*Expr) []active {
		var out []active
		for _, e := range es {
			if e.Soft && !soft {
				continue
			}
			a := active{e: e, slot: keySlot(snap, e.Key)}
			if e.Key == "node" {
				a.slot = -1
			}
			out = append(out, a)
		}
		return out
	}
	ev.cons = pick(r.Constraints)
	ev.affs = pick(r.Affinities)
	ev.wls = pick(r.Whitelists)
	for i := range ev.wls {
		ev.wls[i].names = strings.Split(ev.wls[i].e.Value, "|")
	}
	return ev
}

func keySlot(snap *Snapshot, key string) int32 {
	if slot, ok := snap.keys[key]; ok {
		return slot
	}
	return -1
}

// candidate is a node that passed the filters and the resource check,
// with its rank in natural order of name (the last tie-break).
type candidate struct {
	ns    *nodeState
	score Score
	rank  int32
}

func (s *Scheduler) pass(snap *Snapshot, r *Request, soft bool, m mode) (*Placement, error) {
	ev := s.newEval(snap, r, soft)
	// Only active filters run per node: an inactive one keeps every node.
	active := s.activeFilters(ev)
	// firstFail[i] counts the nodes whose first failing filter is i.
	firstFail := make([]int, len(s.filters))
	eligible, resourceFailures := 0, 0
	// The best node is tracked as the loop goes; the full list is kept only
	// to rank, to explain, or to draw at random.
	keep := m != modeBest || s.strategy == StrategyRandom
	var cands []candidate
	if keep {
		cands = make([]candidate, 0, len(snap.nodes))
	}
	var best candidate
	var reports []NodeReport
	var aside []*nodeState // paused or drained by the operator
	// Explaining, every node's reasons go side by side in one slice, cut
	// per node after the loop (nodes are read in rank order, so node r's
	// reasons start at starts[r]).
	var arena []Reason
	var starts []int32
	if m == modeExplain {
		reports = make([]NodeReport, len(snap.nodes))
		starts = make([]int32, len(snap.nodes)+1)
	}
	// Nodes are read in natural order of name: reports are then written
	// one after the other, and candidates come already in name order.
	col := &snap.col
	for rank, i32 := range snap.byRank {
		i := int(i32)
		var why *[]Reason
		var rep *NodeReport
		if m == modeExplain {
			rep = &reports[rank]
			rep.Node = col.node[i]
			starts[rank] = int32(len(arena))
			why = &arena
		}
		if !col.ok[i] {
			ns := snap.nodes[i]
			if why != nil {
				reject(why, ns.unschedulable())
			}
			if ns.setAside() {
				aside = append(aside, ns)
			}
			continue
		}
		eligible++
		failed := s.checkAt(ev, active, i, why)
		if failed >= 0 {
			firstFail[failed]++
			if why == nil {
				continue
			}
		}
		sc, ok := s.weighAt(col, i, r, why)
		if rep != nil {
			rep.Score = sc
		}
		if failed >= 0 {
			continue
		}
		if !ok {
			resourceFailures++
			continue
		}
		c := candidate{ns: snap.nodes[i], score: sc, rank: int32(rank)}
		if keep {
			cands = append(cands, c)
		} else if best.ns == nil || s.better(&c, &best) {
			best = c
		}
	}
	if m == modeExplain {
		starts[len(reports)] = int32(len(arena))
		for r := range reports {
			if a, b := starts[r], starts[r+1]; b > a {
				reports[r].Reasons = arena[a:b:b]
			}
		}
	}
	if msg := s.chainError(ev, eligible, firstFail); msg != "" {
		if eligible == 0 && len(aside) > 0 && msg == msgNoHealthy {
			// Swarm never paused a node: say why none is used.
			msg = msgNoActive
		}
		return nil, refusal(msg+s.asideNote(ev, active, aside), reports, len(snap.nodes))
	}
	if len(cands) == 0 && best.ns == nil {
		msg := msgNoResources
		if resourceFailures == 0 {
			msg = msgNoNodes
		}
		return nil, refusal(msg+s.asideNote(ev, active, aside), reports, len(snap.nodes))
	}
	p := &Placement{Soft: soft, Nodes: reports}
	if best.ns != nil {
		p.Node = best.ns.n
		return p, nil
	}
	rng := newRand(r.Seed)
	if m == modeBest {
		p.Node = s.draw(cands, rng).ns.n
		return p, nil
	}
	s.order(cands, rng)
	p.Node = cands[0].ns.n
	p.Ranked = make([]*model.Node, len(cands))
	for i, c := range cands {
		p.Ranked[i] = c.ns.n
		if reports != nil {
			reports[c.rank].Kept = true
			reports[c.rank].Rank = i + 1
		}
	}
	return p, nil
}

// maxAside bounds the nodes a refusal names as out of service.
const maxAside = 5

// asideNote follows Swarm's refusal with a line per node that would take
// the container but for its operator's pause or drain (the nodes a user
// aiming at one would otherwise not hear about): "node-1 fits, but node
// is draining". Empty when no such node fits.
func (s *Scheduler) asideNote(ev *eval, active []int, aside []*nodeState) string {
	var fit []*nodeState
	for _, ns := range aside {
		if s.fitsAside(ev, active, ns) {
			fit = append(fit, ns)
		}
	}
	slices.SortFunc(fit, func(a, b *nodeState) int { return a.rank - b.rank })
	var b strings.Builder
	for i, ns := range fit {
		if i == maxAside {
			fmt.Fprintf(&b, "\n%d more nodes fit, but are paused or draining", len(fit)-maxAside)
			break
		}
		fmt.Fprintf(&b, "\n%s fits, but node is %s", ns.n.Name, ns.n.Availability.Doing())
	}
	return b.String()
}

// fitsAside reports whether a paused or drained node passes every active
// filter and has room, as it would if it were active.
func (s *Scheduler) fitsAside(ev *eval, active []int, ns *nodeState) bool {
	for _, i := range active {
		if !s.filters[i].check(ev, ns, nil) {
			return false
		}
	}
	_, ok := s.weigh(ns, ev.r, nil)
	return ok
}

// chainError finds the filter at which Swarm's chain would have run out of
// nodes and words the error as Swarm does: every enabled filter's
// conditions up to and including the failing one. It is empty when the
// chain kept some node.
func (s *Scheduler) chainError(ev *eval, eligible int, firstFail []int) string {
	survivors := eligible
	for i, f := range s.filters {
		if survivors -= firstFail[i]; survivors > 0 || !f.active(ev) {
			continue
		}
		if f.name() == FilterHealth {
			return msgNoHealthy
		}
		var b strings.Builder
		b.WriteString(msgUnable)
		for _, g := range s.filters[:i+1] {
			if conds := g.conditions(ev.r); len(conds) > 0 {
				fmt.Fprintf(&b, "\n%v", conds)
			}
		}
		return b.String()
	}
	// Every active filter kept some node; an empty input stays empty.
	if len(s.filters) > 0 && survivors == 0 {
		return msgNoNodes
	}
	return ""
}

// refusal is Swarm's message, with the summary of blockers when the
// placement was explained.
func refusal(msg string, reports []NodeReport, total int) error {
	pe := &PlacementError{Msg: msg, Nodes: reports}
	if reports != nil {
		pe.Summary = summarize(reports, total)
	}
	return pe
}

// summarize counts blockers per condition: "0/5 nodes are available:
// 3 constraint zone==eu; 2 memory".
func summarize(reports []NodeReport, total int) string {
	type key = string
	counts := map[key]int{}
	var order []key
	for _, r := range reports {
		seen := map[key]bool{}
		for _, why := range r.Reasons {
			k := why.label(true)
			if seen[k] {
				continue
			}
			seen[k] = true
			if counts[k] == 0 {
				order = append(order, k)
			}
			counts[k]++
		}
	}
	slices.SortStableFunc(order, func(a, b key) int { return counts[b] - counts[a] })
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = fmt.Sprintf("%d %s", counts[k], k)
	}
	kept := 0
	for _, r := range reports {
		if len(r.Reasons) == 0 {
			kept++
		}
	}
	return fmt.Sprintf("%d/%d nodes are available: %s", kept, total, strings.Join(parts, "; "))
}
