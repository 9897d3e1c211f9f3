package sched

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"swarmdeck/model"
)

// Filter names, in Swarm's default order.
const (
	FilterHealth     = "health"
	FilterPort       = "port"
	FilterSlots      = "containerslots"
	FilterDependency = "dependency"
	FilterAffinity   = "affinity"
	FilterConstraint = "constraint"
	FilterWhitelist  = "whitelist"
)

// DefaultFilters returns Swarm's default filter chain, in order.
func DefaultFilters() []string {
	return []string{FilterHealth, FilterPort, FilterSlots, FilterDependency, FilterAffinity, FilterConstraint, FilterWhitelist}
}

// slotsLabel is the engine label that caps a node's container count.
const slotsLabel = "containerslots"

// filter is one link of the chain: a predicate on one node. check appends
// every reason it finds to why when why is non-nil (explain mode) and
// stops at the first failure otherwise.
type filter interface {
	name() string
	// active reports whether the filter has anything to check in this pass;
	// an inactive filter keeps every node and never fails the chain.
	active(ev *eval) bool
	// conditions is Swarm's description list for the failure message.
	conditions(r *Request) []string
	check(ev *eval, ns *nodeState, why *[]Reason) bool
}

// newFilter is the registry of filters by name.
func newFilter(name string) (filter, bool) {
	switch name {
	case FilterHealth:
		return healthFilter{}, true
	case FilterPort:
		return portFilter{}, true
	case FilterSlots:
		return slotsFilter{}, true
	case FilterDependency:
		return dependencyFilter{}, true
	case FilterAffinity:
		return affinityFilter{}, true
	case FilterConstraint:
		return constraintFilter{}, true
	case FilterWhitelist:
		return whitelistFilter{}, true
	}
	return nil, false
}

// filterKind tells the filters a scan checks inline on the snapshot's
// columns (health, container slots) from those it asks.
type filterKind uint8

const (
	kindOther filterKind = iota
	kindHealth
	kindSlots
)

func kindOf(f filter) filterKind {
	switch f.(type) {
	case healthFilter:
		return kindHealth
	case slotsFilter:
		return kindSlots
	}
	return kindOther
}

// reject records r when explaining and returns false. Callers return
// early when why is nil, so reason text is only built when asked for.
func reject(why *[]Reason, r Reason) bool {
	if why != nil {
		*why = append(*why, r)
	}
	return false
}

type healthFilter struct{}

func (healthFilter) name() string                 { return FilterHealth }
func (healthFilter) active(*eval) bool            { return true }
func (healthFilter) conditions(*Request) []string { return nil }
func (healthFilter) check(ev *eval, ns *nodeState, why *[]Reason) bool {
	if ev.health(ns) > 0 {
		return true
	}
	if why == nil {
		return false
	}
	d := "node is " + ns.n.Health.String()
	if ns.n.Failures > 0 {
		d += fmt.Sprintf(" (%d failures in a row)", ns.n.Failures)
	}
	return reject(why, Reason{Filter: FilterHealth, Class: Exhausted, Detail: d})
}

type portFilter struct{}

func (portFilter) name() string                   { return FilterPort }
func (portFilter) conditions(r *Request) []string { return r.portConditions() }
func (portFilter) active(ev *eval) bool {
	if ev.r.hostMode {
		return len(ev.r.Config.Expose) > 0
	}
	return len(ev.r.bindings) > 0
}
func (portFilter) check(ev *eval, ns *nodeState, why *[]Reason) bool {
	ok := true
	if ev.r.hostMode {
		for _, p := range ev.r.Config.Expose {
			for _, u := range ns.hostPorts {
				if c := u.c; u.port == p {
					if why == nil {
						return false
					}
					ok = reject(why, Reason{Filter: FilterPort, Class: Exhausted, Cond: p + " (Host mode)",
						Detail: fmt.Sprintf("port %s is taken in host mode by %s", p, displayName(c))})
					break
				}
			}
		}
		return ok
	}
	for _, b := range ev.r.bindings {
		if b.HostPort == "" {
			continue
		}
		if c := portUser(ns, b); c != nil {
			if why == nil {
				return false
			}
			ok = reject(why, Reason{Filter: FilterPort, Class: Exhausted, Cond: b.HostPort + " (Bridge mode)",
				Detail: fmt.Sprintf("host port %s is taken by %s", hostPort(b), displayName(c))})
		}
	}
	return ok
}

// portUser finds a container of the node that binds b's host port on a
// clashing address. The protocol and container port do not matter.
func portUser(ns *nodeState, b model.PortBinding) *model.Container {
	for _, u := range ns.ports {
		if u.port == b.HostPort && ipsClash(u.ip, b.HostIP) {
			return u.c
		}
	}
	return nil
}

func ipsClash(a, b string) bool {
	return a == b || unspecified(a) || unspecified(b)
}

func unspecified(ip string) bool {
	if ip == "" {
		return true
	}
	p := net.ParseIP(ip)
	return p != nil && p.IsUnspecified()
}

func hostPort(b model.PortBinding) string {
	if b.HostIP == "" {
		return b.HostPort
	}
	return net.JoinHostPort(b.HostIP, b.HostPort)
}

func displayName(c *model.Container) string {
	if n := strings.TrimPrefix(c.Name, "/"); n != "" {
		return n
	}
	return model.ShortID(c.ID)
}

type slotsFilter struct{}

func (slotsFilter) name() string                 { return FilterSlots }
func (slotsFilter) active(*eval) bool            { return true }
func (slotsFilter) conditions(*Request) []string { return []string{"available container slots"} }
func (slotsFilter) check(ev *eval, ns *nodeState, why *[]Reason) bool {
	if !ns.hasLabel(ev.slotsKey) {
		return true
	}
	slots, err := strconv.Atoi(ev.s.strs.strs[ns.label(ev.slotsKey)])
	if err != nil || len(ns.containers) < slots {
		return true
	}
	if why == nil {
		return false
	}
	return reject(why, Reason{Filter: FilterSlots, Class: Exhausted,
		Detail: fmt.Sprintf("all %d container slots are used (%d containers)", slots, len(ns.containers))})
}

type dependencyFilter struct{}

func (dependencyFilter) name() string         { return FilterDependency }
func (dependencyFilter) active(ev *eval) bool { return len(ev.r.deps) > 0 }
func (dependencyFilter) conditions(r *Request) []string {
	out := make([]string, len(r.deps))
	for i, d := range r.deps {
		out[i] = d.desc
	}
	return out
}
func (dependencyFilter) check(ev *eval, ns *nodeState, why *[]Reason) bool {
	ok := true
	for _, d := range ev.r.deps {
		if model.FindContainer(ns.containers, d.ref, ev.nodeOf) == nil {
			if why == nil {
				return false
			}
			ok = reject(why, Reason{Filter: FilterDependency, Class: Filtered, Cond: d.desc,
				Detail: fmt.Sprintf("no container %s on the node", d.ref)})
		}
	}
	return ok
}

type affinityFilter struct{}

func (affinityFilter) name() string         { return FilterAffinity }
func (affinityFilter) active(ev *eval) bool { return len(ev.affs) > 0 }
func (affinityFilter) conditions(r *Request) []string {
	return softList(r.Affinities)
}
func (affinityFilter) check(ev *eval, ns *nodeState, why *[]Reason) bool {
	ok := true
	for i := range ev.affs {
		a := &ev.affs[i]
		if a.matchAffinity(ev, ns) == (a.e.Op == OpEq) {
			continue
		}
		if why == nil {
			return false
		}
		ok = reject(why, Reason{Filter: FilterAffinity, Class: Filtered, Cond: a.cond(), Detail: a.affinityDetail(ns)})
	}
	return ok
}

type constraintFilter struct{}

func (constraintFilter) name() string         { return FilterConstraint }
func (constraintFilter) active(ev *eval) bool { return len(ev.cons) > 0 }
func (constraintFilter) conditions(r *Request) []string {
	out := make([]string, len(r.Constraints))
	for i, e := range r.Constraints {
		out[i] = e.String()
	}
	return out
}
func (constraintFilter) check(ev *eval, ns *nodeState, why *[]Reason) bool {
	ok := true
	for i := range ev.cons {
		c := &ev.cons[i]
		var matched bool
		if c.e.Key == "node" {
			matched = c.memo(ev, ns.id) || c.memo(ev, ns.name)
		} else {
			matched = c.memo(ev, ns.label(c.slot))
		}
		if matched == (c.e.Op == OpEq) {
			continue
		}
		if why == nil {
			return false
		}
		ok = reject(why, Reason{Filter: FilterConstraint, Class: Filtered, Cond: c.cond(), Detail: constraintDetail(ev, c, ns)})
	}
	return ok
}

type whitelistFilter struct{}

func (whitelistFilter) name() string         { return FilterWhitelist }
func (whitelistFilter) active(ev *eval) bool { return len(ev.wls) > 0 }
func (whitelistFilter) conditions(r *Request) []string {
	return softList(r.Whitelists)
}
func (whitelistFilter) check(ev *eval, ns *nodeState, why *[]Reason) bool {
	ok := true
	for i := range ev.wls {
		w := &ev.wls[i]
		if slices.Contains(w.names, ns.n.Name) {
			continue
		}
		if why == nil {
			return false
		}
		ok = reject(why, Reason{Filter: FilterWhitelist, Class: Filtered, Cond: w.e.String(),
			Detail: fmt.Sprintf("node name %s is not among %s", ns.n.Name, strings.Join(w.names, ", "))})
	}
	return ok
}

// softList is Swarm's listing of affinities and whitelists: every
// expression, soft ones included, with its soft flag.
func softList(es []*Expr) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%s (soft=%t)", e.String(), e.Soft)
	}
	return out
}

// active is an expression as one pass uses it, with a memo of its matches
// over the snapshot's interned strings, so each distinct label value or
// image is matched once per placement, however many nodes carry it.
type active struct {
	e     *Expr
	slot  int32    // engine label slot of the key (constraints); -1 when no node has it
	names []string // whitelist: the node names listed
	seen  []uint8  // by interned string: 0 not yet, 1 no match, 2 match

	// Words of reasons, made once per pass rather than per node when
	// explaining: the condition, and the detail by the label value the
	// node has (constraints; index 0 is "no label") or by whether the
	// node has containers (affinities).
	condText string
	details  map[int32]string
	adetails [2]string
}

func (a *active) cond() string {
	if a.condText == "" {
		a.condText = a.e.String()
	}
	return a.condText
}

func (a *active) memo(ev *eval, id int32) bool {
	if int(id) >= len(a.seen) { // first use, or strings interned since
		a.seen = append(a.seen, make([]uint8, len(ev.s.strs.strs)-len(a.seen))...)
	}
	switch a.seen[id] {
	case 1:
		return false
	case 2:
		return true
	}
	m := a.e.match(ev.s.strs.strs[id])
	a.seen[id] = 1
	if m {
		a.seen[id] = 2
	}
	return m
}

// matchAffinity reports whether any of the node's candidate values for the
// affinity's key matches the pattern (the operator is applied by the caller).
func (a *active) matchAffinity(ev *eval, ns *nodeState) bool {
	switch a.e.Key {
	case "container":
		if lit, ok := a.e.literal(); ok {
			return ns.named(ev.s, lit) || ns.namedWithID(lit)
		}
		for _, c := range ns.containers {
			name := strings.TrimPrefix(c.Name, "/")
			if name != "" && (a.e.match(name) || a.e.match(c.ID)) {
				return true
			}
		}
		return false
	case "image":
		for _, id := range ns.images {
			if a.memo(ev, id) {
				return true
			}
		}
		return false
	case unindexedLabel:
		// Each container's value, "" for one without the label (Swarm's rule).
		for _, c := range ns.containers {
			if v, _ := c.Label(a.e.Key); a.e.match(v) {
				return true
			}
		}
		return false
	default:
		// Each distinct value of the label on the node, once; a container
		// without the label counts as "" (Swarm's rule).
		with := 0
		for v, n := range ns.clabels[a.e.Key] {
			with += n
			if a.e.match(v) {
				return true
			}
		}
		return with < len(ns.containers) && a.e.match("")
	}
}

func constraintDetail(ev *eval, c *active, ns *nodeState) string {
	if c.e.Key == "node" {
		return fmt.Sprintf("node is %s (ID %s)", ns.n.Name, ns.n.ID)
	}
	v := int32(-1) // no label
	if ns.hasLabel(c.slot) {
		v = ns.label(c.slot)
	}
	if d, ok := c.details[v]; ok {
		return d
	}
	d := "node has no label " + c.e.Key
	if v >= 0 {
		d = fmt.Sprintf("node has %s=%s", c.e.Key, ev.s.strs.strs[v])
	}
	if c.details == nil {
		c.details = map[int32]string{}
	}
	c.details[v] = d
	return d
}

// affinityDetail is the package's affinityDetail for ns, made once for
// nodes with containers and once for nodes without.
func (a *active) affinityDetail(ns *nodeState) string {
	k := 0
	if len(ns.containers) == 0 {
		k = 1
	}
	if a.adetails[k] == "" {
		a.adetails[k] = affinityDetail(a.e, ns)
	}
	return a.adetails[k]
}

func affinityDetail(e *Expr, ns *nodeState) string {
	neg := e.Op == OpNe
	switch e.Key {
	case "container":
		if neg {
			return "a container matching " + e.Value + " runs on the node"
		}
		return "no container matching " + e.Value + " on the node"
	case "image":
		if neg {
			return "image " + e.Value + " is on the node"
		}
		return "image " + e.Value + " is not on the node"
	}
	if len(ns.containers) == 0 && !neg {
		return "the node has no containers"
	}
	if neg {
		return fmt.Sprintf("a container on the node has %s matching %s", e.Key, e.Value)
	}
	return fmt.Sprintf("no container on the node has %s matching %s", e.Key, e.Value)
}
