package ui

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// content is a virtual table: the rows of the current state, filtered
// and sorted. tview asks it only for the cells it draws. It is owned by
// the UI goroutine.
type content struct {
	tview.TableContentReadOnly
	columns []string
	rows    []row // as the state gave them
	view    []int // indexes into rows: filtered, then sorted
	filter  string
	sortCol int
	desc    bool
	th      theme
}

func newContent(columns []string, th theme) *content {
	return &content{columns: columns, sortCol: -1, th: th}
}

// set installs new rows and reapplies the filter and the sort.
func (c *content) set(rows []row) {
	c.rows = rows
	c.apply()
}

func (c *content) apply() {
	c.view = c.view[:0]
	m := compileFilter(c.filter, c.columns)
	for i := range c.rows {
		if m.match(&c.rows[i]) {
			c.view = append(c.view, i)
		}
	}
	if c.sortCol >= 0 {
		slices.SortStableFunc(c.view, func(a, b int) int {
			x := naturalCompare(c.rows[a].sort[c.sortCol], c.rows[b].sort[c.sortCol])
			if c.desc {
				return -x
			}
			return x
		})
	}
}

// GetRowCount implements tview.TableContent: a header row and the rows.
func (c *content) GetRowCount() int { return len(c.view) + 1 }

// GetColumnCount implements tview.TableContent.
func (c *content) GetColumnCount() int { return len(c.columns) }

// GetCell implements tview.TableContent.
func (c *content) GetCell(r, col int) *tview.TableCell {
	if col >= len(c.columns) {
		return nil
	}
	if r == 0 {
		name := c.columns[col]
		if col == c.sortCol {
			name += map[bool]string{false: "↑", true: "↓"}[c.desc]
		}
		return tview.NewTableCell(name).SetTextColor(c.th.header).SetSelectable(false).
			SetAttributes(tcell.AttrBold).SetExpansion(expansion(c.columns[col]))
	}
	if r-1 >= len(c.view) {
		return nil
	}
	cl := c.rows[c.view[r-1]].cells[col]
	tc := tview.NewTableCell(tview.Escape(cl.display(time.Now()))).SetMaxWidth(maxWidth(c.columns[col])).SetExpansion(expansion(c.columns[col]))
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
	}
	return 0
}

func expansion(column string) int {
	if column == "MESSAGE" || column == "LABELS" || column == "RULES" {
		return 1
	}
	return 0
}

// key returns the key of the row shown at table row r (1-based), or "".
func (c *content) key(r int) string {
	if r < 1 || r-1 >= len(c.view) {
		return ""
	}
	return c.rows[c.view[r-1]].key
}

// find returns the table row showing key, or 0.
func (c *content) find(key string) int {
	for i, idx := range c.view {
		if c.rows[idx].key == key {
			return i + 1
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
// or a regular expression (case-insensitive either way); "!" in front
// keeps the rows that do not match; "column:" in front (STATE:waiting)
// looks in that column only.
type filterMatch struct {
	empty bool
	not   bool
	col   int // -1: the whole row
	text  string
	re    *regexp.Regexp
}

func compileFilter(f string, columns []string) filterMatch {
	m := filterMatch{col: -1}
	if f == "" {
		m.empty = true
		return m
	}
	if rest, ok := strings.CutPrefix(f, "!"); ok {
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
		}
	}
	return m
}

func (m *filterMatch) match(r *row) bool {
	if m.empty {
		return true
	}
	var ok bool
	switch {
	case m.col >= 0 && m.re != nil:
		ok = m.re.MatchString(r.cells[m.col].text)
	case m.col >= 0:
		ok = strings.Contains(strings.ToLower(r.cells[m.col].text), m.text)
	case m.re != nil:
		ok = m.re.MatchString(r.text)
	default:
		ok = strings.Contains(r.text, m.text)
	}
	return ok != m.not
}

// naturalCompare orders text as people read it: runs of digits compare
// as numbers, so node-2 comes before node-10.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) - len(nb)
			}
			if x := strings.Compare(na, nb); x != 0 {
				return x
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
