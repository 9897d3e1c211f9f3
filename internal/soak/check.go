package soak

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// The rules Check applies.
const (
	RuleOnce     = "exactly-once" // a container with the policy exists once, and runs if it should
	RuleExists   = "exists-once"  // a container without it exists once, or was reported lost
	RuleVisible  = "visible"      // every container an engine runs is in every manager's ps -a
	RuleCapacity = "capacity"     // no node's reservations exceed its capacity
	RuleHealthy  = "healthy"      // a node whose engine answers is Healthy
	RuleHistory  = "history"      // the history has its final observations
	RuleCrash    = "no-crash"     // a manager that answered exits only when the soak kills it
	RuleRace     = "race-free"    // no process built with -race reports a data race
	RuleHealed   = "heals"        // after the faults, the cluster heals: one primary, every node Healthy
)

// HealthyAfter is how long an engine must have answered every probe
// before each manager must call its node Healthy (and how long a manager
// must have been up).
const HealthyAfter = 5 * time.Second

// minProbes is how many probes must cover HealthyAfter for the soak to
// say an engine answered all that time (the soak probes twice a second).
const minProbes = 5

// Violation is one broken promise, with when it was seen.
type Violation struct {
	T       time.Time
	Rule    string
	Key     string // the container, for container rules
	Engine  string // the engine or node address, for node rules
	Manager string
	Msg     string
	Repeats int // later samples that broke the same rule the same way
}

func (v Violation) String() string {
	s := fmt.Sprintf("%s [%s] %s", v.T.Format("15:04:05.000"), v.Rule, v.Msg)
	if v.Repeats > 0 {
		s += fmt.Sprintf(" (and %d later samples)", v.Repeats)
	}
	return s
}

// Summary counts what a history holds.
type Summary struct {
	Start, End  time.Time
	Ops         map[string]map[string]int // op → outcome → count
	Faults      map[string]int            // fault → count
	Keys        int                       // containers the load created (or tried to)
	KeysPolicy  int                       // of which with the reschedule policy
	FinalCopies int                       // containers on the engines at the end
	Infos       int
	Probes      int
	Events      int
	Moves       []time.Duration // dead engine → container running on another
	NotMoved    int             // containers of a dead engine not seen elsewhere in time
	// NoPrimary is how long no manager was seen primary: from the first
	// /info sample on, the time during which no manager's latest sample
	// said primary (a killed manager or a failed sample counts as not).
	NoPrimary time.Duration
	// NoPrimaryLongest is the longest such stretch.
	NoPrimaryLongest time.Duration
}

// Report is what Check found.
type Report struct {
	Summary    Summary
	Violations []Violation
}

// tri is a fact the history knows, does not know, or half knows.
type tri int8

const (
	no tri = iota
	yes
	maybe
)

// expectation is what the acknowledged operations say of one container.
type expectation struct {
	key             string
	policy          bool
	exists, running tri
}

// Check replays a history and returns every violation of the rules. It
// reads nothing but recs.
func Check(recs []Record) *Report {
	recs = slices.Clone(recs)
	slices.SortStableFunc(recs, func(a, b Record) int { return a.T.Compare(b.T) })
	rep := &Report{Summary: summarize(recs)}
	c := checker{rep: rep, recs: recs}
	c.final()
	c.capacity()
	c.health()
	c.crashes()
	slices.SortStableFunc(rep.Violations, func(a, b Violation) int { return a.T.Compare(b.T) })
	return rep
}

type checker struct {
	rep  *Report
	recs []Record
}

func (c *checker) violate(v Violation) { c.rep.Violations = append(c.rep.Violations, v) }

func summarize(recs []Record) Summary {
	s := Summary{Ops: map[string]map[string]int{}, Faults: map[string]int{}}
	keys, policy := map[string]bool{}, map[string]bool{}
	var primaries noPrimary
	for _, r := range recs {
		primaries.see(r)
		if s.Start.IsZero() {
			s.Start = r.T
		}
		s.End = r.T
		switch r.Kind {
		case KindOp:
			if s.Ops[r.Op] == nil {
				s.Ops[r.Op] = map[string]int{}
			}
			s.Ops[r.Op][r.Outcome]++
			if r.Op == OpCreate {
				keys[r.Key] = true
				policy[r.Key] = r.Policy
			}
		case KindFault:
			s.Faults[r.Fault]++
		case KindInfo:
			s.Infos++
		case KindProbe:
			s.Probes++
		case KindEvent:
			s.Events++
		case KindMoved:
			if r.OK {
				s.Moves = append(s.Moves, time.Duration(r.Took*float64(time.Millisecond)))
			} else {
				s.NotMoved++
			}
		case KindEngine:
			s.FinalCopies += len(r.Containers)
		}
	}
	s.Keys = len(keys)
	for _, p := range policy {
		if p {
			s.KeysPolicy++
		}
	}
	slices.Sort(s.Moves)
	primaries.end(s.End)
	s.NoPrimary, s.NoPrimaryLongest = primaries.total, primaries.longest
	return s
}

// noPrimary measures the time during which no manager was seen primary,
// from time-ordered records.
type noPrimary struct {
	role           map[string]bool // manager → its latest sample said primary
	since          time.Time       // start of the current stretch without one
	total, longest time.Duration
}

func (p *noPrimary) see(r Record) {
	switch {
	case r.Kind == KindInfo:
		if p.role == nil {
			p.role = map[string]bool{}
			p.since = r.T
		}
		p.role[r.Manager] = r.Role == "primary"
	case p.role == nil || r.Manager == "" && r.Target == "":
		return
	case r.Kind == KindNote && r.Manager != "":
		p.role[r.Manager] = false // its /info failed
	case r.Kind == KindFault && (r.Fault == FaultKillPrimary || r.Fault == FaultKillReplica):
		p.role[r.Target] = false
	default:
		return
	}
	p.update(r.T)
}

func (p *noPrimary) update(t time.Time) {
	has := false
	for _, primary := range p.role {
		has = has || primary
	}
	switch {
	case has && !p.since.IsZero():
		p.add(t.Sub(p.since))
		p.since = time.Time{}
	case !has && p.since.IsZero():
		p.since = t
	}
}

func (p *noPrimary) add(d time.Duration) {
	p.total += d
	p.longest = max(p.longest, d)
}

func (p *noPrimary) end(t time.Time) {
	if p.role != nil && !p.since.IsZero() && t.After(p.since) {
		p.add(t.Sub(p.since))
	}
}

// plural is n and its noun, in the plural unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// expectations replays the operations: each acknowledged one fixes a
// fact, each of unknown outcome makes it uncertain, a refused one changes
// nothing. Operations on one container never overlap, so time order is
// their order.
func expectations(recs []Record) map[string]*expectation {
	out := map[string]*expectation{}
	for _, r := range recs {
		if r.Kind != KindOp {
			continue
		}
		e := out[r.Key]
		if e == nil {
			e = &expectation{key: r.Key, policy: r.Policy}
			out[r.Key] = e
		}
		if r.Outcome == OutcomeRefused {
			continue
		}
		set := func(f *tri, v tri) {
			if r.Outcome == OutcomeUnknown && *f != v {
				v = maybe
			}
			*f = v
		}
		switch r.Op {
		case OpCreate:
			set(&e.exists, yes)
		case OpStart:
			set(&e.running, yes)
		case OpStop:
			set(&e.running, no)
		case OpRemove:
			set(&e.exists, no)
			set(&e.running, no)
		}
	}
	return out
}

type located struct {
	Copy
	engine string
}

// final checks the end state: the last listing of every engine against
// the operations, and against every manager's last ps -a.
func (c *checker) final() {
	engines := map[string]Record{}
	ps := map[string]Record{}
	var end time.Time
	for _, r := range c.recs {
		switch r.Kind {
		case KindEngine:
			engines[r.Engine] = r
		case KindPS:
			ps[r.Manager] = r
		case KindPhase:
			if r.Phase == "final" {
				end = r.T
			}
		}
	}
	if end.IsZero() || len(engines) == 0 || len(ps) == 0 {
		last := time.Time{}
		if len(c.recs) > 0 {
			last = c.recs[len(c.recs)-1].T
		}
		c.violate(Violation{T: last, Rule: RuleHistory, Msg: "the history ends before its final observations (no final phase, engine listing or ps -a): the run did not finish"})
		return
	}
	byKey := map[string][]located{}
	for _, addr := range slices.Sorted(maps.Keys(engines)) {
		for _, cp := range engines[addr].Containers {
			if cp.Key != "" {
				byKey[cp.Key] = append(byKey[cp.Key], located{cp, addr})
			}
		}
	}
	lost := map[string]bool{}
	for _, r := range c.recs {
		if r.Kind == KindEvent && r.Action == "lost" {
			lost[r.Container] = true
		}
	}
	exp := expectations(c.recs)
	for _, key := range slices.Sorted(maps.Keys(exp)) {
		c.container(end, exp[key], byKey[key], lost[key])
	}
	for _, key := range slices.Sorted(maps.Keys(byKey)) {
		if exp[key] == nil {
			c.violate(Violation{T: end, Rule: RuleExists, Key: key,
				Msg: fmt.Sprintf("%s is on %s, but the load never created it", key, where(byKey[key]))})
		}
	}
	for _, addr := range slices.Sorted(maps.Keys(engines)) {
		for _, cp := range engines[addr].Containers {
			if cp.State != "running" {
				continue
			}
			for _, m := range slices.Sorted(maps.Keys(ps)) {
				if !slices.ContainsFunc(ps[m].Containers, func(x Copy) bool { return x.ID == cp.ID }) {
					c.violate(Violation{T: ps[m].T, Rule: RuleVisible, Key: cp.Key, Engine: addr, Manager: m,
						Msg: fmt.Sprintf("%s (%s) runs on %s but is not in the ps -a of manager %s", cmp.Or(cp.Key, cp.Name), short(cp.ID), addr, m)})
				}
			}
		}
	}
}

// container checks one container's copies on the engines at the end.
func (c *checker) container(end time.Time, e *expectation, copies []located, lost bool) {
	rule := RuleExists
	if e.policy {
		rule = RuleOnce
	}
	v := Violation{T: end, Rule: rule, Key: e.key}
	switch {
	case e.exists == no && len(copies) > 0:
		v.Msg = fmt.Sprintf("%s was removed, yet it is on %s", e.key, where(copies))
	case e.exists == maybe && len(copies) > 1:
		v.Msg = fmt.Sprintf("%s has %d copies: %s", e.key, len(copies), where(copies))
	case e.exists == yes && len(copies) > 1:
		v.Msg = fmt.Sprintf("%s has %d copies: %s", e.key, len(copies), where(copies))
	case e.exists == yes && len(copies) == 0 && !(lost && !e.policy):
		v.Msg = fmt.Sprintf("%s exists on no engine", e.key)
		if !e.policy {
			v.Msg += " and no manager reported it lost"
		}
	case e.exists == yes && e.policy && e.running == yes && len(copies) == 1 && copies[0].State != "running":
		v.Msg = fmt.Sprintf("%s should run (its last start was acknowledged), but its only copy is %s on %s", e.key, copies[0].State, copies[0].engine)
	default:
		return
	}
	c.violate(v)
}

// crashes reports a cluster that did not heal, every manager that exited
// on its own after it had answered, and every data race a process
// reported.
func (c *checker) crashes() {
	for _, r := range c.recs {
		switch {
		case r.Kind == KindPhase && r.Phase == PhaseNotHealed:
			c.violate(Violation{T: r.T, Rule: RuleHealed, Msg: "the cluster did not heal after the faults: " + r.Message})
		case r.Kind == KindManager && r.Action == "crashed":
			c.violate(Violation{T: r.T, Rule: RuleCrash, Manager: r.Manager,
				Msg: fmt.Sprintf("manager %s exited on its own: %s", r.Manager, r.Message)})
		case r.Kind == KindManager && r.Action == "race":
			c.violate(Violation{T: r.T, Rule: RuleRace, Manager: r.Manager,
				Msg: fmt.Sprintf("%s reported a data race: %s", r.Manager, r.Message)})
		}
	}
}

// capacity checks every /info sample: no node reserves more than it has.
func (c *checker) capacity() {
	seen := map[string]int{}
	for _, r := range c.recs {
		if r.Kind != KindInfo {
			continue
		}
		for _, n := range r.Nodes {
			var what string
			switch {
			case n.CPUs > n.CPUsTotal:
				what = fmt.Sprintf("%.3g of its %.3g CPUs", float64(n.CPUs)/1000, float64(n.CPUsTotal)/1000)
			case n.Memory > n.MemoryTotal:
				what = fmt.Sprintf("%d of its %d bytes of memory", n.Memory, n.MemoryTotal)
			default:
				continue
			}
			c.once(seen, r.Manager+" "+n.Addr, Violation{T: r.T, Rule: RuleCapacity, Engine: n.Addr, Manager: r.Manager,
				Msg: fmt.Sprintf("manager %s has %s (%s) reserving %s", r.Manager, n.Name, n.Addr, what)})
		}
	}
}

// once records v the first time its id breaks its rule and counts the
// repeats.
func (c *checker) once(seen map[string]int, id string, v Violation) {
	if i, ok := seen[id]; ok {
		c.rep.Violations[i].Repeats++
		return
	}
	c.violate(v)
	seen[id] = len(c.rep.Violations) - 1
}

// health checks every /info sample of a manager up for HealthyAfter: a
// node whose engine answered every probe of the soak's for HealthyAfter
// is Healthy.
func (c *checker) health() {
	probes := map[string][]Record{}
	for _, r := range c.recs {
		if r.Kind == KindProbe {
			probes[r.Engine] = append(probes[r.Engine], r)
		}
	}
	up := map[string]time.Time{}
	learned := map[string]time.Time{} // the manager's first sample with nodes since it came up
	seen := map[string]int{}
	storeDown := false
	var storeBack time.Time
	for _, r := range c.recs {
		switch {
		case r.Kind == KindFault && r.Fault == FaultRestartConsul:
			storeDown = true
		case r.Kind == KindHeal && r.Fault == FaultRestartConsul:
			storeDown, storeBack = false, r.T
		case r.Kind == KindManager && r.Action == "up":
			up[r.Manager] = r.T
			delete(learned, r.Manager)
		case r.Kind == KindManager && r.Action == "exited":
			delete(up, r.Manager)
		case r.Kind == KindInfo:
			since, ok := up[r.Manager]
			if _, known := learned[r.Manager]; ok && !known && len(r.Nodes) > 0 {
				learned[r.Manager] = r.T
			}
			if at, known := learned[r.Manager]; known && at.After(since) && (storeDown || at.Sub(storeBack) < HealthyAfter) {
				// It came up while the discovery store was away and
				// learned its nodes only when the store answered: its
				// HealthyAfter starts then.
				since = at
			}
			if !ok || r.T.Sub(since) < HealthyAfter {
				continue
			}
			if _, known := learned[r.Manager]; !known && (storeDown || r.T.Sub(storeBack) < HealthyAfter) {
				// Up while the discovery store is away: it knows no node
				// yet (nor would Swarm). Not a health verdict; the heal
				// check still catches a manager that never learns them.
				continue
			}
			for _, eng := range slices.Sorted(maps.Keys(probes)) {
				if !answered(probes[eng], r.T) {
					continue
				}
				i := slices.IndexFunc(r.Nodes, func(n NodeSample) bool { return n.Addr == eng })
				status := "not listed"
				if i >= 0 {
					status = r.Nodes[i].Status
				}
				if status == "Healthy" {
					delete(seen, r.Manager+" "+eng)
					continue
				}
				c.once(seen, r.Manager+" "+eng, Violation{T: r.T, Rule: RuleHealthy, Engine: eng, Manager: r.Manager,
					Msg: fmt.Sprintf("manager %s says %s is %s, but it answered every probe for %s", r.Manager, eng, status, HealthyAfter)})
			}
		}
	}
}

// answered reports whether an engine answered all the HealthyAfter
// before t and just after it: every probe of the soak's that ran in that
// time succeeded, enough of them ran before t, and the first one after t
// succeeded too (a probe only proves the engine answered when it ran).
func answered(probes []Record, t time.Time) bool {
	from := t.Add(-HealthyAfter)
	// probes are in start order; a failed probe counts until it ended
	i := sort.Search(len(probes), func(i int) bool { return !probes[i].T.Before(from.Add(-10 * time.Second)) })
	n := 0
	for ; i < len(probes); i++ {
		p := probes[i]
		ended := p.T.Add(time.Duration(p.Took * float64(time.Millisecond)))
		if !p.OK && !ended.Before(from) {
			return false
		}
		if p.T.After(t) {
			return n >= minProbes // p is the first probe after t, and it succeeded
		}
		if !p.T.Before(from) {
			n++
		}
	}
	return false
}

func where(cs []located) string {
	parts := make([]string, len(cs))
	for i, cp := range cs {
		parts[i] = fmt.Sprintf("%s (%s, swarm id %s, %s)", cp.engine, short(cp.ID), short(cp.SwarmID), cp.State)
	}
	return strings.Join(parts, ", ")
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Print writes the summary, then every violation with the history
// around it.
func (rep *Report) Print(w io.Writer, recs []Record) {
	s := rep.Summary
	fmt.Fprintf(w, "soak: %s of history, %s, %s injected, %s\n",
		s.End.Sub(s.Start).Round(time.Second), plural(s.OpCount(), "operation"), plural(s.FaultCount(), "fault"), plural(len(rep.Violations), "violation"))
	for _, op := range []string{OpCreate, OpStart, OpStop, OpRemove} {
		o := s.Ops[op]
		fmt.Fprintf(w, "  %-7s %5d: %d ok, %d refused, %d unknown outcome\n", op, o[OutcomeOK]+o[OutcomeRefused]+o[OutcomeUnknown],
			o[OutcomeOK], o[OutcomeRefused], o[OutcomeUnknown])
	}
	fmt.Fprintf(w, "  faults:")
	for _, f := range []string{FaultKillEngine, FaultHangEngine, FaultSlowStop, FaultKillPrimary, FaultKillReplica, FaultRestartConsul} {
		fmt.Fprintf(w, " %s %d", f, s.Faults[f])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  containers: %d created or tried (%d with the reschedule policy), %d on the engines at the end\n",
		s.Keys, s.KeysPolicy, s.FinalCopies)
	fmt.Fprintf(w, "  observations: %s, %s, %s\n", plural(s.Infos, "/info sample"), plural(s.Probes, "probe"), plural(s.Events, "manager event"))
	switch {
	case s.Infos > 0 && s.NoPrimary == 0:
		fmt.Fprintln(w, "  a manager was primary at every sample")
	case s.Infos > 0:
		fmt.Fprintf(w, "  no manager primary for %s in all (longest %s): operations then are refused or of unknown outcome\n",
			s.NoPrimary.Round(100*time.Millisecond), s.NoPrimaryLongest.Round(100*time.Millisecond))
	}
	if len(s.Moves) > 0 {
		fmt.Fprintf(w, "  dead engine → its containers running elsewhere: %s, median %s, max %s (%d not seen moved in time)\n",
			plural(len(s.Moves), "move"), s.Moves[len(s.Moves)/2].Round(10*time.Millisecond), s.Moves[len(s.Moves)-1].Round(10*time.Millisecond), s.NotMoved)
	}
	sorted := slices.Clone(recs)
	slices.SortStableFunc(sorted, func(a, b Record) int { return a.T.Compare(b.T) })
	for i, v := range rep.Violations {
		fmt.Fprintf(w, "\nviolation %d: %s\n", i+1, v)
		for _, r := range around(sorted, v) {
			fmt.Fprintf(w, "    %s\n", r)
		}
	}
}

// OpCount is the number of operations.
func (s Summary) OpCount() int {
	n := 0
	for _, o := range s.Ops {
		for _, k := range o {
			n += k
		}
	}
	return n
}

// FaultCount is the number of faults injected.
func (s Summary) FaultCount() int {
	n := 0
	for _, k := range s.Faults {
		n += k
	}
	return n
}

// contextLines bounds the history printed with one violation.
const contextLines = 60

// around picks the records that explain a violation: for a container,
// everything about it and the faults of its lifetime; for a node, what
// happened to it in the seconds before.
func around(recs []Record, v Violation) []Record {
	var out []Record
	if v.Key != "" {
		var first time.Time
		for _, r := range recs {
			if r.Key == v.Key || r.Container == v.Key {
				if first.IsZero() {
					first = r.T
				}
				out = append(out, r)
			}
		}
		for _, r := range recs {
			if (r.Kind == KindFault || r.Kind == KindHeal || r.Kind == KindPhase) && !r.T.Before(first) {
				out = append(out, r)
			}
		}
		slices.SortStableFunc(out, func(a, b Record) int { return a.T.Compare(b.T) })
	} else {
		from, to := v.T.Add(-HealthyAfter-5*time.Second), v.T.Add(2*time.Second)
		for _, r := range recs {
			if r.T.Before(from) || r.T.After(to) {
				continue
			}
			switch r.Kind {
			case KindProbe:
				if r.Engine != v.Engine {
					continue
				}
			case KindInfo:
				if !r.T.Equal(v.T) || r.Manager != v.Manager {
					continue
				}
			case KindOp:
				continue
			}
			out = append(out, r)
		}
	}
	if len(out) > contextLines {
		out = out[len(out)-contextLines:]
	}
	return out
}

// String is a record as one line for a reader.
func (r Record) String() string {
	r.Err, r.Message = oneLine(r.Err), oneLine(r.Message)
	t := r.T.Format("15:04:05.000")
	switch r.Kind {
	case KindOp:
		s := fmt.Sprintf("%s op %s %s via %s: %s (%.0f ms)", t, r.Op, r.Key, r.Manager, r.Outcome, r.Took)
		if r.Policy && r.Op == OpCreate {
			s += " [reschedule:on-node-failure]"
		}
		if r.Rule != "" {
			s += " [" + r.Rule + "]"
		}
		if r.Timeout > 0 {
			s += fmt.Sprintf(" [-t %d]", r.Timeout)
		}
		if r.Err != "" {
			s += ": " + r.Err
		}
		return s
	case KindFault, KindHeal:
		return fmt.Sprintf("%s %s %s %s %s", t, r.Kind, r.Fault, r.Target, r.Message)
	case KindProbe:
		return fmt.Sprintf("%s probe %s ok=%v (%.0f ms) %s", t, r.Engine, r.OK, r.Took, r.Err)
	case KindInfo:
		parts := make([]string, len(r.Nodes))
		for i, n := range r.Nodes {
			parts[i] = fmt.Sprintf("%s=%s cpus %d/%d mem %d/%d", n.Addr, n.Status, n.CPUs, n.CPUsTotal, n.Memory, n.MemoryTotal)
		}
		return fmt.Sprintf("%s info of %s: %s", t, r.Manager, strings.Join(parts, "; "))
	case KindEvent:
		return fmt.Sprintf("%s event of %s: %s %s %s", t, r.Manager, r.Action, r.Node, r.Message)
	case KindMoved:
		return fmt.Sprintf("%s moved %s from %s to %s ok=%v (%.0f ms)", t, r.Key, r.Engine, r.To, r.OK, r.Took)
	case KindEngine, KindPS:
		parts := make([]string, len(r.Containers))
		for i, cp := range r.Containers {
			parts[i] = fmt.Sprintf("%s(%s %s)", cmp.Or(cp.Key, cp.Name), short(cp.ID), cmp.Or(cp.State, cp.Status))
		}
		return fmt.Sprintf("%s %s %s%s: %s", t, r.Kind, r.Engine, r.Manager, strings.Join(parts, " "))
	}
	return fmt.Sprintf("%s %s %s%s%s %s %s", t, r.Kind, r.Phase, r.Manager, r.Action, r.Message, r.Err)
}

// oneLine joins the lines of a multi-line message (Swarm's placement
// errors have several).
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
