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
	c, stop := bigCluster(b)
	defer stop()
	a := New(c)
	screen := tcell.NewSimulationScreen("UTF-8")
	a.Application().SetScreen(screen)
	screen.SetSize(200, 60)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	onScreen := func(s string) bool {
		found := false
		a.Application().QueueUpdate(func() {
			cells, w, _ := screen.GetContents()
			var sb strings.Builder
			for i, cl := range cells {
				if len(cl.Runes) > 0 {
					sb.WriteRune(cl.Runes[0])
				}
				if (i+1)%w == 0 {
					sb.WriteByte('\n')
				}
			}
			found = strings.Contains(sb.String(), s)
		})
		return found
	}
	for !onScreen("Nodes [1000]") {
		time.Sleep(10 * time.Millisecond)
	}
	a.Application().QueueUpdate(func() {
		a.show(viewContainers)
		a.filterBy("probe-")
	})
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("probe-%d", i)
		time.Sleep(300 * time.Millisecond) // a quiet spell, as between real events
		start := time.Now()
		if _, err := c.Create(context.Background(), model.Config{Name: name, Image: "busybox"}); err != nil {
			b.Fatal(err)
		}
		for !onScreen(name + " ") {
			time.Sleep(time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "ms-max")
}

// BenchmarkKeyToScreen presses keys on a running console over 1,000 nodes
// and 30,000 containers (1 and 2: the nodes and containers views) and
// times each from the key until a frame showing the view is drawn (the
// application's after-draw hook: nothing polls the screen meanwhile);
// "during-launch" does the same while a 1,000-container launch runs,
// started from the form. The metrics are the median and the 99th
// percentile.
func BenchmarkKeyToScreen(b *testing.B) {
	for _, launching := range []bool{false, true} {
		name := "idle"
		if launching {
			name = "during-launch"
		}
		b.Run(name, func(b *testing.B) {
			c, stop := bigCluster(b)
			defer stop()
			a := New(c)
			screen := tcell.NewSimulationScreen("UTF-8")
			a.Application().SetScreen(screen)
			screen.SetSize(200, 60)
			var want atomic.Pointer[string]
			shown := make(chan time.Time, 1)
			a.Application().SetAfterDrawFunc(func(tcell.Screen) {
				if w := want.Load(); w != nil && a.frontPage() == *w {
					want.Store(nil)
					shown <- time.Now()
				}
			})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- a.Run(ctx) }()
			defer func() { cancel(); <-done }()
			text := func() string {
				var sb strings.Builder
				a.Application().QueueUpdate(func() {
					cells, w, _ := screen.GetContents()
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
			waitFor := func(s string) {
				for !strings.Contains(text(), s) {
					time.Sleep(10 * time.Millisecond)
				}
			}
			waitFor(fmt.Sprintf("Nodes [%d]", *benchNodes))
			if launching {
				keys := func(s string) {
					for _, r := range s {
						screen.InjectKey(tcell.KeyRune, r, tcell.ModNone)
					}
				}
				keys("n")
				waitFor("Where it would go")
				keys("busybox")
				for range tabsToCount {
					screen.InjectKey(tcell.KeyTab, 0, tcell.ModNone)
				}
				screen.InjectKey(tcell.KeyBackspace2, 0, tcell.ModNone)
				keys("1000")
				for range tabsToLaunch - tabsToCount {
					screen.InjectKey(tcell.KeyTab, 0, tcell.ModNone)
				}
				screen.InjectKey(tcell.KeyEnter, 0, tcell.ModNone)
				waitFor("launching busybox")
			}
			var took []time.Duration
			views := []struct {
				key  rune
				view string
			}{{'2', viewContainers}, {'1', viewNodes}}
			for i := 0; b.Loop(); i++ {
				v := views[i%2]
				time.Sleep(20 * time.Millisecond) // an operator's pace, not a burst
				want.Store(&v.view)
				start := time.Now()
				screen.InjectKey(tcell.KeyRune, v.key, tcell.ModNone)
				took = append(took, (<-shown).Sub(start))
			}
			if launching && !strings.Contains(text(), "launching busybox") {
				b.Log("the launch ended before the last key")
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-p50")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "ms-p99")
		})
	}
}
