package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"swarmdeck/backend"
	"swarmdeck/clusterfile"
	"swarmdeck/model"
)

// harness runs the real console on a simulation screen over a manager of
// simulated engines.
type harness struct {
	t       *testing.T
	screen  tcell.SimulationScreen
	app     *App
	cluster *backend.Cluster
	src     *backend.Source
	done    chan error
	cancel  context.CancelFunc
}

func demoSource(t testing.TB) *backend.Source {
	f, err := clusterfile.Load("../examples/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := backend.SimSource("sim://demo", f.Nodes)
	src.File = f
	return src
}

func start(t *testing.T, src *backend.Source, w, h int) *harness {
	t.Helper()
	return startWith(t, src, w, h, func(c *backend.Cluster) Backend { return c })
}

// startWith is start with the console over wrap(cluster): the real
// cluster, with a test's hold on some of its calls; setup changes the
// console before it runs.
func startWith(t *testing.T, src *backend.Source, w, h int, wrap func(*backend.Cluster) Backend, setup ...func(*App)) *harness {
	t.Helper()
	cluster, err := backend.New(src, backend.Options{ProbeInterval: 50 * time.Millisecond, Heartbeat: 50 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	clusterDone := make(chan struct{})
	go func() { cluster.Run(ctx); close(clusterDone) }()
	h0 := &harness{t: t, cluster: cluster, src: src, done: make(chan error, 1), cancel: cancel}
	h0.app = New(wrap(cluster))
	for _, f := range setup {
		f(h0.app)
	}
	h0.screen = tcell.NewSimulationScreen("UTF-8")
	h0.app.Application().SetScreen(h0.screen)
	h0.screen.SetSize(w, h)
	go func() { h0.done <- h0.app.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h0.done:
		case <-time.After(5 * time.Second):
			t.Error("the console did not stop within 5s")
		}
		<-clusterDone
	})
	return h0
}

// onScreen runs f with the screen's cells on the UI goroutine: the
// simulation screen's buffer is the one the UI draws into.
// A UI goroutine that does not get to it within settle fails the test
// (it answers no key either): the console froze.
func (h *harness) onScreen(f func(cells []tcell.SimCell, w int)) {
	h.t.Helper()
	ran := make(chan struct{})
	go h.app.Application().QueueUpdate(func() {
		cells, w, _ := h.screen.GetContents()
		f(cells, w)
		close(ran)
	})
	select {
	case <-ran:
	case <-time.After(settle):
		h.t.Fatalf("the console froze: its UI goroutine ran nothing for %s", settle)
	}
}

// text is the screen as lines of text.
func (h *harness) text() string {
	h.t.Helper()
	var sb strings.Builder
	h.onScreen(func(cells []tcell.SimCell, w int) {
		for i, c := range cells {
			if len(c.Runes) > 0 {
				sb.WriteRune(c.Runes[0])
			} else {
				sb.WriteByte(' ')
			}
			if (i+1)%w == 0 {
				sb.WriteByte('\n')
			}
		}
	})
	return sb.String()
}

// settle is how long a test waits for the screen to show what a key
// did: generous, since keys queue up behind redraws under -race on a
// loaded machine (seen: a quarter of a second per key on 2 cores shared
// by 8 test runs); a passing wait returns as soon as the screen is right.
const settle = 20 * time.Second

// wait polls the screen until every want is on it.
func (h *harness) wait(within time.Duration, want ...string) string {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := h.text()
		missing := ""
		for _, w := range want {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("after %s the screen lacks %q:\n%s", within, missing, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gone polls until none of the texts is on the screen.
func (h *harness) gone(within time.Duration, texts ...string) {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := h.text()
		found := ""
		for _, x := range texts {
			if strings.Contains(s, x) {
				found = x
			}
		}
		if found == "" {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("after %s the screen still shows %q:\n%s", within, found, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) key(k tcell.Key) {
	h.screen.InjectKey(k, 0, tcell.ModNone)
	time.Sleep(15 * time.Millisecond)
}

func (h *harness) typeText(s string) {
	for _, r := range s {
		h.screen.InjectKey(tcell.KeyRune, r, tcell.ModNone)
	}
	time.Sleep(30 * time.Millisecond)
}

// lineWith returns the first screen line holding s.
func (h *harness) lineWith(s string) string {
	for _, l := range strings.Split(h.text(), "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func TestEveryViewRendersTheClusterWithItsFigures(t *testing.T) {
	h := start(t, demoSource(t), 200, 40)
	h.wait(settle, "SIMULATED", "Strategy: spread", "Filters: health, port, containerslots, dependency, affinity, constraint, whitelist",
		"Nodes: 5/6 healthy", "Nodes [6]")
	eu1 := h.lineWith("10.0.1.11:2375")
	for _, want := range []string{"eu-1", "Healthy", "2/2", "3 / 8", "5 GiB / 16.8 GiB", "disk=ssd, zone=eu", "20.10.24"} {
		if !strings.Contains(eu1, want) {
			t.Errorf("the eu-1 row lacks %q: %s", want, eu1)
		}
	}
	if ap1 := h.lineWith("10.0.3.31:2375"); !strings.Contains(ap1, "ap-1") || !strings.Contains(ap1, "Pending") || !strings.Contains(ap1, "cannot connect") {
		t.Errorf("the ap-1 row: %s", ap1)
	}

	h.typeText(":containers")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [6]", "eu-1/db", "eu-2/web-1", "eu-3/batch-old")
	db := h.lineWith("eu-1/db")
	for _, want := range []string{"postgres:16", "running", "2", "4 GiB", "disk==ssd", "on-node-failure", "5432->5432/tcp"} {
		if !strings.Contains(db, want) {
			t.Errorf("the db row lacks %q: %s", want, db)
		}
	}
	if web := h.lineWith("eu-2/web-1"); !strings.Contains(web, "affinity:container!=~web-*") {
		t.Errorf("web-1 shows no affinity: %s", web)
	}
	if old := h.lineWith("eu-3/batch-old"); !strings.Contains(old, "exited") || !strings.Contains(old, "off") {
		t.Errorf("batch-old: %s", old)
	}

	h.typeText(":networks")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Networks [3]", "bridge", "host", "none", "null")

	h.typeText(":events")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Events [", "eu-1 (10.0.1.11:2375) connected: 8 CPUs, 16 GiB")
}

func TestFilterAndSort(t *testing.T) {
	h := start(t, demoSource(t), 200, 30)
	h.wait(settle, "Nodes: 5/6 healthy")
	h.typeText("/us-")
	h.wait(settle, "Nodes [2/6] /us-", "us-1", "us-2")
	h.gone(settle, "eu-1 ", "ap-1")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Nodes [2/6] /us-")
	h.key(tcell.KeyEscape)
	h.wait(settle, "Nodes [6]", "eu-1")

	// Sort by CONTAINERS (the fourth column), then reverse: us-1 and eu-1
	// (2 containers each) come first.
	h.typeText("oooo")
	h.wait(settle, "CONTAINERS↑")
	h.typeText("O")
	s := h.wait(settle, "CONTAINERS↓")
	lines := strings.Split(s, "\n")
	var order []string
	for _, l := range lines {
		for _, n := range []string{"ap-1", "eu-1", "eu-2", "eu-3", "us-1", "us-2"} {
			if strings.Contains(l, "║"+n+" ") {
				order = append(order, n)
			}
		}
	}
	if len(order) != 6 || !(order[0] == "eu-1" || order[0] == "us-1") || !(order[1] == "eu-1" || order[1] == "us-1") {
		t.Fatalf("order by containers, descending: %v", order)
	}
}

func TestHelpListsTheKeysOfTheView(t *testing.T) {
	h := start(t, demoSource(t), 160, 40)
	h.wait(settle, "Nodes [6]")
	h.typeText("?")
	h.wait(settle, "Keys: nodes", "kill the node's engine (simulated; asks first)", "filter: text, or a regexp matched cell by cell", "swarmdeck version ", "Docker API 1.41")
	h.key(tcell.KeyEscape)
	h.typeText("2?")
	h.wait(settle, "Keys: containers", "remove (asks first)", "logs, followed")
}

func TestLaunchFormPreviewsPlacementsAndRefusesBadExpressions(t *testing.T) {
	h := start(t, demoSource(t), 180, 45)
	h.wait(settle, "Nodes: 5/6 healthy")
	h.typeText("n")
	h.wait(settle, "Launch", "Where it would go")
	h.typeText("nginx")
	h.key(tcell.KeyTab)
	h.typeText("api")
	for range 3 { // Command, CPUs, Memory
		h.key(tcell.KeyTab)
	}
	h.typeText("1g")
	h.key(tcell.KeyTab)
	h.typeText("80:80")
	for range 4 { // Network, Env, Labels, Constraints
		h.key(tcell.KeyTab)
	}
	h.typeText("zone=eu")
	h.wait(settle, `invalid constraint "zone=eu": One of operator ==, != is expected`)
	h.key(tcell.KeyBackspace2)
	h.key(tcell.KeyBackspace2)
	h.typeText("=eu")
	s := h.wait(settle, "✓ api → eu-3", "eu-2", "host port 80 is taken by web-1", "constraint zone==eu: node has zone=us")
	if strings.Contains(s, "invalid constraint") {
		t.Fatalf("the error stayed after the fix:\n%s", s)
	}
	// Tab to Count and ask for 2: the preview places both, the second
	// seeing the first.
	for range 3 { // Affinities, Reschedule, Count
		h.key(tcell.KeyTab)
	}
	h.key(tcell.KeyBackspace2)
	h.typeText("2")
	h.wait(settle, "✓ api-1 → eu-3", "✓ api-2 → eu-1")
	h.key(tcell.KeyTab) // On failure
	h.key(tcell.KeyTab) // the Launch button
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [", "eu-3/api-1", "eu-1/api-2", "launched 2 of 2: api")
	if l := h.lineWith("eu-3/api-1"); !strings.Contains(l, "running") || !strings.Contains(l, "zone==eu") || !strings.Contains(l, "80->80/tcp") {
		t.Fatalf("api-1: %s", l)
	}
}

func TestLaunchErrorsStayInTheForm(t *testing.T) {
	h := start(t, demoSource(t), 180, 45)
	h.wait(settle, "Nodes: 5/6 healthy")
	h.typeText("n")
	h.typeText("nginx")
	h.key(tcell.KeyTab)
	h.typeText("db") // taken by eu-1/db
	h.wait(settle, "Conflict: The name db is already assigned.")
	for range tabsToLaunch - tabsToName {
		h.key(tcell.KeyTab)
	}
	h.key(tcell.KeyEnter)
	h.wait(settle, "launch of db stopped at #1 (db), launched 0 of 1: Conflict")
	h.typeText("n") // the form comes back with its values and what happened
	h.wait(settle, "Where it would go", "last launch: launch of db stopped at #1")
}

func TestAKilledNodeTurnsUnhealthyAndItsContainersMove(t *testing.T) {
	h := start(t, demoSource(t), 200, 40)
	h.wait(settle, "Nodes: 5/6 healthy")
	h.typeText("/eu-1")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Nodes [1/6] /eu-1")
	h.typeText("K")
	h.wait(settle, "Kill the engine of eu-1?", "Cancel", "Yes")
	h.key(tcell.KeyTab) // from Cancel to Yes
	h.key(tcell.KeyEnter)
	h.wait(settle, "Unhealthy", "Nodes: 4/6 healthy", "⚠")
	// db has the policy: it moves; cache-eu does not: it stays, Host Down.
	h.key(tcell.KeyEscape)
	h.typeText(":containers")
	h.key(tcell.KeyEnter)
	s := h.wait(settle, "eu-1/cache-eu")
	if !strings.Contains(h.lineWith("eu-1/cache-eu"), "Host Down") {
		t.Fatalf("cache-eu:\n%s", s)
	}
	deadline := time.Now().Add(settle)
	for !strings.Contains(h.text(), "/db ") || strings.Contains(h.text(), "eu-1/db") {
		if time.Now().After(deadline) {
			t.Fatalf("db did not move:\n%s", h.text())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// eu-1's row counts cache-eu, Host Down, as not running.
	h.typeText("1")
	h.wait(settle, "Nodes [6]")
	if eu1 := h.lineWith("10.0.1.11:2375"); !strings.Contains(eu1, " 0/1 ") {
		t.Fatalf("eu-1 with cache-eu Host Down: %s; want 0/1", eu1)
	}
	h.typeText(":events")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Rescheduled container db from eu-1 to", "cache-eu is down with eu-1 and not moved", "Flagging engine as unhealthy")
	// Heal: eu-1 comes back.
	h.typeText("1")
	h.typeText("E")
	h.wait(settle, "Nodes: 5/6 healthy")
}

func TestQuitRestoresTheTerminal(t *testing.T) {
	h := start(t, demoSource(t), 120, 30)
	h.wait(settle, "Nodes [6]")
	h.typeText("q")
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
		h.done <- nil // for the cleanup
	case <-time.After(3 * time.Second):
		t.Fatal("q did not quit")
	}
}

func TestNoColorMeansNoColours(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	h := start(t, demoSource(t), 160, 30)
	h.wait(settle, "Nodes: 5/6 healthy", "SIMULATED")
	h.onScreen(func(cells []tcell.SimCell, _ int) {
		for _, c := range cells {
			fg, bg, _ := c.Style.Decompose()
			if (fg != tcell.ColorDefault && fg != tcell.ColorReset) || (bg != tcell.ColorDefault && bg != tcell.ColorReset) {
				t.Errorf("a cell %q has colours %v on %v with NO_COLOR set", string(c.Runes), fg, bg)
				return
			}
		}
	})
}

func TestRowsAreFormattedWithoutATerminal(t *testing.T) {
	now := time.Now()
	n := &model.Node{Name: "eu-1", Addr: "10.0.0.1:2375", CPUs: 8, Memory: 2 << 30, Health: model.Healthy, Failures: 1,
		Labels: map[string]string{"zone": "eu", model.LabelOSType: "linux"}, Version: "20.10.24", Updated: now.Add(-5 * time.Second),
		Containers: []*model.Container{{Config: model.Config{Name: "db", CPUs: model.CPUs(2), Memory: 1 << 30}, ID: "abc", State: model.Running, Created: now.Add(-3 * time.Minute)}}}
	r := nodeRow(n, model.DefaultOvercommit, 0)
	got := []string{}
	for _, c := range r.cells() {
		got = append(got, c.withBar(now))
	}
	want := []string{"eu-1", "10.0.0.1:2375", "Healthy (1 failures)", "1/1", "██░░░░░░ 2 / 8", "███░░░░░ 1 GiB / 2.1 GiB", "zone=eu", "20.10.24", "<1m"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("node row\n got %q\nwant %q", got, want)
	}
	late := *n // not refreshed for minutes: it says how many
	late.Updated = now.Add(-5 * time.Minute)
	lr := nodeRow(&late, model.DefaultOvercommit, 0)
	if got := lr.cell(8).display(now); got != "5m" {
		t.Fatalf("a node refreshed 5 minutes ago: UPDATED %q", got)
	}
	if r.cell(2).level != levelWarn {
		t.Fatal("a node with failures is not flagged")
	}
	down := *n
	down.Health = model.Unhealthy
	c := containerRow(n.Containers[0], &down)
	if c.cell(0).text != "eu-1/db" || c.cell(2).text != "Host Down" || c.cell(8).display(now) != "3m" || c.cell(6).text != "off" {
		t.Fatalf("container row %+v", c.cells())
	}
	if bar(0, 10, 4) != "░░░░" || bar(1, 1000, 4) != "█░░░" || bar(10, 10, 4) != "████" || bar(20, 10, 4) != "████" {
		t.Fatal("bars")
	}
}

// replica is a cluster whose leader election made it a replica.
type replica struct{ *backend.Cluster }

func (replica) Role() (string, string) { return "replica", "10.0.0.5:3376" }

func TestTheHeaderShowsTheRoleAndThePrimary(t *testing.T) {
	h := start(t, demoSource(t), 160, 30)
	h.wait(settle, "Role: primary")
	st := build(replica{h.cluster}, newTheme(), nil)
	if text, _ := st.header.layout(0); !strings.Contains(text, "Role: replica (primary: 10.0.0.5:3376)") {
		t.Fatalf("header of a replica: %s", text)
	}
}

func TestASmallTerminalStillShowsTheCounts(t *testing.T) {
	h := start(t, demoSource(t), 80, 24)
	s := h.wait(settle, "Nodes: 5/6 healthy", "Nodes [6]", "eu-1")
	if lines := strings.Split(strings.TrimRight(s, "\n"), "\n"); len(lines) != 24 || !strings.Contains(lines[23], "quit") {
		t.Fatalf("the key hints are not on the last of 24 lines:\n%s", s)
	}
}

// TestTheHeaderAndTheHintsSayWhatTheyMean: the header says its capacity
// counts the healthy nodes only and includes the overcommit, in full on
// a wide terminal and short at 80 columns; the hint line shows the keys
// of the page in front.
func TestTheHeaderAndTheHintsSayWhatTheyMean(t *testing.T) {
	h := start(t, demoSource(t), 200, 40)
	h.wait(settle, "Nodes: 5/6 healthy", "Reserved CPUs: 5 / 40", "(capacity of the healthy nodes only; 5% overcommit included (40 CPUs, 80 GiB))")
	last := func() string {
		lines := strings.Split(strings.TrimRight(h.text(), "\n"), "\n")
		return lines[len(lines)-1]
	}
	for _, v := range []struct {
		key       string
		want, not []string
	}{
		{"1", []string{"⏎containers", "ddrain", "Kkill"}, []string{"llogs"}},
		{"2", []string{"⏎details", "llogs", "Sstart", "␣mark"}, []string{"ddrain", "Kkill"}},
		{"3", []string{"ccreate", "Dremove"}, []string{"llogs", "ddrain"}},
		{"n", []string{"Tab next field", "PgUp PgDn scroll the preview", "Esc cancel"}, []string{"qquit"}},
	} {
		h.typeText(v.key)
		h.wait(settle, v.want...)
		for _, x := range v.not {
			if l := last(); strings.Contains(l, x) {
				t.Errorf("after %s the hints show %q: %s", v.key, x, l)
			}
		}
	}
	h.key(tcell.KeyEscape)
	h.screen.SetSize(80, 24)
	h.screen.PostEvent(tcell.NewEventResize(80, 24)) // as a terminal says it
	h.wait(settle, "(healthy only, +5% overcommit)")
}

// TestANewResultLeadsTheStatusLineOverAnOldWarning: after a node's
// failure warning, an action's result comes first on the status line, so
// that an 80-column line shows it (the warning follows, and is kept).
func TestANewResultLeadsTheStatusLineOverAnOldWarning(t *testing.T) {
	h := start(t, demoSource(t), 80, 24)
	h.wait(settle, "Nodes [6]")
	h.typeText("/eu-1")
	h.key(tcell.KeyEnter)
	h.typeText("K")
	h.wait(settle, "Kill the engine of eu-1?")
	h.key(tcell.KeyTab)
	h.key(tcell.KeyEnter)
	// The demo's db moves off eu-1: its reschedule is the last warning
	// (it came after the result once, and led rightly).
	h.waitStatus(func(s string) bool {
		return strings.Contains(s, "⚠") && strings.Contains(s, "Rescheduled container db")
	})
	h.typeText(":frobnicate")
	h.key(tcell.KeyEnter)
	h.waitStatus(func(s string) bool { return strings.HasPrefix(s, "unknown command :frobnicate") })
}

// statusLine is the screen's status line (above the hints).
func (h *harness) statusLine() string {
	h.t.Helper()
	lines := strings.Split(strings.TrimRight(h.text(), "\n"), "\n")
	return lines[len(lines)-2]
}

// waitStatus polls until the status line satisfies ok.
func (h *harness) waitStatus(ok func(status string) bool) string {
	h.t.Helper()
	for deadline := time.Now().Add(settle); ; time.Sleep(10 * time.Millisecond) {
		status := h.statusLine()
		if ok(status) {
			return status
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("after %s the status line is %q:\n%s", settle, status, h.text())
		}
	}
}
