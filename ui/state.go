package ui

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"swarmdeck/backend"
	"swarmdeck/model"
	"swarmdeck/sched"
)

// Backend is what the console needs of the manager. *backend.Cluster is
// one; every call returns promptly (the manager never holds its lock
// across network I/O), and the ones that reach an engine take a context.
type Backend interface {
	Nodes() []*model.Node
	Networks() []model.Network
	RecentEvents() []model.Event
	Subscribe(buffer int) (<-chan model.Event, func())
	Generation() uint64
	Queued() []backend.Queued
	Scheduler() *sched.Scheduler
	Source() *backend.Source
	Create(ctx context.Context, cfg model.Config) (*model.Container, error)
	Start(ctx context.Context, ref string) error
	Stop(ctx context.Context, ref string, timeout time.Duration) error
	Restart(ctx context.Context, ref string, timeout time.Duration) error
	Remove(ctx context.Context, ref string, force bool) error
	Logs(ctx context.Context, ref string, follow bool) (io.ReadCloser, error)
	Inspect(ref string) (*model.Container, *model.Node, error)
	InspectDocument(ctx context.Context, ref string) ([]byte, error)
	CreateNetwork(ctx context.Context, name, driver string) ([]string, error)
	RemoveNetwork(ctx context.Context, ref string) error
	SetAvailability(ctx context.Context, ref string, a model.Availability, force bool) (*backend.AvailabilityResult, error)
	PlanRebalance(maxMoves int) *sched.Plan
	RunPlan(ctx context.Context, plan *sched.Plan) (*backend.RebalanceResult, error)
}

// roler is a Backend that runs with replication and can say its role.
type roler interface {
	Role() (role, primary string)
}

// state is everything the views show, formatted, built off the UI
// goroutine and installed on it by swapping a pointer. It is immutable.
type state struct {
	gen        uint64
	nodes      []*model.Node
	byAddr     map[string]*model.Node
	nodeRows   []row
	ctrRows    []row
	netRows    []row
	header     string
	containers int
	waiting    []backend.Queued // containers waiting to be rescheduled
}

// rowCache keeps the formatted row of each container between builds.
// Containers and nodes are immutable values: the same pair of pointers
// formats the same row, so only what changed is formatted again. It is
// owned by the refresher goroutine.
type rowCache struct {
	rows map[rowKey]row
}

type rowKey struct {
	c *model.Container
	n *model.Node
}

// build reads the backend and formats every row; cache may be nil.
func build(b Backend, th theme, cache *rowCache) *state {
	st := &state{gen: b.Generation(), nodes: b.Nodes(), byAddr: map[string]*model.Node{}, waiting: b.Queued()}
	o := b.Scheduler().Overcommit()
	waitingOn := map[string]int{} // by the failed node's name
	for _, q := range st.waiting {
		waitingOn[q.From]++
	}
	var (
		paused, draining    int
		healthy             int
		usedCPU, totCPU     model.MilliCPU
		usedMem, totMem     int64
		running, containers int
	)
	st.nodeRows = make([]row, 0, len(st.nodes))
	for _, n := range st.nodes {
		st.byAddr[n.Addr] = n
		st.nodeRows = append(st.nodeRows, nodeRow(n, o, waitingOn[n.Name]))
		containers += len(n.Containers)
		switch n.Availability {
		case model.Pause:
			paused++
		case model.Drain:
			draining++
		}
		if n.Health != model.Healthy {
			continue
		}
		healthy++
		c, m := n.Reserved()
		usedCPU, usedMem = usedCPU+c, usedMem+m
		totCPU, totMem = totCPU+n.TotalCPUs(o), totMem+n.TotalMemory(o)
	}
	st.ctrRows = make([]row, 0, containers+len(st.waiting))
	fresh := make(map[rowKey]row, containers)
	for _, n := range st.nodes {
		for _, c := range n.Containers {
			k := rowKey{c, n}
			r, ok := row{}, false
			if cache != nil {
				r, ok = cache.rows[k]
			}
			if !ok {
				r = containerRow(c, n)
			}
			fresh[k] = r
			st.ctrRows = append(st.ctrRows, r)
			if c.State == model.Running && n.Health == model.Healthy {
				running++
			}
		}
	}
	if cache != nil {
		cache.rows = fresh
	}
	for _, q := range st.waiting {
		st.ctrRows = append(st.ctrRows, waitingRow(q))
	}
	st.containers = containers
	st.netRows = networkRows(b.Networks(), st)
	st.header = headerText(b, th, healthy, len(st.nodes), running, containers, len(st.waiting), usedCPU, totCPU, usedMem, totMem)
	if paused+draining > 0 {
		st.header += fmt.Sprintf("   %sOut of service: %d draining, %d paused%s", th.tag(th.warn), draining, paused, th.reset())
	}
	return st
}

// networkRows lists networks, folding a network that every healthy node
// has under the same name and driver into one row by name.
func networkRows(nets []model.Network, st *state) []row {
	healthy := 0
	for _, n := range st.nodes {
		if n.Health == model.Healthy {
			healthy++
		}
	}
	type group struct{ nets []model.Network }
	groups := map[string]*group{}
	var order []string
	for _, nw := range nets {
		k := nw.Name + "\x00" + nw.Driver
		if groups[k] == nil {
			groups[k] = &group{}
			order = append(order, k)
		}
		groups[k].nets = append(groups[k].nets, nw)
	}
	sort.Strings(order)
	var rows []row
	for _, k := range order {
		g := groups[k].nets
		if len(g) == healthy && healthy > 1 {
			all := g[0]
			all.Containers = nil
			for _, nw := range g {
				all.Containers = append(all.Containers, nw.Containers...)
			}
			rows = append(rows, networkRow(all, "", true))
			continue
		}
		for _, nw := range g {
			name := nw.Node
			if n := st.byAddr[nw.Node]; n != nil {
				name = n.Name
			}
			rows = append(rows, networkRow(nw, name, false))
		}
	}
	return rows
}

func headerText(b Backend, th theme, healthy, nodes, running, containers, waiting int,
	usedCPU, totCPU model.MilliCPU, usedMem, totMem int64) string {
	src := b.Source()
	var sb strings.Builder
	fmt.Fprintf(&sb, "%sswarmdeck%s  %s", th.tag(th.title), th.reset(), src.URL)
	if src.Simulated {
		if th.noColor {
			sb.WriteString("  [::r] SIMULATED [::-]")
		} else {
			sb.WriteString("  [black:yellow:b] SIMULATED [-:-:-]")
		}
	}
	role := "primary"
	if r, ok := b.(roler); ok {
		if rl, primary := r.Role(); rl != "" {
			role = rl
			if primary != "" {
				role += " (primary: " + primary + ")"
			}
		}
	}
	s := b.Scheduler()
	fmt.Fprintf(&sb, "\nRole: %s   Strategy: %s   Filters: %s", role, s.Strategy(), strings.Join(s.Filters(), ", "))
	nodeColor := th.ok
	if healthy < nodes {
		nodeColor = th.warn
	}
	fmt.Fprintf(&sb, "\nNodes: %s%d/%d healthy%s   Containers: %d/%d running   Reserved CPUs: %s / %s   Reserved Memory: %s / %s",
		th.tag(nodeColor), healthy, nodes, th.reset(), running, containers, usedCPU, totCPU, model.FormatBytes(usedMem), model.FormatBytes(totMem))
	if waiting > 0 {
		fmt.Fprintf(&sb, "   %sWaiting to reschedule: %d%s", th.tag(th.bad), waiting, th.reset())
	}
	return sb.String()
}
