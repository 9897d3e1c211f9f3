package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"swarmdeck/backend"
	"swarmdeck/model"
	"swarmdeck/sched"
)

// gated is the real cluster whose creates each wait for a token, so a
// test holds a launch where it wants it.
type gated struct {
	*backend.Cluster
	gate  chan struct{}
	calls atomic.Int64 // creates asked for
}

func (g *gated) Create(ctx context.Context, cfg model.Config) (*model.Container, error) {
	g.calls.Add(1)
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Cluster.Create(ctx, cfg)
}

// Tabs from the Image field to each field of the launch form.
const (
	tabsToName       = 1
	tabsToPorts      = 5
	tabsToNetwork    = 6
	tabsToLabels     = 8
	tabsToReschedule = 11
	tabsToCount      = 12
	tabsToLaunch     = 14 // the Launch button
)

// fillLaunch opens the form, types the image and name, and sets the
// count and the ports; it leaves the focus on the Launch button.
func (h *harness) fillLaunch(image, name, ports, count string) {
	h.typeText("n")
	h.wait(settle, "Where it would go")
	h.typeText(image)
	h.key(tcell.KeyTab)
	h.typeText(name)
	for range tabsToPorts - tabsToName {
		h.key(tcell.KeyTab)
	}
	h.typeText(ports)
	for range tabsToCount - tabsToPorts {
		h.key(tcell.KeyTab)
	}
	h.key(tcell.KeyBackspace2)
	h.typeText(count)
	for range tabsToLaunch - tabsToCount {
		h.key(tcell.KeyTab)
	}
}

// countNamed counts the cluster's containers whose name starts with prefix.
func countNamed(c *backend.Cluster, prefix string) int {
	n := 0
	for _, ct := range c.Containers() {
		if strings.HasPrefix(ct.Name, prefix) {
			n++
		}
	}
	return n
}

// TestALaunchShowsProgressAndStopsWhenAsked launches 1,000 containers,
// holds the launch after 120, and checks the status line's progress,
// that the console still answers keys, that the launch pauses while
// "Stop launching?" is open (no create is asked for until the answer), n
// goes on, and y stops it with a summary and no container after.
func TestALaunchShowsProgressAndStopsWhenAsked(t *testing.T) {
	g := &gated{gate: make(chan struct{}, 1000)}
	h := startWith(t, demoSource(t), 160, 45, func(c *backend.Cluster) Backend { g.Cluster = c; return g })
	h.wait(settle, "Nodes: 5/6 healthy")
	h.fillLaunch("nginx", "api", "", "1000")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [", "launching api: 0/1000")
	for range 120 {
		g.gate <- struct{}{}
	}
	h.wait(settle, "launching api: 120/1000… (Esc stops)")
	// The console answers while the launch runs: the nodes view and back.
	h.typeText("1")
	h.wait(settle, "Nodes [6]", "launching api: 120/1000")
	h.typeText("2")
	h.wait(settle, "Containers [126]") // the demo's 6 and 120 api
	// While the question is open the launch pauses: #121, asked for
	// before it, finishes; no other is asked for, with tokens to spare.
	h.key(tcell.KeyEscape)
	h.wait(settle, "Stop launching api? It is paused until you answer.", "Go on", "Stop",
		"launching api: paused at 120/1000 (y stops, n goes on)")
	for range 10 {
		g.gate <- struct{}{}
	}
	h.wait(settle, "launching api: paused at 121/1000")
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n := g.calls.Load(); n > 121 {
			t.Fatalf("%d creates asked for while the launch was paused at 121", n)
		}
	}
	h.typeText("n") // go on: the 9 tokens left are used
	h.gone(settle, "Stop launching api?")
	h.wait(settle, "launching api: 130/1000… (Esc stops)")
	// y with #131 in flight (asked for, held at the gate): it is made
	// and counted, no other (a cancelled create could leave a container
	// made but counted nowhere: the outside trial's "cancelled after 3"
	// with rx-4 running).
	h.key(tcell.KeyEscape)
	h.wait(settle, "Stop launching api?", "launching api: paused at 130/1000")
	h.typeText("y")
	h.wait(settle, "stopping the launch of api after the container in flight")
	for range 10 {
		g.gate <- struct{}{}
	}
	h.wait(settle, "launch of api cancelled after 131 of 1000 launched")
	if n := countNamed(h.cluster, "api-"); n != 131 {
		t.Fatalf("%d api containers after stopping at 131", n)
	}
	if n := g.calls.Load(); n != 131 {
		t.Fatalf("%d creates asked for; the launch stopped after 131", n)
	}
}

// TestALaunchStopsAtTheFirstContainerThatCannotBePlaced: each healthy
// node of the demo holds one container on host port 8080, so #6 of 10
// fails; by default the launch stops there, with the reason, and the
// reopened form shows its values and what happened; "go on" tries every
// one and counts the failures.
func TestALaunchStopsAtTheFirstContainerThatCannotBePlaced(t *testing.T) {
	for _, tt := range []struct {
		name, onFailure string
		want            string
		launched        int
	}{
		{"by default it stops", "", "launch of api stopped at #6 (api-6), launched 5 of 10: ", 5},
		{"go on tries every one", "go on", "launch of api: launched 5 of 10, 5 failed, the first #6 (api-6): ", 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, demoSource(t), 200, 50)
			h.wait(settle, "Nodes: 5/6 healthy")
			h.fillLaunch("nginx", "api", "8080:80", "10")
			if tt.onFailure != "" {
				h.key(tcell.KeyBacktab) // back to On failure
				h.key(tcell.KeyEnter)
				h.key(tcell.KeyDown)
				h.key(tcell.KeyEnter)
				h.wait(settle, "go on")
				h.key(tcell.KeyTab)
			}
			h.wait(settle, "5 of 10 placeable; api-6 fails")
			h.key(tcell.KeyEnter)
			h.wait(settle, tt.want, "port 8080")
			if n := countNamed(h.cluster, "api-"); n != tt.launched {
				t.Fatalf("%d api containers; want %d", n, tt.launched)
			}
			h.typeText("n")
			h.wait(settle, "Where it would go", "last launch: launch of api", "(api-6)", "8080:80") // wrapped under the form
		})
	}
}

// labelCell finds the cell that starts label on the screen and returns
// its foreground colour.
func (h *harness) labelColour(label string) (tcell.Color, bool) {
	var fg tcell.Color
	found := false
	h.onScreen(func(cells []tcell.SimCell, w int) {
		runes := make([]rune, len(cells))
		for i, c := range cells {
			runes[i] = ' '
			if len(c.Runes) > 0 {
				runes[i] = c.Runes[0]
			}
		}
		if i := strings.Index(string(runes), label); i >= 0 {
			at := len([]rune(string(runes)[:i]))
			fg, _, _ = cells[at].Style.Decompose()
			found = true
		}
	})
	return fg, found
}

// TestTheLaunchFormKeepsItsValuesMarksTheFieldAndTakesANetwork: a
// network the cluster lacks marks the Network field (in red, and with ✗
// so it shows without colour too) and says which networks there are;
// Esc and n bring the values back; a known network is passed to the
// create.
func TestTheLaunchFormKeepsItsValuesMarksTheFieldAndTakesANetwork(t *testing.T) {
	h := start(t, demoSource(t), 200, 50)
	h.wait(settle, "Nodes: 5/6 healthy")
	h.typeText("n")
	h.wait(settle, "Where it would go")
	h.typeText("nginx")
	h.key(tcell.KeyTab)
	h.typeText("web9")
	for range tabsToNetwork - tabsToName {
		h.key(tcell.KeyTab)
	}
	h.typeText("nosuch")
	h.wait(settle, `✗ Network: no network "nosuch" in the cluster (it has: bridge, host, none)`, "✗ Network")
	if fg, ok := h.labelColour("✗ Network"); !ok || fg != tcell.ColorRed {
		t.Fatalf("the Network label is not red (found %v, colour %v)", ok, fg)
	}
	h.key(tcell.KeyEscape)
	h.wait(settle, "Nodes [6]")
	h.typeText("n")
	h.wait(settle, "Where it would go", "web9", "nosuch", "✗ Network")
	for range tabsToNetwork {
		h.key(tcell.KeyTab)
	}
	for range len("nosuch") {
		h.key(tcell.KeyBackspace2)
	}
	h.typeText("host")
	h.wait(settle, "1 of 1 placeable", "✓ web9 →")
	h.gone(settle, "✗ Network")
	for range tabsToLaunch - tabsToNetwork {
		h.key(tcell.KeyTab)
	}
	h.key(tcell.KeyEnter)
	h.wait(settle, "launched 1 of 1: web9")
	for _, c := range h.cluster.Containers() {
		if c.Name == "web9" && c.NetworkMode != "host" {
			t.Fatalf("web9 is on network %q, not host", c.NetworkMode)
		}
	}
	if countNamed(h.cluster, "web9") != 1 {
		t.Fatal("no web9 container")
	}
}

// TestTheRescheduleFieldAndThePolicyLabelGiveOneClearError: both set a
// policy; the form names both and marks the Reschedule field.
func TestTheRescheduleFieldAndThePolicyLabelGiveOneClearError(t *testing.T) {
	const label = `com.docker.swarm.reschedule-policies=["on-node-failure"]`
	var previewed atomic.Pointer[launchValues] // the values of the last preview shown
	h := startWith(t, demoSource(t), 200, 50, func(c *backend.Cluster) Backend { return c }, func(a *App) {
		a.previewed = func(v launchValues) { previewed.Store(&v) }
	})
	h.wait(settle, "Nodes: 5/6 healthy")
	h.typeText("n")
	h.wait(settle, "Where it would go")
	h.typeText("nginx")
	for range tabsToLabels {
		h.key(tcell.KeyTab)
	}
	typed := time.Now()
	h.typeText(label)
	// A real wait: "1 of 1 placeable" was on screen before the label.
	// The label is 55 keys, each drawn: under -race on a loaded machine
	// they took more than settle (seen: the last preview shown was of
	// `…policies=["on-node-f`, the focus still on Labels).
	for deadline := time.Now().Add(3 * settle); ; time.Sleep(10 * time.Millisecond) {
		if v := previewed.Load(); v != nil && v.Labels == label && v.Reschedule == sched.RescheduleOff {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no preview of the label within %s (last: %+v); %s\n%s", 3*settle, previewed.Load(), h.launchFocus(), h.text())
		}
	}
	t.Logf("the label's preview came %s after its first key", time.Since(typed).Round(time.Millisecond))
	h.wait(settle, "1 of 1 placeable")
	for range tabsToReschedule - tabsToLabels {
		h.key(tcell.KeyTab)
	}
	h.key(tcell.KeyEnter)
	h.key(tcell.KeyDown)
	h.key(tcell.KeyEnter)
	// The message wraps in the preview: its parts.
	for _, want := range []string{"✗ Reschedule: the Reschedule field (on-node-failure) and the label", label,
		"both set a policy", "one of them", "✗ Reschedule  on-node-failure"} {
		deadline := time.Now().Add(settle)
		for !strings.Contains(h.text(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("after %s the screen lacks %q; %s (last preview: %+v):\n%s", settle, want, h.launchFocus(), previewed.Load(), h.text())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if strings.Contains(h.flat(), "too many reschedule policies") {
		t.Fatalf("the old error is still shown:\n%s", h.text())
	}
}

// launchFocus says, for a failing test, where the launch form's focus
// is and what its Reschedule drop-down shows.
func (h *harness) launchFocus() string {
	h.t.Helper()
	var out string
	h.onScreen(func([]tcell.SimCell, int) {
		lf := h.app.launch
		if lf == nil {
			out = "no launch form"
			return
		}
		focus := fmt.Sprintf("%T", h.app.app.GetFocus())
		for name, it := range lf.items {
			if it.HasFocus() {
				focus = name
			}
		}
		dd := lf.items["Reschedule"].(*tview.DropDown)
		_, opt := dd.GetCurrentOption()
		out = fmt.Sprintf("focus on %s; Reschedule drop-down open %v, showing %q", focus, dd.IsOpen(), opt)
	})
	return out
}

// TestEveryLaunchFieldIsOnScreenAt80x24 opens the launch form on an 80x24
// terminal: every field and both buttons are on screen at once, in two
// columns, with the preview below; Tab goes from the first column into
// the second and on to the buttons, Backtab comes back, and a launch
// from there runs.
func TestEveryLaunchFieldIsOnScreenAt80x24(t *testing.T) {
	h := start(t, demoSource(t), 80, 24)
	h.wait(settle, "Nodes [6]")
	h.typeText("n")
	want := append([]string{"Launch     Cancel", "Where it would go", "1 of 1 placeable"}, launchFields...)
	s := h.wait(settle, want...)
	form := strings.Split(s, "\n")[5:13]
	for _, pair := range [][2]string{{"Image", "Labels"}, {"Ports", "On failure"}, {"Env", "Launch"}} {
		if !slices.ContainsFunc(form, func(l string) bool { return strings.Contains(l, pair[0]) && strings.Contains(l, pair[1]) }) {
			t.Fatalf("%s and %s are not side by side:\n%s", pair[0], pair[1], s)
		}
	}
	h.typeText("busybox")
	for range tabsToLabels {
		h.key(tcell.KeyTab)
	}
	h.typeText("tier=web") // Labels: the first field of the second column
	h.key(tcell.KeyBacktab)
	h.typeText("A=1") // Env: the last of the first
	h.wait(settle, "Env         A=1", "Labels      tier=web")
	for range tabsToCount - tabsToLabels + 1 { // from Env
		h.key(tcell.KeyTab)
	}
	h.key(tcell.KeyBackspace2)
	h.typeText("2")
	h.wait(settle, "Count       2", "2 of 2 placeable")
	for range tabsToLaunch - tabsToCount {
		h.key(tcell.KeyTab)
	}
	h.key(tcell.KeyEnter)
	h.wait(settle, "launched 2 of 2: busybox")
	for _, c := range h.cluster.Containers() {
		if c.Image == "busybox" && (c.Labels["tier"] != "web" || !slices.Contains(c.Env, "A=1")) {
			t.Fatalf("launched %s with labels %v, env %v; want tier=web and A=1", c.Name, c.Labels, c.Env)
		}
	}
}

// TestThePreviewSaysItIsRecomputingAndTheNewestValuesWin: a preview that
// takes long (seconds at 1,000 nodes with a big Count) says so in its
// summary line, and a new value drops it: the newest values are
// previewed at once, and the dropped preview is never shown.
func TestThePreviewSaysItIsRecomputingAndTheNewestValuesWin(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var shownMu sync.Mutex
	var shown []string
	h := startWith(t, demoSource(t), 160, 45, func(c *backend.Cluster) Backend { return c }, func(a *App) {
		a.previewText = func(ctx context.Context, nodes []*model.Node, s *sched.Scheduler, v launchValues, th theme) (string, error) {
			if v.Name == "slow" { // held until the test ends, or dropped
				select {
				case <-release:
				case <-ctx.Done():
					return "", ctx.Err()
				}
			}
			return previewText(ctx, nodes, s, v, th)
		}
		a.previewed = func(v launchValues) {
			shownMu.Lock()
			defer shownMu.Unlock()
			shown = append(shown, v.Name)
		}
	})
	h.wait(settle, "Nodes: 5/6 healthy")
	h.typeText("n")
	h.wait(settle, "Where it would go")
	h.typeText("nginx")
	h.key(tcell.KeyTab)
	h.typeText("slo")
	h.wait(settle, "✓ slo → ", "1 of 1 placeable")
	h.typeText("w")
	h.wait(settle, "⟳ recomputing… was: 1 of 1 placeable", "✓ slo → ")
	h.typeText("er")
	h.wait(settle, "✓ slower → ")
	h.gone(settle, "recomputing")
	// Many keys in a row, each dropping the preview before it: the last
	// value is always previewed (a key that came just as the worker took
	// its values dropped the preview of the newest values once, and none
	// followed).
	for i := range 40 {
		h.typeText(string(rune('a' + i%26)))
	}
	h.wait(settle, "✓ "+cutName("slowerabcdefghijklmnopqrstuvwxyzabcdefghijklmn")+" → ") // a name over 40 is cut in its middle
	shownMu.Lock()
	defer shownMu.Unlock()
	if slices.Contains(shown, "slow") {
		t.Fatalf("the dropped preview was shown: previews shown for %q", shown)
	}
}

// dropsAfter is a context that reads as cancelled from its n-th Err on:
// a preview dropped while it runs.
type dropsAfter struct {
	context.Context
	n atomic.Int64
}

func (d *dropsAfter) Err() error {
	if d.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// A preview dropped while it indexes the cluster stops there: indexing
// 10,000 nodes of 30 containers is a second of CPU, and every key typed
// in the form (and the Launch button) drops the preview in the works.
// Before, the index was built to the end before the preview looked at its
// context again.
func TestADroppedPreviewStopsIndexingTheCluster(t *testing.T) {
	nodes := backend.GenerateNodes(1000, 3)
	s, err := sched.New(sched.Config{Overcommit: model.DefaultOvercommit})
	if err != nil {
		t.Fatal(err)
	}
	v := launchValues{Image: "busybox", Count: "1"}
	if _, err := previewText(context.Background(), nodes, s, v, newTheme()); err != nil {
		t.Fatalf("a preview over 1,000 nodes: %v", err)
	}
	ctx := &dropsAfter{Context: context.Background()}
	ctx.n.Store(1) // the first look finds it running; the preview is dropped after
	if _, err := previewText(ctx, nodes, s, v, newTheme()); !errors.Is(err, context.Canceled) {
		t.Fatalf("a preview dropped while it indexed 1,000 nodes went on: error %v", err)
	}
}
