package ui

import (
	"bufio"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/rivo/tview"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// enter opens the details of the selected row, in full.
func (a *App) enter(row int) {
	key := a.contents[a.current].key(row)
	if key == "" {
		return
	}
	switch a.current {
	case viewNodes:
		if n := a.st.byAddr[key]; n != nil && len(n.Containers) == 0 && !a.hasWaiting(n.Name) {
			a.nodeDetail(key) // nothing to drill into (a Pending node has not listed any yet): the node, and why
			return
		}
		a.nodeContainers(key) // as k9s drills from a node into its pods; i shows the node
	case viewContainers:
		a.containerDetail(key)
	case viewNetworks:
		a.networkDetail(row)
	case viewEvents:
		a.eventDetail(row)
	}
}

// field writes one "name: value" line of a detail page; values are
// escaped, the console's own colours are not.
func (a *App) field(sb *strings.Builder, name, value string) {
	if value == "" {
		return
	}
	fmt.Fprintf(sb, "%s%s:%s %s\n", a.th.tag(a.th.header), name, a.th.reset(), tview.Escape(value))
}

// nodeDetail shows a node: its figures, labels, containers (those
// waiting to move off it too) and images.
func (a *App) nodeDetail(addr string) {
	n := a.st.byAddr[addr]
	if n == nil {
		return
	}
	o := a.b.Scheduler().Overcommit()
	k := model.CountContainers(n.Containers)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s%s%s  %s\n", a.th.tag(a.th.title), tview.Escape(n.Name), a.th.reset(), n.Addr)
	a.field(&sb, "ID", n.ID)
	status := n.Health.String()
	if n.Health == model.Pending {
		status += ": not connected yet"
		if n.Failures > 0 {
			status += fmt.Sprintf(" (%d failed connections)", n.Failures)
		}
		status += "; its containers show once it is"
	}
	a.field(&sb, "Status", status)
	a.field(&sb, "Error", n.Error)
	a.field(&sb, "Warning", n.Warning)
	var waiting []backend.Queued
	for _, q := range a.st.waiting {
		if q.From == n.Name {
			waiting = append(waiting, q)
		}
	}
	running := k.Running
	if n.Health != model.Healthy {
		running = 0
	}
	a.field(&sb, "Containers", fmt.Sprintf("%d (%d Running, %d Paused, %d Stopped, %d Waiting to reschedule)",
		k.Total+len(waiting), running, k.Paused, k.Stopped, len(waiting)))
	a.field(&sb, "Reserved CPUs", n.ReservedCPUsText(o))
	a.field(&sb, "Reserved Memory", n.ReservedMemoryText(o))
	a.field(&sb, "Labels", labelText(n.Labels, false))
	if !n.Updated.IsZero() {
		a.field(&sb, "UpdatedAt", n.Updated.UTC().Format(time.RFC3339))
	}
	a.field(&sb, "ServerVersion", n.Version)
	fmt.Fprintf(&sb, "\n%sContainers%s\n", a.th.tag(a.th.header), a.th.reset())
	line := func(r row) {
		fmt.Fprintf(&sb, "  %-30s %-20s %-10s %s\n", tview.Escape(r.cell(0).text), tview.Escape(r.cell(1).text),
			tview.Escape(r.cell(2).text), tview.Escape(r.cell(5).text))
	}
	for _, c := range n.Containers {
		line(containerRow(c, n))
	}
	for _, q := range waiting {
		line(waitingRow(q))
	}
	if len(n.Containers)+len(waiting) == 0 {
		sb.WriteString("  none\n")
	}
	fmt.Fprintf(&sb, "\n%sImages%s (%d)\n", a.th.tag(a.th.header), a.th.reset(), len(n.Images))
	for _, im := range n.Images {
		tags := strings.Join(im.RepoTags, ", ")
		if tags == "" {
			tags = "<none>"
		}
		size := ""
		if im.Size > 0 {
			size = units.HumanSize(float64(im.Size))
		}
		fmt.Fprintf(&sb, "  %-40s %-12s %s\n", tview.Escape(tags), model.ShortID(strings.TrimPrefix(im.ID, "sha256:")), size)
	}
	keys := []pageKey{{'c', "its containers", func() { a.nodeContainers(addr) }}}
	if _, ok := a.b.(puller); ok && n.Health == model.Healthy {
		keys = append(keys, pageKey{'P', "pull an image onto it", func() { a.askPullOnto([]string{addr}, n.Name) }})
	}
	a.page("node", "Node "+n.Name+" (Esc back)", sb.String(), keys...)
}

// hasWaiting reports whether a container waits to move off the node named
// name.
func (a *App) hasWaiting(name string) bool {
	return slices.ContainsFunc(a.st.waiting, func(q backend.Queued) bool { return q.From == name })
}

// nodeContainers drills from a node into its containers (the waiting
// ones too): the containers view, filtered to the node; Esc clears the
// filter and goes back to the nodes.
func (a *App) nodeContainers(addr string) {
	n := a.st.byAddr[addr]
	if n == nil {
		return
	}
	a.show(viewContainers)
	a.filterBy("node:^" + regexp.QuoteMeta(n.Name) + "/")
	a.back = viewNodes
}

// findContainer finds the container a containers-view row shows: on its
// node, or waiting to be rescheduled.
func (a *App) findContainer(key string) (*model.Container, *model.Node, *backend.Queued) {
	for i := range a.st.waiting {
		if waitingKey(a.st.waiting[i].Container) == key {
			return a.st.waiting[i].Container, nil, &a.st.waiting[i]
		}
	}
	for _, n := range a.st.nodes {
		for _, c := range n.Containers {
			if c.ID == key || (c.ID == "" && key == "pending/"+c.SwarmID) {
				return c, n, nil
			}
		}
	}
	return nil, nil, nil
}

// containerDetail shows a container in full: state (and why it waits),
// rules, policy, ports, labels, env.
func (a *App) containerDetail(key string) {
	c, n, q := a.findContainer(key)
	if c == nil {
		return
	}
	r := containerRow(c, n)
	if q != nil {
		r = waitingRow(*q)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s%s%s\n", a.th.tag(a.th.title), tview.Escape(r.cell(0).text), a.th.reset())
	a.field(&sb, "ID", c.ID)
	a.field(&sb, "Image", c.Image)
	if q != nil {
		a.field(&sb, "State", "waiting to be rescheduled off "+q.From+" since "+q.Since.UTC().Format(time.RFC3339))
		reason := q.Reason
		if reason == "" {
			reason = "not tried yet"
		}
		a.field(&sb, "Reason", reason)
	} else {
		a.field(&sb, "State", r.cell(2).text)
		a.field(&sb, "Node", n.Name+" ("+n.Addr+")")
	}
	a.field(&sb, "Command", strings.Join(c.Cmd, " "))
	a.field(&sb, "CPUs", r.cell(3).text)
	a.field(&sb, "Memory", r.cell(4).text)
	a.field(&sb, "Rules", r.cell(5).text)
	a.field(&sb, "Reschedule", r.cell(6).text)
	a.field(&sb, "Ports", r.cell(7).text)
	a.field(&sb, "Network", c.NetworkMode)
	a.field(&sb, "Labels", labelText(c.DockerLabels(), false))
	a.field(&sb, "Env", strings.Join(c.Env, " "))
	if !c.Created.IsZero() {
		a.field(&sb, "Created", c.Created.UTC().Format(time.RFC3339))
	}
	var keys []pageKey
	if q == nil && c.ID != "" {
		keys = []pageKey{{'i', "inspect", func() { a.inspect(key) }}, {'l', "logs", func() { a.logs(key) }}}
	}
	a.page("detail", "Container "+r.cell(0).text+" (Esc back)", sb.String(), keys...)
}

// networkDetail shows a network row in full, with its containers.
func (a *App) networkDetail(row int) {
	c := a.contents[viewNetworks]
	r := c.rows.at(c.view[row-1])
	var sb strings.Builder
	for i, col := range c.columns {
		if col == "NODE/NAME" {
			col = "NAME" // the node, when it is one node's, is in the name: node-1/net
		}
		a.field(&sb, col, r.cell(i).text)
	}
	if len(r.detail()) > 0 {
		// The network lists its containers by ID: say them as the tables
		// do, node/name, with the short ID. A key press reads every
		// container once.
		named := make(map[string]string, len(r.detail()))
		for _, id := range r.detail() {
			named[id] = ""
		}
		for _, n := range a.st.nodes {
			for _, ct := range n.Containers {
				if _, ok := named[ct.ID]; ok {
					named[ct.ID] = n.Name + "/" + ct.Name
				}
			}
		}
		fmt.Fprintf(&sb, "\n%sContainers%s\n", a.th.tag(a.th.header), a.th.reset())
		for _, id := range r.detail() {
			if name := named[id]; name != "" {
				fmt.Fprintf(&sb, "  %-30s %s\n", tview.Escape(name), model.ShortID(id))
			} else {
				sb.WriteString("  " + tview.Escape(id) + "\n")
			}
		}
	}
	a.page("detail", "Network "+r.cell(0).text+" (Esc back)", sb.String())
}

// eventDetail shows an event with its whole message.
func (a *App) eventDetail(row int) {
	c := a.contents[viewEvents]
	r := c.rows.at(c.view[row-1])
	var sb strings.Builder
	for i, col := range c.columns {
		text := r.cell(i).text
		if col == "MESSAGE" && len(r.detail()) > 0 {
			text = r.detail()[0]
		}
		a.field(&sb, col, text)
	}
	a.page("detail", "Event (Esc back)", sb.String())
}

// messages shows the status line's messages, newest first, in full.
func (a *App) messages() {
	var sb strings.Builder
	if len(a.msgs) == 0 {
		sb.WriteString("No messages yet.")
	}
	for i := len(a.msgs) - 1; i >= 0; i-- {
		m := a.msgs[i]
		color := a.th.fg
		if m.bad {
			color = a.th.bad
		}
		fmt.Fprintf(&sb, "%s%s%s %s%s%s\n", a.th.tag(a.th.dim), m.at.Format("15:04:05"), a.th.reset(),
			a.th.tag(color), tview.Escape(m.text), a.th.reset())
	}
	a.page("messages", "Messages, newest first (Esc back)", sb.String())
}

// inspect shows `docker inspect` of a container: the engine's document,
// read off the UI goroutine.
func (a *App) inspect(ref string) {
	if ref == "" || strings.HasPrefix(ref, "pending/") {
		return
	}
	if strings.HasPrefix(ref, "waiting/") {
		a.containerDetail(ref) // no engine holds it: its details say why
		return
	}
	name := a.containerName(ref)
	tv := a.page("inspect", "Inspect "+name+" (Esc back)", "reading…")
	tv.SetDynamicColors(false)
	a.goRun(func(ctx context.Context) {
		doc, err := a.b.InspectDocument(ctx, ref)
		a.update(func() {
			if err != nil {
				tv.SetText("inspect " + name + ": " + err.Error())
				return
			}
			tv.SetText(string(doc))
		})
	})
}

// logs streams a container's output into a page until it is closed.
func (a *App) logs(ref string) {
	if ref == "" || strings.HasPrefix(ref, "pending/") {
		return
	}
	name := a.containerName(ref)
	tv := a.page("logs", "Logs "+name+" (following; Esc back)", "")
	tv.SetDynamicColors(false).SetMaxLines(5000) // flush follows the end: tview calls a changed func on a goroutine of its own
	ctx, stop := context.WithCancel(a.ctx)
	a.onClose["logs"] = stop // Esc or q: the follow ends
	a.goRun(func(context.Context) {
		defer stop()
		rc, err := a.b.Logs(ctx, ref, true)
		if err != nil {
			a.update(func() { fmt.Fprintf(tv, "cannot read the logs of %s: %v\n", name, err) })
			return
		}
		// The scanner ends with the view: closing the stream ends a
		// blocked read, and a send gives up when the view is closed.
		lines, scanned := make(chan string, 256), make(chan struct{})
		go func() {
			defer close(scanned)
			defer close(lines)
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				select {
				case lines <- sc.Text():
				case <-ctx.Done():
					return
				}
			}
		}()
		defer func() {
			stop()
			rc.Close()
			<-scanned
		}()
		// Coalesce lines: one redraw per refreshEvery at most.
		tick := time.NewTicker(refreshEvery)
		defer tick.Stop()
		var pending []string
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					flush(a, tv, pending)
					return
				}
				pending = append(pending, l)
			case <-tick.C:
				flush(a, tv, pending)
				pending = nil
			case <-ctx.Done():
				return
			}
		}
	})
}

func flush(a *App, tv *tview.TextView, lines []string) {
	if len(lines) == 0 {
		return
	}
	text := strings.Join(lines, "\n") + "\n"
	a.update(func() {
		fmt.Fprint(tv, text)
		tv.ScrollToEnd()
	})
}

// networkForm asks for a network to create on one node or every node.
func (a *App) networkForm() {
	form := tview.NewForm()
	nodes := []string{"every node"}
	for _, n := range a.st.nodes {
		if n.Health == model.Healthy {
			nodes = append(nodes, n.Name)
		}
	}
	form.AddInputField("Name", "", 30, nil, nil).
		AddDropDown("Driver", []string{"bridge", "macvlan", "ipvlan"}, 0, nil).
		AddDropDown("On", nodes, 0, nil)
	form.AddButton("Create", func() {
		name := form.GetFormItemByLabel("Name").(*tview.InputField).GetText()
		_, driver := form.GetFormItemByLabel("Driver").(*tview.DropDown).GetCurrentOption()
		i, on := form.GetFormItemByLabel("On").(*tview.DropDown).GetCurrentOption()
		if strings.TrimSpace(name) == "" {
			a.say("a network needs a name", true)
			return
		}
		if i > 0 {
			name = on + "/" + name
		}
		a.closePage("network")
		a.goRun(func(ctx context.Context) {
			_, err := a.b.CreateNetwork(ctx, name, driver)
			a.update(func() { a.done("create network "+name, err) })
		})
	}).AddButton("Cancel", func() { a.closePage("network") })
	form.SetCancelFunc(func() { a.closePage("network") })
	form.SetBorder(true).SetTitle(" Create a network (Esc cancels) ")
	a.pages.AddAndSwitchToPage("network", center(form, 60, 11), true)
	a.app.SetFocus(form)
}

// center puts p in the middle of the screen at the given size.
func center(p tview.Primitive, w, h int) tview.Primitive {
	return tview.NewFlex().AddItem(nil, 0, 1, false).
		AddItem(tview.NewFlex().SetDirection(tview.FlexRow).AddItem(nil, 0, 1, false).AddItem(p, h, 0, true).AddItem(nil, 0, 1, false), w, 0, true).
		AddItem(nil, 0, 1, false)
}
