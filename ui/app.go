package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// View names, as the command line takes them (:nodes, :containers…).
const (
	viewNodes      = "nodes"
	viewContainers = "containers"
	viewNetworks   = "networks"
	viewEvents     = "events"
)

var viewOrder = []string{viewNodes, viewContainers, viewNetworks, viewEvents}

// refreshEvery is the most often the views are rebuilt: updates that come
// faster are coalesced.
const refreshEvery = 100 * time.Millisecond

// busyEvery is the most often the views are rebuilt while events come
// in bursts (a launch of hundreds of containers: a thousand events a
// second): the UI goroutine draws a frame per rebuild, and keys wait
// behind frames and for the CPU that the launch, the manager and the
// rebuilds share.
const busyEvery = 300 * time.Millisecond

// maxGap is the longest a rebuild waits after the last because of what
// that one cost.
const maxGap = time.Second

// burstEvents is how many events one rebuild takes in to count as a burst.
const burstEvents = 50

// nextGap is how long after a rebuild the next may start: refreshEvery,
// busyEvery after a burst, and four times what the rebuild took, so
// rebuilds take at most a fifth of a core, up to maxGap: a rebuild that
// takes long (a filter over 300,000 rows while 10,000 nodes connect)
// still leaves the header and the views at most that far behind.
func nextGap(took time.Duration, events int) time.Duration {
	gap := min(max(refreshEvery, 4*took), maxGap)
	if events >= burstEvents {
		gap = max(gap, busyEvery)
	}
	return gap
}

// quietEvery is how often the views are rebuilt for changes that come
// with no event (an engine's periodic refresh moves its UPDATED time;
// at 1,000 nodes that is dozens a second). Events (containers, engines,
// reschedules) are shown within refreshEvery.
const quietEvery = time.Second

// followFor is how long after an event the views follow every change at
// refreshEvery: the manager may emit an event before the state it
// describes is readable (Backend.Nodes answers without its lock), so the
// state lands as a change without an event, just after it.
const followFor = time.Second

// agesEvery is how often the screen is checked for an age ("5s", "3m")
// whose text moved on; it is redrawn only then.
const agesEvery = time.Second

// App is the console.
type App struct {
	b   Backend
	app *tview.Application
	th  theme

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the console's own goroutines
	stopMu sync.Mutex
	ran    bool // the application's Run has returned: nothing to stop

	// Owned by the UI goroutine:
	st          *state
	tables      map[string]*tview.Table
	contents    map[string]*content
	current     string
	pages       *tview.Pages
	root        *tview.Flex
	header      *tview.TextView
	status      *tview.TextView
	prompt      *tview.InputField
	hints       *tview.TextView
	bottom      *tview.Pages
	alert       string // the last failure or reschedule, kept in the status line
	aboutFilter string // a flash said of the filter shown (it goes when the filter changes)
	flash       string // the last action's result
	// When each last changed: the newer leads the status line.
	alertAt, flashAt time.Time
	shownFlash       string
	width            int // the screen's, at the last draw
	height           int
	msgs             []message         // what the status line said, oldest first
	onClose          map[string]func() // by page: what closing it stops
	launch           *launchForm
	kept             launchValues // the launch form's values when it last closed
	keptMsg          string       // how the last launch failed, shown when the form reopens
	launching        *launchOp    // the launch running, if any
	back             string       // the view a drill came from (Enter on a node), for Esc
	drawn            func()       // test hook: called after each install
	drewAllAt        time.Time    // when the whole screen was last drawn
	screen           tcell.Screen // the screen of the last draw
	// The header and status line as the last full draw showed them: a
	// change to either needs one.
	drawnHeader, drawnStatus string
	quiet                    time.Duration          // quietEvery; tests make it longer
	kick                     chan struct{}          // asks the refresher to arrange a view again (a filter or sort on many rows)
	front                    atomic.Pointer[string] // the view shown, for the refresher
	follow                   time.Duration          // followFor; tests make it longer
	gate                     keyGate                // held from a key until its frame is drawn

	// The launch preview's computation (previewText; tests hold it), and
	// a test hook called when a preview is shown.
	previewText func(ctx context.Context, nodes []*model.Node, s *sched.Scheduler, v launchValues, th theme) (string, error)
	previewed   func(launchValues)
}

// New makes a console over b. Run starts it.
func New(b Backend) *App {
	a := &App{b: b, app: tview.NewApplication(), th: newTheme(), tables: map[string]*tview.Table{}, contents: map[string]*content{},
		onClose: map[string]func(){}, quiet: quietEvery, follow: followFor, kick: make(chan struct{}, 1),
		previewText: previewText}
	a.layout()
	return a
}

// Application is the tview application, for tests that set a screen.
func (a *App) Application() *tview.Application { return a.app }

func (a *App) layout() {
	th := a.th
	tview.Styles = th.styles()
	a.header = tview.NewTextView().SetDynamicColors(true).SetWrap(false) // laid out to the width by layoutHeader
	a.status = tview.NewTextView().SetDynamicColors(true).SetWrap(false) // one line: a long word cut there, not wrapped out of sight
	a.hints = tview.NewTextView().SetDynamicColors(true)
	a.prompt = tview.NewInputField()
	a.bottom = tview.NewPages().AddPage("hints", a.hints, true, true).AddPage("prompt", a.prompt, true, false)
	a.pages = tview.NewPages()
	columns := map[string][]string{viewNodes: nodeColumns, viewContainers: containerColumns, viewNetworks: networkColumns, viewEvents: eventColumns}
	for _, v := range viewOrder {
		c := newContent(columns[v], th)
		c.wake = a.wake
		if v == viewEvents {
			c.sortCol, c.desc = 0, true // newest first
		}
		c.apply() // publishes the arrangement
		t := tview.NewTable().SetContent(c).SetSelectable(true, false).SetFixed(1, 0)
		t.SetBorder(true)
		if th.noColor {
			t.SetSelectedStyle(tcell.StyleDefault.Reverse(true))
		}
		t.SetSelectedFunc(func(row, _ int) { a.enter(row) })
		t.SetSelectionChangedFunc(func(row, _ int) {
			k := c.key(row)
			c.selected.Store(&k) // for the refresher: where the row lands
		})
		t.SetDrawFunc(func(_ tcell.Screen, x, y, w, h int) (int, int, int, int) {
			// Lay the columns out for this width, from the rows drawn.
			off, _ := t.GetOffset()
			sel, _ := t.GetSelection()
			first, last := min(off, sel-h), max(off, sel)+h
			c.fit(w-2, first, last)
			return x + 1, y + 1, w - 2, h - 2
		})
		a.tables[v], a.contents[v] = t, c
		a.pages.AddPage(v, t, true, false)
	}
	a.root = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(a.header, 3, 0, false).
		AddItem(a.pages, 0, 1, true).
		AddItem(a.status, 1, 0, false).
		AddItem(a.bottom, 1, 0, false)
	a.app.SetRoot(a.root, true).EnableMouse(true)
	a.app.SetAfterDrawFunc(func(tcell.Screen) { a.drewAll() }) // tests that set their own call this one too
	a.app.SetInputCapture(a.keys)
	a.app.SetBeforeDrawFunc(func(s tcell.Screen) bool {
		a.screen = s
		defer func() {
			a.drawnHeader, a.drawnStatus, a.drewAllAt = a.header.GetText(false), a.status.GetText(false), time.Now()
		}()
		if w, h := s.Size(); w != a.width || h != a.height {
			a.width, a.height = w, h
			a.layoutHeader()
			a.fitLaunch()
			if isView(a.frontPage()) {
				a.showHints()
			}
		}
		return false
	})
	a.show(viewNodes)
}

// Run shows the console until the operator quits or ctx ends. The
// terminal is restored when it returns.
func (a *App) Run(ctx context.Context) error {
	a.ctx, a.cancel = context.WithCancel(ctx)
	a.st = &state{}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.refresher(a.ctx)
	}()
	go func() {
		<-ctx.Done() // a signal or the caller: quit as the q key does
		a.quit()
	}()
	err := a.app.Run()
	a.stopMu.Lock()
	a.ran = true // a screen that failed to start must not be stopped
	a.stopMu.Unlock()
	a.cancel()
	a.wg.Wait()
	return err
}

// quit stops the console's goroutines first, then the application. It
// may run on the UI goroutine: the wait happens elsewhere, while the UI
// loop still serves any update a goroutine is waiting on.
func (a *App) quit() {
	a.cancel()
	go func() {
		a.wg.Wait()
		a.stopMu.Lock()
		defer a.stopMu.Unlock()
		if !a.ran {
			a.app.Stop()
		}
	}()
}

// wake asks the refresher to prepare the views again without waiting
// for a change: the operator changed a filter or a sort.
func (a *App) wake() {
	select {
	case a.kick <- struct{}{}:
	default: // one is asked for already
	}
}

// goRun runs f as one of the console's goroutines.
func (a *App) goRun(f func(ctx context.Context)) {
	if a.ctx.Err() != nil {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f(a.ctx)
	}()
}

// update runs f on the UI goroutine and redraws, unless the console is
// quitting.
func (a *App) update(f func()) {
	if a.ctx.Err() == nil {
		a.app.QueueUpdateDraw(f)
	}
}

// redraw is how much of the screen an update changed.
type redraw int

const (
	redrawNone  redraw = iota
	redrawTable        // the front view's table alone (its rows, title or ages)
	redrawAll
)

// updateIf runs f on the UI goroutine and redraws only what f says
// changed.
func (a *App) updateIf(f func() redraw) {
	if a.ctx.Err() == nil {
		a.app.QueueUpdate(func() { a.redraw(f()) })
	}
}

// redraw draws the screen, all of it or the front view's table alone:
// the screen keeps the last frame, and tcell sends the terminal only the
// cells that changed. On the UI goroutine.
func (a *App) redraw(r redraw) {
	if r == redrawNone {
		return
	}
	if w, h := a.screenSize(); r == redrawAll || a.screen == nil || w != a.width || h != a.height || !isView(a.frontPage()) {
		a.app.ForceDraw() // everything, laid out again if the screen was resized meanwhile
	} else {
		a.tables[a.current].Draw(a.screen)
		a.noteShown()
		a.screen.Show()
	}
}

// drewAll follows a draw of the whole screen, once the terminal has it
// (tcell's Show is about half of a frame's CPU): what the front table
// shows is noted, and the console's background work goes on (keyGate).
func (a *App) drewAll() {
	a.noteShown()
	a.gate.release()
}

// noteShown notes what the front view's table shows, as just drawn.
func (a *App) noteShown() {
	if isView(a.frontPage()) {
		a.contents[a.current].drawnShows = a.shows()
	}
}

// shows is what the front view's table shows now (content.shows).
func (a *App) shows() uint64 {
	t, c := a.tables[a.current], a.contents[a.current]
	off, _ := t.GetOffset()
	sel, _ := t.GetSelection()
	_, _, _, h := t.GetRect()
	return c.shows(off, off+h, sel, t.GetTitle(), time.Now())
}

func (a *App) screenSize() (int, int) {
	if a.screen == nil {
		return 0, 0
	}
	return a.screen.Size()
}

// refresher rebuilds the state when events came: at once for the first
// after a quiet spell, then at most every refreshEvery while they keep
// coming (they are coalesced), and for followFor after them at every
// change; for changes without an event (the backend's generation moved)
// at most every a.quiet. A build formats only what changed, and the
// screen is redrawn only when what it shows changed: new rows or header,
// or an age on screen whose text moved on (checked every agesEvery).
func (a *App) refresher(ctx context.Context) {
	sub, stop := a.b.Subscribe(8192)
	defer stop()
	history := a.b.RecentEvents()
	tick := time.NewTicker(refreshEvery)
	defer tick.Stop()
	cache, feed := &rowCache{}, &eventFeed{last: map[string]arranged{}}
	var last uint64
	var built, checked, follow time.Time
	var fresh []model.Event
	first, gap := true, refreshEvery
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.kick: // a filter or sort to arrange: at once
		case e := <-sub:
			fresh = append(fresh, e)
			if time.Since(built) < gap {
				continue // coalesce: the tick will pick it up
			}
			for len(sub) > 0 {
				fresh = append(fresh, <-sub)
			}
		case <-tick.C:
			now := time.Now()
			gen := a.b.Generation()
			if !first && (now.Sub(built) < gap || len(fresh) == 0 && (gen == last || now.Before(built.Add(a.quiet)) && now.After(follow))) {
				if now.Sub(checked) >= agesEvery {
					checked = now
					a.redrawMoved()
				}
				continue
			}
		}
		if len(fresh) > 0 {
			follow = time.Now().Add(a.follow)
		}
		a.gate.wait(ctx) // a key's frame first
		began := time.Now()
		gen := a.b.Generation()
		st := build(a.b, a.th, cache)
		evs := fresh
		if first {
			evs = append(history, newSince(history, fresh)...)
		}
		a.prepare(st, feed, evs, first)
		if gap = refreshEvery; !first { // the first formats every row: no measure of the rest
			gap = nextGap(time.Since(began), len(fresh))
		}
		fresh, first, last, built, checked = nil, false, gen, time.Now(), time.Now()
		a.updateIf(func() redraw { return a.install(st) })
	}
}

// newSince is the events of fresh not in history: the subscription
// starts before the history is read, so an event emitted in between is
// in both (the events view listed it twice).
func newSince(history, fresh []model.Event) []model.Event {
	inHistory := make(map[model.Event]int, len(history))
	for _, e := range history {
		inHistory[e]++
	}
	out := make([]model.Event, 0, len(fresh))
	for _, e := range fresh {
		if inHistory[e] > 0 {
			inHistory[e]--
			continue
		}
		out = append(out, e)
	}
	return out
}

// redrawMoved redraws the front view's table, and only it, when what it
// shows reads differently now (an age moved on): nothing else on screen
// moves with time.
func (a *App) redrawMoved() {
	a.updateIf(func() redraw {
		if a.tableMoved() {
			return redrawTable
		}
		return redrawNone
	})
}

// tableMoved reports whether the front view's table would show anything
// other than what it showed when last drawn: a cell's text or colour, an
// age, a mark, the selection, the title. On the UI goroutine, over the
// rows on screen only.
func (a *App) tableMoved() bool {
	return isView(a.frontPage()) && a.shows() != a.contents[a.current].drawnShows
}

// maxEvents is how many events the Events view keeps.
const maxEvents = 5000

// eventFeed is the Events view's rows, formatted as events come, off the
// UI goroutine; it is owned by the refresher.
type eventFeed struct {
	rows []row // newest last, at most maxEvents
	seq  int
	last map[string]arranged // by view: the last arrangement prepared
}

// prepare formats the new events and arranges the rows of every view
// that changed as the operator last filtered and sorted it, off the UI
// goroutine, so install only swaps. A view whose rows and arrangement
// are those it last prepared is left out. A view not shown whose many
// rows are filtered or sorted is left to arrange until it is shown (a
// filter over 300,000 containers is half a second of CPU, and a launch
// changes them at every rebuild): it keeps its last rows, marked pending.
func (a *App) prepare(st *state, feed *eventFeed, evs []model.Event, first bool) {
	for _, e := range evs {
		feed.rows = append(feed.rows, eventRow(e, feed.seq))
		feed.seq++
		if e.Kind == model.EventFailure || e.Kind == model.EventReschedule || e.Action == "engine_disconnect" {
			st.alerts = append(st.alerts, message{at: e.Time, text: e.Message, bad: true})
		}
	}
	if len(feed.rows) > maxEvents {
		feed.rows = slices.Clone(feed.rows[len(feed.rows)-maxEvents:])
	}
	if feed.last == nil {
		feed.last = map[string]arranged{}
	}
	st.prepared = map[string]arranged{}
	front := ""
	if f := a.front.Load(); f != nil {
		front = *f
	}
	for v, rows := range map[string]*rowSet{viewNodes: st.nodeRows, viewContainers: st.ctrRows, viewNetworks: st.netRows,
		viewEvents: rowsOf(feed.rows[:len(feed.rows):len(feed.rows)])} {
		c := a.contents[v]
		ar := c.publishedArrangement()
		if p, ok := feed.last[v]; ok && !first && p.ar == ar && p.rows.same(rows) {
			continue
		}
		if _, ok := feed.last[v]; ok && !first && v != front && rows.len() > syncRows && (ar.filter != "" || ar.sortCol >= 0) {
			st.later = append(st.later, v)
			continue
		}
		p := c.prepare(rows)
		feed.last[v], st.prepared[v] = p, p
	}
}

// install puts a new state in place, on the UI goroutine: pointer swaps
// of rows already formatted, filtered and sorted. It says what of the
// screen changed: the header or the status line (everything is drawn),
// what the front view's table shows (its table alone: new rows that read
// as the drawn ones draw nothing), or nothing.
func (a *App) install(st *state) redraw {
	a.st = st
	for _, m := range st.alerts {
		a.alert, a.alertAt = fmt.Sprintf("%s %s", m.at.Format("15:04:05"), m.text), time.Now()
		a.remember(m.at, m.text, true)
	}
	a.layoutHeader()
	for _, v := range viewOrder {
		if p, ok := st.prepared[v]; ok {
			a.setRows(v, p)
		}
	}
	for _, v := range st.later {
		if c := a.contents[v]; !c.pending {
			c.pending = true // its rows changed: arranged once shown
			a.title(v)
			if v == a.current { // shown since the refresher looked
				a.wake()
			}
		}
	}
	a.showStatus()
	if a.drawn != nil {
		a.drawn()
	}
	switch {
	case a.header.GetText(false) != a.drawnHeader || a.status.GetText(false) != a.drawnStatus || !isView(a.frontPage()):
		return redrawAll
	case a.tableMoved(): // new rows that show the same (a node refreshed, its age still "<1m") draw nothing
		return redrawTable
	}
	return redrawNone
}

// layoutHeader flows the header into the screen's width and gives it
// the lines it needs.
func (a *App) layoutHeader() {
	if a.st == nil {
		return
	}
	text, lines := a.st.header.layout(a.width)
	a.header.SetText(text)
	a.root.ResizeItem(a.header, max(lines, 1), 0)
}

// toTop puts the cursor on the front view's first row, if it has one: a
// new order is seen from its start.
func (a *App) toTop() {
	if len(a.contents[a.current].view) > 0 {
		a.tables[a.current].Select(1, 0)
	}
}

// setRows replaces a table's rows, keeping the selected row by key,
// unless the cursor is on the first row: it stays there (at start the
// rows come in as nodes connect, and a first row followed by its key
// scrolled the view to the middle).
func (a *App) setRows(view string, p arranged) {
	t, c := a.tables[view], a.contents[view]
	sel, _ := t.GetSelection()
	key := c.key(sel)
	r := p.selAt // found by the refresher: no search here
	if !c.swap(p) || p.sel != key {
		r = c.find(key) // the view was arranged here, or the selection moved since
	}
	if sel <= 1 && len(c.view) > 0 {
		r = 1 // the cursor at the top stays there: the list as it comes, a new sort from its start
	}
	if r > 0 {
		t.Select(r, 0)
	} else if sel > len(c.view) {
		t.Select(max(1, len(c.view)), 0)
	} else if sel < 1 && len(c.view) > 0 {
		t.Select(1, 0)
	}
	a.title(view)
}

func (a *App) title(view string) {
	c := a.contents[view]
	t := fmt.Sprintf(" %s [%d] ", strings.ToUpper(view[:1])+view[1:], len(c.view))
	if c.filter != "" {
		t = fmt.Sprintf(" %s [%d/%d] /%s ", strings.ToUpper(view[:1])+view[1:], len(c.view), c.rows.len(), tview.Escape(cutWords(c.filter)))
	}
	if c.pending {
		t += "… "
	}
	if len(c.marked) > 0 {
		t += fmt.Sprintf("· %d marked (Space marks, Esc clears) ", len(c.marked))
	}
	a.tables[view].SetTitle(t)
}

// show switches to a view.
func (a *App) show(view string) {
	a.current, a.back = view, ""
	a.front.Store(&view)
	if a.contents[view].pending {
		a.wake() // left to arrange until shown (App.prepare)
	}
	a.pages.SwitchToPage(view)
	a.app.SetFocus(a.tables[view])
	a.showHints()
}

// hint is a key and what it does, on the hint line; rank says how soon
// it goes when the line is too narrow (the highest first).
type hint struct {
	key, what string
	rank      int
}

var viewHints = map[string][]hint{
	viewNodes:      {{"⏎", "containers", 0}, {"i", "details", 0}, {"n", "launch", 1}, {"d", "drain", 1}, {"P", "pull", 2}, {"␣", "mark", 2}},
	viewContainers: {{"⏎", "details", 0}, {"i", "inspect", 1}, {"l", "logs", 1}, {"S", "start", 0}, {"s", "stop", 0}, {"r", "restart", 2}, {"D", "remove", 1}, {"␣", "mark", 2}, {"n", "launch", 2}},
	viewNetworks:   {{"⏎", "details", 0}, {"c", "create", 1}, {"D", "remove", 1}},
	viewEvents:     {{"⏎", "details", 0}},
}

// drillHints are the nodes view's keys on a simulated cluster only.
var drillHints = []hint{{"K", "kill", 2}, {"H", "hang", 3}, {"E", "heal", 3}}

var commonHints = []hint{{"m", "messages", 3}, {":", "command", 2}, {"/", "filter", 1}, {"?", "help", 0}, {"o", "sort", 1}, {"q", "quit", 0}}

// showHints fills the hint line with the keys of the focused view, the
// less used ones left out when the terminal is narrow (? lists them all).
func (a *App) showHints() {
	view := viewHints[a.current]
	if a.current == viewNodes && a.b != nil && a.b.Source().Simulated {
		view = append(slices.Clone(view), drillHints...)
	}
	a.hints.SetText(hintLine(view, commonHints, a.width, a.th))
}

// hintLine is the view's hints, a gap, then the common ones, as many as
// fit width (0: no limit): taken by rank, the lowest first, and within a
// rank in their order, each that still fits; shown in their order.
func hintLine(view, common []hint, width int, th theme) string {
	all := append(slices.Clone(view), common...)
	size := func(h hint) int { return len([]rune(h.key+h.what)) + 1 }
	keep := make([]bool, len(all))
	used := 0
	if len(common) > 0 {
		used = 1 // the gap between the view's hints and the common ones
	}
	for rank := 0; rank <= 3; rank++ {
		for i, h := range all {
			if h.rank == rank && (width <= 0 || used+size(h) <= width) {
				keep[i], used = true, used+size(h)
			}
		}
	}
	var sb strings.Builder
	for i, h := range all {
		if i == len(view) {
			sb.WriteByte(' ')
		}
		if keep[i] {
			sb.WriteString(th.tag(th.accent) + h.key + th.reset() + h.what + " ")
		}
	}
	return sb.String()
}

// message is one thing the status line said.
type message struct {
	at   time.Time
	text string
	bad  bool
}

// maxMessages is how many status-line messages the m page keeps.
const maxMessages = 200

func (a *App) remember(at time.Time, text string, bad bool) {
	a.msgs = append(a.msgs, message{at: at, text: text, bad: bad})
	if len(a.msgs) > maxMessages {
		a.msgs = a.msgs[len(a.msgs)-maxMessages:]
	}
}

// say shows the result of an action in the status line.
func (a *App) say(msg string, bad bool) {
	a.remember(time.Now(), msg, bad) // in full on the m page
	a.flash = tview.Escape(cutWords(msg))
	if bad {
		a.flash = a.th.tag(a.th.bad) + a.flash + a.th.reset()
	}
	a.shownFlash, a.flashAt = a.flash, time.Now() // said again, it is new again: it leads an older warning
	a.showStatus()
}

func (a *App) showStatus() {
	if a.flash != a.shownFlash {
		a.shownFlash, a.flashAt = a.flash, time.Now()
	}
	text := a.flash
	if a.alert != "" {
		alert := a.th.tag(a.th.bad) + "⚠ " + tview.Escape(cutWords(a.alert)) + a.th.reset()
		switch {
		case text == "":
			text = alert
		case a.flashAt.After(a.alertAt): // the newer first: an old warning never hides a new result
			text = text + "   " + alert
		default:
			text = alert + "   " + text
		}
	}
	a.status.SetText(text)
}
