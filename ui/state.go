package ui

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rivo/tview"

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
	header     header
	containers int
	waiting    []backend.Queued // containers waiting to be rescheduled

	// Set by prepare, off the UI goroutine:
	prepared map[string]arranged // by view: rows filtered and sorted; events only when new ones came
	alerts   []message           // failures and reschedules among the new events, for the status line
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
	f := figures{nodes: len(st.nodes), waiting: len(st.waiting), overcommit: o}
	var containers int
	st.nodeRows = make([]row, 0, len(st.nodes))
	for _, n := range st.nodes {
		st.byAddr[n.Addr] = n
		st.nodeRows = append(st.nodeRows, nodeRow(n, o, waitingOn[n.Name]))
		containers += len(n.Containers)
		switch n.Availability {
		case model.Pause:
			f.paused++
		case model.Drain:
			f.draining++
		}
		if n.Health != model.Healthy {
			continue
		}
		f.healthy++
		c, m := n.Reserved()
		f.usedCPU, f.usedMem = f.usedCPU+c, f.usedMem+m
		f.totCPU, f.totMem = f.totCPU+n.TotalCPUs(o), f.totMem+n.TotalMemory(o)
		f.rawCPU, f.rawMem = f.rawCPU+n.TotalCPUs(0), f.rawMem+n.TotalMemory(0)
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
				f.running++
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
	f.containers = containers + len(st.waiting)
	st.header = headerOf(b, th, f)
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
			if !model.Local(nw) { // one network of the cluster, listed once by the backend
				rows = append(rows, networkRow(nw, "", true))
				continue
			}
			name := nw.Node
			if n := st.byAddr[nw.Node]; n != nil {
				name = n.Name
			}
			rows = append(rows, networkRow(nw, name, false))
		}
	}
	return rows
}

// headerSeg is one item of the header, in a long and a short form.
type headerSeg struct{ long, short string }

// header is the header's items, by line group: each group starts a line
// and flows onto more when the terminal is narrow.
type header [][]headerSeg

// maxHeaderLines is the most lines the header takes; past it the items
// take their short forms.
const maxHeaderLines = 4

// layout flows the header into width columns (0: no limit). Items take
// their short forms from the last one back until the header fits in
// maxHeaderLines; an item wider than the terminal always takes its short
// form. It returns the text and its number of lines. It is cheap: a
// dozen items.
func (h header) layout(width int) (string, int) {
	total := 0
	for _, g := range h {
		total += len(g)
	}
	flow := func(shortFrom int) (string, int) {
		var sb strings.Builder
		lines, i := 0, 0
		for _, group := range h {
			if len(group) == 0 {
				continue
			}
			if lines > 0 {
				sb.WriteByte('\n')
			}
			lines++
			col := 0
			for _, seg := range group {
				text := seg.long
				if i >= shortFrom || (width > 0 && tview.TaggedStringWidth(text) > width) {
					text = seg.short
				}
				i++
				w := tview.TaggedStringWidth(text)
				switch {
				case col == 0:
				case width > 0 && col+3+w > width:
					sb.WriteByte('\n')
					lines++
					col = 0
				default:
					sb.WriteString("   ")
					col += 3
				}
				sb.WriteString(text)
				col += w
			}
		}
		return sb.String(), lines
	}
	for shortFrom := total; ; shortFrom-- {
		text, lines := flow(shortFrom)
		if lines <= maxHeaderLines || shortFrom == 0 {
			return text, min(lines, maxHeaderLines)
		}
	}
}

// figures are the header's counts.
type figures struct {
	healthy, nodes, running, containers, waiting, paused, draining int
	usedCPU, totCPU, rawCPU                                        model.MilliCPU
	usedMem, totMem, rawMem                                        int64
	overcommit                                                     model.Overcommit
}

func headerOf(b Backend, th theme, f figures) header {
	src := b.Source()
	title := fmt.Sprintf("%sswarmdeck%s  %s", th.tag(th.title), th.reset(), tview.Escape(src.URL))
	g1 := []headerSeg{{title, title}}
	if src.Simulated {
		sim := "[black:yellow:b] SIMULATED [-:-:-]"
		if th.noColor {
			sim = "[::r] SIMULATED [::-]"
		}
		g1 = append(g1, headerSeg{sim, sim})
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
	g1 = append(g1, headerSeg{"Role: " + role, "Role: " + strings.Fields(role)[0]})
	s := b.Scheduler()
	filters := s.Filters()
	g2 := []headerSeg{{"Strategy: " + s.Strategy(), "Strategy: " + s.Strategy()},
		{"Filters: " + strings.Join(filters, ", "), fmt.Sprintf("Filters: %d (? lists them)", len(filters))}}
	nodeColor := th.ok
	if f.healthy < f.nodes {
		nodeColor = th.warn
	}
	c, r := th.tag(nodeColor), th.reset()
	g3 := []headerSeg{
		{fmt.Sprintf("Nodes: %s%d/%d healthy%s", c, f.healthy, f.nodes, r), fmt.Sprintf("Nodes %s%d/%d%s", c, f.healthy, f.nodes, r)},
		{fmt.Sprintf("Containers: %d/%d running", f.running, f.containers), fmt.Sprintf("Ctrs %d/%d up", f.running, f.containers)},
	}
	if f.waiting > 0 {
		g3 = append(g3, headerSeg{fmt.Sprintf("%sWaiting to reschedule: %d%s", th.tag(th.bad), f.waiting, th.reset()),
			fmt.Sprintf("%sWaiting %d%s", th.tag(th.bad), f.waiting, th.reset())})
	}
	if f.paused+f.draining > 0 {
		g3 = append(g3, headerSeg{fmt.Sprintf("%sOut of service: %d draining, %d paused%s", th.tag(th.warn), f.draining, f.paused, th.reset()),
			fmt.Sprintf("%sOut: %d drain, %d pause%s", th.tag(th.warn), f.draining, f.paused, th.reset())})
	}
	cpu := fmt.Sprintf("%s / %s", f.usedCPU, f.totCPU)
	mem := fmt.Sprintf("%s / %s", model.FormatBytes(f.usedMem), model.FormatBytes(f.totMem))
	g3 = append(g3, headerSeg{"Reserved CPUs: " + cpu, "CPU " + cpu}, headerSeg{"Reserved Memory: " + mem, "Mem " + mem})
	// Say what the capacity is: healthy nodes only, and overcommit where
	// it adds to it.
	var notes, short []string
	if f.healthy < f.nodes {
		notes, short = append(notes, "capacity of the healthy nodes only"), append(short, "healthy only")
	}
	if f.totCPU > f.rawCPU || f.totMem > f.rawMem {
		notes = append(notes, fmt.Sprintf("%d%% overcommit included (%s CPUs, %s)", f.overcommit, f.rawCPU, model.FormatBytes(f.rawMem)))
		short = append(short, fmt.Sprintf("+%d%% overcommit", f.overcommit))
	}
	if len(notes) > 0 {
		g3 = append(g3, headerSeg{th.tag(th.dim) + "(" + strings.Join(notes, "; ") + ")" + th.reset(),
			th.tag(th.dim) + "(" + strings.Join(short, ", ") + ")" + th.reset()})
	}
	return header{g1, g2, g3}
}
