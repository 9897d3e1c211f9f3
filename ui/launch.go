package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"swarmdeck/clusterfile"
	"swarmdeck/model"
	"swarmdeck/sched"
)

// launchValues is what the form holds, read on the UI goroutine.
type launchValues struct {
	Image, Name, Command, CPUs, Memory, Ports string
	Env, Labels, Constraints, Affinities      string // one entry per line
	Reschedule                                string
	Count                                     string

	// MaxCPUs is the largest node's CPU count, for Docker's --cpus range;
	// 0 until the preview worker has seen the nodes.
	MaxCPUs int
}

// launchError is a form value that is wrong, with the field it is in.
type launchError struct {
	Field string
	Err   error
}

func (e *launchError) Error() string { return e.Field + ": " + e.Err.Error() }

// config turns the form into the config `docker run` would send, and the
// count. Constraints and affinities are one per line, without their
// prefix.
func (v launchValues) config() (model.Config, int, error) {
	bad := func(field string, err error) (model.Config, int, error) {
		return model.Config{}, 0, &launchError{Field: field, Err: err}
	}
	cfg := model.Config{Image: strings.TrimSpace(v.Image), Name: strings.TrimSpace(v.Name), Cmd: strings.Fields(v.Command),
		Labels: map[string]string{}, NetworkMode: "bridge"}
	if cfg.Image == "" {
		return bad("Image", errors.New("an image is required"))
	}
	if err := model.CheckName(cfg.Name); err != nil {
		return bad("Name", err)
	}
	count := 1
	if s := strings.TrimSpace(v.Count); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return bad("Count", fmt.Errorf("%q: want a number from 1 to 1000", s))
		}
		count = n
	}
	var err error
	if s := strings.TrimSpace(v.CPUs); s != "" {
		if cfg.CPUs, err = model.ParseCPUs(s, v.MaxCPUs); err != nil {
			return bad("CPUs", err)
		}
	}
	if s := strings.TrimSpace(v.Memory); s != "" {
		if cfg.Memory, err = model.ParseBytes(s); err == nil {
			err = model.Resources{Memory: cfg.Memory}.Check(0, false)
		}
		if err != nil {
			return bad("Memory", err)
		}
	}
	if cfg.Ports, err = clusterfile.ParsePorts(strings.FieldsFunc(v.Ports, func(r rune) bool { return r == ',' || r == ' ' })); err != nil {
		return bad("Ports", err)
	}
	cfg.Env = lines(v.Env)
	for _, l := range lines(v.Labels) {
		k, val, _ := strings.Cut(l, "=")
		if k == "" {
			return bad("Labels", fmt.Errorf("%q: want KEY=VALUE", l))
		}
		cfg.Labels[k] = val
	}
	for _, c := range lines(v.Constraints) {
		cfg.Env = append(cfg.Env, "constraint:"+strings.TrimPrefix(c, "constraint:"))
	}
	for _, c := range lines(v.Affinities) {
		cfg.Env = append(cfg.Env, "affinity:"+strings.TrimPrefix(c, "affinity:"))
	}
	if v.Reschedule != "" && v.Reschedule != sched.RescheduleOff {
		cfg.Env = append(cfg.Env, "reschedule:"+v.Reschedule)
	}
	return cfg, count, nil
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// names gives the container names of a launch: NAME-1…NAME-N for a count.
func names(name string, count int) []string {
	out := make([]string, count)
	for i := range out {
		out[i] = name
		if name != "" && count > 1 {
			out[i] = fmt.Sprintf("%s-%d", name, i+1)
		}
	}
	return out
}

// previewText explains where each container of a launch would go on the
// given nodes, and for every other node why not. It leads with a summary
// line: how many are placeable, and why the first that is not fails. It
// is pure.
func previewText(nodes []*model.Node, s *sched.Scheduler, v launchValues, th theme) (string, error) {
	cfg, count, err := v.config()
	if err != nil {
		return "", err
	}
	snap := sched.NewSnapshot(nodes)
	var sb strings.Builder
	bad, ok, dim, rs := th.tag(th.bad), th.tag(th.ok), th.tag(th.dim), th.reset()
	placed, why := 0, ""
	for i, name := range names(cfg.Name, count) {
		c := cfg
		c.Name = name
		req, err := sched.NewRequest(c)
		if err != nil {
			return "", err
		}
		req.Seed = uint64(i + 1)
		label := name
		if label == "" {
			label = fmt.Sprintf("#%d", i+1)
		}
		if snap.NameInUse(name) {
			why = label + " fails: " + model.NameConflict(name).Error()
			fmt.Fprintf(&sb, "%s✗ %s: %s%s\n", bad, label, tview.Escape(model.NameConflict(name).Error()), rs)
			break
		}
		p, err := s.Explain(snap, req)
		if err != nil {
			why = label + " fails: " + err.Error()
			fmt.Fprintf(&sb, "%s✗ %s: %s%s\n", bad, label, tview.Escape(err.Error()), rs)
			var pe *sched.PlacementError
			if errors.As(err, &pe) {
				why = label + " fails: " + pe.Summary
				fmt.Fprintf(&sb, "%s\n", tview.Escape(pe.Summary))
				writeReports(&sb, pe.Nodes, th)
			}
			break
		}
		placed++
		soft := ""
		if !p.Soft {
			soft = dim + " (soft expressions dropped)" + rs
		}
		fmt.Fprintf(&sb, "%s✓ %s → %s%s%s\n", ok, label, p.Node.Name, rs, soft)
		if i == 0 {
			writeReports(&sb, p.Nodes, th)
			if count > 1 {
				sb.WriteString("\n")
			}
		}
		snap.AddContainer(p.Node.Addr, &model.Container{Config: req.Config, Node: p.Node.Addr, State: model.Running})
	}
	summary := fmt.Sprintf("%s%d of %d placeable%s", ok, placed, count, rs)
	if why != "" {
		summary = fmt.Sprintf("%s%d of %d placeable; %s%s", bad, placed, count, tview.Escape(why), rs)
	}
	return summary + "\n\n" + sb.String(), nil
}

func writeReports(sb *strings.Builder, reps []sched.NodeReport, th theme) {
	kept := slices.Clone(reps)
	kept = slices.DeleteFunc(kept, func(r sched.NodeReport) bool { return !r.Kept })
	slices.SortFunc(kept, func(a, b sched.NodeReport) int { return a.Rank - b.Rank })
	for _, r := range kept {
		fmt.Fprintf(sb, "   %s#%d %-14s%s weight %d · cpu %d%% · mem %d%% · health %d · %d containers\n",
			th.tag(th.ok), r.Rank, r.Node.Name, th.reset(), r.Score.Weight, r.Score.CPU, r.Score.Memory, r.Score.Health, r.Score.Containers)
	}
	for _, r := range reps {
		if !r.Kept {
			why := make([]string, len(r.Reasons))
			for i, x := range r.Reasons {
				why[i] = x.String()
			}
			fmt.Fprintf(sb, "   %s✗ %-14s%s %s\n", th.tag(th.dim), r.Node.Name, th.reset(), tview.Escape(strings.Join(why, "; ")))
		}
	}
}

// launchForm is the open launch form.
type launchForm struct {
	form    *tview.Form
	preview *tview.TextView
	errLine *tview.TextView
	reqs    chan launchValues // latest values for the preview worker
	stop    context.CancelFunc
	busy    bool
	maxCPUs int // the largest node's CPUs, as the preview worker last saw them

	body, left, page *tview.Flex
	help             *tview.TextView
	narrow           bool
}

// narrowLaunch is the width under which the preview goes below the form.
const narrowLaunch = 120

// fitLaunch lays the launch form out for the screen: the preview beside
// the form on a wide terminal; below it, wrapped, on a narrow one, with
// the syntax help left to the ? page.
func (a *App) fitLaunch() {
	lf := a.launch
	if lf == nil || a.width == 0 {
		return
	}
	narrow := a.width < narrowLaunch
	if narrow == lf.narrow && lf.body.GetItemCount() > 0 {
		return
	}
	lf.narrow = narrow
	lf.body.Clear()
	if narrow {
		lf.body.SetDirection(tview.FlexRow).AddItem(lf.left, 0, 3, true).AddItem(lf.preview, 0, 2, false)
		lf.page.ResizeItem(lf.help, 0, 0)
		lf.left.ResizeItem(lf.errLine, 2, 0)
	} else {
		lf.body.SetDirection(tview.FlexColumn).AddItem(lf.left, 50, 0, true).AddItem(lf.preview, 0, 1, false)
		lf.page.ResizeItem(lf.help, 2, 0)
		lf.left.ResizeItem(lf.errLine, 4, 0)
	}
}

const syntaxHelp = "constraint / affinity, one per line:  key==value  key!=value  key==~soft  glob*  /regex/  (?i)x  a|b" +
	"   keys: node, engine labels (constraints); container, image, container labels (affinities)"

// openLaunch opens the launch form.
func (a *App) openLaunch() {
	if a.launch != nil {
		return
	}
	lf := &launchForm{form: tview.NewForm(), preview: tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true),
		errLine: tview.NewTextView().SetDynamicColors(true), reqs: make(chan launchValues, 1)}
	a.launch = lf
	f := lf.form
	changed := func(string) { a.previewLater() }
	f.AddInputField("Image", "", 30, nil, changed).
		AddInputField("Name", "", 30, nil, changed).
		AddInputField("Command", "", 30, nil, changed).
		AddInputField("CPUs", "", 8, nil, changed).
		AddInputField("Memory", "", 8, nil, changed).
		AddInputField("Ports", "", 30, nil, changed).
		AddTextArea("Env", "", 30, 2, 0, changed).
		AddTextArea("Labels", "", 30, 2, 0, changed).
		AddTextArea("Constraints", "", 30, 3, 0, changed).
		AddTextArea("Affinities", "", 30, 2, 0, changed).
		AddDropDown("Reschedule", []string{sched.RescheduleOff, sched.RescheduleOnNodeFailure}, 0, func(string, int) { a.previewLater() }).
		AddInputField("Count", "1", 6, func(s string, r rune) bool { return r >= '0' && r <= '9' }, changed).
		AddButton("Launch", a.submitLaunch).
		AddButton("Cancel", a.closeLaunch)
	f.SetCancelFunc(a.closeLaunch)
	f.SetItemPadding(0)
	f.SetBorder(true).SetTitle(" Launch (Tab next field, Esc cancel) ")
	lf.preview.SetBorder(true).SetTitle(" Where it would go ")
	help := tview.NewTextView().SetText(syntaxHelp).SetWrap(true).SetTextColor(a.th.dim)
	left := tview.NewFlex().SetDirection(tview.FlexRow).AddItem(f, 0, 1, true).AddItem(lf.errLine, 4, 0, false)
	body := tview.NewFlex().AddItem(left, 50, 0, true).AddItem(lf.preview, 0, 1, false)
	page := tview.NewFlex().SetDirection(tview.FlexRow).AddItem(body, 0, 1, true).AddItem(help, 2, 0, false)
	lf.body, lf.left, lf.page, lf.help = body, left, page, help
	a.fitLaunch()
	a.hints.SetText(hintLine([]hint{{"Tab", " next field", 0}, {"PgUp PgDn", " scroll the preview", 1}, {"Esc", " cancel", 0}}, nil, a.width, a.th))
	// PgUp/PgDn scroll the preview while the form keeps the keyboard.
	f.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		switch ev.Key() {
		case tcell.KeyPgDn, tcell.KeyPgUp:
			lf.preview.InputHandler()(ev, nil)
			return nil
		}
		return ev
	})
	a.pages.AddAndSwitchToPage("launch", page, true)
	a.app.SetFocus(f)
	ctx, stop := context.WithCancel(a.ctx)
	lf.stop = stop
	a.goRun(func(context.Context) { a.previewWorker(ctx, lf) })
	a.previewLater()
}

func (a *App) closeLaunch() {
	if a.launch == nil {
		return
	}
	a.launch.stop()
	a.launch = nil
	a.closePage("launch")
}

// values reads the form; on the UI goroutine.
func (lf *launchForm) values() launchValues {
	f := lf.form
	text := func(label string) string {
		switch it := f.GetFormItemByLabel(label).(type) {
		case *tview.InputField:
			return it.GetText()
		case *tview.TextArea:
			return it.GetText()
		}
		return ""
	}
	resched := ""
	if dd, ok := f.GetFormItemByLabel("Reschedule").(*tview.DropDown); ok { // nil while the form is built
		_, resched = dd.GetCurrentOption()
	}
	return launchValues{Image: text("Image"), Name: text("Name"), Command: text("Command"), CPUs: text("CPUs"),
		Memory: text("Memory"), Ports: text("Ports"), Env: text("Env"), Labels: text("Labels"),
		Constraints: text("Constraints"), Affinities: text("Affinities"), Reschedule: resched, Count: text("Count")}
}

// previewLater hands the current values to the preview worker, replacing
// any it has not started on.
func (a *App) previewLater() {
	lf := a.launch
	if lf == nil {
		return
	}
	v := lf.values()
	select {
	case <-lf.reqs:
	default:
	}
	lf.reqs <- v
}

// previewWorker computes previews off the UI goroutine, always for the
// latest values, and marks a malformed field at once.
func (a *App) previewWorker(ctx context.Context, lf *launchForm) {
	for {
		select {
		case <-ctx.Done():
			return
		case v := <-lf.reqs:
			if v.Image == "" {
				v.Image = "(image)"
			}
			nodes := a.b.Nodes()
			v.MaxCPUs = 0
			for _, n := range nodes {
				v.MaxCPUs = max(v.MaxCPUs, n.CPUs)
			}
			text, err := previewText(nodes, a.b.Scheduler(), v, a.th)
			a.update(func() {
				if a.launch != lf {
					return
				}
				lf.maxCPUs = v.MaxCPUs
				a.markFields(lf, err)
				if err != nil {
					text = a.th.tag(a.th.bad) + "✗ " + tview.Escape(err.Error()) + a.th.reset()
				}
				lf.preview.SetText(text)
			})
		}
	}
}

// markFields colours the label of the field an error is in.
func (a *App) markFields(lf *launchForm, err error) {
	field := ""
	var le *launchError
	var ee *sched.ExprError
	switch {
	case errors.As(err, &le):
		field = le.Field
	case errors.As(err, &ee):
		field = map[sched.Kind]string{sched.KindConstraint: "Constraints", sched.KindAffinity: "Affinities", sched.KindWhitelist: "Env"}[ee.Kind]
	case sched.IsInvalid(err):
		field = "Reschedule"
	}
	for i := 0; i < lf.form.GetFormItemCount(); i++ {
		it := lf.form.GetFormItem(i)
		color := tview.Styles.SecondaryTextColor
		if it.GetLabel() == field {
			color = a.th.bad
			if a.th.noColor {
				color = tcell.ColorDefault
			}
		}
		switch x := it.(type) {
		case *tview.InputField:
			x.SetLabelColor(color)
		case *tview.TextArea:
			x.SetLabelStyle(tcell.StyleDefault.Foreground(color))
		}
	}
}

// submitLaunch creates (and starts) the containers through the cluster,
// with progress; errors stay in the form.
func (a *App) submitLaunch() {
	lf := a.launch
	if lf == nil || lf.busy {
		return
	}
	v := lf.values()
	v.MaxCPUs = lf.maxCPUs
	cfg, count, err := v.config()
	if err == nil {
		_, err = sched.NewRequest(cfg)
	}
	if err != nil {
		a.markFields(lf, err)
		lf.errLine.SetText(a.th.tag(a.th.bad) + tview.Escape(err.Error()) + a.th.reset())
		return
	}
	lf.busy = true
	lf.errLine.SetText(fmt.Sprintf("launching 0/%d…", count))
	a.goRun(func(ctx context.Context) {
		var errs []string
		done := 0
		for i, name := range names(cfg.Name, count) {
			c := cfg
			c.Name = name
			ct, err := a.b.Create(ctx, c)
			if err == nil {
				err = a.b.Start(ctx, ct.ID)
			}
			if err != nil {
				label := name
				if label == "" {
					label = fmt.Sprintf("#%d", i+1)
				}
				errs = append(errs, label+": "+err.Error())
			} else {
				done++
			}
			n := i + 1
			a.update(func() {
				if a.launch == lf {
					lf.errLine.SetText(fmt.Sprintf("launching %d/%d… %d failed", n, count, n-done))
				}
			})
		}
		a.update(func() {
			if a.launch != lf {
				return
			}
			lf.busy = false
			if len(errs) > 0 {
				lf.errLine.SetText(a.th.tag(a.th.bad) + fmt.Sprintf("%d of %d launched; ", done, count) + tview.Escape(strings.Join(errs, "; ")) + a.th.reset())
				return
			}
			a.closeLaunch()
			a.show(viewContainers)
			a.say(fmt.Sprintf("launched %d container(s) of %s", count, cfg.Image), false)
		})
	})
}
