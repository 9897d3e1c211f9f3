package ui

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"swarmdeck/backend"
	"swarmdeck/model"
)

var benchNodes = flag.Int("nodes", 1000, "the benchmarks' cluster: this many simulated nodes of 30 containers each")

// bigCluster runs a manager over 1,000 simulated nodes (-nodes) holding
// 30 containers each and waits until every node is healthy.
func bigCluster(tb testing.TB) (*backend.Cluster, func()) {
	src, err := backend.Open(fmt.Sprintf("sim://%d?containers=30", *benchNodes), nil)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := backend.New(src, backend.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	for {
		healthy := 0
		for _, n := range c.Nodes() {
			if n.Health == model.Healthy {
				healthy++
			}
		}
		if healthy == *benchNodes {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c, func() { cancel(); <-done }
}

// BenchmarkBuildState is the background work per update: reading the
// manager and formatting every row of every view.
func BenchmarkBuildState(b *testing.B) {
	c, stop := bigCluster(b)
	defer stop()
	th := newTheme()
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			build(c, th, nil)
		}
	})
	b.Run("cached", func(b *testing.B) {
		cache := &rowCache{}
		build(c, th, cache)
		b.ReportAllocs()
		for b.Loop() {
			build(c, th, cache)
		}
	})
}

// BenchmarkDraw times drawing one frame of each view (200×60) with the
// state of 1,000 nodes and 30,000 containers installed.
func BenchmarkDraw(b *testing.B) {
	c, stop := bigCluster(b)
	defer stop()
	a := New(c)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	defer a.cancel()
	screen := tcell.NewSimulationScreen("UTF-8")
	screen.Init()
	screen.SetSize(200, 60)
	st := build(c, a.th, nil)
	var evs []model.Event
	for i := range 2000 {
		evs = append(evs, model.Event{Time: time.Now(), Kind: model.EventContainer, Node: "node-1", Container: fmt.Sprintf("c%d", i), Message: "started"})
	}
	a.prepare(st, &eventFeed{}, evs, true)
	a.install(st)
	for _, v := range viewOrder {
		b.Run(v, func(b *testing.B) {
			a.show(v)
			a.tables[v].Select(len(a.contents[v].view)/2, 0) // somewhere in the middle
			b.ReportAllocs()
			for b.Loop() {
				a.root.Draw(screen)
				screen.Show()
			}
		})
	}
}

// BenchmarkInstall is the UI goroutine's share of an update: swapping in
// a state whose rows (1,000 nodes, 30,000 containers, 5,000 events) were
// formatted, filtered and sorted off the UI goroutine. prepare is that
// background share, for comparison.
func BenchmarkInstall(b *testing.B) {
	c, stop := bigCluster(b)
	defer stop()
	a := New(c)
	var evs []model.Event
	for i := range maxEvents {
		evs = append(evs, model.Event{Time: time.Now(), Kind: model.EventContainer, Node: "node-1", Container: fmt.Sprintf("c%d", i), Message: "started"})
	}
	for _, tt := range []struct {
		name, filter string
		sortCol      int
	}{{"plain", "", -1}, {"sorted-by-name", "", 0}, {"filtered", "web", -1}, {"filtered-regexp-sorted", "^node-1[0-9]/", 0}} {
		for _, v := range viewOrder {
			cn := a.contents[v]
			cn.filter, cn.sortCol = tt.filter, tt.sortCol
			cn.apply() // as the / and o keys do: the arrangement is published
		}
		st := build(c, a.th, nil)
		b.Run(tt.name, func(b *testing.B) {
			a.prepare(st, &eventFeed{}, evs, true)
			b.ReportAllocs()
			for b.Loop() {
				a.install(st)
			}
		})
		b.Run(tt.name+"/prepare-off-the-UI", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a.prepare(st, &eventFeed{}, evs, true)
			}
		})
	}
}

// BenchmarkEventToScreen creates a container through the manager of
// 1,000 nodes and 30,000 containers and times until its row is on the
// screen of a running console (the containers view, filtered so the row
// is visible). The metric is the median over the iterations.
func BenchmarkEventToScreen(b *testing.B) {
	bc := runConsole(b, func(*App) {})
	bc.a.Application().QueueUpdate(func() {
		bc.a.show(viewContainers)
		bc.a.filterBy("probe-")
	})
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("probe-%d", i)
		time.Sleep(300 * time.Millisecond) // a quiet spell, as between real events
		start := time.Now()
		if _, err := bc.c.Create(context.Background(), model.Config{Name: name, Image: "busybox"}); err != nil {
			b.Fatal(err)
		}
		for !strings.Contains(bc.text(), name+" ") {
			time.Sleep(time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "ms-max")
}

// benchConsole is a console running on a simulation screen (200x60)
// over bigCluster, for benchmarks.
type benchConsole struct {
	b      *testing.B
	c      *backend.Cluster
	a      *App
	screen tcell.SimulationScreen
}

// runConsole starts a console over bigCluster; after is called after each
// frame is drawn, on the UI goroutine. It waits for the first frame with
// every node.
func runConsole(b *testing.B, after func(a *App)) *benchConsole {
	c, stop := bigCluster(b)
	bc := &benchConsole{b: b, c: c, a: New(c), screen: tcell.NewSimulationScreen("UTF-8")}
	bc.a.Application().SetScreen(bc.screen)
	bc.screen.SetSize(200, 60)
	drawn := bc.a.Application().GetAfterDrawFunc()
	bc.a.Application().SetAfterDrawFunc(func(s tcell.Screen) { drawn(s); after(bc.a) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- bc.a.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done; stop() })
	bc.waitFor(fmt.Sprintf("Nodes [%d]", *benchNodes))
	return bc
}

// text is the screen, read on the UI goroutine.
func (bc *benchConsole) text() string {
	var sb strings.Builder
	bc.a.Application().QueueUpdate(func() {
		cells, w, _ := bc.screen.GetContents()
		for i, cl := range cells {
			if len(cl.Runes) > 0 {
				sb.WriteRune(cl.Runes[0])
			}
			if (i+1)%w == 0 {
				sb.WriteByte('\n')
			}
		}
	})
	return sb.String()
}

// waitFor waits until the screen shows s; a minute without fails the
// benchmark with the screen (a benchmark that hung said nothing).
func (bc *benchConsole) waitFor(s string) {
	for deadline := time.Now().Add(time.Minute); !strings.Contains(bc.text(), s); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			bc.b.Fatalf("after a minute the screen lacks %q:\n%s", s, bc.text())
		}
	}
}

// launch starts a launch of count busybox containers from the form.
func (bc *benchConsole) launch(count int) {
	keys := func(s string) {
		for _, r := range s {
			bc.screen.InjectKey(tcell.KeyRune, r, tcell.ModNone)
		}
	}
	clear := func() { bc.screen.InjectKey(tcell.KeyCtrlU, 0, tcell.ModNone) } // the form keeps its values
	keys("n")
	bc.waitFor("Where it would go")
	clear()
	keys("busybox")
	for range tabsToCount {
		bc.screen.InjectKey(tcell.KeyTab, 0, tcell.ModNone)
	}
	clear()
	keys(fmt.Sprint(count))
	for range tabsToLaunch - tabsToCount {
		bc.screen.InjectKey(tcell.KeyTab, 0, tcell.ModNone)
	}
	bc.screen.InjectKey(tcell.KeyEnter, 0, tcell.ModNone)
}

// BenchmarkKeyToScreen presses keys on a running console over 1,000 nodes
// and 30,000 containers (1 and 2: the nodes and containers views) and
// times each from the key until a frame showing the view is drawn (the
// application's after-draw hook: nothing polls the screen meanwhile);
// "during-launch" does the same while 1,000-container launches run,
// started from the form one after the other, and counts only the keys
// pressed while one ran. The metrics are the median and the 99th
// percentile.
func BenchmarkKeyToScreen(b *testing.B) {
	for _, launching := range []bool{false, true} {
		name := "idle"
		if launching {
			name = "during-launch"
		}
		b.Run(name, func(b *testing.B) {
			var want atomic.Pointer[string]
			var running atomic.Bool  // a launch runs, as the UI goroutine last saw
			var started atomic.Int64 // launches seen running (one can end between two looks at running)
			var seen *launchOp
			shown := make(chan time.Time, 1)
			bc := runConsole(b, func(a *App) {
				running.Store(a.launching != nil)
				if a.launching != nil && a.launching != seen {
					seen = a.launching
					started.Add(1)
				}
				if w := want.Load(); w != nil && a.frontPage() == *w {
					want.Store(nil)
					shown <- time.Now()
				}
			})
			var took []time.Duration
			views := []struct {
				key  rune
				view string
			}{{'2', viewContainers}, {'1', viewNodes}}
			launches := 0
			for i := 0; b.Loop(); i++ {
				if launching && !running.Load() {
					launches++
					n := started.Load()
					bc.launch(1000)
					for deadline := time.Now().Add(time.Minute); started.Load() == n; time.Sleep(time.Millisecond) {
						if time.Now().After(deadline) {
							b.Fatalf("the launch never ran:\n%s", bc.text())
						}
					}
				}
				v := views[i%2]
				time.Sleep(20 * time.Millisecond) // an operator's pace, not a burst
				want.Store(&v.view)
				start := time.Now()
				during := running.Load()
				bc.screen.InjectKey(tcell.KeyRune, v.key, tcell.ModNone)
				var t time.Time
				select {
				case t = <-shown:
				case <-time.After(time.Minute):
					b.Fatalf("%c never showed the %s view:\n%s", v.key, v.view, bc.text())
				}
				if !launching || during && running.Load() {
					took = append(took, t.Sub(start))
				}
			}
			if len(took) == 0 {
				b.Fatal("no key was pressed while a launch ran")
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-p50")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "ms-p99")
			b.ReportMetric(float64(len(took)), "keys")
			if launching {
				b.ReportMetric(float64(launches), "launches")
			}
		})
	}
}

// BenchmarkLaunch times a 1,000-container launch from the form, on a
// console over 1,000 nodes and 30,000 containers, until the status line
// says it is done.
func BenchmarkLaunch(b *testing.B) {
	bc := runConsole(b, func(*App) {})
	for i := 0; b.Loop(); i++ {
		bc.launch(1000)
		n := 30**benchNodes + 1000*(i+1)
		bc.waitFor(fmt.Sprintf("Containers: %d/%d running", n, n))
		bc.waitFor("launched 1000 of 1000: busybox")
	}
}

// BenchmarkPreviewNewestValue opens the launch form over 1,000 nodes and
// 30,000 containers, types Ports 80:80 and a Count of 1,000 (a preview
// of seconds: 1,000 placements over every node), and while that one computes, a Count of 2
// (or 3): it times from the last key until the preview shows the newest
// value.
func BenchmarkPreviewNewestValue(b *testing.B) {
	bc := runConsole(b, func(*App) {})
	keys := func(s string) {
		for _, r := range s {
			bc.screen.InjectKey(tcell.KeyRune, r, tcell.ModNone)
		}
	}
	keys("n")
	bc.waitFor("Where it would go")
	keys("busybox")
	bc.waitFor("1 of 1 placeable")
	for range tabsToPorts {
		bc.screen.InjectKey(tcell.KeyTab, 0, tcell.ModNone)
	}
	keys("80:80") // one a node: each placement reads every node's ports
	for range tabsToCount - tabsToPorts {
		bc.screen.InjectKey(tcell.KeyTab, 0, tcell.ModNone)
	}
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		bc.screen.InjectKey(tcell.KeyCtrlU, 0, tcell.ModNone)
		keys("1000")
		time.Sleep(300 * time.Millisecond) // the big preview is under way
		bc.screen.InjectKey(tcell.KeyCtrlU, 0, tcell.ModNone)
		n := 2 + i%2 // not the count the screen shows from the last round
		start := time.Now()
		keys(fmt.Sprint(n))
		bc.waitFor(fmt.Sprintf("%d of %d placeable", n, n))
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "ms-max")
}
