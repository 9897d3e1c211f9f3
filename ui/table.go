package ui

import (
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
	f := strings.ToLower(c.filter)
	for i := range c.rows {
		if f == "" || strings.Contains(c.rows[i].text, f) {
			c.view = append(c.view, i)
		}
	}
	if c.sortCol >= 0 {
		slices.SortStableFunc(c.view, func(a, b int) int {
			x := strings.Compare(c.rows[a].sort[c.sortCol], c.rows[b].sort[c.sortCol])
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
