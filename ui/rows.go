package ui

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// Row formatting is pure: model values in, cell texts out. The tables
// and their tests use these; none touches a terminal.

// level says how a cell should be coloured.
type level int

const (
	levelNormal level = iota
	levelOK
	levelWarn
	levelBad
	levelDim
	levelInfo
)

// cell is one formatted table cell. A cell with a time shows how long
// ago it was, formatted when drawn, so rows do not go stale; to the
// minute when coarse. A cell with a bar shows it before its figures when
// the table has room. key, when set, is what sorting compares instead of
// the text made to sort naturally (a figure, a time).
type cell struct {
	text   string
	bar    string
	level  level
	at     time.Time
	coarse bool
	key    string
}

// display is the cell's text at now.
func (c cell) display(now time.Time) string {
	switch {
	case c.at.IsZero():
		return c.text
	case c.coarse && now.Sub(c.at) < time.Minute:
		return "<1m"
	}
	return ago(c.at, now)
}

// withBar is the cell's text with its bar, if it has one.
func (c cell) withBar(now time.Time) string {
	if c.bar != "" {
		return c.bar + " " + c.text
	}
	return c.display(now)
}

// sortKey is what sorting compares for the cell.
func (c cell) sortKey() string {
	if c.key != "" {
		return c.key
	}
	return naturalKey(c.text)
}

// row is one table row: its key (to keep the selection across updates)
// and its cells. A container's row keeps only the container, its node's
// name and whether the node is down: its cells are formatted when they
// are drawn (a screenful) or when a filter or a sort reads them (off the
// UI goroutine), so 300,000 containers do not keep 300,000 rows of cells,
// sort keys and filter text. Every other row keeps its cells.
type row struct {
	key   string
	fixed *fixedRow
	ctr   *model.Container
	node  string // the container's node
	down  bool   // its node is not healthy: Host Down
}

// fixedRow is a row's formatted cells, and more to show in its details
// (a network's containers).
type fixedRow struct {
	cells  []cell
	detail []string
}

func newRow(key string, cells []cell) row {
	return row{key: key, fixed: &fixedRow{cells: cells}}
}

// cells is the row's cells, formatted now for a container's row.
func (r *row) cells() []cell {
	if r.fixed != nil {
		return r.fixed.cells
	}
	return r.appendCells(make([]cell, 0, len(containerColumns)))
}

// appendCells appends the row's cells to dst: a filter reuses dst from
// row to row.
func (r *row) appendCells(dst []cell) []cell {
	if r.fixed != nil {
		return append(dst, r.fixed.cells...)
	}
	for i := range containerColumns {
		dst = append(dst, containerCell(r.ctr, r.node, r.down, i))
	}
	return dst
}

// cell is the row's cell in column i.
func (r *row) cell(i int) cell {
	if r.fixed != nil {
		return r.fixed.cells[i]
	}
	return containerCell(r.ctr, r.node, r.down, i)
}

// sortKey is what sorting by column i compares.
func (r *row) sortKey(i int) string {
	if r.fixed != nil {
		return r.fixed.cells[i].sortKey()
	}
	switch i {
	case 3:
		return numKey(int64(r.ctr.CPUs))
	case 4:
		return numKey(r.ctr.Memory)
	case 8:
		return ageKey(r.ctr.Created)
	}
	return naturalKey(r.cell(i).text)
}

// detail is more to show in the row's details: a network's containers.
func (r *row) detail() []string {
	if r.fixed != nil {
		return r.fixed.detail
	}
	return nil
}

// bar draws a usage bar of width w: "[████░░░░]".
func bar(used, total int64, w int) string {
	if total <= 0 {
		return strings.Repeat("░", w)
	}
	n := int(used * int64(w) / total)
	n = max(0, min(n, w))
	if used > 0 && n == 0 {
		n = 1
	}
	return strings.Repeat("█", n) + strings.Repeat("░", w-n)
}

// usageLevel colours a usage: warn from 80%, bad from 95%.
func usageLevel(used, total int64) level {
	switch {
	case total <= 0:
		return levelNormal
	case used*100 >= total*95:
		return levelBad
	case used*100 >= total*80:
		return levelWarn
	}
	return levelNormal
}

var nodeColumns = []string{"NAME", "ADDRESS", "STATUS", "CONTAINERS", "CPUS", "MEMORY", "LABELS", "VERSION", "UPDATED"}

// nodeRow formats a node: status with failures and the last error,
// running/total containers (those waiting to move off it included; none
// runs while the node is down), reserved CPUs and memory as used/total
// with a bar, labels, engine version, and how long ago it was last
// refreshed, to the minute: a healthy engine is refreshed every 30–60 s,
// so in seconds every node's age moved every second and an idle console
// redrew the nodes view every second for it.
func nodeRow(n *model.Node, o model.Overcommit, waiting int) row {
	status := cell{text: n.Health.String(), level: levelOK}
	switch n.Health {
	case model.Unhealthy, model.Disconnected:
		status.level = levelBad
	case model.Pending:
		status.level = levelWarn
	}
	if n.Failures > 0 {
		status.text += fmt.Sprintf(" (%d failures)", n.Failures)
		if status.level == levelOK {
			status.level = levelWarn
		}
	}
	if n.Availability != model.Active {
		// First, so a narrow STATUS column cut still says it.
		status.text = n.Availability.Doing() + " · " + status.text
		if status.level == levelOK {
			status.level = levelWarn
		}
	}
	if n.Error != "" {
		status.text += ": " + n.Error
	}
	if n.Warning != "" {
		status.text += " ⚠ " + n.Warning
	}
	k := model.CountContainers(n.Containers)
	if n.Health != model.Healthy {
		k.Running = 0 // Host Down
	}
	count := cell{text: fmt.Sprintf("%d/%d", k.Running, k.Total+waiting)}
	if waiting > 0 {
		count = cell{text: fmt.Sprintf("%d/%d, %d waiting", k.Running, k.Total+waiting, waiting), level: levelWarn}
	}
	usedCPU, usedMem := n.Reserved()
	totCPU, totMem := n.TotalCPUs(o), n.TotalMemory(o)
	cpu := fmt.Sprintf("%s / %s", usedCPU, totCPU)
	mem := fmt.Sprintf("%s / %s", model.FormatBytes(usedMem), model.FormatBytes(totMem))
	count.key = fmt.Sprintf("%09d", k.Total+waiting)
	return newRow(n.Addr, []cell{
		{text: n.Name}, {text: n.Addr, level: levelDim}, status,
		count,
		{text: cpu, bar: bar(int64(usedCPU), int64(totCPU), 8), level: usageLevel(int64(usedCPU), int64(totCPU)), key: numKey(int64(usedCPU))},
		{text: mem, bar: bar(usedMem, totMem, 8), level: usageLevel(usedMem, totMem), key: numKey(usedMem)},
		{text: labelText(n.Labels, true), level: levelDim},
		{text: n.Version, level: levelDim},
		{text: "-", at: n.Updated, coarse: true, level: levelDim, key: ageKey(n.Updated)},
	})
}

// numKey sorts a figure that is not negative.
func numKey(n int64) string { return fmt.Sprintf("%018d", n) }

// labelText prints labels sorted as k=v; builtins leaves out Docker's
// built-in labels, which say little in a table.
func labelText(labels map[string]string, skipBuiltins bool) string {
	var parts []string
	for k, v := range labels {
		switch k {
		case model.LabelStorageDriver, model.LabelKernelVersion, model.LabelOperatingSystem, model.LabelOSType:
			if skipBuiltins {
				continue
			}
		}
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

var containerColumns = []string{"NODE/NAME", "IMAGE", "STATE", "CPUS", "MEMORY", "RULES", "RESCHEDULE", "PORTS", "AGE"}

// containerRow is the row of a container of node n (nil: of no node):
// the container and what its cells need of its node, formatted when
// drawn, filtered or sorted.
func containerRow(c *model.Container, n *model.Node) row {
	r := row{key: c.ID, ctr: c}
	if c.ID == "" {
		r.key = "pending/" + c.SwarmID
	}
	if n != nil {
		r.node, r.down = n.Name, n.Health != model.Healthy
	}
	return r
}

// containerCell formats column col of a container's row (containerColumns):
// Host Down when its node is down, the placement rules it was created
// with, its policy and ports.
func containerCell(c *model.Container, node string, down bool, col int) cell {
	switch col {
	case 0:
		name := c.Name
		if name == "" {
			name = model.ShortID(c.ID)
		}
		return cell{text: node + "/" + name}
	case 1:
		return cell{text: c.Image, level: levelDim}
	case 2:
		state := cell{text: c.State.String(), level: levelNormal}
		switch {
		case down:
			state = cell{text: "Host Down", level: levelBad}
		case c.ID == "":
			state = cell{text: "creating", level: levelInfo}
		case c.State == model.Running:
			state.level = levelOK
		case c.State == model.Exited:
			state.level = levelDim
		case c.State == model.Paused:
			state.level = levelWarn
		}
		return state
	case 3:
		cpus := "-"
		if c.CPUs > 0 {
			cpus = figureText(figureKey{v: int64(c.CPUs)})
		}
		return cell{text: cpus}
	case 4:
		mem := "-"
		if c.Memory > 0 {
			mem = figureText(figureKey{mem: true, v: c.Memory})
		}
		return cell{text: mem}
	case 5:
		if len(c.Constraints()) == 0 && len(c.Affinities()) == 0 {
			return cell{level: levelInfo}
		}
		rules := append(append([]string{}, c.Constraints()...), affinityText(c.Affinities())...)
		return cell{text: strings.Join(rules, " "), level: levelInfo}
	case 6:
		if len(c.Reschedule()) == 0 {
			return cell{text: "off", level: levelDim}
		}
		return cell{text: strings.Join(c.Reschedule(), ","), level: levelOK}
	case 7:
		ports := make([]string, len(c.Ports))
		for i, p := range c.Ports {
			ports[i] = p.String()
		}
		return cell{text: strings.Join(ports, " "), level: levelDim}
	case 8:
		return cell{text: "-", at: c.Created, level: levelDim}
	}
	return cell{}
}

// figureTexts keeps the text of CPU and memory figures: a cluster has
// few distinct ones, and a filter formats them for every container (at
// 10,000 nodes, FormatBytes was a fifth of a filter's CPU). It keeps at
// most maxFigures.
var figureTexts struct {
	sync.Map // figureKey → string
	n        atomic.Int32
}

const maxFigures = 4096

// figureKey is a CPU figure in millicores, or a memory figure in bytes.
type figureKey struct {
	mem bool
	v   int64
}

// figureText is the text of a figure: model.FormatBytes or MilliCPU's.
func figureText(k figureKey) string {
	if t, ok := figureTexts.Load(k); ok {
		return t.(string)
	}
	var t string
	if k.mem {
		t = model.FormatBytes(k.v)
	} else {
		t = model.MilliCPU(k.v).String()
	}
	if figureTexts.n.Load() < maxFigures {
		if _, loaded := figureTexts.LoadOrStore(k, t); !loaded {
			figureTexts.n.Add(1)
		}
	}
	return t
}

// ageKey sorts by age, youngest first: the later the time, the smaller
// the key (a negative number does not sort as text).
func ageKey(t time.Time) string {
	return fmt.Sprintf("%020d", math.MaxInt64-t.UnixNano())
}

// stateWaiting is the state of a container waiting to be rescheduled.
const stateWaiting = "waiting"

// waitingRow formats a container waiting to be rescheduled off a failed
// node: it keeps its row, under that node, with why it is not placed yet.
func waitingRow(q backend.Queued) row {
	r := containerRow(q.Container, nil)
	cells := r.cells()
	state := stateWaiting
	if q.Reason != "" {
		state += ": " + q.Reason
	}
	for _, i := range []int{3, 4, 8} {
		cells[i].key = r.sortKey(i)
	}
	cells[0].text = q.From + cells[0].text
	cells[2] = cell{text: state, level: levelWarn}
	return newRow(waitingKey(q.Container), cells)
}

// waitingKey is the row key of a waiting container.
func waitingKey(c *model.Container) string { return "waiting/" + c.SwarmID + "/" + c.ID }

func affinityText(as []string) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = "affinity:" + a
	}
	return out
}

var networkColumns = []string{"NODE/NAME", "DRIVER", "SCOPE", "SUBNET", "CONTAINERS"}

// networkRow formats a network; shared is set for a network every node
// has (shown by name alone).
func networkRow(nw model.Network, nodeName string, shared bool) row {
	name := nodeName + "/" + nw.Name
	if shared {
		name = nw.Name
	}
	r := newRow(nw.Node+"/"+nw.ID, []cell{
		{text: name}, {text: nw.Driver, level: levelDim}, {text: nw.Scope, level: levelDim},
		{text: nw.Subnet, level: levelDim}, {text: fmt.Sprint(len(nw.Containers))},
	})
	r.fixed.detail = nw.Containers
	return r
}

var eventColumns = []string{"TIME", "KIND", "NODE", "CONTAINER", "MESSAGE"}

// eventRow formats an event, coloured by kind: failures red, reschedules
// accent, engine changes by what happened.
func eventRow(e model.Event, seq int) row {
	lv := levelNormal
	switch e.Kind {
	case model.EventFailure:
		lv = levelBad
	case model.EventReschedule:
		lv = levelInfo
	case model.EventPlaced:
		lv = levelOK
	case model.EventImage:
		if e.Action == "pull_failed" {
			lv = levelBad
		}
	case model.EventEngine:
		lv = levelWarn
		if e.Action == "engine_connect" || e.Action == "engine_reconnect" {
			lv = levelOK
		}
		if e.Action == "engine_disconnect" {
			lv = levelBad
		}
	}
	msg := e.Message
	if e.Duration > 0 && !strings.Contains(msg, e.Duration.String()) {
		msg += " (" + e.Duration.String() + ")"
	}
	r := newRow(fmt.Sprint(seq), []cell{
		{text: e.Time.Format("15:04:05.000"), level: levelDim, key: fmt.Sprintf("%020d", e.Time.UnixNano())}, {text: e.Kind.String(), level: lv},
		{text: e.Node}, {text: e.Container}, {text: cutWords(msg), level: lv},
	})
	if r.fixed.cells[4].text != msg {
		r.fixed.detail = []string{msg} // in full in its details: a long name is cut in the table
	}
	return r
}

// ago prints a duration the way ps does: 5s, 3m, 2h, 4d.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// rowSet is a view's rows in segments (a node's containers each), so a
// change to one node's containers makes a new list of segments, not a
// copy of every row (300,000 rows of 56 bytes, up to ten times a second
// during a launch at 10,000 nodes). It is immutable once made.
type rowSet struct {
	segs  [][]row
	start []int // start[k] is the index of segs[k][0]; the last is the count
}

// rowsOf is rows as one segment.
func rowsOf(rows []row) *rowSet { return segments([][]row{rows}) }

// segments is a set of segs, in order; empty ones are left out.
func segments(segs [][]row) *rowSet {
	s := &rowSet{segs: make([][]row, 0, len(segs)), start: make([]int, 1, len(segs)+1)}
	n := 0
	for _, sg := range segs {
		if len(sg) > 0 {
			n += len(sg)
			s.segs = append(s.segs, sg)
			s.start = append(s.start, n)
		}
	}
	return s
}

// len is the number of rows.
func (s *rowSet) len() int {
	if s == nil {
		return 0
	}
	return s.start[len(s.start)-1]
}

// at is row i.
func (s *rowSet) at(i int) *row {
	k := sort.Search(len(s.segs), func(k int) bool { return s.start[k+1] > i })
	return &s.segs[k][i-s.start[k]]
}

// index is the index of the row with key, or -1.
func (s *rowSet) index(key string) int {
	if s == nil {
		return -1
	}
	for k, sg := range s.segs {
		for j := range sg {
			if sg[j].key == key {
				return s.start[k] + j
			}
		}
	}
	return -1
}

// same reports whether two sets hold the same rows: the same set, or one
// segment each, the same one (the events view's, grown or not).
func (s *rowSet) same(o *rowSet) bool {
	if s == o {
		return true
	}
	if s == nil || o == nil || len(s.segs) != 1 || len(o.segs) != 1 {
		return false
	}
	a, b := s.segs[0], o.segs[0]
	return len(a) == len(b) && &a[0] == &b[0]
}
