package ui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"swarmdeck/internal/version"
)

// overlay reports whether something other than a view table has the
// keyboard: a prompt, a form, a dialog or a detail page.
func (a *App) overlay() bool {
	return a.prompt.HasFocus() || !isView(a.frontPage())
}

func (a *App) frontPage() string {
	name, _ := a.pages.GetFrontPage()
	return name
}

func isView(name string) bool {
	for _, v := range viewOrder {
		if v == name {
			return true
		}
	}
	return false
}

// keys is the application's input capture. Keys meant for a focused
// prompt, form or dialog pass through; on a view they are the console's.
func (a *App) keys(ev *tcell.EventKey) *tcell.EventKey {
	a.gate.hold() // until the frame that answers it is drawn
	if ev.Key() == tcell.KeyCtrlC {
		a.quit()
		return nil
	}
	if a.overlay() {
		return ev
	}
	if len(a.contents[a.current].view) == 0 && movesSelection(ev) {
		// tview's Table looks for a selectable row forever when there is
		// none: the console froze for good on ↓ or j over a filter that
		// shows no row (after the rows it showed were removed).
		return nil
	}
	switch ev.Key() {
	case tcell.KeyEscape:
		if c := a.contents[a.current]; c.filter != "" {
			c.filter = ""
			c.apply()
			a.filterChanged()
			a.title(a.current)
			if a.back != "" { // a drill from a node: back to the nodes
				a.show(a.back)
			}
		} else if len(c.marked) > 0 {
			clear(c.marked)
			a.title(a.current)
		} else if a.launching != nil {
			a.askStopLaunch()
		}
		return nil
	case tcell.KeyTab, tcell.KeyBacktab:
		i := indexOf(viewOrder, a.current)
		if ev.Key() == tcell.KeyTab {
			i = (i + 1) % len(viewOrder)
		} else {
			i = (i + len(viewOrder) - 1) % len(viewOrder)
		}
		a.show(viewOrder[i])
		return nil
	case tcell.KeyCtrlD:
		a.remove()
		return nil
	case tcell.KeyRune:
	default:
		return ev
	}
	switch ev.Rune() {
	case ' ':
		a.toggleMark()
	case ':':
		a.ask(":", "", a.command)
		a.prompt.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
			if ev.Key() == tcell.KeyTab {
				text := completeCommand(a.prompt.GetText())
				a.prompt.SetText(text)
				if name, cands := resolveCommand(strings.TrimSpace(text)); name == "" && len(cands) > 1 {
					a.say(fmt.Sprintf(":%s is ambiguous: :%s", strings.TrimSpace(text), strings.Join(cands, " :")), false)
				}
				return nil
			}
			return ev
		})
	case '/':
		c := a.contents[a.current]
		before := c.filter
		a.ask("/", c.filter, func(text string) { a.setFilter(text, before) })
		a.prompt.SetChangedFunc(func(text string) {
			if compileFilter(text, c.columns).err == nil { // a regexp being typed ("[0-9") keeps the last good one
				a.filterBy(text)
			}
		})
	case '?':
		a.help()
	case 'q':
		a.quit()
	case '1', '2', '3', '4':
		a.show(viewOrder[ev.Rune()-'1'])
	case 'o':
		a.contents[a.current].cycleSort()
		a.toTop()
		a.title(a.current)
	case 'O':
		a.contents[a.current].reverse()
		a.toTop()
		a.title(a.current) // "…" until many rows are arranged
	case 'j':
		return tcell.NewEventKey(tcell.KeyDown, 0, tcell.ModNone)
	case 'k':
		return tcell.NewEventKey(tcell.KeyUp, 0, tcell.ModNone)
	case 'n':
		a.openLaunch()
	case 'i':
		switch a.current {
		case viewContainers:
			a.inspect(a.selected())
		case viewNodes:
			a.nodeDetail(a.selected())
		}
	case 'm':
		a.messages()
	case 'l':
		if a.current == viewContainers {
			a.logs(a.selected())
		}
	case 'S':
		a.containerAction("start", false)
	case 's':
		a.containerAction("stop", true)
	case 'r':
		a.containerAction("restart", true)
	case 'D':
		a.remove()
	case 'c':
		if a.current == viewNetworks {
			a.networkForm()
		}
	case 'K', 'H', 'E':
		if a.current == viewNodes {
			a.drill(ev.Rune())
		}
	case 'b':
		a.openRebalance(0)
	case 'd', 'p', 'a':
		if a.current == viewNodes {
			a.availabilityKey(ev.Rune())
		}
	case 'P':
		if a.current == viewNodes {
			a.askPull()
		}
	default:
		return ev
	}
	return nil
}

// movesSelection reports whether a key moves a table's selection up or
// down (tview's Table, and j/k here).
func movesSelection(ev *tcell.EventKey) bool {
	switch ev.Key() {
	case tcell.KeyUp, tcell.KeyDown, tcell.KeyPgUp, tcell.KeyPgDn, tcell.KeyCtrlF, tcell.KeyCtrlB, tcell.KeyHome, tcell.KeyEnd:
		return true
	case tcell.KeyRune:
		return strings.ContainsRune("jkgG", ev.Rune())
	}
	return false
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return 0
}

// selected is the key of the selected row of the current view.
func (a *App) selected() string {
	r, _ := a.tables[a.current].GetSelection()
	return a.contents[a.current].key(r)
}

// ask opens the bottom prompt; done gets the text on Enter, Esc cancels.
func (a *App) ask(label, text string, done func(string)) {
	a.prompt.SetLabel(label).SetText(text).SetChangedFunc(nil)
	a.prompt.SetInputCapture(nil)
	a.prompt.SetDoneFunc(func(key tcell.Key) {
		value := a.prompt.GetText()
		a.bottom.SwitchToPage("hints")
		a.app.SetFocus(a.tables[a.current])
		if key == tcell.KeyEnter {
			done(value)
		} else if label == "/" {
			a.filterBy("")
		}
	})
	a.bottom.SwitchToPage("prompt")
	a.app.SetFocus(a.prompt)
}

// setFilter is Enter on the filter prompt: text filters the view, or,
// when it is not a valid regexp, the status line says why and the view
// keeps the filter it had before (before).
func (a *App) setFilter(text, before string) {
	if err := compileFilter(text, a.contents[a.current].columns).err; err != nil {
		a.filterBy(before)
		kept := "no filter"
		if before != "" {
			kept = "the filter stays /" + before
		}
		a.say(fmt.Sprintf("filter /%s: %v; %s", text, err, kept), true)
		return
	}
	a.filterBy(text)
}

func (a *App) filterBy(text string) {
	c := a.contents[a.current]
	c.filter = text
	c.apply()
	a.filterChanged()
	a.title(a.current)
	if len(c.view) > 0 {
		a.tables[a.current].Select(1, 0)
	}
}

// filterChanged takes off the status line what it said of the filter
// that was (the marked containers it hid): it would read as said of the
// new one.
func (a *App) filterChanged() {
	if a.aboutFilter != "" && a.flash == a.aboutFilter {
		a.flash = ""
		a.showStatus()
	}
	a.aboutFilter = ""
}

// commands are the : commands; each runs by any prefix that names it
// alone (Tab completes it).
var commands = []string{"nodes", "containers", "ps", "networks", "events", "waiting", "run", "launch", "rebalance", "message", "help", "quit"}

// resolveCommand finds the command a prefix names, and the candidates
// when it names several or none.
func resolveCommand(prefix string) (string, []string) {
	var found []string
	for _, c := range commands {
		if c == prefix {
			return c, nil
		}
		if strings.HasPrefix(c, prefix) {
			found = append(found, c)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return "", found
}

// command runs a :command.
func (a *App) command(cmd string) {
	cmd = strings.TrimSpace(cmd)
	if cmd == "" {
		return
	}
	if cmd == "q" || cmd == "q!" {
		cmd = "quit"
	}
	if f := strings.Fields(cmd); len(f) == 2 {
		if name, _ := resolveCommand(f[0]); name == "rebalance" {
			if n, err := strconv.Atoi(f[1]); err == nil && n > 0 {
				a.openRebalance(n)
				return
			}
			a.say(fmt.Sprintf(":%s: the bound of moves must be a whole number of at least 1", cmd), true)
			return
		}
	}
	name, cands := resolveCommand(cmd)
	switch name {
	case "nodes":
		a.show(viewNodes)
	case "containers", "ps":
		a.show(viewContainers)
	case "networks":
		a.show(viewNetworks)
	case "events":
		a.show(viewEvents)
	case "waiting":
		a.show(viewContainers)
		a.filterBy("state:" + stateWaiting)
	case "run", "launch":
		a.openLaunch()
	case "message":
		a.messages()
	case "rebalance":
		a.openRebalance(0)
	case "help":
		a.help()
	case "quit":
		a.quit()
	default:
		if len(cands) > 1 {
			a.say(fmt.Sprintf(":%s is ambiguous: %s", cmd, ":"+strings.Join(cands, " :")), true)
			return
		}
		a.say(fmt.Sprintf("unknown command :%s (commands: :%s)", cmd, strings.Join(commands, " :")), true)
	}
}

// completeCommand is Tab on the command line: the command a prefix
// names, or the longest prefix its candidates share.
func completeCommand(text string) string {
	name, cands := resolveCommand(strings.TrimSpace(text))
	if name != "" {
		return name
	}
	if len(cands) == 0 {
		return text
	}
	common := cands[0]
	for _, c := range cands[1:] {
		for !strings.HasPrefix(c, common) {
			common = common[:len(common)-1]
		}
	}
	return common
}

// help lists every key of the current view.
func (a *App) help() {
	keys := [][2]string{
		{":", "command, by any unique prefix (Tab completes): :" + strings.Join(commands, " :")},
		{"/", "filter: text, or a regexp matched cell by cell (^ and $ are a cell's start and end, and in NODE/NAME also the name's: /^web-[0-9]+$); !term excludes; column:term (state:waiting) looks in one column; Esc clears"},
		{"Enter", "details of the row, in full (wrapped, scrollable)"},
		{"m", "the status line's messages, in full"}, {"?", "this help"},
		{"1 2 3 4, Tab", "nodes, containers, networks, events"},
		{"j k ↑ ↓ PgUp PgDn", "move"}, {"o / O", "sort by the next column / reverse"},
		{"n", "launch containers (form with live placement preview; Esc keeps its values for the next n)"},
		{"Esc", "clear the filter, else the marks, else offer to stop a running launch"},
		{"b, :rebalance [N]", "plan a rebalance (at most N moves), preview it, then run it"},
		{"q, Ctrl-C", "quit"},
	}
	switch a.current {
	case viewNodes:
		keys = append(keys, [2]string{"Enter", "the node's containers, waiting ones too (the containers view, filtered; Esc comes back)"},
			[2]string{"i", "the node in full: status, resources, labels, containers, images"},
			[2]string{"d", "drain: no new containers, and the movable ones leave (asks first)"},
			[2]string{"p", "pause: no new containers (asks first)"}, [2]string{"a", "activate: take containers again"},
			[2]string{"Space", "mark or unmark the node; the cursor stays (j moves on; Esc clears the marks)"},
			[2]string{"P", "pull an image onto the marked nodes, or every healthy node; its progress, node by node"})
		if a.b.Source().Simulated {
			keys = append(keys, [2]string{"K", "kill the node's engine (simulated; asks first)"},
				[2]string{"H", "hang the node's engine (simulated; asks first)"}, [2]string{"E", "heal the node's engine (simulated)"})
		}
	case viewContainers:
		keys = append(keys, [2]string{"i", "docker inspect (the engine's document)"}, [2]string{"l", "logs, followed"}, [2]string{"S", "start"}, [2]string{"Space", "mark or unmark for a bulk start, stop, restart or remove; the cursor stays (j moves on; the title counts the marks; Esc clears them)"},
			[2]string{"s", "stop (asks first)"}, [2]string{"r", "restart (asks first)"}, [2]string{"D, Ctrl-D", "remove (asks first)"})
	case viewNetworks:
		keys = append(keys, [2]string{"c", "create a network (on one node or every node)"}, [2]string{"D, Ctrl-D", "remove (asks first)"})
	}
	var sb strings.Builder
	for _, k := range keys {
		// Wrapped under its description (the page wrapped it back to the
		// first column, splitting words at 80 columns).
		pad := strings.Repeat(" ", max(18-utf8.RuneCountInString(k[0]), 0))
		hang(&sb, a.width-2, 21, fmt.Sprintf("  %s%s%s%s %s", a.th.tag(a.th.accent), tview.Escape(k[0]), a.th.reset(), pad, tview.Escape(k[1])))
	}
	sb.WriteString("\n  " + version.Get().Line())
	sb.WriteString("\n\n  Esc closes this help.")
	a.page("help", "Keys: "+a.current, sb.String())
}

// page shows a full-screen text page, wrapped and scrollable; Esc (or q)
// closes it. keys are more keys the page answers, named in its hints.
func (a *App) page(name, title, text string, keys ...pageKey) *tview.TextView {
	tv := tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetWrap(true).SetWordWrap(true).SetText(text)
	tv.SetBorder(true).SetTitle(" " + tview.Escape(cutWords(title)) + " ") // a long name cut: the kind and "Esc back" stay
	tv.SetDoneFunc(func(tcell.Key) { a.closePage(name) })
	tv.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		if ev.Key() != tcell.KeyRune {
			return ev
		}
		if ev.Rune() == 'q' {
			a.closePage(name)
			return nil
		}
		for _, k := range keys {
			if ev.Rune() == k.key {
				a.closePage(name)
				k.do()
				return nil
			}
		}
		return ev
	})
	a.pages.AddAndSwitchToPage(name, tv, true)
	a.app.SetFocus(tv)
	k, r := a.th.tag(a.th.accent), a.th.reset()
	hints := fmt.Sprintf("%sEsc%s back  %s↑↓ PgUp PgDn%s scroll ", k, r, k, r)
	for _, x := range keys {
		hints += fmt.Sprintf(" %s%c%s%s", k, x.key, r, x.what)
	}
	a.hints.SetText(hints)
	return tv
}

// pageKey is a key a page answers: it closes the page, then does.
type pageKey struct {
	key  rune
	what string
	do   func()
}

func (a *App) closePage(name string) {
	if f := a.onClose[name]; f != nil {
		delete(a.onClose, name)
		f()
	}
	a.pages.RemovePage(name)
	a.show(a.current)
}

// confirm asks before something destructive; Cancel is the default.
func (a *App) confirm(question string, yes func()) {
	a.showModal(question, []string{"Cancel", "Yes"}, func(label string) {
		if label == "Yes" {
			yes()
		}
	})
}

// showModal asks a question with buttons, the first one Cancel (it has
// the focus); done gets the button chosen ("" for Esc). y chooses the
// second button (the action), n the first. A long question scrolls.
func (a *App) showModal(question string, labels []string, done func(label string)) {
	a.showDialog("confirm", "Confirm", question, labels, done)
}

// actionable reports whether a container row can be acted on: not one
// being created, nor one waiting to be rescheduled (no engine holds it).
func actionable(key string) bool {
	return key != "" && !strings.HasPrefix(key, "pending/") && !strings.HasPrefix(key, "waiting/")
}

// targets are the containers an action applies to: the marked ones
// shown, else, when nothing is marked, the selected one; hidden is how
// many marked ones the filter hides (they are left alone). Marks of
// containers that are gone are dropped. It reads every row: on a key.
func (a *App) targets() (keys []string, hidden int) {
	c := a.contents[viewContainers]
	if len(c.marked) > 0 {
		present := map[string]bool{}
		for i := range c.rows.len() {
			if k := c.rows.at(i).key; c.marked[k] {
				present[k] = true
			}
		}
		for k := range c.marked {
			if !present[k] {
				delete(c.marked, k)
			}
		}
		a.title(viewContainers)
	}
	for _, i := range c.view {
		if k := c.rows.at(i).key; c.marked[k] && actionable(k) {
			keys = append(keys, k)
		}
	}
	hidden = len(c.marked) - len(keys)
	if len(c.marked) == 0 && actionable(a.selected()) {
		keys = []string{a.selected()}
	}
	return keys, hidden
}

// toggleMark marks or unmarks the selected container (Space), for bulk
// start, stop, restart and remove; on the nodes view, the selected node,
// for a pull onto the marked nodes. The cursor stays, as in k9s: j or ↓
// moves on. The view's title counts the marks.
func (a *App) toggleMark() {
	if a.current != viewContainers && a.current != viewNodes {
		return
	}
	key := a.selected()
	if key == "" || a.current == viewContainers && !actionable(key) {
		return
	}
	c := a.contents[a.current]
	if c.marked[key] {
		delete(c.marked, key)
	} else {
		c.marked[key] = true
	}
	a.title(a.current)
}

// containerAction starts, stops, restarts or removes the marked
// containers, or the selected one; all but start ask first.
func (a *App) containerAction(what string, ask bool) {
	if a.current != viewContainers {
		return
	}
	refs, hidden := a.targets()
	if len(refs) == 0 {
		if hidden > 0 {
			defer func() { a.aboutFilter = a.flash }() // said of this filter: it goes with it
			a.say(fmt.Sprintf("%s: the %d marked containers are hidden by the filter /%s (Esc clears it; Esc again clears the marks)",
				what, hidden, a.contents[viewContainers].filter), true)
		}
		return
	}
	name := a.containerName(refs[0])
	if len(refs) > 1 {
		name = fmt.Sprintf("%d containers", len(refs))
	}
	run := func() {
		a.say(fmt.Sprintf("%s %s…", what, name), false)
		a.goRun(func(ctx context.Context) {
			var errs []error
			for _, ref := range refs {
				var err error
				switch what {
				case "start":
					err = a.b.Start(ctx, ref)
				case "stop":
					err = a.b.Stop(ctx, ref, 10*time.Second)
				case "restart":
					err = a.b.Restart(ctx, ref, 10*time.Second)
				case "remove":
					err = a.b.Remove(ctx, ref, true)
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
			a.update(func() {
				for _, ref := range refs { // done with: a mark of a removed one would count on
					delete(a.contents[viewContainers].marked, ref)
				}
				a.title(viewContainers)
				if len(refs) > 1 && len(errs) > 0 {
					a.done(fmt.Sprintf("%s %s (%d failed)", what, name, len(errs)), errors.Join(errs...))
					return
				}
				a.done(what+" "+name, errors.Join(errs...))
			})
		})
	}
	if ask {
		q := fmt.Sprintf("%s %s?", strings.ToUpper(what[:1])+what[1:], name)
		if len(refs) == 1 {
			q = fmt.Sprintf("%s container %s?", strings.ToUpper(what[:1])+what[1:], name)
		}
		if what == "remove" {
			q += " A running one is killed first."
		}
		if hidden > 0 {
			q += fmt.Sprintf(" (%d more marked are hidden by the filter: left alone.)", hidden)
		}
		a.confirm(q, run)
		return
	}
	run()
}

func (a *App) done(what string, err error) {
	if err != nil {
		a.say(what+": "+err.Error(), true)
		return
	}
	a.say(what+": done", false)
}

// containerName is a container's node/name as the table shows it.
func (a *App) containerName(key string) string {
	c := a.contents[viewContainers]
	if r := c.find(key); r > 0 {
		return c.rows.at(c.view[r-1]).cell(0).text
	}
	return key
}

// remove removes the selected container or network, after asking.
func (a *App) remove() {
	ref := a.selected()
	if ref == "" {
		return
	}
	switch a.current {
	case viewContainers:
		a.containerAction("remove", true)
	case viewNetworks:
		c := a.contents[viewNetworks]
		r, _ := a.tables[viewNetworks].GetSelection()
		name := c.rows.at(c.view[r-1]).cell(0).text
		a.confirm(fmt.Sprintf("Remove network %s?", name), func() {
			a.goRun(func(ctx context.Context) {
				err := a.b.RemoveNetwork(ctx, name)
				a.update(func() { a.done("remove network "+name, err) })
			})
		})
	}
}

// askStopLaunch asks whether to stop the running launch, and pauses it
// while it asks: the container in flight finishes, no other starts until
// the answer. y stops it and the status line sums it up; n (or Esc) lets
// it go on.
func (a *App) askStopLaunch() {
	op := a.launching
	op.pause()
	a.flash = op.progress("")
	a.showStatus()
	a.showModal(fmt.Sprintf("Stop launching %s? It is paused until you answer.", op.what), []string{"Go on", "Stop"}, func(label string) {
		if label == "Stop" && a.launching == op {
			op.stop()
			a.say("stopping the launch of "+op.what+" after the container in flight…", false)
			return
		}
		op.resume()
		if a.launching == op {
			a.flash = op.progress("")
			a.showStatus()
		}
	})
}

// drill kills, hangs or heals the selected node's simulated engine.
func (a *App) drill(key rune) {
	src := a.b.Source()
	addr := a.selected()
	if addr == "" {
		return
	}
	sim := src.Sim(addr)
	if !src.Simulated || sim == nil {
		a.say("failure drills work on simulated clusters only: kill a real engine from its host", true)
		return
	}
	name := addr
	if n := a.st.byAddr[addr]; n != nil {
		name = n.Name
	}
	switch key {
	case 'K':
		a.confirm(fmt.Sprintf("Kill the engine of %s? Its containers with a reschedule policy will move.", cutName(name)), func() {
			sim.Crash()
			a.say("killed the engine of "+name, false)
		})
	case 'H':
		a.confirm(fmt.Sprintf("Hang the engine of %s? It will answer nothing until healed.", cutName(name)), func() {
			sim.Hang()
			a.say("hung the engine of "+name, false)
		})
	case 'E':
		sim.Heal()
		a.say("healed the engine of "+name, false)
	}
}
