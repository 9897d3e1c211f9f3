package sched

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"swarmdeck/model"
)

// DefaultMaxMoves bounds a rebalance plan when the caller sets no bound.
const DefaultMaxMoves = 20

// LabelRebalance set to "true" lets the rebalancer move a container that
// has no reschedule policy (the same label as model.LabelRebalance).
const LabelRebalance = model.LabelRebalance

// LabelMode set to ModeGlobal makes a container global: one copy per node,
// never moved.
const (
	LabelMode  = "com.swarmdeck.mode"
	ModeGlobal = "global"
)

// RebalanceOptions bound a rebalance plan.
type RebalanceOptions struct {
	// MaxMoves is the most moves the plan holds (0: DefaultMaxMoves).
	MaxMoves int
	// Budget is how many containers the planner tries before it stops
	// looking (0: 8 per move allowed, at least 256, and at most what
	// PlanWork node evaluations allow, at least 64): it looks at the most
	// loaded nodes first, so what it leaves unseen gains the least.
	Budget int
}

// PlanWork bounds the default budget by the cluster's size: a try places
// the container, which may look at every node, so a plan tries at most
// PlanWork / nodes containers (at least 64), whatever MaxMoves asks.
const PlanWork = 500_000

// Bound is what stopped a plan before it ran out of moves that gain.
type Bound int

const (
	// Unbounded: the planner found every move it looked for.
	Unbounded Bound = iota
	// BoundMaxMoves: one more move (or group) would gain, past MaxMoves.
	BoundMaxMoves
	// BoundBudget: the planner stopped after its budget of tries; more
	// may gain.
	BoundBudget
)

func (b Bound) String() string {
	switch b {
	case BoundMaxMoves:
		return "max-moves"
	case BoundBudget:
		return "budget"
	}
	return "none"
}

// Move is one container to take from one node to another, with why.
type Move struct {
	Container *model.Container
	From, To  *model.Node
	Why       string
	// Rules are the constraints and affinities the move was checked
	// against ("constraint zone==eu", "affinity container==db").
	Rules []string
	// Group numbers the moves that go together (an affinity ties them):
	// the first move of a group is its leader, the others follow it.
	// Zero for a move alone.
	Group int
}

// Plan is what a rebalance would do: moves in order, and how many
// containers it looked at and left alone.
type Plan struct {
	Moves []Move
	// Considered is how many movable containers the planner tried.
	Considered int
	// Pinned counts the containers left alone because they have neither
	// the reschedule policy nor the rebalance label, or are global.
	Pinned int
	// Truncated is set when MaxMoves or the budget stopped the planner;
	// Bound says which, MaxMoves and Budget what they were.
	Truncated        bool
	Bound            Bound
	MaxMoves, Budget int
	// Note says why nothing was planned when that is not for want of a
	// better node (the random strategy has no preference).
	Note string
}

// BoundText says what stopped the plan, or "" when nothing did:
// "bounded by --max-moves 2: a further move would gain", or the budget.
func (p *Plan) BoundText() string {
	switch p.Bound {
	case BoundMaxMoves:
		return fmt.Sprintf("bounded by --max-moves %d: a further move would gain", p.MaxMoves)
	case BoundBudget:
		return fmt.Sprintf("bounded by the planning budget: stopped looking after %d containers tried; plan again for more", p.Budget)
	}
	return ""
}

// stop records what bounded the plan.
func (p *Plan) stop(b Bound) {
	p.Truncated, p.Bound = true, b
}

// Cost is the plan's size: its moves and, per rule, how many moves touch
// it, as "3 moves; constraint zone==eu ×2, affinity container==db ×1".
func (p *Plan) Cost() string {
	counts := map[string]int{}
	var order []string
	for _, m := range p.Moves {
		for _, r := range m.Rules {
			if counts[r] == 0 {
				order = append(order, r)
			}
			counts[r]++
		}
	}
	s := fmt.Sprintf("%d moves", len(p.Moves))
	if len(p.Moves) == 1 {
		s = "1 move"
	}
	if len(order) == 0 {
		return s + "; no constraint or affinity touched"
	}
	parts := make([]string, len(order))
	for i, r := range order {
		parts[i] = fmt.Sprintf("%s ×%d", r, counts[r])
	}
	return s + "; " + strings.Join(parts, ", ")
}

// Rebalanceable reports whether the rebalancer may move c: it has the
// on-node-failure policy or the rebalance label, and is not global.
func Rebalanceable(c *model.Container) bool {
	if c.Labels[LabelMode] == ModeGlobal {
		return false
	}
	return slices.Contains(c.Reschedule(), RescheduleOnNodeFailure) || c.Labels[LabelRebalance] == "true"
}

// planner is the state of one Rebalance call.
type planner struct {
	s     *Scheduler
	snap  *Snapshot
	plan  *Plan
	undo  []func()
	reqs  map[*model.Container]*Request
	group int
	// arrived are the copies the plan put on their node: a container
	// moves once per plan.
	arrived map[*model.Container]bool
	order   []loaded // schedulable nodes, worst first
	seen    map[*nodeState]bool
}

// Rebalance plans moves that bring the cluster closer to what the strategy
// would choose today: each moves a container (with the reschedule policy
// or the rebalance label) to the node Place picks for it with it taken
// off its own node, when that node is strictly better by the strategy's
// order (weight, then container count) or the container's own node no
// longer satisfies its constraints. Every move obeys every filter for the
// moved container, and leaves every container it did not move with its
// hard constraints and affinities satisfied; a container whose affinity
// needs the one that moves goes with it, or neither moves.
//
// The most loaded nodes are looked at first (for binpack, the least).
// snap is changed while planning and restored before Rebalance returns;
// the plan is the same for the same snapshot and options.
func (s *Scheduler) Rebalance(snap *Snapshot, opts RebalanceOptions) *Plan {
	plan := &Plan{}
	if s.strategy == StrategyRandom {
		plan.Note = "the random strategy prefers no node to another: nothing to rebalance"
		return plan
	}
	maxMoves := opts.MaxMoves
	if maxMoves <= 0 {
		maxMoves = DefaultMaxMoves
	}
	budget := opts.Budget
	if budget <= 0 {
		budget = min(max(256, 8*maxMoves), max(64, PlanWork/max(1, len(snap.nodes))))
	}
	plan.MaxMoves, plan.Budget = maxMoves, budget
	p := &planner{s: s, snap: snap, plan: plan, reqs: map[*model.Container]*Request{}, arrived: map[*model.Container]bool{}, seen: map[*nodeState]bool{}}
	defer p.restore()
	// The most loaded node not yet settled gives up one container at a
	// time; a node none of whose containers can move is settled.
	p.sortNodes()
	settled := map[*nodeState]bool{}
	failed := map[*model.Container]bool{}
	cursor := 0 // p.order[:cursor] is settled; a move sends it back to 0
	for {
		for cursor < len(p.order) && settled[p.order[cursor].ns] {
			cursor++
		}
		if cursor == len(p.order) {
			return plan
		}
		ns := p.order[cursor].ns
		if !p.seen[ns] {
			p.seen[ns] = true
			for _, c := range ns.containers {
				if c.ID != "" && !Rebalanceable(c) {
					plan.Pinned++
				}
			}
		}
		cs := slices.Clone(ns.containers)
		slices.SortFunc(cs, func(a, b *model.Container) int {
			return cmp.Or(cmp.Compare(b.Memory, a.Memory), cmp.Compare(b.CPUs, a.CPUs), strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
		})
		moved := false
		for _, c := range cs {
			if c.ID == "" || !Rebalanceable(c) || failed[c] || p.arrived[c] || !slices.Contains(ns.containers, c) {
				continue
			}
			if budget == 0 {
				plan.stop(BoundBudget)
				return plan
			}
			budget--
			plan.Considered++
			// With MaxMoves reached, a try only finds out whether a
			// further move would gain: it is not planned.
			to := p.try(ns, c, maxMoves-len(plan.Moves))
			if len(plan.Moves) >= maxMoves && plan.Bound == BoundMaxMoves {
				return plan
			}
			if to != nil {
				p.reload(ns)
				p.reload(to)
				cursor = 0
				moved = true
				break
			}
			failed[c] = true
		}
		if !moved {
			settled[ns] = true
		}
	}
}

// loaded is a node and its share of reserved CPU and memory (per mille,
// summed).
type loaded struct {
	ns   *nodeState
	load int64
}

func (p *planner) loadOf(ns *nodeState) loaded {
	var load int64
	if t := ns.n.TotalCPUs(p.s.overcommit); t > 0 {
		load += int64(ns.usedCPU) * 1000 / int64(t)
	}
	if t := ns.n.TotalMemory(p.s.overcommit); t > 0 {
		load += ns.usedMem * 1000 / t
	}
	return loaded{ns, load}
}

// worse orders nodes most loaded first for spread (least loaded first for
// binpack), then by container count, then by name.
func (p *planner) worse(a, b loaded) int {
	sign := 1
	if p.s.strategy == StrategyBinpack {
		sign = -1
	}
	return cmp.Or(sign*cmp.Compare(b.load, a.load), sign*cmp.Compare(len(b.ns.containers), len(a.ns.containers)), a.ns.rank-b.ns.rank)
}

// sortNodes lists the schedulable nodes worst first.
func (p *planner) sortNodes() {
	p.order = p.order[:0]
	for _, ns := range p.snap.nodes {
		if ns.schedulable() {
			p.order = append(p.order, p.loadOf(ns))
		}
	}
	slices.SortFunc(p.order, p.worse)
}

// reload puts a node whose containers changed back in its place.
func (p *planner) reload(ns *nodeState) {
	i := slices.IndexFunc(p.order, func(l loaded) bool { return l.ns == ns })
	if i < 0 {
		return
	}
	p.order = slices.Delete(p.order, i, i+1)
	l := p.loadOf(ns)
	j, _ := slices.BinarySearchFunc(p.order, l, p.worse)
	p.order = slices.Insert(p.order, j, l)
}

// tied reports whether c's placement depends on other containers: an
// affinity or a link, volumes-from or network dependency.
func (p *planner) tied(c *model.Container) bool {
	r := p.request(c)
	return r != nil && (len(r.Affinities) > 0 || len(r.deps) > 0)
}

// request compiles a container's config once per plan.
func (p *planner) request(c *model.Container) *Request {
	if r, ok := p.reqs[c]; ok {
		return r
	}
	r, err := NewRequest(c.Config)
	if err != nil {
		r = nil
	}
	p.reqs[c] = r
	return r
}

// take moves c from one node to another in the snapshot, remembering how
// to undo it; it returns the copy now on the destination.
func (p *planner) take(c *model.Container, from, to *nodeState) *model.Container {
	moved := *c
	moved.Node = to.n.Addr
	p.snap.RemoveContainer(from.n.Addr, c)
	p.snap.AddContainer(to.n.Addr, &moved)
	p.arrived[&moved] = true
	p.undo = append(p.undo, func() {
		p.snap.RemoveContainer(to.n.Addr, &moved)
		p.snap.AddContainer(from.n.Addr, c)
	})
	return &moved
}

// rollback undoes the moves taken since mark.
func (p *planner) rollback(mark int) {
	for i := len(p.undo) - 1; i >= mark; i-- {
		p.undo[i]()
	}
	p.undo = p.undo[:mark]
}

func (p *planner) restore() { p.rollback(0) }

// fits reports whether c's hard rules and resources hold on ns with c
// taken off the node it is on (when it is there).
func (p *planner) fits(c *model.Container, ns *nodeState) bool {
	r := p.request(c)
	if r == nil {
		return true // rules we cannot read are not ours to judge
	}
	home := p.snap.nodes[p.snap.byAddr[c.Node]]
	there := slices.Contains(home.containers, c)
	if there {
		p.snap.RemoveContainer(c.Node, c)
		defer p.snap.AddContainer(c.Node, c)
	}
	ev := p.s.newEval(p.snap, r, false)
	_, ok := p.s.fit(ev, p.s.activeFilters(ev), ns)
	return ok
}

// try plans the move of c off from, with the containers its leaving would
// strand, and returns the node they go to (nil: no move); left is how
// many moves the plan may still add.
func (p *planner) try(from *nodeState, c *model.Container, left int) *nodeState {
	r := p.request(c)
	if r == nil {
		return nil
	}
	mark := len(p.undo)
	stayedOK := p.fits(c, from)
	p.snap.RemoveContainer(from.n.Addr, c)
	pl, err := p.s.Place(p.snap, r)
	p.snap.AddContainer(from.n.Addr, c)
	if err != nil || pl.Node.Addr == from.n.Addr {
		return nil
	}
	to := p.snap.nodes[p.snap.byAddr[pl.Node.Addr]]
	p.snap.RemoveContainer(from.n.Addr, c)
	scFrom, _ := p.s.weigh(from, r, nil)
	scTo, _ := p.s.weigh(to, r, nil)
	var broken []string
	if !stayedOK {
		broken = p.s.blockers(p.snap, r, from)
	}
	p.snap.AddContainer(from.n.Addr, c)
	var why string
	switch {
	case !stayedOK:
		why = fmt.Sprintf("%s no longer satisfies its rules (%s); %s does: %s", from.n.Name, strings.Join(broken, "; "), to.n.Name,
			scoreText(r, scTo))
	case p.strictlyBetter(scTo, scFrom):
		why = p.preference(r, from, to, scFrom, scTo)
	default:
		return nil
	}
	// The containers with rules on both nodes that hold now must hold
	// after the move; those of from that need c (an affinity) go with it,
	// or nothing moves.
	var watch []*model.Container
	for _, ns := range []*nodeState{from, to} {
		for _, x := range slices.Clone(ns.containers) { // fits reorders them
			if x != c && p.tied(x) && p.fits(x, ns) {
				watch = append(watch, x)
			}
		}
	}
	p.take(c, from, to)
	var followers []*model.Container
	for _, x := range watch {
		if x.Node == from.n.Addr && !p.fits(x, from) {
			followers = append(followers, x)
		}
	}
	for _, x := range followers {
		if !Rebalanceable(x) || !p.fits(x, to) {
			p.rollback(mark)
			return nil
		}
		p.take(x, from, to)
	}
	for _, y := range watch {
		if slices.Contains(followers, y) {
			continue
		}
		if !p.fits(y, p.snap.nodes[p.snap.byAddr[y.Node]]) {
			p.rollback(mark)
			return nil
		}
	}
	// A group gains as a whole, unless its leader's node no longer suits it.
	if len(followers) > 0 && stayedOK && !p.groupGains(from, to, append([]*model.Container{c}, followers...)) {
		p.rollback(mark)
		return nil
	}
	if len(followers)+1 > left {
		p.plan.stop(BoundMaxMoves) // it would gain, past MaxMoves
		p.rollback(mark)
		return nil
	}
	group := 0
	if len(followers) > 0 {
		p.group++
		group = p.group
		names := make([]string, len(followers))
		for i, x := range followers {
			names[i] = displayName(x)
		}
		verb := "goes"
		if len(names) > 1 {
			verb = "go"
		}
		why += fmt.Sprintf("; %s %s with it (an affinity to it), and the group gains as a whole", strings.Join(names, ", "), verb)
	}
	p.plan.Moves = append(p.plan.Moves, Move{Container: c, From: from.n, To: to.n, Why: why, Rules: rules(r), Group: group})
	for _, x := range followers {
		p.plan.Moves = append(p.plan.Moves, Move{Container: x, From: from.n, To: to.n, Group: group,
			Why:   fmt.Sprintf("its affinity needs %s, which moves to %s", displayName(c), to.n.Name),
			Rules: rules(p.request(x))})
	}
	return to
}

// preference words why the strategy prefers to for r over from: each
// node's score with the container on it, now on from and after the move
// on to, and the tie-break when the weights are equal.
func (p *planner) preference(r *Request, from, to *nodeState, scFrom, scTo Score) string {
	s := fmt.Sprintf("%s prefers %s: weight %d there after the move (%s) against %d on %s now (%s)",
		p.s.strategy, to.n.Name, scTo.Weight, scoreText(r, scTo), scFrom.Weight, from.n.Name, scoreText(r, scFrom))
	if scTo.Weight == scFrom.Weight {
		if p.s.strategy == StrategyBinpack {
			return s + "; equal weights: more containers first"
		}
		return s + "; equal weights: fewer containers first"
	}
	return s
}

// scoreText is a node's score with r placed on it, in the parts that
// make its weight: "CPU 50%, memory 25%, 3 containers" (the node's
// containers with r counted; CPU or memory only when r reserves it).
func scoreText(r *Request, sc Score) string {
	var parts []string
	if r.Config.CPUs > 0 {
		parts = append(parts, fmt.Sprintf("CPU %d%%", sc.CPU))
	}
	if r.Config.Memory > 0 {
		parts = append(parts, fmt.Sprintf("memory %d%%", sc.Memory))
	}
	if sc.Health < 100 {
		parts = append(parts, fmt.Sprintf("health %d", sc.Health))
	}
	n := sc.Containers + 1
	if n == 1 {
		parts = append(parts, "1 container")
	} else {
		parts = append(parts, fmt.Sprintf("%d containers", n))
	}
	return strings.Join(parts, ", ")
}

// blockers lists why r does not fit on ns: every failing filter's
// reason, and the resources it lacks.
func (s *Scheduler) blockers(snap *Snapshot, r *Request, ns *nodeState) []string {
	ev := s.newEval(snap, r, false)
	var why []Reason
	for _, i := range s.activeFilters(ev) {
		s.filters[i].check(ev, ns, &why)
	}
	s.weigh(ns, r, &why)
	out := make([]string, len(why))
	for i, w := range why {
		out[i] = w.String()
	}
	return out
}

// groupGains reports whether a group that was taken from one node to
// another gains by the strategy's order as a whole: the destination with
// the group beats the origin with it.
func (p *planner) groupGains(from, to *nodeState, group []*model.Container) bool {
	var sum Request
	for _, c := range group {
		sum.Config.CPUs += c.CPUs
		sum.Config.Memory += c.Memory
	}
	// to holds the group now: weigh it without, as a placement would.
	var moved []*model.Container
	for _, c := range to.containers {
		for _, g := range group {
			if c.ID == g.ID {
				moved = append(moved, c)
			}
		}
	}
	for _, c := range moved {
		p.snap.RemoveContainer(to.n.Addr, c)
	}
	scTo, _ := p.s.weigh(to, &sum, nil)
	scFrom, _ := p.s.weigh(from, &sum, nil)
	for _, c := range moved {
		p.snap.AddContainer(to.n.Addr, c)
	}
	return p.strictlyBetter(scTo, scFrom)
}

// strictlyBetter reports whether score a beats b by the strategy's order,
// not counting the name tie-break.
func (p *planner) strictlyBetter(a, b Score) bool {
	if a.Weight != b.Weight {
		if p.s.strategy == StrategyBinpack {
			return a.Weight > b.Weight
		}
		return a.Weight < b.Weight
	}
	if p.s.strategy == StrategyBinpack {
		return a.Containers > b.Containers
	}
	return a.Containers < b.Containers
}

// rules lists a request's constraints and affinities as a move touches
// them.
func rules(r *Request) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, e := range r.Constraints {
		out = append(out, "constraint "+e.String())
	}
	for _, e := range r.Affinities {
		out = append(out, "affinity "+e.String())
	}
	return out
}
