package ui

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"

	"swarmdeck/backend"
	"swarmdeck/clusterfile"
)

// lastLine is the screen's last line: the key hints.
func (h *harness) lastLine() string {
	lines := strings.Split(strings.TrimRight(h.text(), "\n"), "\n")
	return lines[len(lines)-1]
}

// At 80x24 the hint line keeps the keys of the page in front that
// matter most (start and stop of containers, sort, filter, help) and
// none of another view's; the nodes view gives its width to its columns
// by priority, LABELS cut rather than a dozen blank columns.
func TestAt80ColumnsTheHintsAndTheColumnsFit(t *testing.T) {
	h := start(t, steadySource(t), 80, 24)
	h.wait(settle, "Nodes [5]", "eu-1")
	for _, v := range []struct {
		key, title string
		want, not  []string
	}{
		{"1", "Nodes [5]", []string{"⏎containers", "idetails", "nlaunch", "ddrain", "/filter", "?help", "osort", "qquit"}, []string{"Sstart", "llogs"}},
		{"2", "Containers [6]", []string{"⏎details", "iinspect", "llogs", "Sstart", "sstop", "Dremove", "/filter", "?help", "osort", "qquit"}, []string{"ddrain", "Kkill"}},
		{"3", "Networks [", []string{"⏎details", "ccreate", "Dremove", "osort"}, []string{"llogs", "Sstart"}},
		{"4", "Events [", []string{"⏎details", "/filter", "osort"}, []string{"Dremove", "Sstart"}},
	} {
		h.typeText(v.key)
		h.wait(settle, v.title)
		for deadline := time.Now().Add(settle); ; time.Sleep(10 * time.Millisecond) {
			l := h.lastLine()
			missing := ""
			for _, w := range v.want {
				if !strings.Contains(l, w) {
					missing = w
				}
			}
			if missing == "" {
				for _, x := range v.not {
					if strings.Contains(l, x) {
						t.Errorf("view %s: the hints show %q, another view's key: %s", v.key, x, l)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("view %s: the hints lack %q at 80 columns: %s", v.key, missing, l)
			}
		}
	}
	h.typeText("1")
	h.wait(settle, "Nodes [5]", "LABELS", "disk=ssd")
	for _, addr := range []string{"10.0.1.11:2375", "10.0.2.21:2375"} {
		l := h.lineWith(addr)
		inner := strings.TrimRight(strings.Trim(l, "║"), " ")
		if blank := 78 - utf8.RuneCountInString(inner); blank > 2 {
			t.Errorf("the row of %s leaves %d columns blank at 80 columns: %s", addr, blank, l)
		}
	}
}

// Enter on a node with nothing to drill into (a Pending node has not
// listed any container yet) opens the node itself, saying why, rather
// than an empty containers view; Esc comes back to the nodes.
func TestEnterOnAPendingNodeOpensTheNode(t *testing.T) {
	h := start(t, demoSource(t), 80, 24)
	h.wait(settle, "Nodes [6]", "ap-1")
	h.typeText("/ap-1")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Nodes [1/6] /ap-1", "Pending")
	h.key(tcell.KeyEnter)
	h.waitFlat(settle, "Node ap-1", "Status: Pending: not connected yet", "its containers show once it is", "Error: ")
	if strings.Contains(h.text(), "Containers [0/") {
		t.Fatalf("Enter on a Pending node opened an empty containers view:\n%s", h.text())
	}
	h.key(tcell.KeyEscape)
	h.wait(settle, "Nodes [1/6] /ap-1")
	// A node with containers still drills into them.
	h.key(tcell.KeyEscape)
	h.typeText("/eu-1")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Nodes [1/6] /eu-1")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [2/", "eu-1/db")
}

// previewBox is the lines inside the launch preview's box.
func (h *harness) previewBox() []string {
	var in []string
	inside := false
	for _, l := range strings.Split(h.text(), "\n") {
		switch {
		case strings.Contains(l, "Where it would go"):
			inside = true
		case inside && strings.HasPrefix(l, "└"):
			return in
		case inside:
			in = append(in, strings.TrimRight(strings.TrimSuffix(strings.TrimPrefix(strings.TrimRight(l, " "), "│"), "│"), " "))
		}
	}
	return in
}

// launchAt80 opens the launch form at 80x24 over 200 nodes × 30, with
// nginx api, Ports 80:80, Count 300: 200 placeable.
func launchAt80(t *testing.T) *harness {
	t.Helper()
	src, err := backend.Open("sim://200?containers=30", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, src, 80, 24)
	h.wait(settle, "Nodes: 200/200 healthy")
	h.fillLaunch("nginx", "api", "80:80", "300")
	return h
}

// At 80 columns the preview of a launch over 200 nodes leads with its
// summary and wraps each node's line under that node (its continuation
// indented past the line's start), never back to the first column where
// it read as a line of its own; PgDn scrolls through them.
func TestThePreviewWrapsEachNodesLineUnderIt(t *testing.T) {
	h := launchAt80(t)
	h.waitFlat(settle, "200 of 300 placeable; api-201 fails")
	box := h.previewBox()
	if len(box) == 0 || !strings.HasPrefix(box[0], "200 of 300 placeable") {
		t.Fatalf("the preview does not lead with its summary:\n%s", h.text())
	}
	seen := 0
	for i := range 6 {
		box = h.previewBox()
		if i == 0 { // the summary, a paragraph
			box = box[max(slices.Index(box, ""), 0):]
		}
		for _, l := range box {
			if l == "" || strings.HasPrefix(l, " ") || strings.HasPrefix(l, "✓") || strings.HasPrefix(l, "✗") {
				continue
			}
			t.Fatalf("a line of the preview wrapped to its first column: %q\n%s", l, h.text())
		}
		for _, l := range box {
			if strings.HasPrefix(l, "   #") {
				seen++
			}
		}
		h.key(tcell.KeyPgDn)
		time.Sleep(100 * time.Millisecond)
	}
	if seen == 0 {
		t.Fatalf("no node's line seen while scrolling:\n%s", h.text())
	}
}

func TestHangWrapsUnderTheLine(t *testing.T) {
	for _, tt := range []struct {
		name, line string
		width      int
		want       string
	}{
		{"fits", "   #1 node-1 weight 3", 40, "   #1 node-1 weight 3\n"},
		{"no width", "   #1 node-1 weight 3 · cpu 10%", 0, "   #1 node-1 weight 3 · cpu 10%\n"},
		{"a figure stays whole", "   #1 node-1         weight -800 · cpu 100% · health 100 · 30 containers", 60,
			"   #1 node-1         weight -800 · cpu 100% · health 100 ·\n      30 containers\n"},
		{"reasons break after ;", "   ✗ node-7         port 80 (Bridge mode); constraint zone==eu", 50,
			"   ✗ node-7         port 80 (Bridge mode);\n      constraint zone==eu\n"},
		{"a long reason at spaces", "   ✗ n a b c d e f g h i j k l m n o p q r s t u v w x y z", 30,
			"   ✗ n a b c d e f g h i j k l\n      m n o p q r s t u v w x\n      y z\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sb strings.Builder
			hang(&sb, tt.width, reportHang, tt.line)
			if sb.String() != tt.want {
				t.Fatalf("hang(%d):\n%s\nwant:\n%s", tt.width, sb.String(), tt.want)
			}
		})
	}
}

// A node named with 200 characters (from a cluster file or a discovery)
// is cut in its middle in table cells, dialogs and the status line, so
// the other columns and the rest of a message stay on screen; its page,
// an event's details and the m page show it whole.
func TestALongNodeNameIsCutInTablesAndMessages(t *testing.T) {
	f, err := clusterfile.Load("testdata/longname.yaml")
	if err != nil {
		t.Fatal(err)
	}
	long := f.Nodes[0].Name
	cut := cutName(long)
	if len(long) != 200 || !strings.Contains(cut, "…") || len([]rune(cut)) != maxName {
		t.Fatalf("the fixture's name %d long, cut to %q", len(long), cut)
	}
	h := start(t, backend.SimSource("sim://long", f.Nodes), 160, 30)
	h.wait(settle, "Nodes [2]", "short-1")
	if l := h.lineWith("10.0.9.1:2375"); !strings.Contains(l, cut+" 10.0.9.1:2375 Healthy 1/1") {
		t.Fatalf("the long name's row: %s", l)
	}
	h.typeText("2")
	h.wait(settle, "Containers [1]")
	if l := h.lineWith("/web"); !strings.Contains(l, "…") || !strings.Contains(l, "nginx:1.25 running") {
		t.Fatalf("its container's row: %s", l)
	}
	// A drill into its containers: the title keeps its count.
	h.typeText("1")
	h.key(tcell.KeyHome)
	h.key(tcell.KeyEnter)
	h.wait(settle, "Containers [1/1] /node:^", "…")
	h.key(tcell.KeyEscape)
	h.typeText("/xxxz")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Nodes [1/2]")
	h.typeText("K")
	h.waitFlat(settle, "Kill the engine of "+cut+"? Its containers")
	h.typeText("y")
	h.waitStatus(func(s string) bool { return strings.Contains(s, "killed the engine of "+cut) })
	h.waitStatus(func(s string) bool { return strings.Contains(s, "Rescheduled container web from "+cut+" to short-1") })
	// In full: the node's page (its title cut: the kind and Esc back
	// stay), the event's details, the messages.
	h.typeText("i")
	h.waitFlat(settle, long+" 10.0.9.1:2375", "Node "+cut+" (Esc back)")
	h.key(tcell.KeyEscape)
	h.typeText("m")
	h.waitFlat(settle, "killed the engine of "+long)
	h.key(tcell.KeyEscape)
	h.typeText("4/Rescheduled")
	h.key(tcell.KeyEnter)
	h.wait(settle, "Events [1/")
	h.key(tcell.KeyEnter)
	h.waitFlat(settle, "MESSAGE: Rescheduled container web from "+long+" to short-1")
}

// BenchmarkPreviewWrapped is a preview over 1,000 nodes (-nodes): every
// node's line, unwrapped and wrapped to an 80-column terminal's preview.
func BenchmarkPreviewWrapped(b *testing.B) {
	c, stop := bigCluster(b)
	defer stop()
	nodes, s, th := c.Nodes(), c.Scheduler(), newTheme()
	for _, width := range []int{0, 78} {
		b.Run(fmt.Sprintf("width=%d", width), func(b *testing.B) {
			v := launchValues{Image: "nginx", Name: "api", Ports: "80:80", Count: "1", OnFailure: onFailureStop, Width: width}
			for b.Loop() {
				if _, err := previewText(context.Background(), nodes, s, v, th); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// sourceOnly is a manager that can only say what its source is.
type sourceOnly struct {
	Backend
	src *backend.Source
}

func (s sourceOnly) Source() *backend.Source { return s.src }

// The failure drills' keys are hinted on a simulated cluster only: on
// real engines K, H and E answer "failure drills work on simulated
// clusters only".
func TestTheDrillsAreHintedOnASimulatedClusterOnly(t *testing.T) {
	for _, tt := range []struct {
		name      string
		simulated bool
	}{{"real engines", false}, {"simulated", true}} {
		t.Run(tt.name, func(t *testing.T) {
			a := New(sourceOnly{src: &backend.Source{URL: "nodes://a:2375", Simulated: tt.simulated}})
			hints := a.hints.GetText(true)
			for _, k := range []string{"Kkill", "Hhang", "Eheal"} {
				if strings.Contains(hints, k) != tt.simulated {
					t.Errorf("%s: %q in the hints is %v: %s", tt.name, k, !tt.simulated, hints)
				}
			}
		})
	}
}

// A waiting container's row is listed under the node it left, in the
// natural order of names, not after every other row.
func TestAWaitingRowIsInNaturalOrder(t *testing.T) {
	h := start(t, demoSource(t), 200, 40)
	h.wait(settle, "Nodes: 5/6 healthy")
	on := launchAPI(t, h.cluster)
	victim := ""
	for name, node := range on {
		if node == "eu-2" {
			victim = name
		}
	}
	if victim == "" {
		t.Fatalf("no api container on eu-2: %v", on)
	}
	h.killNode("eu-2")
	h.wait(settle, "Waiting to reschedule: 1")
	h.typeText("2")
	s := h.wait(settle, "Containers [", "eu-2/"+victim, "waiting")
	var names []string
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(strings.Trim(l, "║ ")); len(f) > 0 && strings.Contains(f[0], "/") && !strings.HasPrefix(f[0], "NODE/") {
			names = append(names, f[0])
		}
	}
	if !slices.IsSortedFunc(names, naturalCompare) {
		t.Fatalf("the rows are not in natural order of names: %v\n%s", names, s)
	}
}

// At 80 columns a mark's "✓ " is laid out with its row: the last column
// (AGE) keeps its text rather than being cut to "…" on every row.
func TestAMarkKeepsTheLastColumnAt80(t *testing.T) {
	h := start(t, steadySource(t), 80, 24)
	h.wait(settle, "Nodes [5]")
	h.typeText("2")
	h.wait(settle, "Containers [6]", "eu-1/cache-eu")
	h.typeText("/batch")
	h.key(tcell.KeyEnter)
	h.typeText(" ") // the longest name
	h.key(tcell.KeyEscape)
	s := h.wait(settle, "1 marked", "✓ eu-3/batch-old", "Containers [6]")
	age := regexp.MustCompile(`(\d+[smhd]|<1m) *║$`)
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "/") && strings.HasPrefix(l, "║") && !strings.Contains(l, "NODE/NAME") && !age.MatchString(strings.TrimRight(l, " ")) {
			t.Fatalf("a row lost its AGE to the mark: %q\n%s", l, s)
		}
	}
}

// The preview over new values shows them from their summary, even after
// PgDn scrolled the last one down; a long container name is cut in it.
func TestThePreviewOfNewValuesShowsFromTheTop(t *testing.T) {
	h := launchAt80(t)
	h.waitFlat(settle, "200 of 300 placeable")
	for range 5 {
		h.key(tcell.KeyPgDn)
	}
	h.gone(settle, "200 of 300 placeable")
	for range tabsToLaunch - tabsToCount {
		h.key(tcell.KeyBacktab)
	}
	h.key(tcell.KeyBackspace2)
	h.typeText("4") // Count 304
	h.waitFlat(settle, "200 of 304 placeable")
	// A name of 200 characters: cut on its line, not lines of its own.
	for range tabsToCount - tabsToName {
		h.key(tcell.KeyBacktab)
	}
	long := strings.Repeat("n", 199) + "z"
	h.key(tcell.KeyCtrlU)
	h.typeText(long)
	h.waitFlat(settle, cutName(long+"-1")+" → node-")
}
