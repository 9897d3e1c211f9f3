package backend

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"swarmdeck/internal/cputime"
)

var (
	idleNodes   = flag.Int("idle-nodes", 1000, "simulated nodes of BenchmarkIdleManager")
	idleWarmup  = flag.Duration("idle-warmup", 65*time.Second, "BenchmarkIdleManager: idle time before the measure, once every node is healthy (the first periodic refreshes come 30-60 s after the start)")
	idleProfile = flag.String("idle-cpuprofile", "", "BenchmarkIdleManager: write a CPU profile of the measured idle time (not the start) to this file")
)

// BenchmarkIdleManager is the CPU a manager spends on an idle cluster of
// simulated engines (-idle-nodes, 30 containers each) with the default
// heartbeat and refresh: each iteration is one second of idle time, and
// cpu-% is the process's CPU time over the wall time, in % of a core.
// The measure starts -idle-warmup after every node is healthy, so the
// periodic refreshes are under way (not in a run of one iteration, the
// test command's smoke run). To see where the time goes:
//
//	go test ./backend -run '^$' -bench IdleManager -benchtime 20x -idle-nodes 10000 -idle-cpuprofile idle.prof
func BenchmarkIdleManager(b *testing.B) {
	ready, err := idleCluster()
	if err != nil {
		b.Fatal(err)
	}
	if b.N > 1 { // not the testing package's first run, nor the test command's smoke run (-benchtime 1x)
		time.Sleep(time.Until(ready.Add(*idleWarmup)))
	}
	if *idleProfile != "" && b.N > 1 { // the testing package's first run (b.N = 1) is not profiled
		f, err := os.Create(*idleProfile)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	b.ResetTimer()
	cpu, wall := cputime.Process(), time.Now()
	for range b.N {
		time.Sleep(time.Second)
	}
	b.ReportMetric(100*float64(cputime.Process()-cpu)/float64(time.Since(wall)), "cpu-%")
}

// idleCluster starts, once per process, the manager BenchmarkIdleManager
// watches, and returns when every node is healthy. The manager runs until
// the process ends.
var idleCluster = sync.OnceValues(func() (time.Time, error) {
	src, err := Open(fmt.Sprintf("sim://%d?containers=30", *idleNodes), nil)
	if err != nil {
		return time.Time{}, err
	}
	c, err := New(src, Options{})
	if err != nil {
		return time.Time{}, err
	}
	go c.Run(context.Background())
	for !allHealthy(c, *idleNodes)() {
		time.Sleep(100 * time.Millisecond)
	}
	return time.Now(), nil
})

// BenchmarkRefreshUnchanged is one periodic full refresh of a simulated
// engine (30 containers) that has nothing new to say, in a manager of
// 1,000 such nodes: what 10,000 nodes pay about 220 times a second.
func BenchmarkRefreshUnchanged(b *testing.B) {
	src, err := Open("sim://1000?containers=30", nil)
	if err != nil {
		b.Fatal(err)
	}
	c := startSim(b, src, Options{RefreshMin: time.Hour}) // only the benchmark's refreshes
	for !allHealthy(c, 1000)() {
		time.Sleep(50 * time.Millisecond)
	}
	c.mu.Lock()
	var nodes []*node
	for _, n := range c.nodes {
		nodes = append(nodes, n)
	}
	c.mu.Unlock()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := c.refresh(context.Background(), nodes[i%len(nodes)], nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestARefreshThatFindsNothingNewIsNoChange: a periodic refresh that finds
// the engine as it was moves the node's Updated time and Generation (the
// console shows the time), but not Changes, which a reader that shows no
// refresh time (the Docker endpoint's warmer) follows; a stopped
// container moves both.
func TestARefreshThatFindsNothingNewIsNoChange(t *testing.T) {
	src, err := Open("sim://3?containers=4", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := startSim(t, src, Options{RefreshMin: time.Hour}) // only the test's refreshes
	waitFor(t, 30*time.Second, "3 healthy nodes", allHealthy(c, 3))
	c.mu.Lock()
	n := c.nodes[c.Nodes()[0].Addr]
	c.mu.Unlock()
	before := c.Node(n.entry.Addr)
	gen, changes := c.Generation(), c.Changes()
	time.Sleep(10 * time.Millisecond) // a refresh time the view can be told apart by
	if err := c.refresh(context.Background(), n, nil); err != nil {
		t.Fatal(err)
	}
	after := c.Node(n.entry.Addr)
	switch {
	case !after.Updated.After(before.Updated):
		t.Errorf("the refresh left the view's Updated at %v", after.Updated)
	case c.Generation() == gen:
		t.Error("the refresh did not move Generation: the console would not see the new refresh time")
	case c.Changes() != changes:
		t.Errorf("a refresh that found nothing new moved Changes by %d", c.Changes()-changes)
	}
	changes = c.Changes()
	if err := c.Stop(context.Background(), before.Containers[0].ID, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "Changes to move after a stop", func() bool { return c.Changes() != changes })
}
