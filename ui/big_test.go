package ui

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/gdamore/tcell/v2"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// At 10,000 nodes the containers view has 300,000 rows: a row that kept
// its cells, a sort key per column and its filter text took about 1.5 KiB
// (0.8 GB of the console's 1.9 GB). A container's row now keeps the
// container and what it needs of its node, and making one allocates
// nothing; its cells are formatted when drawn, filtered or sorted.
func TestAContainerRowKeepsOnlyTheContainer(t *testing.T) {
	n := &model.Node{Name: "eu-1", Addr: "10.0.0.1:2375", Health: model.Healthy}
	c := &model.Container{Config: model.Config{Name: "db", Image: "redis", CPUs: model.CPUs(2), Memory: 1 << 30},
		Rules: &model.Rules{Constraints: []string{"zone==eu"}, Reschedule: []string{"on-node-failure"}}, ID: "abc", State: model.Running, Created: time.Now().Add(-3 * time.Minute)}
	n.Containers = []*model.Container{c}
	if size := unsafe.Sizeof(row{}); size > 64 {
		t.Errorf("a row takes %d bytes; want at most 64", size)
	}
	if allocs := testing.AllocsPerRun(100, func() { containerRow(c, n) }); allocs != 0 {
		t.Errorf("a container's row allocates %v times; want none", allocs)
	}
	r := containerRow(c, n)
	var got []string
	for _, cl := range r.cells() {
		got = append(got, cl.display(time.Now()))
	}
	want := []string{"eu-1/db", "redis", "running", "2", "1 GiB", "zone==eu", "on-node-failure", "", "3m"}
	if !slices.Equal(got, want) {
		t.Fatalf("the row's cells %q; want %q", got, want)
	}
}

// manyRows is the containers view's rows of nodes × per containers.
func manyRows(nodes, per int) []row {
	var rows []row
	for i := range nodes {
		n := &model.Node{Name: fmt.Sprintf("node-%d", i+1), Health: model.Healthy}
		for j := range per {
			c := &model.Container{Config: model.Config{Name: fmt.Sprintf("app-%d", j+1), Image: "busybox"}, ID: fmt.Sprintf("%d-%d", i, j), State: model.Running}
			rows = append(rows, containerRow(c, n))
		}
	}
	return rows
}

// A filter or sort over more than syncRows rows is arranged by the
// refresher, not on the UI goroutine (formatting 300,000 rows there took
// the keys' time): the operator's key publishes it and wakes the
// refresher; the view shows the last arrangement, marked pending, until
// the arranged rows are swapped in. Few rows are arranged at once.
func TestAFilterOnManyRowsIsArrangedOffTheUIGoroutine(t *testing.T) {
	for _, tt := range []struct {
		name       string
		nodes      int
		async      bool
		wantFilter int
	}{
		{"many rows: by the refresher", 200, true, 30},
		{"few rows: at once", 10, false, 30},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rows := rowsOf(manyRows(tt.nodes, 30))
			c := newContent(containerColumns, newTheme())
			woken := 0
			c.wake = func() { woken++ }
			c.swap(c.prepare(rows)) // the rows as the refresher installs them
			c.filter = "node-7/"
			c.apply()
			if tt.async {
				if len(c.view) != rows.len() || !c.pending || woken == 0 {
					t.Fatalf("the UI goroutine arranged %d rows itself (view %d, pending %v, woken %d)", rows.len(), len(c.view), c.pending, woken)
				}
				c.swap(c.prepare(rows)) // as the refresher does
			}
			if len(c.view) != tt.wantFilter || c.pending {
				t.Fatalf("after the filter: %d rows shown (pending %v); want %d", len(c.view), c.pending, tt.wantFilter)
			}
			for _, i := range c.view {
				if !strings.HasPrefix(c.rows.at(i).cell(0).text, "node-7/") {
					t.Fatalf("the filter kept %q", c.rows.at(i).cell(0).text)
				}
			}
			// Sorted by name, descending: app-30 … app-1, naturally.
			c.sortCol, c.desc = 0, true
			c.apply()
			if tt.async {
				c.swap(c.prepare(rows))
			}
			var names []string
			for _, i := range c.view[:3] {
				names = append(names, c.rows.at(i).cell(0).text)
			}
			if want := []string{"node-7/app-30", "node-7/app-29", "node-7/app-28"}; !slices.Equal(names, want) {
				t.Fatalf("sorted: %q; want %q", names, want)
			}
		})
	}
}

// On a console of 6,000 containers a filter typed in the containers view
// shows its rows, with the first one selected, once the refresher has
// arranged them.
func TestFilteringManyContainersSelectsTheFirstMatch(t *testing.T) {
	src, err := backend.Open("sim://200?containers=30", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, src, 160, 40)
	h.wait(settle, "Nodes [200]", "Nodes: 200/200 healthy")
	h.typeText("2")
	h.wait(settle, "Containers [6000]")
	// The cursor on a row the filter keeps, not its first: the filter
	// still starts at its first row.
	h.app.Application().QueueUpdate(func() {
		c := h.app.contents[viewContainers]
		for i := range c.view {
			if c.rows.at(c.view[i]).cell(0).text == "node-17/app-17-5" {
				h.app.tables[viewContainers].Select(i+1, 0)
			}
		}
	})
	h.typeText("/node-17/")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [30/6000] /node-17/")
	var sel int
	var first string
	h.app.Application().QueueUpdate(func() {
		sel, _ = h.app.tables[viewContainers].GetSelection()
		c := h.app.contents[viewContainers]
		if sel >= 1 && sel <= len(c.view) {
			first = c.rows.at(c.view[sel-1]).cell(0).text
		}
	})
	if sel != 1 || !strings.HasPrefix(first, "node-17/") {
		t.Fatalf("after the filter row %d (%s) is selected; want the first", sel, first)
	}
}

// A rowSet reads as the rows of its segments one after the other, empty
// segments left out.
func TestARowSetReadsAsItsSegmentsInOrder(t *testing.T) {
	var flat []row
	var segs [][]row
	for k, n := range []int{3, 0, 1, 5, 0, 2} {
		var sg []row
		for j := range n {
			r := newRow(fmt.Sprintf("%d-%d", k, j), nil)
			sg, flat = append(sg, r), append(flat, r)
		}
		segs = append(segs, sg)
	}
	s := segments(segs)
	if s.len() != len(flat) || len(s.segs) != 4 {
		t.Fatalf("%d rows in %d segments; want %d in 4", s.len(), len(s.segs), len(flat))
	}
	for i, r := range flat {
		if got := s.at(i).key; got != r.key {
			t.Fatalf("row %d is %s; want %s", i, got, r.key)
		}
		if got := s.index(r.key); got != i {
			t.Fatalf("%s found at %d; want %d", r.key, got, i)
		}
	}
	if s.index("nowhere") != -1 || rowsOf(nil).len() != 0 {
		t.Fatal("an absent key was found, or an empty set has rows")
	}
}

// During a launch a node's containers change many times a second; the
// containers view's rows of every other node are not copied again (at
// 10,000 nodes the copy was 17 MB per rebuild, ten a second, and the
// garbage collector took the keys' time).
func TestAChangeToOneNodeCopiesNoOtherNodesRows(t *testing.T) {
	src, err := backend.Open("sim://50?containers=30", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, src, 160, 40)
	h.wait(settle, "Nodes: 50/50 healthy")
	th, cache := newTheme(), &rowCache{}
	before := build(h.cluster, th, cache)
	if _, err := h.cluster.Create(context.Background(), model.Config{Name: "probe", Image: "busybox:latest"}); err != nil {
		t.Fatal(err)
	}
	var after *state
	for deadline := time.Now().Add(settle); ; time.Sleep(10 * time.Millisecond) {
		if after = build(h.cluster, th, cache); after.ctrRows.len() == before.ctrRows.len()+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new container never came: %d rows, then %d", before.ctrRows.len(), after.ctrRows.len())
		}
	}
	kept := map[*row]bool{}
	for _, sg := range before.ctrRows.segs {
		kept[&sg[0]] = true
	}
	shared := 0
	for _, sg := range after.ctrRows.segs {
		if kept[&sg[0]] {
			shared++
		}
	}
	if want := len(after.ctrRows.segs) - 1; shared != want {
		t.Fatalf("%d of %d nodes' rows were kept; want %d (all but the node of the new container)", shared, len(after.ctrRows.segs), want)
	}
}

// Rebuilds are spaced by what they cost and by bursts of events, so the
// UI goroutine gets the CPU during a launch.
func TestRebuildsAreSpacedByTheirCostAndBursts(t *testing.T) {
	for _, tt := range []struct {
		took   time.Duration
		events int
		want   time.Duration
	}{
		{time.Millisecond, 1, refreshEvery},
		{time.Millisecond, burstEvents - 1, refreshEvery},
		{time.Millisecond, burstEvents, busyEvery},
		{100 * time.Millisecond, 0, 400 * time.Millisecond},
		{100 * time.Millisecond, 1000, 400 * time.Millisecond},
		{2 * time.Second, 0, maxGap},
		{2 * time.Second, burstEvents, maxGap},
	} {
		if got := nextGap(tt.took, tt.events); got != tt.want {
			t.Errorf("after a rebuild of %s taking in %d events: next in %s; want %s", tt.took, tt.events, got, tt.want)
		}
	}
}

// The refresher finds where the selected row lands in what it prepared,
// so an install at 300,000 rows searches nothing on the UI goroutine.
func TestTheRefresherFindsWhereTheSelectedRowLands(t *testing.T) {
	rows := rowsOf(manyRows(200, 30))
	for _, tt := range []struct {
		name    string
		filter  string
		sortCol int
		desc    bool
		want    int
	}{
		{"as they come", "", -1, false, 16*30 + 5},
		{"filtered", "node-17/", -1, false, 5},
		{"sorted by name, descending", "node-17/", 0, true, 26},
		{"filtered out", "node-18/", -1, false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newContent(containerColumns, newTheme())
			c.filter, c.sortCol, c.desc = tt.filter, tt.sortCol, tt.desc
			c.apply()
			key := "16-4" // node-17/app-5
			c.selected.Store(&key)
			p := c.prepare(rows)
			if p.sel != key || p.selAt != tt.want {
				t.Fatalf("the selected row %q lands at %d (for %q); want %d", key, p.selAt, p.sel, tt.want)
			}
			if got := findIn(p.rows, p.view, key); got != tt.want {
				t.Fatalf("findIn says %d; want %d", got, tt.want)
			}
		})
	}
}

// The kept texts of CPU and memory figures read as formatting them does,
// and no more than maxFigures are kept.
func TestFigureTextsReadAsFormatted(t *testing.T) {
	for i := range maxFigures + 100 {
		v := int64(i)*997 + 1
		if got, want := figureText(figureKey{mem: true, v: v << 20}), model.FormatBytes(v<<20); got != want {
			t.Fatalf("memory %d: %q; want %q", v<<20, got, want)
		}
		if got, want := figureText(figureKey{v: v}), model.MilliCPU(v).String(); got != want {
			t.Fatalf("CPUs %d: %q; want %q", v, got, want)
		}
	}
	if n := figureTexts.n.Load(); n > maxFigures {
		t.Fatalf("%d figures kept; want at most %d", n, maxFigures)
	}
}

// A view not shown whose many rows are sorted or filtered is not
// arranged again at each change (a sort of 300,000 containers is half a
// second of CPU, and a launch changes them at every rebuild): it keeps
// its last rows, marked pending, and is arranged once shown.
func TestAViewNotShownIsArrangedOnceShown(t *testing.T) {
	h := containersOf6000(t)
	h.typeText("o")
	h.wait(settle, "NODE/NAME↑")
	h.gone(settle, "Containers [6000] …")
	h.typeText("1")
	h.wait(settle, "Nodes [200]")
	if _, err := h.cluster.Create(context.Background(), model.Config{Name: "probe", Image: "busybox:latest"}); err != nil {
		t.Fatal(err)
	}
	h.wait(settle, "Containers: 6000/6001 running")
	var pending bool
	var rows int
	h.app.Application().QueueUpdate(func() {
		c := h.app.contents[viewContainers]
		pending, rows = c.pending, c.rows.len()
	})
	if !pending || rows != 6000 {
		t.Fatalf("the containers view, not shown, was arranged again: %d rows, pending %v", rows, pending)
	}
	h.typeText("2")
	h.wait(settle, "Containers [6001]")
	h.gone(settle, "Containers [6001] …")
}

// The cursor on the first row stays on the first row when rows come in
// before it (at start, nodes connect in any order: a first row followed
// by its key scrolled the containers view to the middle); a cursor moved
// down follows its row.
func TestTheFirstRowStaysOnTopAsRowsComeIn(t *testing.T) {
	a := New(nil)
	c := a.contents[viewContainers]
	all := manyRows(3, 30)
	a.setRows(viewContainers, c.prepare(rowsOf(all[60:]))) // node-3 connected first
	a.tables[viewContainers].Select(1, 0)
	a.setRows(viewContainers, c.prepare(rowsOf(all))) // then node-1 and node-2, listed before it
	if sel, _ := a.tables[viewContainers].GetSelection(); sel != 1 || c.key(1) != "0-0" {
		t.Fatalf("the cursor moved to row %d; want it on top (node-1/app-1)", sel)
	}
	a.tables[viewContainers].Select(5, 0) // node-1/app-5 (key 0-4)
	key := c.key(5)
	rows := manyRows(3, 30)
	rows = append(rows[60:], rows[:60]...) // node-3's rows first now
	a.setRows(viewContainers, c.prepare(rowsOf(rows)))
	if sel, _ := a.tables[viewContainers].GetSelection(); c.key(sel) != key || sel != 35 {
		t.Fatalf("the cursor is on row %d (%s); want row 35 (%s)", sel, c.key(sel), key)
	}
}

// After o or O the view is seen from the start of its new order, also
// when the rows are many (arranged by the refresher).
func TestANewSortIsSeenFromItsStart(t *testing.T) {
	h := containersOf6000(t)
	h.typeText("oo")
	h.wait(settle, "IMAGE↑")
	h.gone(settle, "Containers [6000] …")
	h.typeText("O")
	h.wait(settle, "IMAGE↓")
	h.gone(settle, "Containers [6000] …")
	var sel int
	var image string
	h.app.Application().QueueUpdate(func() {
		c := h.app.contents[viewContainers]
		sel, _ = h.app.tables[viewContainers].GetSelection()
		image = c.rows.at(c.view[sel-1]).cell(1).text
	})
	if sel != 1 || image != "redis:7" {
		t.Fatalf("after IMAGE↓ the cursor is on row %d (%s); want row 1 (redis:7)", sel, image)
	}
}

// While nodes connect (10,000 take a while) the header counts them as
// connecting, not as unhealthy; before discovery lists any, it says so.
func TestTheHeaderCountsNodesStillConnecting(t *testing.T) {
	h := start(t, demoSource(t), 200, 40)
	h.wait(settle, "Nodes [6]")
	for _, tt := range []struct {
		f    figures
		want string
	}{
		{figures{nodes: 10000, healthy: 212, pending: 9788}, "Nodes: 212/10000 healthy, 9788 connecting"},
		{figures{nodes: 10000, healthy: 9990}, "Nodes: 9990/10000 healthy"},
		{figures{}, "Nodes: none listed yet"},
	} {
		text, _ := headerOf(h.cluster, newTheme(), tt.f).layout(0)
		if plain := regexp.MustCompile(`\[[^\]]*\]`).ReplaceAllString(text, ""); !strings.Contains(plain, tt.want) {
			t.Errorf("the header for %+v says\n%s\nwant %q", tt.f, plain, tt.want)
		}
	}
}

// containersOf6000 starts the console on 200 simulated nodes of 30
// containers at 160x40 and shows its containers view, all 6,000 rows in.
func containersOf6000(t *testing.T) *harness {
	t.Helper()
	src, err := backend.Open("sim://200?containers=30", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, src, 160, 40)
	h.wait(settle, "Nodes: 200/200 healthy")
	h.typeText("2")
	h.wait(settle, "Containers [6000]")
	return h
}
