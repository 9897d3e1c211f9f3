package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"swarmdeck/model"
)

// enter drills into the selected row: a node's detail, a container's
// inspect.
func (a *App) enter(row int) {
	key := a.contents[a.current].key(row)
	switch a.current {
	case viewNodes:
		a.nodeDetail(key)
	case viewContainers:
		a.inspect(key)
	}
}

// nodeDetail shows a node: its figures, labels, containers and images.
func (a *App) nodeDetail(addr string) {
	n := a.st.byAddr[addr]
	if n == nil {
		return
	}
	o := a.b.Scheduler().Overcommit()
	k := model.CountContainers(n.Containers)
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s%s%s  %s\n", a.th.tag(a.th.title), n.Name, a.th.reset(), n.Addr)
	fmt.Fprintf(&sb, "  └ ID: %s\n  └ Status: %s\n", n.ID, n.Health)
	fmt.Fprintf(&sb, "  └ Containers: %d (%d Running, %d Paused, %d Stopped)\n", k.Total, k.Running, k.Paused, k.Stopped)
	fmt.Fprintf(&sb, "  └ Reserved CPUs: %s\n  └ Reserved Memory: %s\n", n.ReservedCPUsText(o), n.ReservedMemoryText(o))
	fmt.Fprintf(&sb, "  └ Labels: %s\n", labelText(n.Labels, false))
	if n.Error != "" {
		fmt.Fprintf(&sb, "  └ Error: %s\n", n.Error)
	}
	if n.Warning != "" {
		fmt.Fprintf(&sb, "  └ Warning: %s\n", n.Warning)
	}
	if !n.Updated.IsZero() {
		fmt.Fprintf(&sb, "  └ UpdatedAt: %s\n", n.Updated.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&sb, "  └ ServerVersion: %s\n\n%sContainers%s\n", n.Version, a.th.tag(a.th.header), a.th.reset())
	for _, c := range n.Containers {
		r := containerRow(c, n)
		fmt.Fprintf(&sb, "  %-30s %-20s %-10s %s\n", r.cells[0].text, r.cells[1].text, r.cells[2].text, r.cells[5].text)
	}
	fmt.Fprintf(&sb, "\n%sImages%s\n", a.th.tag(a.th.header), a.th.reset())
	for _, im := range n.Images {
		fmt.Fprintf(&sb, "  %-40s %s\n", strings.Join(im.RepoTags, ", "), model.ShortID(strings.TrimPrefix(im.ID, "sha256:")))
	}
	a.page("node", "Node "+n.Name+" (Esc back)", tview.Escape(sb.String()))
}

// inspect shows a container as JSON, with its node.
func (a *App) inspect(ref string) {
	if ref == "" || strings.HasPrefix(ref, "pending/") {
		return
	}
	c, n, err := a.b.Inspect(ref)
	if c == nil {
		a.say("inspect: "+err.Error(), true)
		return
	}
	out := struct {
		*model.Container
		NodeInfo struct{ ID, Name, Addr string } `json:"Node"`
	}{Container: c}
	if n != nil {
		out.NodeInfo.ID, out.NodeInfo.Name, out.NodeInfo.Addr = n.ID, n.Name, n.Addr
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	a.page("inspect", "Inspect "+a.containerName(ref)+" (Esc back)", tview.Escape(string(b)))
}

// logs streams a container's output into a page until it is closed.
func (a *App) logs(ref string) {
	if ref == "" || strings.HasPrefix(ref, "pending/") {
		return
	}
	name := a.containerName(ref)
	tv := a.page("logs", "Logs "+name+" (following; Esc back)", "")
	tv.SetDynamicColors(false).SetMaxLines(5000).SetChangedFunc(func() { tv.ScrollToEnd() })
	ctx, stop := context.WithCancel(a.ctx)
	tv.SetDoneFunc(func(tcell.Key) {
		stop()
		a.closePage("logs")
	})
	a.goRun(func(context.Context) {
		defer stop()
		rc, err := a.b.Logs(ctx, ref, true)
		if err != nil {
			a.update(func() { fmt.Fprintf(tv, "cannot read the logs of %s: %v\n", name, err) })
			return
		}
		defer rc.Close()
		go func() { <-ctx.Done(); rc.Close() }()
		lines := make(chan string, 256)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				lines <- sc.Text()
			}
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
	a.update(func() { fmt.Fprint(tv, text) })
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
