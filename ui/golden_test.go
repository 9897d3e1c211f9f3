package ui

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"swarmdeck/backend"
	"swarmdeck/clusterfile"
	"swarmdeck/model"
)

var update = flag.Bool("update", false, "rewrite the golden screens in testdata/golden")

// steadySource is the demo cluster without its unreachable node, whose
// failure count grows while the test runs: every screen is the same on
// every run.
func steadySource(t *testing.T) *backend.Source {
	f, err := clusterfile.Load("../examples/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f.Nodes = slices.DeleteFunc(f.Nodes, func(n *model.Node) bool { return n.Name == "ap-1" })
	src := backend.SimSource("sim://demo", f.Nodes)
	src.File = f
	return src
}

// ages are the times a screen shows as "how long ago": they move while
// the test runs, so they are masked (the test takes seconds: one digit).
// "<1m" (an age to the minute) stays.
var ages = regexp.MustCompile(`(^|[^<\w])\d[smhd]\b`)

// Times and IDs differ on every run too: they are masked, each as long
// as it was, so the layout stays.
var (
	stamps = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	hexIDs = regexp.MustCompile(`[0-9a-f]{6,}`) // at least a digit and a letter: an ID, or the end of one wrapped
)

// masked is a screen with its ages, times and IDs masked.
func masked(s string) string {
	s = ages.ReplaceAllString(s, "${1}0s")
	s = stamps.ReplaceAllString(s, "2006-01-02T15:04:05Z")
	return hexIDs.ReplaceAllStringFunc(s, func(id string) string {
		if !strings.ContainsAny(id, "0123456789") || !strings.ContainsAny(id, "abcdef") {
			return id
		}
		return strings.Repeat("x", len(id))
	})
}

// steady waits until the screen shows every want and stops changing, and
// returns it masked.
func (h *harness) steady(want ...string) string {
	h.t.Helper()
	h.wait(settle, want...)
	prev := ""
	for deadline := time.Now().Add(settle); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		s := masked(h.text())
		if s == prev && !strings.Contains(s, "recomputing…") { // a preview in the works is not steady
			return s
		}
		prev = s
	}
	h.t.Fatalf("the screen never settled:\n%s", prev)
	return ""
}

// golden compares a screen with testdata/golden/NAME, or rewrites it
// with -update.
func golden(t *testing.T, name, screen string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(screen), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui -run TestGoldenScreens -update to write it)", err)
	}
	if string(want) == screen {
		return
	}
	got, exp := strings.Split(screen, "\n"), strings.Split(string(want), "\n")
	var diff strings.Builder
	for i := range max(len(got), len(exp)) {
		g, w := "", ""
		if i < len(got) {
			g = got[i]
		}
		if i < len(exp) {
			w = exp[i]
		}
		if g != w {
			fmt.Fprintf(&diff, "line %d\n  got: %s\n want: %s\n", i+1, strings.TrimRight(g, " "), strings.TrimRight(w, " "))
		}
	}
	t.Errorf("%s differs from %s (go test ./ui -run TestGoldenScreens -update rewrites it; review with git diff):\n%s", name, path, diff.String())
}

// TestGoldenScreens draws the main screens at three terminal sizes and
// compares them with the reviewed ones in testdata/golden.
func TestGoldenScreens(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}, {200, 60}} {
		w, hgt := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, hgt), func(t *testing.T) {
			suffix := fmt.Sprintf("-%dx%d", w, hgt)
			h := start(t, steadySource(t), w, hgt)
			golden(t, "nodes"+suffix, h.steady("Nodes [5]", "5/5", "eu-1", "us-2"))
			h.key(tcell.KeyHome) // eu-1, the first row, wherever the cursor was left
			h.typeText("i")
			golden(t, "node-page"+suffix, h.steady("Node eu-1", "Containers"))
			h.key(tcell.KeyEscape)
			h.typeText("2")
			golden(t, "containers"+suffix, h.steady("Containers [6]", "batch-old"))
			h.key(tcell.KeyHome) // eu-1/cache-eu: the cursor can start elsewhere on a loaded machine
			h.typeText("j")      // eu-1/db
			h.key(tcell.KeyEnter)
			golden(t, "detail"+suffix, h.steady("Container eu-1/db", "Reschedule: on-node-failure"))
			h.key(tcell.KeyEscape)
			h.wait(settle, "Containers [6]")
			h.typeText("n")
			h.typeText("nginx")
			h.key(tcell.KeyTab)
			h.typeText("api")
			for range 4 { // Command, CPUs, Memory, Ports
				h.key(tcell.KeyTab)
			}
			h.typeText("80:80")
			for range 4 { // Network, Env, Labels, Constraints
				h.key(tcell.KeyTab)
			}
			h.typeText("zone==eu")
			for range 3 { // Affinities, Reschedule, Count
				h.key(tcell.KeyTab)
			}
			h.key(tcell.KeyBackspace2)
			h.typeText("3")
			golden(t, "launch"+suffix, h.steady("2 of 3 placeable; api-3 fails"))
		})
	}
}
