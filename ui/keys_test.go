package ui

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gdamore/tcell/v2"

	"swarmdeck/backend"
	"swarmdeck/clusterfile"
	"swarmdeck/model"
)

// TestMovingOverAViewLeftEmptyAnswersTheNextKey is the outside trial's
// freeze: marks across a filter, D, y removed every row the filter
// showed, and the next ↓ or j never returned (tview's Table looks for a
// selectable row forever when there is none); the console answered no
// key again.
func TestMovingOverAViewLeftEmptyAnswersTheNextKey(t *testing.T) {
	moves := []struct {
		name string
		key  func(h *harness)
	}{
		{"j", func(h *harness) { h.typeText("j") }},
		{"k", func(h *harness) { h.typeText("k") }},
		{"down", func(h *harness) { h.key(tcell.KeyDown) }},
		{"up", func(h *harness) { h.key(tcell.KeyUp) }},
		{"pgdn", func(h *harness) { h.key(tcell.KeyPgDn) }},
		{"pgup", func(h *harness) { h.key(tcell.KeyPgUp) }},
	}
	h := start(t, demoSource(t), 160, 30)
	h.wait(settle, "Nodes [6]")
	h.typeText("2/!eu-")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [2/6] /!eu-", "us-1/web-2", "us-1/cache-us")
	h.typeText(" j ")
	h.wait(settle, "2 marked")
	h.typeText("D")
	h.wait(settle, "Remove 2 containers?")
	h.typeText("y")
	h.wait(settle, "remove 2 containers: done", "Containers [0/4] /!eu-")
	for _, m := range moves {
		m.key(h)
		h.typeText("?")
		h.wait(settle, "Keys: containers")
		h.typeText("q")
		h.gone(settle, "Keys: containers")
	}
	// A filter that matches nothing from the start, too.
	h.key(tcell.KeyEscape)
	h.filter("nothing-is-called-this", "Containers [0/4]")
	for _, m := range moves {
		m.key(h)
	}
	h.typeText("?")
	h.wait(settle, "Keys: containers")
}

// lineOf is the index of the first screen line holding s, or -1.
func lineOf(screen, s string) int {
	for i, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

// TestTheDefaultOrderIsNatural: without o, nodes, containers and
// networks are by name in natural order (n2 before n10, svc-1-2 before
// svc-1-10).
func TestTheDefaultOrderIsNatural(t *testing.T) {
	// The engines come in the order of their names as plain strings (n1,
	// n10, n11, n2…), and each one's containers too.
	var nodes []*model.Node
	for _, i := range lexical(11) {
		n := &model.Node{Name: fmt.Sprintf("n%d", i), ID: fmt.Sprintf("ID%d", i), Addr: fmt.Sprintf("10.0.0.%d:2375", i),
			CPUs: 16, Memory: 32 << 30, Health: model.Healthy, Labels: map[string]string{}}
		for _, j := range lexical(11) {
			n.Containers = append(n.Containers, &model.Container{
				Config: model.Config{Name: fmt.Sprintf("svc-%d-%d", i, j), Image: "busybox", CPUs: 1000, Memory: 1 << 30, NetworkMode: "bridge"},
				ID:     fmt.Sprintf("%064d", len(nodes)*100+len(n.Containers)), Node: n.Addr, State: model.Running,
			})
		}
		nodes = append(nodes, n)
	}
	src := backend.SimSource("sim://natural", nodes)
	h := start(t, src, 160, 60)
	h.wait(settle, "Nodes: 11/11 healthy")
	for _, name := range []string{"net-10", "net-2"} {
		if _, err := h.cluster.CreateNetwork(context.Background(), name, "bridge"); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []struct {
		key, title string
		before     [][2]string
	}{
		{"1", "Nodes [11]", [][2]string{{"║n1 ", "║n2 "}, {"║n2 ", "║n10 "}, {"║n9 ", "║n10 "}}},
		{"2", "Containers [121]", [][2]string{{"n1/svc-1-1 ", "n1/svc-1-2 "}, {"n1/svc-1-2 ", "n1/svc-1-10 "}, {"n1/svc-1-9 ", "n1/svc-1-10 "}}},
		{"3", "Networks [5]", [][2]string{{"║net-2 ", "║net-10 "}}},
	} {
		h.typeText(v.key)
		s := h.wait(settle, v.title, v.before[0][1])
		for _, b := range v.before {
			i, j := lineOf(s, b[0]), lineOf(s, b[1])
			if i < 0 || j < 0 || i > j {
				t.Errorf("view %s: %q (line %d) must come before %q (line %d):\n%s", v.key, b[0], i, b[1], j, s)
			}
		}
	}
}

// lexical is 1..n in the order of their decimal text (1, 10, 11, 2…).
func lexical(n int) []int {
	var out []int
	for i := 1; i <= n; i++ {
		out = append(out, i)
	}
	slices.SortFunc(out, func(a, b int) int { return strings.Compare(strconv.Itoa(a), strconv.Itoa(b)) })
	return out
}

// TestCommandsAnswerOnTheStatusLineAtOnce: an unknown :command and an
// ambiguous prefix answer on the status line, ahead of an older warning,
// the ambiguous one naming its candidates; the same answer again after a
// newer warning leads again.
func TestCommandsAnswerOnTheStatusLineAtOnce(t *testing.T) {
	src := demoSource(t)
	h := start(t, src, 80, 24)
	h.wait(settle, "Nodes [6]")
	src.Sim("10.0.2.22:2375").Crash() // us-2: a warning, and no result of ours
	h.waitStatus(func(s string) bool { return strings.HasPrefix(s, "⚠") && strings.Contains(s, "us-2") })
	for _, c := range []struct{ typed, answer string }{
		{":xyz", "unknown command :xyz"},
		{":r", ":r is ambiguous: :run :rebalance"},
		{":xyz", "unknown command :xyz"},
	} {
		h.typeText(c.typed)
		h.key(tcell.KeyEnter)
		h.waitStatus(func(s string) bool { return strings.HasPrefix(s, c.answer) })
	}
	src.Sim("10.0.1.13:2375").Crash() // eu-3: newer warnings lead (the last: batch-old is down with it)…
	h.waitStatus(func(s string) bool {
		return strings.HasPrefix(s, "⚠") && strings.Contains(s, "batch-old is down with eu-3")
	})
	h.typeText(":xyz") // …until the same answer comes again
	h.key(tcell.KeyEnter)
	h.waitStatus(func(s string) bool { return strings.HasPrefix(s, "unknown command :xyz") })
}

// TestFilterRegexpsMatchCellByCell: in a / filter's regexp ^ and $ are a
// cell's start and end (the outside trial's /job5-99[0-9]$ found
// nothing: it was matched against the row's cells joined); a regexp that
// is not valid says so on the status line and the view keeps its filter.
func TestFilterRegexpsMatchCellByCell(t *testing.T) {
	h := start(t, demoSource(t), 200, 30)
	h.wait(settle, "Nodes [6]")
	h.typeText("2")
	h.wait(settle, "Containers [6]")
	for _, c := range []struct {
		filter, title string
		shown, hidden []string
	}{
		{"web-[0-9]$", "Containers [2/6]", []string{"eu-2/web-1", "us-1/web-2"}, []string{"eu-1/db"}},
		{"db$", "Containers [1/6]", []string{"eu-1/db"}, []string{"eu-2/web-1", "eu-1/cache-eu"}},
		{"^eu-1/", "Containers [2/6]", []string{"eu-1/db", "eu-1/cache-eu"}, []string{"eu-2/web-1"}},
		{"!^eu-", "Containers [2/6]", []string{"us-1/web-2", "us-1/cache-us"}, []string{"eu-1/db"}},
		{"name:^us-1/.*-us$", "Containers [1/6]", []string{"us-1/cache-us"}, []string{"us-1/web-2"}},
		// In NODE/NAME ^ also anchors at the name after the node.
		{"^web-[12]$", "Containers [2/6]", []string{"eu-2/web-1", "us-1/web-2"}, []string{"eu-1/db"}},
		{"name:^cache-", "Containers [2/6]", []string{"eu-1/cache-eu", "us-1/cache-us"}, []string{"eu-1/db"}},
		{"!", "Containers [6/6]", []string{"eu-1/db", "us-1/web-2"}, nil}, // "!" alone excludes nothing (it showed no row)
	} {
		h.typeText("/" + c.filter)
		h.key(tcell.KeyEnter)
		h.wait(settle, c.title+" /"+c.filter)
		h.wait(settle, c.shown...)
		h.gone(settle, c.hidden...)
		h.key(tcell.KeyEscape)
		h.wait(settle, "Containers [6]")
	}

	h.filter("db$", "Containers [1/6] /db$")
	h.typeText("/") // the prompt holds db$: type over it
	for range 3 {
		h.key(tcell.KeyBackspace2)
	}
	h.typeText("web-[0-9")
	h.key(tcell.KeyEnter)
	h.waitStatus(func(s string) bool {
		return strings.HasPrefix(s, "filter /web-[0-9: not a valid regexp: missing closing ]: `[0-9`; the filter stays /db$")
	})
	h.wait(settle, "Containers [1/6] /db$", "eu-1/db")

	h.typeText("?")
	h.waitFlat(settle, "a regexp matched cell by cell (^ and $ are a cell's start and end, and in NODE/NAME also the name's: /^web-[0-9]+$)")
}

// TestEveryKeyOnAnEmptyViewAnswers presses the keys of the views that
// act on the selected row, and every moving key, on each view filtered to
// no row (where ↓ froze the console): nothing opens, the filter stays,
// and the console answers the next key, ? here.
func TestEveryKeyOnAnEmptyViewAnswers(t *testing.T) {
	h := start(t, demoSource(t), 160, 40)
	h.wait(settle, "Nodes [6]")
	for _, v := range []struct{ key, title string }{{"1", "Nodes"}, {"2", "Containers"}, {"3", "Networks"}, {"4", "Events"}} {
		h.typeText(v.key + "/nothing-is-called-this")
		h.key(tcell.KeyEnter)
		h.wait(settle, v.title+" [0/")
		for _, k := range []tcell.Key{tcell.KeyEnter, tcell.KeyDown, tcell.KeyUp, tcell.KeyPgDn, tcell.KeyPgUp, tcell.KeyHome, tcell.KeyEnd, tcell.KeyCtrlD} {
			h.key(k)
		}
		h.typeText(" jkgGoOilsSrDKHEdpa")
		h.typeText("?")
		h.wait(settle, "Keys: "+strings.ToLower(v.title))
		h.key(tcell.KeyEscape)
		h.wait(settle, v.title+" [0/") // the filter stayed
		h.key(tcell.KeyEscape)
		h.gone(settle, " [0/")
	}
}

// TestMarksFollowTheirContainers: a mark goes with the container acted
// on (the outside trial: Space, D, y left "1 marked" behind, and the next
// mark read "2 marked"); marks the filter hides are left alone, and D
// says so, rather than nothing, when every mark is hidden.
func TestMarksFollowTheirContainers(t *testing.T) {
	h := start(t, demoSource(t), 200, 30)
	h.wait(settle, "Nodes [6]")
	h.typeText("2")
	h.wait(settle, "Containers [6]")
	h.key(tcell.KeyHome) // eu-1/cache-eu
	h.typeText(" ")
	h.wait(settle, "1 marked", "✓ eu-1/cache-eu")
	h.typeText("D")
	h.wait(settle, "Remove container eu-1/cache-eu?")
	h.typeText("y")
	h.wait(settle, "remove eu-1/cache-eu: done", "Containers [5]")
	h.gone(settle, "marked")
	h.key(tcell.KeyHome) // eu-1/db
	h.typeText(" ")
	h.wait(settle, "1 marked", "✓ eu-1/db")

	// db is marked; mark both webs, then hide them all behind /batch.
	h.filter("web-", "Containers [2/5] /web-")
	h.typeText(" j ")
	h.wait(settle, "3 marked")
	h.key(tcell.KeyEscape)
	h.filter("batch", "Containers [1/5] /batch")
	h.typeText("D")
	h.waitStatus(func(s string) bool {
		return strings.HasPrefix(s, "remove: the 3 marked containers are hidden by the filter /batch (Esc clears it")
	})
	if n := countNamed(h.cluster, "web-") + countNamed(h.cluster, "db") + countNamed(h.cluster, "batch-old"); n != 4 {
		t.Fatalf("D with every mark hidden removed something: %d of web-1, web-2, db, batch-old left", n)
	}

	// Two of the three shown: D removes those two, names the one left.
	// Esc clears the filter, and with it what the status line said of it.
	h.key(tcell.KeyEscape)
	h.waitStatus(func(s string) bool { return !strings.Contains(s, "hidden by the filter") })
	h.typeText("/web-")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [2/5] /web-", "3 marked")
	h.typeText("D")
	h.wait(settle, "Remove 2 containers?", "1 more marked are hidden by the filter: left alone.")
	h.typeText("y")
	h.wait(settle, "remove 2 containers: done", "Containers [0/3] /web-", "1 marked")
	if countNamed(h.cluster, "db") != 1 {
		t.Fatal("db, marked but hidden, was removed")
	}
}

// TestThePreviewRefusesABadImageReference: the preview says an image
// reference is not valid, as the launch would fail (the outside trial's
// "Bad Image!!" was "1 of 1 placeable … it is pulled there first").
func TestThePreviewRefusesABadImageReference(t *testing.T) {
	h := start(t, demoSource(t), 160, 45)
	h.wait(settle, "Nodes [6]")
	h.typeText("n")
	h.wait(settle, "Where it would go")
	h.typeText("Bad Image!!")
	h.wait(settle, `✗ Image: "Bad Image!!": invalid reference format`, "✗ Image")
	h.gone(settle, "placeable")
	for range len("Bad Image!!") {
		h.key(tcell.KeyBackspace2)
	}
	h.typeText("nginx:1.25")
	h.wait(settle, "1 of 1 placeable")
	h.gone(settle, "✗ Image")
}

// TestALongDiscoveryURLLeavesTheCapacityNote: the header's first line
// held a nodes:// URL of three addresses alone, and the capacity note
// ("healthy only") fell off the fourth line exactly when a node was down
// (the outside trial on real engines at 80x24, with figures a little
// longer than the demo's: here 72 columns). The URL's short form is cut.
func TestALongDiscoveryURLLeavesTheCapacityNote(t *testing.T) {
	f, err := clusterfile.Load("../examples/demo.yaml") // ap-1 is down from the start
	if err != nil {
		t.Fatal(err)
	}
	src := backend.SimSource("nodes://127.0.0.1:23851,127.0.0.1:23852,127.0.0.1:23853", f.Nodes)
	src.Simulated = false // as real engines: no SIMULATED tag
	h := start(t, src, 72, 24)
	s := h.wait(settle, "Nodes [6]", "nodes://127.0.0.1:23851,127.0.0.1:23852…", "(healthy only")
	if lines := strings.Split(s, "\n"); !strings.Contains(lines[0], "Role: primary") {
		t.Errorf("the role is not on the first line:\n%s", s)
	}
	h.screen.SetSize(200, 40)
	h.screen.PostEvent(tcell.NewEventResize(200, 40))
	h.wait(settle, "nodes://127.0.0.1:23851,127.0.0.1:23852,127.0.0.1:23853", "(capacity of the healthy nodes only")
}

// filter types a / filter and waits for the view's title to say title.
func (h *harness) filter(f, title string) string {
	h.t.Helper()
	h.typeText("/" + f)
	h.key(tcell.KeyEnter)
	return h.wait(settle, title)
}
