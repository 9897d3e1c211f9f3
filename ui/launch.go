package ui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/distribution/reference"
	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"swarmdeck/clusterfile"
	"swarmdeck/model"
	"swarmdeck/sched"
)

// launchValues is what the form holds, read on the UI goroutine.
type launchValues struct {
	Image, Name, Command, CPUs, Memory, Ports, Network string
	Env, Labels, Constraints, Affinities               string // one entry per line
	Reschedule                                         string
	Count                                              string
	OnFailure                                          string // onFailureStop or onFailureGoOn

	// MaxCPUs is the largest node's CPU count, for Docker's --cpus range;
	// 0 until the preview worker has seen the nodes.
	MaxCPUs int
	// Networks are the names of the cluster's networks, for the Network
	// field; nil until the preview worker has seen them.
	Networks []string
	// Width is the preview's width, to wrap its lines to (0: no limit).
	Width int
}

// What a launch does at a container that cannot be launched.
const (
	onFailureStop = "stop"  // the default: stop there, as the preview predicts
	onFailureGoOn = "go on" // try every one, and count the failures
)

// noImage stands for the image in a preview before one is typed.
const noImage = "(image)"

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
	if cfg.Image != noImage {
		if _, err := reference.ParseAnyReference(cfg.Image); err != nil {
			return bad("Image", fmt.Errorf("%q: %w", cfg.Image, err)) // dockerd's words: invalid reference format…
		}
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
	if s := strings.TrimSpace(v.Network); s != "" {
		if v.Networks != nil && !strings.HasPrefix(s, "container:") && !slices.Contains(v.Networks, s) {
			return bad("Network", fmt.Errorf("no network %q in the cluster (it has: %s)", s, strings.Join(v.Networks, ", ")))
		}
		cfg.NetworkMode = s
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
		if p, ok := cfg.Labels[model.LabelReschedulePolicies]; ok {
			// One policy: Swarm would merge both and say only "too many
			// reschedule policies".
			return bad("Reschedule", fmt.Errorf("the Reschedule field (%s) and the label %s=%s both set a policy: keep one of them",
				v.Reschedule, model.LabelReschedulePolicies, p))
		}
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
// is pure. It gives up, with ctx's error, once ctx ends (the form closed
// or its values changed: a preview of 1,000 containers on 1,000 nodes
// takes a quarter of a second).
func previewText(ctx context.Context, nodes []*model.Node, s *sched.Scheduler, v launchValues, th theme) (string, error) {
	cfg, count, err := v.config()
	if err != nil {
		return "", err
	}
	snap, err := snapshotOf(ctx, nodes)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	bad, ok, dim, rs := th.tag(th.bad), th.tag(th.ok), th.tag(th.dim), th.reset()
	placed, why := 0, ""
	for i, name := range names(cfg.Name, count) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		c := cfg
		c.Name = name
		req, err := sched.NewRequest(c)
		if err != nil {
			return "", err
		}
		req.Seed = uint64(i + 1)
		label := cutName(name) // a name of 200 characters took lines of its own (names have no brackets: nothing to escape)
		if label == "" {
			label = fmt.Sprintf("#%d", i+1)
		}
		if snap.NameInUse(name) {
			why = label + " fails: " + model.NameConflict(name).Error()
			hang(&sb, v.Width, 2, fmt.Sprintf("%s✗ %s: %s%s", bad, label, tview.Escape(model.NameConflict(name).Error()), rs))
			break
		}
		p, err := s.Explain(snap, req)
		if err != nil {
			why = label + " fails: " + err.Error()
			hang(&sb, v.Width, 2, fmt.Sprintf("%s✗ %s: %s%s", bad, label, tview.Escape(err.Error()), rs))
			var pe *sched.PlacementError
			if errors.As(err, &pe) {
				why = label + " fails: " + pe.Summary
				hang(&sb, v.Width, 2, "  "+tview.Escape(pe.Summary))
				writeReports(&sb, pe.Nodes, th, v.Width)
			}
			break
		}
		placed++
		soft := ""
		if !p.Soft {
			soft = dim + " (soft expressions dropped)" + rs
		}
		hang(&sb, v.Width, 2, fmt.Sprintf("%s✓ %s → %s%s%s", ok, label, tview.Escape(cutName(p.Node.Name)), rs, soft))
		if cfg.Image != noImage && !hasImage(p.Node, cfg.Image) {
			hang(&sb, v.Width, 5, fmt.Sprintf("   %s⇣ %s is not on %s: it is pulled there first%s", th.tag(th.accent), tview.Escape(cfg.Image), tview.Escape(cutName(p.Node.Name)), rs))
		}
		if i == 0 {
			writeReports(&sb, p.Nodes, th, v.Width)
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

// writeReports writes the per-node lines of a placement, the kept
// nodes by rank, then the others with why not, each wrapped to width
// under its node.
func writeReports(sb *strings.Builder, reps []sched.NodeReport, th theme, width int) {
	kept := slices.Clone(reps)
	kept = slices.DeleteFunc(kept, func(r sched.NodeReport) bool { return !r.Kept })
	slices.SortFunc(kept, func(a, b sched.NodeReport) int { return a.Rank - b.Rank })
	for _, r := range kept {
		hang(sb, width, reportHang, fmt.Sprintf("   %s#%d %-14s%s weight %d · cpu %d%% · mem %d%% · health %d · %d containers",
			th.tag(th.ok), r.Rank, tview.Escape(cutName(r.Node.Name)), th.reset(), r.Score.Weight, r.Score.CPU, r.Score.Memory, r.Score.Health, r.Score.Containers))
	}
	for _, r := range reps {
		if !r.Kept {
			why := make([]string, len(r.Reasons))
			for i, x := range r.Reasons {
				why[i] = x.String()
			}
			hang(sb, width, reportHang, fmt.Sprintf("   %s✗ %-14s%s %s", th.tag(th.dim), tview.Escape(cutName(r.Node.Name)), th.reset(), tview.Escape(strings.Join(why, "; "))))
		}
	}
}

// reportHang is how far a per-node line's continuation lines are
// indented: past the line's own start, so that each node's line reads
// as one.
const reportHang = 6

// hang writes line to sb wrapped to width (0: as it is), its
// continuation lines indented by indent: the preview's TextView wraps
// what is wider than it back to its first column, and a node's line
// wrapped so read as the next node's. It breaks after a "·" or ";" (a
// figure or a reason stays whole: "30 containers"), else at a space.
func hang(sb *strings.Builder, width, indent int, line string) {
	if first, rest, ok := strings.Cut(line, "\n"); ok { // Swarm's refusals take several lines
		hang(sb, width, indent, first)
		for _, l := range strings.Split(rest, "\n") {
			hang(sb, width, indent, strings.Repeat(" ", indent)+l)
		}
		return
	}
	if width <= indent+10 || len(line) <= width {
		sb.WriteString(line)
		sb.WriteByte('\n')
		return
	}
	lead := len(line) - len(strings.TrimLeft(line, " "))
	// units: runs of words, each ending where a line may best break.
	type word struct {
		text string
		w    int
	}
	var units [][]word
	open, total := false, lead
	for _, t := range strings.Split(line[lead:], " ") {
		switch {
		case t == "" && len(units) > 0: // the padding of a name column
			u := units[len(units)-1]
			u[len(u)-1].text += " "
			u[len(u)-1].w++
		case t == "·" && len(units) > 0:
			u := units[len(units)-1]
			u[len(u)-1].text += " ·"
			u[len(u)-1].w += 2
			open = false
		case open:
			units[len(units)-1] = append(units[len(units)-1], word{t, textWidth(t)})
		default:
			units = append(units, []word{{t, textWidth(t)}})
			open = true
		}
		if strings.HasSuffix(t, ";") {
			open = false
		}
	}
	for _, u := range units {
		for _, w := range u {
			total += w.w + 1
		}
	}
	if total-1 <= width { // the tags took the room the bytes said
		sb.WriteString(line)
		sb.WriteByte('\n')
		return
	}
	col := lead
	sb.WriteString(line[:lead])
	newLine := func() {
		sb.WriteString("\n" + strings.Repeat(" ", indent))
		col = indent
	}
	for i, u := range units {
		uw := len(u) - 1
		for _, w := range u {
			uw += w.w
		}
		whole := true // the unit goes on this line or the next, whole
		switch {
		case i == 0:
		case col+1+uw <= width:
			sb.WriteByte(' ')
			col++
		case indent+uw <= width:
			newLine()
		default:
			whole = false // longer than a line: word by word
		}
		for j, w := range u {
			if j > 0 || !whole {
				if col+1+w.w > width {
					newLine()
				} else {
					sb.WriteByte(' ')
					col++
				}
			}
			sb.WriteString(w.text)
			col += w.w
		}
	}
	sb.WriteByte('\n')
}

// textWidth is the width of a word of a preview on screen. A word with
// no tag is measured by its runes (those of a preview are one column
// each); only the few with a colour tag are parsed (a preview over 1,000
// nodes has tens of thousands of words).
func textWidth(s string) int {
	if strings.IndexByte(s, '[') >= 0 {
		return tview.TaggedStringWidth(s)
	}
	return utf8.RuneCountInString(s)
}

// launchForm is the open launch form. Its fields are in two forms, one
// above the other on a wide terminal and side by side on a narrow one,
// so that every field is on screen at 80x24; Tab goes through both.
type launchForm struct {
	forms   [2]*tview.Form            // the first fields; the others and the buttons
	items   map[string]tview.FormItem // by field name (labels carry marks)
	preview *tview.TextView
	errLine *tview.TextView
	reqs    chan launchValues // latest values for the preview worker
	stop    context.CancelFunc

	// The preview in the works: a new value cancels it (it is stale),
	// and after recomputingAfter the summary says it is being recomputed.
	curMu     sync.Mutex
	cur       context.CancelFunc
	seq       atomic.Uint64 // previews started
	installed uint64        // the last preview shown (UI goroutine)
	shown     string        // its text (UI goroutine)
	maxCPUs   int           // the largest node's CPUs, as the preview worker last saw them
	width     atomic.Int32  // the preview's width inside its border, set by fitLaunch for the preview worker
	networks  []string      // the cluster's networks, as the preview worker last saw them

	body, left, page *tview.Flex
	fields           *tview.Flex // the two forms, in a border
	help             *tview.TextView
	layout           launchLayout
}

// launchLayout is how the form is laid out for the terminal's size.
type launchLayout struct {
	narrow  bool // the preview below the form, the fields in two columns
	compact bool // text areas one line high
}

// launchOp is a launch running in the background: the status line shows
// its progress, Esc offers to stop it.
type launchOp struct {
	what  string // the name (or image) launched
	count int
	done  atomic.Int64 // containers done

	mu      sync.Mutex
	paused  chan struct{} // set while "Stop launching?" is open; closed to go on
	stopped bool          // y: no container after the one in flight
}

// errStopped is how a launch the operator stopped ends its next wait.
var errStopped = errors.New("launch stopped")

// stop ends the launch before its next container; the one in flight
// finishes and is counted (cancelling it could leave a container made
// but not counted, nor started).
func (op *launchOp) stop() {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.stopped = true
	if op.paused != nil {
		close(op.paused)
		op.paused = nil
	}
}

// pause holds the launch before its next container (the one in flight
// finishes), until resume or the launch's end.
func (op *launchOp) pause() {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.paused == nil {
		op.paused = make(chan struct{})
	}
}

// resume lets a paused launch go on.
func (op *launchOp) resume() {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.paused != nil {
		close(op.paused)
		op.paused = nil
	}
}

// progress is the status line's word on the launch: how far it got,
// whether it is paused, and the latest step of a pull it waits for.
func (op *launchOp) progress(pulling string) string {
	op.mu.Lock()
	paused := op.paused != nil
	op.mu.Unlock()
	if paused {
		return fmt.Sprintf("launching %s: paused at %d/%d (y stops, n goes on)%s", tview.Escape(op.what), op.done.Load(), op.count, tview.Escape(pulling))
	}
	return fmt.Sprintf("launching %s: %d/%d…%s (Esc stops)", tview.Escape(op.what), op.done.Load(), op.count, tview.Escape(pulling))
}

// wait returns when the launch may start its next container: at once
// unless it is paused; errStopped once it is stopped, ctx's error if ctx
// ends meanwhile.
func (op *launchOp) wait(ctx context.Context) error {
	op.mu.Lock()
	ch, stopped := op.paused, op.stopped
	op.mu.Unlock()
	switch {
	case stopped:
		return errStopped
	case ch == nil:
		return ctx.Err()
	}
	select {
	case <-ch:
		return op.wait(ctx) // resumed, or stopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// narrowLaunch is the width under which the preview goes below the form
// and the fields take two columns.
const narrowLaunch = 120

// shortLaunch is the height under which text areas take one line, so the
// whole form and a few lines of preview fit (80x24: a form of 11 lines,
// a preview of 7).
const shortLaunch = 36

// splitAt is the number of fields in the first form: the first column on
// a narrow terminal.
const splitAt = 8

// inputWidths are the input fields' widths when there is room (tview
// draws an input field as wide as asked, past its column).
var inputWidths = map[string]int{"Image": 30, "Name": 30, "Command": 30, "Ports": 30, "CPUs": 8, "Memory": 8, "Network": 20, "Count": 6}

// areaHeights are the text areas' heights when there is room.
var areaHeights = map[string]int{"Env": 2, "Labels": 2, "Constraints": 3, "Affinities": 2}

// fitLaunch lays the launch form out for the screen: the preview beside
// the form on a wide terminal; below it, wrapped, on a narrow one, with
// the fields in two columns and the syntax help left to the ? page; text
// areas one line high on a short one.
func (a *App) fitLaunch() {
	lf := a.launch
	if lf == nil || a.width == 0 {
		return
	}
	l := launchLayout{narrow: a.width < narrowLaunch, compact: a.height < shortLaunch}
	w := a.width - 2 // below the form, the whole width
	if !l.narrow {
		w = a.width - launchFormWidth - 2
	}
	if int32(w) != lf.width.Swap(int32(w)) && lf.body.GetItemCount() > 0 {
		a.previewLater() // wrapped to the old width
	}
	if l == lf.layout && lf.body.GetItemCount() > 0 {
		return
	}
	lf.layout = l
	for name, h := range areaHeights {
		if l.compact {
			h = 1
		}
		lf.items[name].(*tview.TextArea).SetSize(h, 0)
	}
	rows := func(f *tview.Form) int {
		n := 0
		for i := range f.GetFormItemCount() {
			n += f.GetFormItem(i).GetFieldHeight()
		}
		if f.GetButtonCount() > 0 {
			n += 2 // a blank line, the buttons
		}
		return n
	}
	// A column's room for a field: the screen's half, less the border,
	// the form's padding and the labels.
	room := (a.width-2)/2 - 2 - (len("  Constraints") + 1)
	for name, w := range inputWidths {
		if l.narrow {
			w = max(min(w, room), 1)
		}
		lf.items[name].(*tview.InputField).SetFieldWidth(w)
	}
	a0, b0 := rows(lf.forms[0]), rows(lf.forms[1])
	lf.body.Clear()
	lf.fields.Clear()
	if l.narrow {
		lf.forms[0].SetBorderPadding(0, 0, 1, 1)
		lf.forms[1].SetBorderPadding(0, 0, 1, 1)
		lf.fields.SetDirection(tview.FlexColumn).AddItem(lf.forms[0], 0, 1, true).AddItem(lf.forms[1], 0, 1, false)
		lf.left.ResizeItem(lf.errLine, 1, 0)
		lf.left.ResizeItem(lf.fields, max(a0, b0)+2, 0)
		lf.body.SetDirection(tview.FlexRow).AddItem(lf.left, max(a0, b0)+3, 0, true).AddItem(lf.preview, 0, 1, false)
		lf.page.ResizeItem(lf.help, 0, 0)
		return
	}
	lf.forms[0].SetBorderPadding(1, 0, 1, 1)
	lf.forms[1].SetBorderPadding(0, 1, 1, 1)
	lf.fields.SetDirection(tview.FlexRow).AddItem(lf.forms[0], a0+1, 0, true).AddItem(lf.forms[1], 0, 1, false)
	lf.left.ResizeItem(lf.errLine, 4, 0)
	lf.left.ResizeItem(lf.fields, 0, 1)
	lf.body.SetDirection(tview.FlexColumn).AddItem(lf.left, launchFormWidth, 0, true).AddItem(lf.preview, 0, 1, false)
	lf.page.ResizeItem(lf.help, 2, 0)
}

// launchFormWidth is the form's width beside the preview, on a wide
// terminal.
const launchFormWidth = 50

const syntaxHelp = "constraint / affinity, one per line:  key==value  key!=value  key==~soft  glob*  /regex/  (?i)x  a|b" +
	"   keys: node, engine labels (constraints); container, image, container labels (affinities)"

// launchFields are the form's fields, in order.
var launchFields = []string{"Image", "Name", "Command", "CPUs", "Memory", "Ports", "Network", "Env", "Labels",
	"Constraints", "Affinities", "Reschedule", "Count", "On failure"}

// openLaunch opens the launch form, with the values it had when it was
// last closed.
func (a *App) openLaunch() {
	if a.launch != nil {
		return
	}
	lf := &launchForm{forms: [2]*tview.Form{tview.NewForm(), tview.NewForm()}, items: map[string]tview.FormItem{},
		preview: tview.NewTextView().SetDynamicColors(true).SetWrap(true).SetWordWrap(true),
		errLine: tview.NewTextView().SetDynamicColors(true), reqs: make(chan launchValues, 1)}
	a.launch = lf
	f := lf.forms[0]
	v := a.kept
	if v.Count == "" {
		v.Count = "1"
	}
	changed := func(string) { a.previewLater() }
	input := func(label, text string, width int, accept func(string, rune) bool) {
		f.AddInputField(label, text, width, accept, changed)
	}
	area := func(label, text string) { f.AddTextArea(label, text, 30, areaHeights[label], 0, changed) }
	dropdown := func(label string, options []string, current string) {
		f.AddDropDown(label, options, max(slices.Index(options, current), 0), func(string, int) { a.previewLater() })
	}
	for _, name := range launchFields {
		if len(lf.items) == splitAt {
			f = lf.forms[1]
		}
		switch name {
		case "Count":
			input(name, v.field(name), inputWidths[name], func(s string, r rune) bool { return r >= '0' && r <= '9' })
		case "Image", "Name", "Command", "Ports", "CPUs", "Memory", "Network":
			input(name, v.field(name), inputWidths[name], nil)
		case "Reschedule":
			dropdown(name, []string{sched.RescheduleOff, sched.RescheduleOnNodeFailure}, v.Reschedule)
		case "On failure":
			dropdown(name, []string{onFailureStop, onFailureGoOn}, v.OnFailure)
		default:
			area(name, v.field(name))
		}
		lf.items[name] = f.GetFormItem(f.GetFormItemCount() - 1)
	}
	a.markFields(lf, nil)
	if a.keptMsg != "" {
		lf.errLine.SetText(a.th.tag(a.th.bad) + "last launch: " + tview.Escape(a.keptMsg) + a.th.reset())
	}
	lf.forms[1].AddButton("Launch", a.submitLaunch).AddButton("Cancel", a.closeLaunch)
	for i, f := range lf.forms {
		f.SetCancelFunc(a.closeLaunch)
		f.SetItemPadding(0)
		// Tab and Backtab go on into the other form at either end; PgUp
		// and PgDn scroll the preview while the form keeps the keyboard.
		f.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
			item, button := f.GetFocusedItemIndex()
			other := lf.forms[1-i]
			switch {
			case ev.Key() == tcell.KeyPgDn || ev.Key() == tcell.KeyPgUp:
				lf.preview.InputHandler()(ev, nil)
				return nil
			case ev.Key() == tcell.KeyTab && (i == 0 && item == f.GetFormItemCount()-1 || i == 1 && button == f.GetButtonCount()-1):
				other.SetFocus(0)
				a.app.SetFocus(other)
				return nil
			case ev.Key() == tcell.KeyBacktab && item == 0:
				other.SetFocus(other.GetFormItemCount() + other.GetButtonCount() - 1)
				a.app.SetFocus(other)
				return nil
			}
			return ev
		})
	}
	lf.preview.SetBorder(true).SetTitle(" Where it would go ")
	help := tview.NewTextView().SetText(syntaxHelp).SetWrap(true).SetTextColor(a.th.dim)
	fields := tview.NewFlex().SetDirection(tview.FlexRow)
	fields.SetBorder(true).SetTitle(" Launch (Tab next field, Esc cancel) ")
	left := tview.NewFlex().SetDirection(tview.FlexRow).AddItem(fields, 0, 1, true).AddItem(lf.errLine, 4, 0, false)
	body := tview.NewFlex()
	page := tview.NewFlex().SetDirection(tview.FlexRow).AddItem(body, 0, 1, true).AddItem(help, 2, 0, false)
	lf.body, lf.left, lf.page, lf.help, lf.fields = body, left, page, help, fields
	a.fitLaunch()
	a.hints.SetText(hintLine([]hint{{"Tab", " next field", 0}, {"PgUp PgDn", " scroll the preview", 1}, {"Esc", " cancel (the values are kept)", 0}}, nil, a.width, a.th))
	a.pages.AddAndSwitchToPage("launch", page, true)
	a.app.SetFocus(lf.forms[0])
	ctx, stop := context.WithCancel(a.ctx)
	lf.stop = stop
	a.goRun(func(context.Context) { a.previewWorker(ctx, lf) })
	a.previewLater()
}

// field is the value of the form field name.
func (v launchValues) field(name string) string {
	switch name {
	case "Image":
		return v.Image
	case "Name":
		return v.Name
	case "Command":
		return v.Command
	case "CPUs":
		return v.CPUs
	case "Memory":
		return v.Memory
	case "Ports":
		return v.Ports
	case "Network":
		return v.Network
	case "Env":
		return v.Env
	case "Labels":
		return v.Labels
	case "Constraints":
		return v.Constraints
	case "Affinities":
		return v.Affinities
	case "Reschedule":
		return v.Reschedule
	case "Count":
		return v.Count
	case "On failure":
		return v.OnFailure
	}
	return ""
}

// closeLaunch closes the form, keeping its values for the next n.
func (a *App) closeLaunch() {
	if a.launch == nil {
		return
	}
	a.kept = a.launch.values()
	a.launch.stop()
	a.launch = nil
	a.closePage("launch")
}

// values reads the form; on the UI goroutine.
func (lf *launchForm) values() launchValues {
	text := func(name string) string {
		switch it := lf.items[name].(type) {
		case *tview.InputField:
			return it.GetText()
		case *tview.TextArea:
			return it.GetText()
		case *tview.DropDown:
			_, o := it.GetCurrentOption()
			return o
		}
		return "" // while the form is built
	}
	return launchValues{Image: text("Image"), Name: text("Name"), Command: text("Command"), CPUs: text("CPUs"),
		Memory: text("Memory"), Ports: text("Ports"), Network: text("Network"), Env: text("Env"), Labels: text("Labels"),
		Constraints: text("Constraints"), Affinities: text("Affinities"), Reschedule: text("Reschedule"), Count: text("Count"),
		OnFailure: text("On failure"), MaxCPUs: lf.maxCPUs, Networks: lf.networks}
}

// previewLater hands the current values to the preview worker, replacing
// any it has not started on.
func (a *App) previewLater() {
	lf := a.launch
	if lf == nil {
		return
	}
	v := lf.values()
	lf.curMu.Lock()
	if lf.cur != nil {
		lf.cur() // the preview in the works is for older values: drop it
	}
	lf.curMu.Unlock()
	select {
	case <-lf.reqs:
	default:
	}
	lf.reqs <- v
}

// recomputingAfter is how long a preview of new values computes before
// the summary says it is being recomputed (at 1,000 nodes a big Count
// takes seconds). The same values again over a changed cluster (every
// 500 ms at most) say nothing: the preview shown stays right meanwhile.
const recomputingAfter = 150 * time.Millisecond

// showRecomputing marks the preview as being recomputed for preview
// number seq, unless a preview as new was shown since: the summary line
// reads "⟳ recomputing… was: " and the last preview's summary; the rest
// is the last preview's.
func (a *App) showRecomputing(lf *launchForm, seq uint64) {
	if a.launch != lf || lf.installed >= seq {
		return
	}
	summary, rest, _ := strings.Cut(lf.shown, "\n")
	lf.preview.SetText(a.th.tag(a.th.warn) + "⟳ recomputing…" + a.th.reset() + " was: " + summary + "\n" + rest)
}

// previewWorker computes previews off the UI goroutine, always for the
// latest values, and marks a malformed field at once. When the cluster
// changes under an open form, it previews the same values again, so the
// preview is never stale.
func (a *App) previewWorker(ctx context.Context, lf *launchForm) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var last launchValues
	var gen uint64
	seen := false
	again := false // the last preview was dropped: compute the latest values at once
	for {
		typed := again // new values, not the same ones again over a changed cluster
		if again {
			select {
			case v := <-lf.reqs:
				last = v
			default: // the dropped one was for the latest values (dropped just after it began)
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case v := <-lf.reqs:
				last, seen, typed = v, true, true
			case <-tick.C:
				if !seen || a.b.Generation() == gen {
					continue
				}
			}
		}
		again = false
		a.gate.wait(ctx) // the key that asked for it is drawn first
		gen = a.b.Generation()
		seq := lf.seq.Add(1)
		cctx, cancel := context.WithCancel(ctx)
		lf.curMu.Lock()
		lf.cur = cancel
		lf.curMu.Unlock()
		sign := time.AfterFunc(recomputingAfter, func() {
			if typed { // the same values again: the preview shown stays right meanwhile
				a.update(func() { a.showRecomputing(lf, seq) })
			}
		})
		v := last
		if v.Image == "" {
			v.Image = noImage
		}
		nodes := a.b.Nodes()
		v.MaxCPUs = 0
		for _, n := range nodes {
			v.MaxCPUs = max(v.MaxCPUs, n.CPUs)
		}
		v.Networks = networkNames(a.b.Networks())
		v.Width = int(lf.width.Load())
		text, err := a.previewText(cctx, nodes, a.b.Scheduler(), v, a.th)
		sign.Stop()
		stale := cctx.Err() != nil
		cancel()
		if ctx.Err() != nil {
			return // the form closed: no preview to show
		}
		if stale {
			again = true // newer values came meanwhile
			continue
		}
		a.update(func() {
			if a.launch != lf {
				return
			}
			lf.maxCPUs, lf.networks = v.MaxCPUs, v.Networks
			a.markFields(lf, err)
			if err != nil {
				text = a.th.tag(a.th.bad) + "✗ " + tview.Escape(err.Error()) + a.th.reset()
			}
			lf.installed, lf.shown = seq, text
			lf.preview.SetText(text)
			if typed {
				lf.preview.ScrollToBeginning() // new values: their summary, not the old scroll
			}
			if a.previewed != nil {
				a.previewed(v)
			}
		})
	}
}

// networkNames are the distinct names of networks, sorted.
func networkNames(nets []model.Network) []string {
	out := make([]string, 0, len(nets))
	for _, n := range nets {
		out = append(out, n.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// markFields marks the label of the field an error is in: "✗ " and the
// error colour, in the label's text, since the form resets label colours
// each time it draws.
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
	width := 0 // every label as wide: the two forms' fields line up
	for _, name := range launchFields {
		width = max(width, len(name))
	}
	for name, it := range lf.items {
		label := fmt.Sprintf("  %-*s", width, name)
		if name == field {
			label = a.th.tag(a.th.bad) + fmt.Sprintf("✗ %-*s", width, name) + a.th.reset()
		}
		switch x := it.(type) {
		case *tview.InputField:
			x.SetLabel(label)
		case *tview.TextArea:
			x.SetLabel(label)
		case *tview.DropDown:
			x.SetLabel(label)
		}
	}
}

// submitLaunch checks the form and starts the launch in the background:
// the form closes (its values kept), the containers view shows the new
// ones as they come, the status line the progress, Esc offers to stop.
// Errors in the values stay in the form.
func (a *App) submitLaunch() {
	lf := a.launch
	if lf == nil {
		return
	}
	if a.launching != nil {
		lf.errLine.SetText(a.th.tag(a.th.bad) + "a launch is running: wait for it, or stop it with Esc on a view" + a.th.reset())
		return
	}
	v := lf.values()
	cfg, count, err := v.config()
	if err == nil {
		_, err = sched.NewRequest(cfg)
	}
	if err != nil {
		a.markFields(lf, err)
		lf.errLine.SetText(a.th.tag(a.th.bad) + tview.Escape(err.Error()) + a.th.reset())
		return
	}
	what := cmp.Or(cfg.Name, cfg.Image)
	ctx, cancel := context.WithCancel(a.ctx)
	op := &launchOp{what: what, count: count}
	a.launching = op
	a.closeLaunch()
	a.show(viewContainers)
	a.flash = fmt.Sprintf("launching %s: 0/%d…", tview.Escape(what), count)
	a.showStatus()
	goOn := v.OnFailure == onFailureGoOn
	a.goRun(func(context.Context) {
		defer cancel()
		// Progress is drawn every progressEvery, not per container: a
		// redraw per container would keep the UI goroutine from keys.
		done := &op.done
		ticking := make(chan struct{})
		began := time.Now()
		go func() {
			t := time.NewTicker(progressEvery)
			defer t.Stop()
			shown, shownPull := int64(-1), ""
			for {
				select {
				case <-ticking:
					return
				case <-t.C:
					// A node that lacks the image pulls it first: its
					// latest step shows beside the count.
					pulling := latestPull(a.b.RecentEvents(), cfg.Image, began)
					if n := done.Load(); n != shown || pulling != shownPull {
						shown, shownPull = n, pulling
						if pulling != "" {
							pulling = " · " + pulling
						}
						a.updateIf(func() redraw {
							if a.launching != op {
								return redrawNone
							}
							a.flash = op.progress(pulling)
							a.showStatus()
							// The containers coming in redraw the screen
							// anyway: a frame of its own only when none came.
							if time.Since(a.drewAllAt) < progressEvery {
								return redrawNone
							}
							return redrawAll
						})
					}
				}
			}
		}()
		next := func(ctx context.Context) error {
			a.gate.wait(ctx) // a key's frame first
			return op.wait(ctx)
		}
		r := launchAll(ctx, a.b, cfg, count, goOn, next, func(n int) { done.Store(int64(n)) })
		close(ticking)
		a.update(func() {
			a.launching = nil
			msg, bad := r.summary(what, count)
			a.keptMsg = ""
			if bad {
				a.keptMsg = msg
			}
			a.say(msg, bad)
		})
	})
}

// snapshotOf indexes nodes for a preview, as sched.NewSnapshot does, node
// by node so that a preview dropped meanwhile stops: indexing 10,000
// nodes of 30 containers is about a second of CPU, and each key typed in
// the form, and the Launch button, drops the preview in the works (the
// CPU of those already dropped was taken from the keys pressed during the
// launch that followed).
func snapshotOf(ctx context.Context, nodes []*model.Node) (*sched.Snapshot, error) {
	snap := sched.NewSnapshot(nil)
	for i, n := range nodes {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		snap.SetNode(n)
	}
	return snap, nil
}

// latestPull is the latest step of a pull of image still running on
// some node since a time, from the cluster's recent events ("" when no
// pull runs).
func latestPull(evs []model.Event, image string, since time.Time) string {
	over := map[string]bool{} // nodes whose pull ended
	for i := len(evs) - 1; i >= 0 && !evs[i].Time.Before(since); i-- {
		e := evs[i]
		if e.Kind != model.EventImage || e.Image != image || over[e.Node] {
			continue
		}
		if e.Action != "pull" {
			over[e.Node] = true
			continue
		}
		return e.Message
	}
	return ""
}

// progressEvery is how often a launch's progress is drawn.
const progressEvery = 200 * time.Millisecond

// launchResult is how a launch ended.
type launchResult struct {
	launched  int
	failed    int
	firstFail int // 1-based; 0: none failed
	label     string
	err       error
	cancelled bool
	stopped   bool // at the first failure
}

// summary is the status line's last word on a launch, and whether it
// is bad news.
func (r launchResult) summary(what string, count int) (string, bool) {
	var why string
	if r.err != nil {
		why = strings.Join(strings.Fields(r.err.Error()), " ") // one line: Swarm's placement errors have several
	}
	switch {
	case r.cancelled:
		return fmt.Sprintf("launch of %s cancelled after %d of %d launched", what, r.launched, count), r.failed > 0
	case r.failed == 0:
		return fmt.Sprintf("launched %d of %d: %s", r.launched, count, what), false
	case r.stopped:
		return fmt.Sprintf("launch of %s stopped at #%d (%s), launched %d of %d: %s", what, r.firstFail, r.label, r.launched, count, why), true
	default:
		return fmt.Sprintf("launch of %s: launched %d of %d, %d failed, the first #%d (%s): %s", what, r.launched, count, r.failed, r.firstFail, r.label, why), true
	}
}

// launchAll creates and starts count containers of cfg one after the
// other, off the UI goroutine, until ctx ends; it stops at the first
// that fails unless goOn. Before each container it waits for next (a
// paused launch); progress is told how many are done after each.
func launchAll(ctx context.Context, b Backend, cfg model.Config, count int, goOn bool, next func(context.Context) error, progress func(done int)) launchResult {
	var r launchResult
	for i, name := range names(cfg.Name, count) {
		if next(ctx) != nil {
			r.cancelled = true
			return r
		}
		c := cfg
		c.Name = name
		ct, err := b.Create(ctx, c)
		if err == nil {
			err = b.Start(ctx, ct.ID)
		}
		switch {
		case err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()):
			r.cancelled = true
			return r
		case err != nil:
			r.failed++
			if r.firstFail == 0 {
				r.firstFail, r.label, r.err = i+1, cmp.Or(name, fmt.Sprintf("#%d", i+1)), err
			}
			if !goOn {
				r.stopped = true
				return r
			}
		default:
			r.launched++
		}
		progress(i + 1)
	}
	return r
}
