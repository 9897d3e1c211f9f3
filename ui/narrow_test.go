package ui

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
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
