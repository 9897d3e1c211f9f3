package ui

import (
	"context"
	"fmt"
	"io"
	"slices"
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
	NodesAndQueued() ([]*model.Node, []backend.Queued) // both at one moment: the header and the rows count a container once
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
	nodeRows   *rowSet
	ctrRows    *rowSet
	netRows    *rowSet
	header     header
	containers int
	waiting    []backend.Queued // containers waiting to be rescheduled

	// Set by prepare, off the UI goroutine:
	prepared map[string]arranged // by view: rows filtered and sorted, only for views that changed
	later    []string            // views whose rows changed, left to arrange until shown (see App.prepare)
	alerts   []message           // failures and reschedules among the new events, for the status line
}

// rowCache keeps what the last build made, so the next formats only what
// changed. Nodes and containers are immutable values: the same pointer
// formats the same row. It is owned by the refresher goroutine.
type rowCache struct {
	nodes   map[string]*nodeRows // by address
	order   []*model.Node        // the nodes of the last build, in order
	ctrRows *rowSet              // the containers view's rows of the last build
	waiting []backend.Queued     // and the waiting containers they include
	nets    []model.Network      // the networks of the last build
	netRows *rowSet
	builds  uint64 // how many builds filled it: each stamps the nodes it saw
}

// nodeRows is what the last build made of one node.
type nodeRows struct {
	node    *model.Node
	seen    uint64             // the last build that listed it (rowCache.builds)
	waiting int                // containers waiting to move off it
	row     row                // the nodes view's row
	cs      []*model.Container // the node's containers, as formatted, by name (naturalOrder)
	down    bool               // formatted as Host Down
	ctrs    []row              // their rows
	running int                // containers running (0 when the node is down)
	usedCPU model.MilliCPU
	usedMem int64
}

// build reads the backend and formats the rows of what changed since the
// build that filled cache (every row when cache is nil or empty): a node
// whose value is the same keeps its rows; a changed node's containers
// that are the same keep theirs. A view whose rows did not change gets
// the same slice back, so its arrangement is kept too.
func build(b Backend, th theme, cache *rowCache) *state {
	if cache == nil {
		cache = &rowCache{}
	}
	if cache.nodes == nil {
		cache.nodes = map[string]*nodeRows{}
	}
	st := &state{gen: b.Generation(), byAddr: make(map[string]*model.Node, len(cache.nodes))}
	st.nodes, st.waiting = b.NodesAndQueued()
	o := b.Scheduler().Overcommit()
	waitingOn := map[string]int{} // by the failed node's name
	for _, q := range st.waiting {
		waitingOn[q.From]++
	}
	f := figures{nodes: len(st.nodes), waiting: len(st.waiting), overcommit: o}
	ctrsSame := len(st.nodes) == len(cache.order) && sameQueued(st.waiting, cache.waiting)
	cache.builds++
	nodeRows := make([]row, 0, len(st.nodes))
	for i, n := range st.nodes {
		st.byAddr[n.Addr] = n
		prev := cache.nodes[n.Addr]
		e := prev
		waiting := 0
		if len(waitingOn) > 0 {
			waiting = waitingOn[n.Name]
		}
		if e == nil || e.node != n || e.waiting != waiting {
			e = refreshNode(prev, n, o, waiting)
			cache.nodes[n.Addr] = e
		}
		e.seen = cache.builds
		if ctrsSame && (cache.order[i].Addr != n.Addr || !sameRows(prev, e)) {
			ctrsSame = false
		}
		nodeRows = append(nodeRows, e.row)
		st.containers += len(n.Containers)
		f.running += e.running
		switch n.Availability {
		case model.Pause:
			f.paused++
		case model.Drain:
			f.draining++
		}
		if n.Health == model.Pending {
			f.pending++
		}
		if n.Health != model.Healthy {
			continue
		}
		f.healthy++
		f.usedCPU, f.usedMem = f.usedCPU+e.usedCPU, f.usedMem+e.usedMem
		f.totCPU, f.totMem = f.totCPU+n.TotalCPUs(o), f.totMem+n.TotalMemory(o)
		f.rawCPU, f.rawMem = f.rawCPU+n.TotalCPUs(0), f.rawMem+n.TotalMemory(0)
	}
	if len(cache.nodes) != len(st.nodes) { // some went (a stamp per node, not a set of 10,000 addresses per build)
		for addr, e := range cache.nodes {
			if e.seen != cache.builds {
				delete(cache.nodes, addr)
			}
		}
	}
	st.nodeRows = rowsOf(nodeRows)
	if !ctrsSame || cache.ctrRows == nil {
		// A waiting container's row is among its failed node's rows, in
		// the natural order of their names (eu-2/api-1 before eu-2/web-1).
		waitingOf := map[string][]row{} // by the failed node's name
		for _, q := range st.waiting {
			waitingOf[q.From] = append(waitingOf[q.From], waitingRow(q))
		}
		segs := make([][]row, 0, len(st.nodes)+1)
		for _, n := range st.nodes {
			rows := cache.nodes[n.Addr].ctrs
			if w, ok := waitingOf[n.Name]; ok {
				rows = byName(append(slices.Clone(rows), w...))
				delete(waitingOf, n.Name)
			}
			segs = append(segs, rows)
		}
		var gone []row // of nodes no longer listed
		for _, q := range st.waiting {
			if w, ok := waitingOf[q.From]; ok {
				gone = append(gone, w...)
				delete(waitingOf, q.From)
			}
		}
		cache.ctrRows = segments(append(segs, byName(gone)))
	}
	cache.order, cache.waiting = st.nodes, st.waiting
	st.ctrRows = cache.ctrRows
	nets := b.Networks()
	if !sameNetworks(nets, cache.nets) || cache.netRows == nil {
		cache.nets, cache.netRows = nets, rowsOf(networkRows(nets, st))
	}
	st.netRows = cache.netRows
	f.containers = st.containers + len(st.waiting)
	st.header = headerOf(b, th, f)
	return st
}

// refreshNode formats a node that changed (old is what the last build
// made of it, or nil): its row, and the rows of those of its containers
// that changed.
func refreshNode(old *nodeRows, n *model.Node, o model.Overcommit, waiting int) *nodeRows {
	e := &nodeRows{node: n, waiting: waiting, row: nodeRow(n, o, waiting), cs: n.Containers, down: n.Health != model.Healthy}
	e.usedCPU, e.usedMem = n.Reserved()
	if old != nil && old.down == e.down && old.node.Name == n.Name && slices.Equal(old.node.Containers, n.Containers) {
		e.cs, e.ctrs = old.cs, old.ctrs // a refresh that changed no container
	} else {
		var before map[*model.Container]row
		if old != nil && old.down == e.down && old.node.Name == n.Name {
			before = make(map[*model.Container]row, len(old.cs))
			for i, c := range old.cs {
				before[c] = old.ctrs[i]
			}
		}
		e.cs = naturalOrder(n.Containers)
		e.ctrs = make([]row, len(e.cs))
		for i, c := range e.cs {
			r, ok := before[c]
			if !ok {
				r = containerRow(c, n)
			}
			e.ctrs[i] = r
		}
	}
	if !e.down {
		for _, c := range n.Containers {
			if c.State == model.Running {
				e.running++
			}
		}
	}
	return e
}

// naturalOrder is a node's containers in the natural order of their
// names (app-1-2 before app-1-10; the manager keeps them in plain string
// order), the containers view's order before any o: cs itself when they
// are, else a sorted copy.
func naturalOrder(cs []*model.Container) []*model.Container {
	byName := func(a, b *model.Container) int { return naturalCompare(a.Name, b.Name) }
	if slices.IsSortedFunc(cs, byName) {
		return cs
	}
	return slices.SortedStableFunc(slices.Values(cs), byName)
}

// naturalCompare compares names in natural order (node-2 before node-10).
func naturalCompare(a, b string) int {
	switch {
	case model.NaturalLess(a, b):
		return -1
	case model.NaturalLess(b, a):
		return 1
	}
	return strings.Compare(a, b)
}

// byName sorts rows in the natural order of their first cell (the
// containers view's NODE/NAME), stably.
func byName(rows []row) []row {
	slices.SortStableFunc(rows, func(a, b row) int { return naturalCompare(a.cell(0).text, b.cell(0).text) })
	return rows
}

// sameRows reports whether two nodes' container rows are the same slice.
func sameRows(a, b *nodeRows) bool {
	return a != nil && b != nil && len(a.ctrs) == len(b.ctrs) && (len(a.ctrs) == 0 || &a.ctrs[0] == &b.ctrs[0])
}

func sameQueued(a, b []backend.Queued) bool {
	return slices.EqualFunc(a, b, func(x, y backend.Queued) bool {
		return x.Container == y.Container && x.From == y.From && x.FromAddr == y.FromAddr && x.Since.Equal(y.Since) && x.Reason == y.Reason
	})
}

// sameNetworks reports whether two lists of networks say the same: the
// same slice (the manager answers the one it keeps while nothing
// changed), or equal.
func sameNetworks(a, b []model.Network) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0] || slices.EqualFunc(a, b, model.Network.Equal))
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
	slices.SortFunc(order, naturalCompare) // net-2 before net-10
	nodeName := func(nw model.Network) string {
		if n := st.byAddr[nw.Node]; n != nil {
			return n.Name
		}
		return nw.Node
	}
	var rows []row
	for _, k := range order {
		g := groups[k].nets
		slices.SortStableFunc(g, func(a, b model.Network) int { return naturalCompare(nodeName(a), nodeName(b)) })
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
			rows = append(rows, networkRow(nw, nodeName(nw), false))
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
	pending                                                        int // nodes not connected yet
	usedCPU, totCPU, rawCPU                                        model.MilliCPU
	usedMem, totMem, rawMem                                        int64
	overcommit                                                     model.Overcommit
}

// maxShortURL is the most of the discovery URL the header's short form
// shows.
const maxShortURL = 40

func headerOf(b Backend, th theme, f figures) header {
	src := b.Source()
	title := fmt.Sprintf("%sswarmdeck%s  %s", th.tag(th.title), th.reset(), tview.Escape(src.URL))
	// A long discovery URL (nodes://a,b,c…) would take the first line
	// alone and push the capacity note off an 80-column header: its short
	// form is cut.
	cut := title
	if u := []rune(src.URL); len(u) > maxShortURL {
		cut = fmt.Sprintf("%sswarmdeck%s  %s…", th.tag(th.title), th.reset(), tview.Escape(string(u[:maxShortURL-1])))
	}
	g1 := []headerSeg{{title, cut}}
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
	nodes := headerSeg{fmt.Sprintf("Nodes: %s%d/%d healthy%s", c, f.healthy, f.nodes, r), fmt.Sprintf("Nodes %s%d/%d%s", c, f.healthy, f.nodes, r)}
	switch {
	case f.nodes == 0:
		nodes = headerSeg{"Nodes: none listed yet", "Nodes: none yet"}
	case f.pending > 0: // still connecting, not failed: at start, 10,000 nodes take a while
		nodes.long += fmt.Sprintf(", %d connecting", f.pending)
		nodes.short += fmt.Sprintf(" (%d conn.)", f.pending)
	}
	g3 := []headerSeg{
		nodes,
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
