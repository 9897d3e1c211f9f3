package ui

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// flat is the screen's text inside boxes with the borders and line breaks
// taken out and spaces collapsed: a wrapped paragraph reads as one line.
func (h *harness) flat() string {
	s := strings.Map(func(r rune) rune {
		if strings.ContainsRune("║═╔╗╚╝│─┌┐└┘\n", r) {
			return ' '
		}
		return r
	}, h.text())
	return strings.Join(strings.Fields(s), " ")
}

// waitFlat polls until every want is in the flattened screen, spaces
// aside: wrapping may break a line inside a word (never before a colon).
func (h *harness) waitFlat(within time.Duration, want ...string) string {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := h.flat()
		missing := ""
		for _, w := range want {
			if !strings.Contains(strings.ReplaceAll(s, " ", ""), strings.Join(strings.Fields(w), "")) {
				missing = w
				break
			}
		}
		if missing == "" {
			return s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("after %s the screen lacks %q:\n%s", within, missing, h.text())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// launchAPI is the repro: nginx api, 8080:80, zone==eu, on node
// failure, three of them; it returns the node of each.
func launchAPI(t *testing.T, c *backend.Cluster) map[string]string {
	t.Helper()
	on := map[string]string{}
	for _, name := range []string{"api-1", "api-2", "api-3"} {
		ct, err := c.Create(context.Background(), model.Config{Name: name, Image: "nginx:1.25", NetworkMode: "bridge",
			Env:   []string{"constraint:zone==eu", "reschedule:on-node-failure"},
			Ports: []model.PortBinding{{HostPort: "8080", ContainerPort: "80", Proto: "tcp"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(context.Background(), ct.ID); err != nil {
			t.Fatal(err)
		}
		for _, n := range c.Nodes() {
			if n.Addr == ct.Node {
				on[name] = n.Name
			}
		}
	}
	return on
}

// killNode selects a node by filter and kills its engine with K, y.
func (h *harness) killNode(name string) {
	h.typeText("1/" + name)
	h.key(tcell.KeyEnter)
	h.wait(settle, "Nodes [1/")
	h.typeText("K")
	h.wait(settle, "Kill the engine of "+name+"?")
	h.key(tcell.KeyTab) // Cancel → Yes
	h.key(tcell.KeyEnter)
	h.wait(settle, "Unhealthy")
	h.key(tcell.KeyEscape) // clear the filter
}

func TestAWaitingContainerKeepsItsRowWithItsReason(t *testing.T) {
	h := start(t, demoSource(t), 200, 40)
	h.wait(settle, "Nodes: 5/6 healthy")
	on := launchAPI(t, h.cluster)
	victim, onVictim := "", ""
	for name, node := range on {
		if node == "eu-2" {
			victim, onVictim = name, node
		}
	}
	if victim == "" {
		t.Fatalf("no api container on eu-2: %v", on)
	}
	h.killNode(onVictim)
	// It cannot go anywhere: every other eu node has 8080 taken.
	var reason string
	deadline := time.Now().Add(5 * time.Second)
	for reason == "" {
		for _, q := range h.cluster.Queued() {
			if q.Container.Name == victim {
				reason = q.Reason
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never got a reason to wait: %+v", victim, h.cluster.Queued())
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.wait(settle, "Waiting to reschedule: 1")
	// The node keeps counting it (web-1 moved off it).
	h.wait(settle, "1 waiting")
	if l := h.lineWith("10.0.1.12:2375"); !strings.Contains(l, "0/1, 1 waiting") {
		t.Errorf("eu-2 does not count its waiting container (and none runs while it is down): %s", l)
	}
	// :wait lists the waiting ones only.
	h.typeText(":wait")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [1/", "eu-2/"+victim, "waiting: ")
	if l := h.lineWith("eu-2/" + victim); !strings.Contains(l, "nginx:1.25") || !strings.Contains(l, "zone==eu") {
		t.Errorf("the waiting row: %s", l)
	}
	// Enter: the reason in full, wrapped.
	h.key(tcell.KeyEnter)
	h.waitFlat(settle, "Container eu-2/"+victim, "waiting to be rescheduled off eu-2", "Reason: "+reason)
	h.key(tcell.KeyEscape)
	// Enter on its node drills into the node's containers, the waiting
	// one too, as k9s drills from a node into its pods; Esc comes back.
	h.typeText("1/eu-2")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Nodes [1/6] /eu-2")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [", "/node:^eu-2/", "eu-2/"+victim, "waiting")
	h.key(tcell.KeyEscape)
	h.wait(settle, "Nodes [1/6] /eu-2", "⏎containers", "idetails")
	// i: its node's page lists it too.
	h.typeText("i")
	h.waitFlat(settle, "Node eu-2", "Waiting to reschedule)", "eu-2/"+victim+" nginx:1.25 waiting: ")
	if strings.Contains(h.text(), "[aqua]") || strings.Contains(h.text(), "[-]") {
		t.Fatalf("the node page shows raw colour tags:\n%s", h.text())
	}
	// c: the node's containers, the waiting one too.
	h.typeText("c")
	h.wait(settle, "Containers [", "/node:^eu-2/", "eu-2/"+victim)
}

func TestEveryRowOpensItsDetailsInFull(t *testing.T) {
	h := start(t, demoSource(t), 80, 24)
	h.wait(settle, "Nodes [6]")
	// A node's error, cut in the table, in full on Enter.
	h.typeText("/ap-1")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Pending (") // its failures, and so its error, are in the console's state: the page shows that state
	h.typeText("i")             // Enter drills into its containers; i is the node in full
	h.waitFlat(settle, "Node ap-1", "Status: Pending")
	var apErr string
	for _, n := range h.cluster.Nodes() {
		if n.Name == "ap-1" {
			apErr = n.Error
		}
	}
	if apErr == "" {
		t.Fatal("ap-1 has no error to show")
	}
	h.waitFlat(settle, "Error: "+apErr)
	h.key(tcell.KeyEscape)
	h.key(tcell.KeyEscape)

	// A container.
	h.typeText("2/web-1")
	h.key(tcell.KeyEnter)
	h.key(tcell.KeyEnter)
	h.waitFlat(settle, "Container eu-2/web-1", "Rules: affinity:container!=~web-*", "Ports: 80->80/tcp", "Reschedule: on-node-failure")
	// i: docker inspect's shape, not the internal model.
	h.typeText("i")
	h.waitFlat(settle, "Inspect eu-2/web-1", `"Id":`, `"State": {`, `"Status": "running"`)
	wants := []string{`"HostConfig": {`, `"NanoCpus": 500000000`, `"PortBindings": {`, `"HostPort": "80"`, `"Node": {`, `"Name": "eu-2"`}
	s, page := "", ""
	for deadline := time.Now().Add(settle); ; h.key(tcell.KeyPgDn) { // read it all, a page at a time
		for prev := page; page == prev && time.Now().Before(deadline); { // one PgDn at a time: none skipped
			page = h.flat()
		}
		s += page
		missing := slices.DeleteFunc(slices.Clone(wants), func(w string) bool { return strings.Contains(s, w) })
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("inspect lacks %q:\n%s", missing, s)
		}
	}
	if regexp.MustCompile(`"State": \d`).MatchString(s) || strings.Contains(s, `"CPUs"`) {
		t.Fatalf("inspect shows the internal model:\n%s", h.text())
	}
	h.key(tcell.KeyEscape)
	h.key(tcell.KeyEscape)

	// A network: its containers.
	h.typeText("3")
	h.wait(settle, "Networks [")
	h.typeText("/bridge")
	h.key(tcell.KeyEnter)
	h.key(tcell.KeyEnter)
	// the five running ones, by node/name as the tables say them
	h.waitFlat(settle, "Network bridge", "NAME: bridge", "DRIVER: bridge", "CONTAINERS: 5", "eu-1/db", "us-1/web-2")
	h.key(tcell.KeyEscape)

	// An event: the whole message, cut in the table.
	h.typeText("4")
	h.typeText("/eu-1")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Events [1/")
	h.key(tcell.KeyEnter)
	var msg string
	for _, e := range h.cluster.RecentEvents() {
		if e.Node == "eu-1" {
			msg = e.Message
		}
	}
	if len(msg) < 40 { // the MESSAGE column has about 35 columns at 80x24
		t.Fatalf("no long event about eu-1: %q", msg)
	}
	h.waitFlat(settle, "Event", "MESSAGE: "+msg)
	h.key(tcell.KeyEscape)

	// The status line's message, in full: an unknown command is long.
	h.typeText(":frobnicate")
	h.key(tcell.KeyEnter)
	h.wait(settle, "unknown command :frobnicate")
	h.typeText("m")
	h.waitFlat(settle, "Messages, newest first", "unknown command :frobnicate (commands: :"+strings.Join(commands, " :")+")")
}

func TestCommandsByPrefixAndTab(t *testing.T) {
	h := start(t, demoSource(t), 120, 30)
	h.wait(settle, "Nodes [6]")
	h.typeText(":con")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [6]")
	h.typeText(":ne")
	h.key(tcell.KeyTab)
	h.wait(settle, ":networks")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Networks [")
	h.typeText(":n")
	h.key(tcell.KeyTab) // says why it cannot complete
	h.wait(settle, ":n is ambiguous: :nodes :networks")
	h.key(tcell.KeyEscape)
	h.typeText(":n")
	h.key(tcell.KeyEnter)
	h.wait(settle, ":n is ambiguous: :nodes :networks")
}

func TestFilterTakesNegationColumnsAndRegexps(t *testing.T) {
	h := start(t, demoSource(t), 200, 30)
	h.wait(settle, "Nodes [6]")
	h.typeText("2/!redis")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [4/6] /!redis", "eu-1/db")
	h.gone(settle, "cache-eu", "cache-us")
	h.key(tcell.KeyEscape)
	h.typeText("/^eu-[12]/")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [3/6]", "eu-1/db", "eu-1/cache-eu", "eu-2/web-1")
	h.key(tcell.KeyEscape)
	h.typeText("/state:exited")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [1/6]", "eu-3/batch-old")
}

func TestNaturalSortAndAge(t *testing.T) {
	rows := []row{}
	for _, n := range []string{"node-10", "node-2", "node-100", "node-1"} {
		rows = append(rows, newRow(n, []cell{{text: n}}))
	}
	c := newContent([]string{"NAME"}, newTheme())
	c.sortCol = 0
	c.set(rowsOf(rows))
	var got []string
	for _, i := range c.view {
		got = append(got, c.rows.at(i).key)
	}
	if strings.Join(got, " ") != "node-1 node-2 node-10 node-100" {
		t.Fatalf("natural sort: %v", got)
	}
	now := time.Now()
	young, old := ageKey(now), ageKey(now.Add(-time.Hour))
	if naturalKey(young) >= naturalKey(old) {
		t.Fatalf("AGE↑ must put the youngest first: %s vs %s", young, old)
	}
}

func TestConfirmationsTakeYAndN(t *testing.T) {
	h := start(t, demoSource(t), 160, 30)
	h.wait(settle, "Nodes: 5/6 healthy")
	h.typeText("/eu-3")
	h.key(tcell.KeyEnter)
	h.typeText("K")
	h.wait(settle, "Kill the engine of eu-3?", "y Yes", "n Cancel")
	h.typeText("n") // no: nothing happens
	h.gone(settle, "Kill the engine of eu-3?")
	if strings.Contains(h.lineWith("10.0.1.13"), "Unhealthy") {
		t.Fatal("n killed the engine")
	}
	h.typeText("K")
	h.wait(settle, "Kill the engine of eu-3?")
	h.typeText("y")
	h.wait(settle, "killed the engine of eu-3", "Unhealthy")
}

// logsGoroutines counts the goroutines of the logs view still running.
func logsGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "swarmdeck/ui.(*App).logs")
}

func TestTheLogsViewsGoroutinesEndWithIt(t *testing.T) {
	h := start(t, demoSource(t), 160, 30)
	h.wait(settle, "Nodes [6]")
	for _, closeKey := range []func(){func() { h.key(tcell.KeyEscape) }, func() { h.typeText("q") }} {
		h.typeText("2/web-1")
		h.key(tcell.KeyEnter)
		h.typeText("l")
		h.wait(settle, "Logs eu-2/web-1", "simulated container web-1 (nginx:1.25)")
		if logsGoroutines() == 0 {
			t.Fatal("no logs goroutine while the view follows")
		}
		closeKey()
		h.gone(settle, "Logs eu-2/web-1")
		deadline := time.Now().Add(settle)
		for logsGoroutines() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d logs goroutines left after the view closed", logsGoroutines())
			}
			time.Sleep(10 * time.Millisecond)
		}
		h.key(tcell.KeyEscape) // clear the filter
	}
}

func TestSpaceMarksRowsForABulkStop(t *testing.T) {
	h := start(t, demoSource(t), 200, 30)
	h.wait(settle, "Nodes [6]")
	h.typeText("2/web-")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [2/6]")
	h.typeText(" j ")
	h.wait(settle, "2 marked", "✓ eu-2/web-1", "✓ us-1/web-2")
	h.typeText("s")
	h.wait(settle, "Stop 2 containers?")
	h.typeText("y")
	h.wait(settle, "stop 2 containers: done")
	h.gone(settle, "2 marked", "✓ ")
	for deadline := time.Now().Add(settle); !strings.Contains(h.lineWith("eu-2/web-1"), "exited") || !strings.Contains(h.lineWith("us-1/web-2"), "exited"); {
		if time.Now().After(deadline) {
			t.Fatalf("the marked containers were not both stopped:\n%s", h.text())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if l := h.lineWith("eu-1/db"); l != "" {
		t.Errorf("the filter let db through: %s", l)
	}
	h.key(tcell.KeyEscape)
	if l := h.wait(settle, "eu-1/db"); !strings.Contains(h.lineWith("eu-1/db"), "running") {
		t.Errorf("an unmarked container was stopped:\n%s", l)
	}
	// The same marks start both again (no question), then remove both
	// (after one).
	h.typeText("/web-")
	h.key(tcell.KeyEnter)
	h.typeText(" j ")
	h.wait(settle, "2 marked")
	h.typeText("S")
	h.wait(settle, "start 2 containers: done")
	for deadline := time.Now().Add(settle); !strings.Contains(h.lineWith("eu-2/web-1"), "running") || !strings.Contains(h.lineWith("us-1/web-2"), "running"); {
		if time.Now().After(deadline) {
			t.Fatalf("the marked containers were not both started:\n%s", h.text())
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.key(tcell.KeyHome)
	h.typeText(" j ")
	h.wait(settle, "2 marked")
	h.typeText("D")
	h.wait(settle, "Remove 2 containers? A running one is killed first.")
	h.typeText("y")
	h.wait(settle, "remove 2 containers: done", "Containers [0/4]")
}

// tornReads is a manager whose queue changes between two of the
// console's reads once armed: the first Nodes after that waits, with
// what it read, until a container is queued.
type tornReads struct {
	*backend.Cluster
	armed atomic.Bool
}

func (b *tornReads) Nodes() []*model.Node {
	ns := b.Cluster.Nodes()
	if len(b.Cluster.Queued()) == 0 && b.armed.CompareAndSwap(true, false) {
		for deadline := time.Now().Add(settle); len(b.Cluster.Queued()) == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	return ns
}

// The header and the rows come from one reading of the manager: a
// container queued off a killed node while the console reads is counted
// once, on its node or as waiting, never both (the header said 10
// containers of 9 and eu-2 "0/2, 1 waiting" until the next rebuild, a
// second later at most).
func TestTheHeaderAndTheRowsCountAWaitingContainerOnce(t *testing.T) {
	var torn *tornReads
	var mu sync.Mutex
	var headers []string // every header installed once the kill is asked
	var recording atomic.Bool
	h := startWith(t, demoSource(t), 200, 40, func(c *backend.Cluster) Backend {
		torn = &tornReads{Cluster: c}
		return torn
	}, func(a *App) {
		a.drawn = func() {
			if !recording.Load() {
				return
			}
			mu.Lock()
			headers = append(headers, a.header.GetText(true))
			mu.Unlock()
		}
	})
	h.wait(settle, "Nodes: 5/6 healthy")
	launchAPI(t, h.cluster)
	h.wait(settle, "Containers: 8/9 running")
	h.typeText("/eu-2")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Nodes [1/")
	h.typeText("K")
	h.wait(settle, "Kill the engine of eu-2?")
	torn.armed.Store(true)
	recording.Store(true)
	h.typeText("y")
	h.wait(settle, "Waiting to reschedule: 1", "Containers: 7/9 running", "0/1, 1 waiting")
	mu.Lock()
	defer mu.Unlock()
	total := regexp.MustCompile(`Containers: \d+/(\d+) running`)
	for _, hd := range headers {
		if m := total.FindStringSubmatch(hd); m == nil || m[1] != "9" {
			t.Fatalf("a header counted %v containers of 9:\n%s", m, hd)
		}
	}
}

// lateHistory is a manager where events come between the console's
// subscription and its reading of the history: Subscribe creates the
// container dup before it returns, and waits until its events are in the
// history.
type lateHistory struct{ *backend.Cluster }

func (b lateHistory) Subscribe(buffer int) (<-chan model.Event, func()) {
	ch, stop := b.Cluster.Subscribe(buffer)
	before := len(b.Cluster.RecentEvents())
	if _, err := b.Cluster.Create(context.Background(), model.Config{Name: "dup", Image: "busybox"}); err != nil {
		panic(err)
	}
	for deadline := time.Now().Add(settle); len(b.Cluster.RecentEvents()) == before && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	return ch, stop
}

// An event that comes as the console starts is listed once: it is both
// in the history the console reads and in its subscription.
func TestAnEventAtStartIsListedOnce(t *testing.T) {
	h := startWith(t, demoSource(t), 160, 30, func(c *backend.Cluster) Backend { return lateHistory{c} })
	h.wait(settle, "Nodes [6]")
	want := 0
	for _, e := range h.cluster.RecentEvents() {
		if strings.Contains(e.Container+" "+e.Message, "dup") {
			want++
		}
	}
	if want == 0 {
		t.Fatal("no event about dup")
	}
	h.typeText("4/dup")
	h.key(tcell.KeyEnter)
	h.wait(settle, fmt.Sprintf("Events [%d/", want))
}
