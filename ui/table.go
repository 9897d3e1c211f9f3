package ui

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// content is a virtual table: the rows of the current state, filtered
// and sorted. tview asks it only for the cells it draws. It is owned by
// the UI goroutine.
type content struct {
	tview.TableContentReadOnly
	columns []string
	rows    *rowSet // as the state gave them
	view    []int   // indexes into rows: filtered, then sorted
	filter  string
	marked  map[string]bool // row keys marked for a bulk action
	sortCol int
	desc    bool
	th      theme

	// published is the filter and sort as the UI last set them, for the
	// goroutine that prepares rows in their order; selected is the key
	// of the selected row, so that it finds where that row lands.
	published atomic.Pointer[arrangement]
	selected  atomic.Pointer[string]

	drawnShows uint64 // what the table showed at its last draw (see shows)

	memo arrangeMemo // the refresher's last arrangement (prepare), to sort again only what changed

	// drawing is the cells of the container rows laid out by the last fit:
	// a row formats the same cells for as long as it lives, so the draw
	// that follows reads them here instead of formatting each again.
	drawing map[*row][]cell

	// wake asks the refresher to arrange the rows again (nil: arrange on
	// the UI goroutine). pending says the filter or sort shown is not yet
	// the one asked for.
	wake    func()
	pending bool

	// The layout for the screen's width, set by fit before each draw:
	vis  []int // the columns shown, in order (nil: all)
	caps []int // per column, the most it may take (0: no cap)
	bars bool  // usage bars shown
}

func newContent(columns []string, th theme) *content {
	return &content{columns: columns, rows: rowsOf(nil), sortCol: -1, th: th, bars: true, marked: map[string]bool{}}
}

// colSpec says how a column gives way on a narrow screen: shrink orders
// the columns that get narrower (1 first; 0 never), down to min; hide
// orders the ones left out when that is not enough (1 first; 0 never).
// Names, CPU and memory figures, counts and ages neither shrink nor go.
type colSpec struct{ shrink, min, hide int }

var colSpecs = map[string]colSpec{
	"STATUS": {1, 12, 0}, "STATE": {1, 9, 0}, "MESSAGE": {1, 24, 0},
	"LABELS": {2, 10, 3}, "RULES": {2, 10, 3}, "SUBNET": {2, 8, 1},
	"PORTS": {3, 10, 2}, "CONTAINER": {3, 8, 2},
	"ADDRESS": {4, 21, 4}, "IMAGE": {4, 10, 4}, "NODE": {4, 6, 3},
	"VERSION": {0, 0, 1}, "RESCHEDULE": {5, 6, 1}, "SCOPE": {0, 0, 2}, "UPDATED": {0, 0, 2},
	"NODE/NAME": {6, 14, 0}, "NAME": {6, 8, 0},
}

// fit lays the columns out for width screen columns from the rows that
// are drawn (first to last). It takes the first layout that fits: every
// column with the usage bars, the first-shrinking columns (STATUS) made
// narrower; then without the bars, any shrinking column narrower; then
// with columns left out in their order. Within it, columns shrink in
// their order only as much as needed. It runs before each draw: on the
// UI goroutine, over the visible rows only.
func (c *content) fit(width, first, last int) {
	now := time.Now()
	n := len(c.columns)
	nat := make([]int, n)
	barW, hasBar := 0, make([]bool, n)
	for i, name := range c.columns {
		nat[i] = tview.TaggedStringWidth(name)
		if i == c.sortCol {
			nat[i]++ // the sort arrow
		}
	}
	clear(c.drawing)
	if c.drawing == nil {
		c.drawing = map[*row][]cell{}
	}
	for r := max(first, 0); r < min(last, len(c.view)); r++ {
		row := c.rows.at(c.view[r])
		cells := row.cells()
		if row.fixed == nil {
			c.drawing[row] = cells
		}
		for i, cl := range cells {
			w := len([]rune(cl.display(now)))
			if m := maxWidth(c.columns[i]); m > 0 {
				w = min(w, m)
			}
			if i == 0 && c.marked[row.key] {
				w += 2 // "✓ ": the last column would be pushed off
			}
			nat[i] = max(nat[i], w)
			if cl.bar != "" {
				barW, hasBar[i] = max(barW, len([]rune(cl.bar))+1), true
			}
		}
	}
	// need is the width of the columns in vis, with bars or not, shrunk
	// down to their minimum up to shrink rank maxRank.
	need := func(vis []int, bars bool, maxRank int) int {
		t := len(vis) - 1 // one space between columns
		for _, i := range vis {
			w := nat[i]
			if sp := colSpecs[c.columns[i]]; sp.shrink > 0 && sp.shrink <= maxRank {
				w = min(w, sp.min)
			}
			if bars && hasBar[i] {
				w += barW
			}
			t += w
		}
		return t
	}
	vis := make([]int, 0, n)
	for i := range c.columns {
		vis = append(vis, i)
	}
	bars := need(vis, true, 1) <= width
	for rank := 1; rank <= 4 && !bars && need(vis, false, 9) > width; rank++ {
		vis = slices.DeleteFunc(vis, func(i int) bool { return colSpecs[c.columns[i]].hide == rank })
	}
	// Columns go by whole ranks: give the room left back to those left
	// out, the last to go first, each that fits shrunk to its minimum.
	if len(vis) < n && !bars {
		for rank := 4; rank >= 1; rank-- {
			for i := range c.columns {
				if colSpecs[c.columns[i]].hide != rank || slices.Contains(vis, i) {
					continue
				}
				with := append(slices.Clone(vis), i)
				slices.Sort(with)
				if need(with, false, 9) <= width {
					vis = with
				}
			}
		}
	}
	caps := make([]int, n)
	total := need(vis, bars, 0)
	for rank := 1; rank <= 9 && total > width; rank++ {
		for _, i := range vis {
			if sp := colSpecs[c.columns[i]]; sp.shrink == rank && nat[i] > sp.min && total > width {
				caps[i] = max(sp.min, nat[i]-(total-width))
				total -= nat[i] - caps[i]
			}
		}
	}
	if len(vis) == n {
		vis = nil
	}
	c.vis, c.caps, c.bars = vis, caps, bars
}

// arrangement is a view's filter and sort.
type arrangement struct {
	filter  string
	sortCol int
	desc    bool
}

// arranged is rows put in the order an arrangement shows them, off the
// UI goroutine.
type arranged struct {
	ar   arrangement
	rows *rowSet
	view []int
	// sel is the key of the row selected when it was prepared, and selAt
	// where view shows it (1-based; 0: not shown).
	sel   string
	selAt int
}

// arrange filters and sorts rows: the indexes of the rows shown, in
// order. It is pure. A container's row is formatted here for the filter
// and the sorted column only, and nothing of it is kept.
func arrange(rows *rowSet, columns []string, ar arrangement) []int {
	return arrangeAgain(rows, columns, ar, nil)
}

// arrangeMemo is what the last arrangement of a view found, by row
// index: each formatted row (a node, a network, an event), whether the
// filter kept it and its sort key; the rows it kept and the order it
// made. The refresher keeps one per view.
type arrangeMemo struct {
	ar      arrangement
	fixed   []*fixedRow
	keep    []bool
	keys    []string
	matched []int // before the sort
	view    []int
}

// arrangeAgain is arrange, reading what m found for the rows that are
// the same at the same index, and giving m's order back when the kept
// rows and their keys are the same: after an o on the nodes view of
// 10,000 nodes, the engines' refreshes (hundreds of new node rows a
// second, UPDATED moving) re-sorted every row every second, 2 % of a
// core of an idle console. m (nil: none) is updated.
func arrangeAgain(rows *rowSet, columns []string, ar arrangement, m *arrangeMemo) []int {
	if ar.filter == "" && ar.sortCol < 0 {
		return identity(rows.len())
	}
	n := rows.len()
	if m != nil && n > 0 && rows.at(0).fixed == nil {
		*m, m = arrangeMemo{}, nil // containers' rows: nothing to read again (their cells are formatted as read), and 300,000 keys to keep
	}
	var last arrangeMemo
	if m != nil {
		if m.ar == ar && len(m.fixed) == n {
			last = *m
		}
		*m = arrangeMemo{ar: ar, fixed: make([]*fixedRow, n), keep: make([]bool, n)}
	}
	reuse := func(i int, r *row) bool { return r.fixed != nil && last.fixed != nil && last.fixed[i] == r.fixed }
	view := make([]int, 0, n)
	f := compileFilter(ar.filter, columns)
	var scratch matchScratch
	for k, sg := range rows.segs {
		for j := range sg {
			i, r := rows.start[k]+j, &sg[j]
			var keep bool
			if reuse(i, r) {
				keep = last.keep[i]
			} else {
				keep = f.match(r, &scratch)
			}
			if m != nil {
				m.fixed[i], m.keep[i] = r.fixed, keep
			}
			if keep {
				view = append(view, i)
			}
		}
	}
	if ar.sortCol < 0 {
		return view
	}
	keys := make([]string, n)
	same := last.fixed != nil && slices.Equal(view, last.matched)
	for _, i := range view {
		r := rows.at(i)
		if reuse(i, r) {
			keys[i] = last.keys[i]
		} else {
			keys[i] = r.sortKey(ar.sortCol)
			same = same && keys[i] == last.keys[i]
		}
	}
	if m != nil {
		m.keys, m.matched = keys, slices.Clone(view)
	}
	if same {
		if m != nil {
			m.view = last.view
		}
		return last.view // the same rows sort the same: views are never changed once made
	}
	slices.SortStableFunc(view, func(a, b int) int {
		x := strings.Compare(keys[a], keys[b])
		if ar.desc {
			return -x
		}
		return x
	})
	if m != nil {
		m.view = view
	}
	return view
}

// identities is 0, 1, 2…, shared by every view shown unfiltered and
// unsorted (never changed: a longer one replaces it).
var identities struct {
	sync.Mutex
	ints []int
}

// identity is the view of n rows as they come.
func identity(n int) []int {
	identities.Lock()
	defer identities.Unlock()
	if len(identities.ints) < n {
		identities.ints = make([]int, n+n/4)
		for i := range identities.ints {
			identities.ints[i] = i
		}
	}
	return identities.ints[:n:n]
}

// prepare arranges rows as the view was last arranged; it runs off the
// UI goroutine.
func (c *content) prepare(rows *rowSet) arranged {
	ar := c.publishedArrangement()
	p := arranged{ar: ar, rows: rows, view: arrangeAgain(rows, c.columns, ar, &c.memo)}
	if k := c.selected.Load(); k != nil {
		p.sel, p.selAt = *k, findIn(rows, p.view, *k)
	}
	return p
}

// publishedArrangement is the filter and sort the UI last set.
func (c *content) publishedArrangement() arrangement {
	if p := c.published.Load(); p != nil {
		return *p
	}
	return arrangement{sortCol: -1}
}

// showsSeed hashes what tables show.
var showsSeed = maphash.MakeSeed()

// shows is a hash of what the table shows with rows first to last on
// screen, the row sel selected and title on its border, at now: each
// cell's text as drawn (ages included) and colour, the marks, the sort
// arrow. Two draws that show the same have the same hash, so a rebuild
// whose rows read as the drawn ones draws nothing. It reads a screenful
// of rows.
func (c *content) shows(first, last, sel int, title string, now time.Time) uint64 {
	var h maphash.Hash
	h.SetSeed(showsSeed)
	h.WriteString(title)
	for _, n := range []int{first, sel, c.sortCol, len(c.view)} {
		maphash.WriteComparable(&h, n)
	}
	maphash.WriteComparable(&h, c.desc)
	for r := max(first, 0); r < min(last, len(c.view)); r++ {
		row := c.rows.at(c.view[r])
		cells := c.drawing[row]
		if cells == nil {
			cells = row.cells()
		}
		maphash.WriteComparable(&h, c.marked[row.key])
		for _, cl := range cells {
			h.WriteString(cl.withBar(now))
			h.WriteByte(byte(cl.level))
		}
	}
	return h.Sum64()
}

// syncRows is the most rows the UI goroutine filters and sorts itself
// when the operator changes the filter or the sort; more are arranged by
// the refresher, and the view shows the last arrangement meanwhile.
const syncRows = 5000

// set installs new rows and reapplies the filter and the sort.
func (c *content) set(rows *rowSet) {
	c.rows = rows
	c.apply()
}

// swap installs rows arranged off the UI goroutine: a pointer swap. Rows
// arranged for a filter or sort the operator has changed since are
// arranged again here when they are few; many are shown as they are until
// the refresher has arranged them as asked.
//
// It reports whether p's view is the one shown.
func (c *content) swap(p arranged) bool {
	if p.ar == c.arrangement() {
		c.rows, c.view, c.pending = p.rows, p.view, false
		return true
	}
	if c.async(p.rows.len()) {
		c.rows, c.view = p.rows, p.view
		c.pending = true
		c.wake()
		return true
	}
	c.set(p.rows)
	return false
}

// async reports whether n rows are arranged by the refresher.
func (c *content) async(n int) bool { return c.wake != nil && n > syncRows }

func (c *content) arrangement() arrangement {
	return arrangement{filter: c.filter, sortCol: c.sortCol, desc: c.desc}
}

// apply arranges the rows for a new filter or sort (the operator's key)
// and publishes the arrangement for the next prepare: on the UI
// goroutine when the rows are few, else by the refresher, woken for it.
func (c *content) apply() {
	ar := c.arrangement()
	c.published.Store(&ar)
	if c.async(c.rows.len()) {
		c.pending = true
		c.wake()
		return
	}
	c.view, c.pending = arrange(c.rows, c.columns, ar), false
}

// GetRowCount implements tview.TableContent: a header row and the rows.
func (c *content) GetRowCount() int { return len(c.view) + 1 }

// GetColumnCount implements tview.TableContent.
func (c *content) GetColumnCount() int {
	if c.vis != nil {
		return len(c.vis)
	}
	return len(c.columns)
}

// GetCell implements tview.TableContent.
func (c *content) GetCell(r, col int) *tview.TableCell {
	if c.vis != nil {
		if col >= len(c.vis) {
			return nil
		}
		col = c.vis[col]
	}
	if col >= len(c.columns) {
		return nil
	}
	if r == 0 {
		name := c.columns[col]
		if col == c.sortCol {
			name += map[bool]string{false: "↑", true: "↓"}[c.desc]
		}
		hc := tview.NewTableCell(name).SetTextColor(c.th.header).SetSelectable(false).
			SetAttributes(tcell.AttrBold).SetExpansion(expansion(c.columns[col]))
		if c.caps != nil && c.caps[col] > 0 {
			hc.SetMaxWidth(c.caps[col])
		}
		return hc
	}
	if r-1 >= len(c.view) {
		return nil
	}
	row := c.rows.at(c.view[r-1])
	var cl cell
	if cells := c.drawing[row]; cells != nil {
		cl = cells[col]
	} else {
		cl = row.cell(col)
	}
	text := cl.display(time.Now())
	if c.bars {
		text = cl.withBar(time.Now())
	}
	if col == 0 && c.marked[row.key] {
		text = "✓ " + text
	}
	mw := maxWidth(c.columns[col])
	if c.caps != nil && c.caps[col] > 0 {
		mw = c.caps[col]
	}
	if nameColumns[c.columns[col]] && mw > 0 {
		text = cutMiddle(text, mw) // its start and its end: which of node-1…-17 it is
	}
	if strings.IndexByte(text, '[') >= 0 { // tview.Escape is a regexp replace: not for every cell of every frame
		text = tview.Escape(text)
	}
	tc := tview.NewTableCell(text).SetMaxWidth(mw).SetExpansion(expansion(c.columns[col]))
	return tc.SetTextColor(c.color(cl.level))
}

func (c *content) color(l level) tcell.Color {
	switch l {
	case levelOK:
		return c.th.ok
	case levelWarn:
		return c.th.warn
	case levelBad:
		return c.th.bad
	case levelDim:
		return c.th.dim
	case levelInfo:
		return c.th.info
	}
	return c.th.fg
}

// maxWidth keeps long columns from pushing the others off the screen.
func maxWidth(column string) int {
	switch column {
	case "LABELS", "RULES":
		return 50
	case "STATUS":
		return 40
	case "MESSAGE":
		return 120
	case "PORTS":
		return 30
	case "NAME", "NODE", "CONTAINER":
		return maxName
	case "NODE/NAME":
		return 2*maxName + 1
	}
	return 0
}

// nameColumns are the columns of names, cut in their middle.
var nameColumns = map[string]bool{"NAME": true, "NODE": true, "CONTAINER": true, "NODE/NAME": true}

// maxName is the most of a name a table cell or a one-line message shows
// (a cluster file or a discovery can name a node with hundreds of
// characters); the detail pane and the m page show it in full.
const maxName = 40

// cutName is name cut to maxName.
func cutName(name string) string { return cutMiddle(name, maxName) }

// cutMiddle cuts s to w runes, in its middle: the start and the end of a
// name tell it from its neighbours (node-east-…-17, node-east-…-18).
func cutMiddle(s string, w int) string {
	if w < 3 || utf8.RuneCountInString(s) <= w {
		return s
	}
	r := []rune(s)
	head := (w - 1) / 2
	return string(r[:head]) + "…" + string(r[len(r)-(w-1-head):])
}

// cutWords is a one-line message with each word longer than maxName cut
// in its middle.
func cutWords(msg string) string {
	if len(msg) <= maxName {
		return msg
	}
	words := strings.Split(msg, " ")
	for i, w := range words {
		words[i] = cutName(w)
	}
	return strings.Join(words, " ")
}

// expansion is the share of the room left a column takes: a message or
// a node's labels, rarely empty; not RULES, blank on most containers (it
// took a hundred blank columns at 200).
func expansion(column string) int {
	if column == "MESSAGE" || column == "LABELS" {
		return 1
	}
	return 0
}

// key returns the key of the row shown at table row r (1-based), or "".
func (c *content) key(r int) string {
	if r < 1 || r-1 >= len(c.view) {
		return ""
	}
	return c.rows.at(c.view[r-1]).key
}

// find returns the table row showing key, or 0.
func (c *content) find(key string) int { return findIn(c.rows, c.view, key) }

// findIn returns the table row (1-based) where view shows the row of
// rows with key, or 0.
func findIn(rows *rowSet, view []int, key string) int {
	if key == "" {
		return 0
	}
	if len(view) < rows.len()/4 { // few shown: look among them
		for r, idx := range view {
			if rows.at(idx).key == key {
				return r + 1
			}
		}
		return 0
	}
	i := rows.index(key)
	if i < 0 {
		return 0
	}
	if i < len(view) && view[i] == i { // shown as it comes
		return i + 1
	}
	for r, idx := range view {
		if idx == i {
			return r + 1
		}
	}
	return 0
}

// cycleSort sorts by the next column; a second press on the last column
// turns sorting off.
func (c *content) cycleSort() {
	c.sortCol++
	if c.sortCol >= len(c.columns) {
		c.sortCol = -1
	}
	c.apply()
}

func (c *content) reverse() {
	c.desc = !c.desc
	c.apply()
}

// filterMatch is a compiled filter. The filter is text to find in a row,
// or a regular expression (case-insensitive either way) matched against
// each cell, so ^ and $ mean a cell's start and end; "!" in front keeps
// the rows that do not match; "column:" in front (STATE:waiting) looks in
// that column only.
type filterMatch struct {
	empty bool
	not   bool
	col   int // -1: the whole row
	named int // the NODE/NAME column, whose name a regexp also matches alone (^api-1$); -1: none
	text  string
	re    *regexp.Regexp
	err   error // the filter reads as a regexp, and is not a valid one
}

func compileFilter(f string, columns []string) filterMatch {
	m := filterMatch{col: -1, named: slices.Index(columns, "NODE/NAME")}
	if f == "" {
		m.empty = true
		return m
	}
	if rest, ok := strings.CutPrefix(f, "!"); ok {
		if rest == "" { // "!" alone, on the way to "!term": no filter yet
			m.empty = true
			return m
		}
		m.not, f = true, rest
	}
	if name, rest, ok := strings.Cut(f, ":"); ok {
	cols:
		for i, c := range columns {
			for _, part := range strings.Split(c, "/") { // NODE/NAME answers to node: and name:
				if strings.EqualFold(part, name) {
					m.col, f = i, rest
					break cols
				}
			}
		}
	}
	m.text = strings.ToLower(f)
	if strings.ContainsAny(f, `.*+?()[]{}|^$\`) {
		if re, err := regexp.Compile("(?i)" + f); err == nil {
			m.re = re
		} else {
			m.err = regexpError(err)
		}
	}
	return m
}

// regexpError says what is wrong with a regexp, without Go's "error
// parsing regexp" and the (?i) the filter adds.
func regexpError(err error) error {
	var se *syntax.Error
	if errors.As(err, &se) {
		return fmt.Errorf("not a valid regexp: %s: `%s`", se.Code, strings.TrimPrefix(se.Expr, "(?i)"))
	}
	return fmt.Errorf("not a valid regexp: %w", err)
}

// matchScratch is memory a filter reuses from row to row.
type matchScratch struct {
	text  []byte
	cells []cell
}

// cells is r's cells, in memory reused from row to row.
func (sc *matchScratch) rowCells(r *row) []cell {
	if r.fixed != nil {
		return r.fixed.cells
	}
	sc.cells = r.appendCells(sc.cells[:0])
	return sc.cells
}

// match reports whether the filter keeps row r. The row's text is every
// cell joined by a space, lower-case (a regexp ignores case anyway).
func (m *filterMatch) match(r *row, sc *matchScratch) bool {
	if m.empty {
		return true
	}
	var ok bool
	switch {
	case m.col >= 0 && m.re != nil:
		ok = m.matchCell(m.col, r.cell(m.col).text)
	case m.col >= 0:
		ok = strings.Contains(strings.ToLower(r.cell(m.col).text), m.text)
	case m.re != nil: // cell by cell: ^ and $ are a cell's ends
		for i, cl := range sc.rowCells(r) {
			if ok = m.matchCell(i, cl.text); ok {
				break
			}
		}
	default:
		b := sc.text[:0]
		for i, cl := range sc.rowCells(r) {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendLower(b, cl.text)
		}
		sc.text = b
		ok = bytes.Contains(b, []byte(m.text))
	}
	return ok != m.not
}

// matchCell matches the regexp against the text of column i: a cell, or
// in NODE/NAME also the name after its node (so that /^api-[12]$ finds
// eu-2/api-1, and /^eu-2\// still finds eu-2's rows).
func (m *filterMatch) matchCell(i int, text string) bool {
	if m.re.MatchString(text) {
		return true
	}
	if i != m.named {
		return false
	}
	_, name, ok := strings.Cut(text, "/")
	return ok && m.re.MatchString(name)
}

// appendLower appends s lower-cased, as strings.ToLower does.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return append(b, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// naturalKey is text made to sort naturally as a plain string: each run
// of digits is padded to 20 (node-2 → node-00000000000000000002), so
// node-2 comes before node-10. Rows carry it, made off the UI goroutine;
// sorting then compares plain strings.
func naturalKey(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' }) < 0 {
		return s
	}
	var sb strings.Builder
	for s != "" {
		if d := digits(s); d > 0 {
			n := strings.TrimLeft(s[:d], "0")
			if len(n) < 20 {
				sb.WriteString(strings.Repeat("0", 20-len(n)))
			}
			sb.WriteString(n)
			s = s[d:]
			continue
		}
		sb.WriteByte(s[0])
		s = s[1:]
	}
	return sb.String()
}

func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
