package backend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// fast are options for tests on simulated engines: probes and heartbeats
// every 20 ms, so a dead node is Unhealthy in well under a second.
func fast() Options {
	return Options{ProbeInterval: 20 * time.Millisecond, Heartbeat: 20 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
		Sched: sched.Config{Overcommit: model.DefaultOvercommit}}
}

// simNode is a simulated node description.
func simNode(name string, cpus int, mem int64, labels map[string]string, cs ...*model.Container) *model.Node {
	n := &model.Node{Name: name, ID: "ID-" + name, Addr: name + ":2375", CPUs: cpus, Memory: mem, Labels: labels, Health: model.Healthy}
	for _, c := range cs {
		c.Node = n.Addr
		n.Containers = append(n.Containers, c)
	}
	return n
}

func running(name string, policy bool) *model.Container {
	c := &model.Container{Config: model.Config{Name: name, Image: "busybox", Labels: map[string]string{}, NetworkMode: "bridge", Memory: 64 << 20},
		ID: newID(), SwarmID: newID(), State: model.Running}
	c.Labels[model.LabelSwarmID] = c.SwarmID
	if policy {
		c.Labels[model.LabelReschedulePolicies] = `["on-node-failure"]`
		c.SetRules(model.Rules{Reschedule: []string{"on-node-failure"}})
	}
	return c
}

// startSim runs a manager over simulated engines until the test ends.
func startSim(t testing.TB, src *Source, opts Options) *Cluster {
	t.Helper()
	c, err := New(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return c
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func allHealthy(c *Cluster, n int) func() bool {
	return func() bool {
		ns := c.Nodes()
		if len(ns) != n {
			return false
		}
		for _, x := range ns {
			if x.Health != model.Healthy {
				return false
			}
		}
		return true
	}
}

func health(c *Cluster, addr string) model.Health {
	if n := c.Node(addr); n != nil {
		return n.Health
	}
	return model.Disconnected
}

// copies counts the containers with a swarm ID, and where they are.
func copies(c *Cluster, swarmID string) (count int, nodes []string) {
	for _, n := range c.Nodes() {
		for _, ct := range n.Containers {
			if ct.SwarmID == swarmID {
				count++
				nodes = append(nodes, n.Name)
			}
		}
	}
	return count, nodes
}

func TestNodesBecomeHealthyWithTheirFigures(t *testing.T) {
	src := SimSource("test", []*model.Node{
		simNode("a", 4, 8<<30, map[string]string{"zone": "eu"}, running("web", true)),
		simNode("b", 2, 4<<30, map[string]string{"zone": "us"}),
	})
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "both nodes healthy", allHealthy(c, 2))
	a := c.Node("a:2375")
	if a.Name != "a" || a.CPUs != 4 || a.Memory != 8<<30 || a.Labels["zone"] != "eu" || len(a.Containers) != 1 {
		t.Fatalf("node a: %+v", a)
	}
	if got := a.ReservedMemoryText(model.DefaultOvercommit); got != "64 MiB / 8.4 GiB" {
		t.Fatalf("a reserves %s", got)
	}
	var actions []string
	for _, e := range c.RecentEvents() {
		actions = append(actions, e.Action)
	}
	if strings.Count(strings.Join(actions, " "), "engine_connect") != 2 {
		t.Fatalf("events %v; want two engine_connect", actions)
	}
}

func TestFailureCountingMakesANodeUnhealthyAndBack(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil), simNode("b", 4, 8<<30, nil)})
	opts := fast()
	opts.ProbeInterval = 100 * time.Millisecond
	c := startSim(t, src, opts)
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 2))
	events, stop := c.Subscribe(100)
	defer stop()

	src.Sim("a:2375").Crash()
	// The failures climb one probe at a time: 1 and 2 keep the node Healthy
	// (with a lower health indicator), 3 makes it Unhealthy.
	var seen []int
	waitFor(t, 3*time.Second, "a unhealthy", func() bool {
		n := c.Node("a:2375")
		if len(seen) == 0 || seen[len(seen)-1] != n.Failures {
			seen = append(seen, n.Failures)
		}
		if n.Failures > 0 && n.Failures < 3 && n.Health != model.Healthy {
			t.Fatalf("%d failures made the node %v", n.Failures, n.Health)
		}
		return n.Health == model.Unhealthy
	})
	if n := c.Node("a:2375"); n.Failures < 3 || !strings.Contains(n.Error, "connection refused") {
		t.Fatalf("unhealthy with %d failures, error %q", n.Failures, n.Error)
	}
	if got := c.Scheduler().HealthIndicator(c.Node("a:2375")); got != 0 {
		t.Fatalf("health indicator %d", got)
	}
	src.Sim("a:2375").Heal()
	waitFor(t, 2*time.Second, "a healthy again", func() bool { return health(c, "a:2375") == model.Healthy })
	if n := c.Node("a:2375"); n.Failures != 0 || n.Error != "" {
		t.Fatalf("healed node keeps %d failures, error %q", n.Failures, n.Error)
	}
	var got []string
	for len(events) > 0 {
		if e := <-events; e.Kind == model.EventEngine {
			got = append(got, e.Action)
		}
	}
	if strings.Join(got, ",") != "engine_disconnect,engine_reconnect" {
		t.Fatalf("engine events %v", got)
	}
}

func TestHealthyEngineWithOneFailureRanksLower(t *testing.T) {
	n := &model.Node{Health: model.Healthy, Failures: 1}
	s, _ := sched.New(sched.Config{})
	if s.HealthIndicator(n) != 67 {
		t.Fatal("one failure in three should leave 67")
	}
}

func TestRescheduleOnNodeFailure(t *testing.T) {
	web, db, batch := running("web", true), running("db", true), running("batch", false)
	stopped := running("old", true)
	stopped.State = model.Exited
	unnamed := running("", true)
	unnamed.Name = "sim_unnamed1"
	src := SimSource("test", []*model.Node{
		simNode("a", 4, 8<<30, nil, web, db, batch, stopped, unnamed),
		simNode("b", 4, 8<<30, nil),
		simNode("c", 4, 8<<30, nil),
	})
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 3))

	src.Sim("a:2375").Crash()
	for _, ct := range []*model.Container{web, db, stopped, unnamed} {
		waitFor(t, 3*time.Second, ct.Name+" moved", func() bool {
			n, where := copies(c, ct.SwarmID)
			return n == 1 && where[0] != "a"
		})
	}
	moved := map[string]*model.Container{}
	for _, ct := range c.Containers() {
		if ct.Node != "a:2375" {
			moved[ct.Name] = ct
		}
	}
	for name, want := range map[string]model.State{"web": model.Running, "db": model.Running, "old": model.Created, "sim_unnamed1": model.Running} {
		ct := moved[name]
		if ct == nil {
			t.Fatalf("%s is not on b or c", name)
		}
		waitFor(t, 5*time.Second, name+" in its state", func() bool {
			ct, _, _ := c.Inspect(ct.ID)
			return ct != nil && ct.State == want
		})
		if !hasPolicy(ct) {
			t.Fatalf("%s lost its policy: %v", name, ct.Labels)
		}
	}
	if web.SwarmID != moved["web"].SwarmID {
		t.Fatal("the swarm ID changed")
	}
	// The container without a policy stays with its node, reported lost.
	if n, where := copies(c, batch.SwarmID); n != 1 || where[0] != "a" {
		t.Fatalf("batch is on %v", where)
	}
	var lost, rescheduled int
	for _, e := range c.RecentEvents() {
		switch {
		case e.Action == "lost" && e.Container == "batch":
			lost++
		case e.Action == "reschedule":
			rescheduled++
			if e.Duration <= 0 || !strings.Contains(e.Message, "from a to") {
				t.Fatalf("reschedule event %+v", e)
			}
		}
	}
	if lost != 1 || rescheduled != 4 {
		t.Fatalf("%d lost and %d reschedule events; want 1 and 4", lost, rescheduled)
	}
}

func TestHangThenHealLeavesExactlyOneCopy(t *testing.T) {
	web := running("web", true)
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, web), simNode("b", 4, 8<<30, nil)})
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 2))
	src.Sim("a:2375").Hang()
	waitFor(t, 3*time.Second, "web moved to b", func() bool {
		n, where := copies(c, web.SwarmID)
		return n == 1 && where[0] == "b"
	})
	// The hung engine still has its copy; healing must remove it.
	src.Sim("a:2375").Heal()
	waitFor(t, 3*time.Second, "a healthy and its copy gone", func() bool {
		cs, _ := src.Sim("a:2375").Containers(context.Background())
		return health(c, "a:2375") == model.Healthy && len(cs) == 0
	})
	if n, where := copies(c, web.SwarmID); n != 1 || where[0] != "b" {
		t.Fatalf("web on %v after the heal; want b only", where)
	}
}

func TestAContainerThatCannotBePlacedWaitsForCapacity(t *testing.T) {
	big := running("big", true)
	big.Memory = 3 << 30
	small := running("small", true)
	filler := running("filler", false)
	filler.Memory = 3 << 30
	src := SimSource("test", []*model.Node{
		simNode("a", 4, 4<<30, nil, big, small),
		simNode("b", 4, 4<<30, nil, filler),
	})
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 2))
	src.Sim("a:2375").Crash()
	// small fits on b; big does not, and must not hold small back.
	waitFor(t, 3*time.Second, "small moved", func() bool { n, w := copies(c, small.SwarmID); return n == 1 && w[0] == "b" })
	waitFor(t, time.Second, "big queued with a reason", func() bool {
		q := c.Queued()
		return len(q) == 1 && q[0].Container.Name == "big" && q[0].Reason == "no resources available to schedule container"
	})
	if n, _ := copies(c, big.SwarmID); n != 0 {
		t.Fatal("big is shown somewhere while queued")
	}
	// Removing the filler frees the memory: big is placed without waiting
	// for a's engine.
	if err := c.Remove(context.Background(), "filler", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "big placed on b", func() bool { n, w := copies(c, big.SwarmID); return n == 1 && w[0] == "b" })
	// The move is done once its copy runs; the queue lets go of it right after.
	waitFor(t, time.Second, "the queue empty", func() bool { return len(c.Queued()) == 0 })
}

func TestGracePeriodLetsAFlappingHostComeBack(t *testing.T) {
	web := running("web", true)
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, web), simNode("b", 4, 8<<30, nil)})
	opts := fast()
	opts.RescheduleGrace = 500 * time.Millisecond
	c := startSim(t, src, opts)
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 2))
	src.Sim("a:2375").Crash()
	waitFor(t, time.Second, "a unhealthy", func() bool { return health(c, "a:2375") == model.Unhealthy })
	src.Sim("a:2375").Heal()
	waitFor(t, time.Second, "a back", func() bool { return health(c, "a:2375") == model.Healthy })
	time.Sleep(700 * time.Millisecond)
	if n, where := copies(c, web.SwarmID); n != 1 || where[0] != "a" {
		t.Fatalf("web on %v; a host back within the grace keeps its containers", where)
	}
	src.Sim("a:2375").Crash()
	waitFor(t, 3*time.Second, "web moved after the grace", func() bool { n, w := copies(c, web.SwarmID); return n == 1 && w[0] == "b" })
}

func TestARestartedManagerRebuildsTheSameViewAndRemovesDuplicates(t *testing.T) {
	web := running("web", true)
	nodes := []*model.Node{simNode("a", 4, 8<<30, nil, web), simNode("b", 4, 8<<30, nil)}
	src := SimSource("test", nodes)
	opts := fast()
	first, err := New(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { first.Run(ctx); close(done) }()
	waitFor(t, 2*time.Second, "healthy", allHealthy(first, 2))
	created, err := first.Create(context.Background(), model.Config{Name: "api", Image: "busybox", Env: []string{"reschedule:on-node-failure", "constraint:node==b"}})
	if err != nil {
		t.Fatal(err)
	}
	src.Sim("a:2375").Hang()
	waitFor(t, 3*time.Second, "web moved", func() bool { n, w := copies(first, web.SwarmID); return n == 1 && w[0] == "b" })
	cancel()
	<-done // the manager dies while a still hangs with its old copy of web

	second := startSim(t, src, opts)
	waitFor(t, 2*time.Second, "b seen", func() bool { return health(second, "b:2375") == model.Healthy })
	ct, _, err := second.Inspect("api")
	if err != nil || ct.SwarmID != created.SwarmID || !hasPolicy(ct) || ct.Constraints()[0] != "node==b" {
		t.Fatalf("api read back as %+v, %v", ct, err)
	}
	src.Sim("a:2375").Heal()
	waitFor(t, 3*time.Second, "a connected and its stale web removed", func() bool {
		n, w := copies(second, web.SwarmID)
		return health(second, "a:2375") == model.Healthy && n == 1 && w[0] == "b"
	})
}

func TestSharedEngineIDsAreAWarningNotAMerge(t *testing.T) {
	a, b, other := simNode("a", 4, 8<<30, nil), simNode("b", 4, 8<<30, nil), simNode("c", 4, 8<<30, nil)
	a.ID, b.ID, other.ID = "SAME", "SAME", "OTHER"
	c := startSim(t, SimSource("test", []*model.Node{a, b, other}), fast())
	waitFor(t, 2*time.Second, "all healthy", allHealthy(c, 3))
	waitFor(t, time.Second, "a and b warned, c not", func() bool {
		for _, n := range c.Nodes() {
			if shared := strings.Contains(n.Warning, "engine ID SAME is shared with"); shared != (n.ID == "SAME") {
				return false
			}
		}
		return true
	})
	p, err := c.Create(context.Background(), model.Config{Image: "busybox", Env: []string{"constraint:node==b"}})
	if err != nil || p.Node != "b:2375" {
		t.Fatalf("placed %v, %v; want b", p, err)
	}
}

// failingEngine refuses every create, as an engine out of disk would.
type failingEngine struct{ Engine }

func (failingEngine) Create(context.Context, CreateSpec) (string, error) {
	return "", errors.New("Error response from daemon: no space left on device")
}

func TestACreateTheEngineRefusesReleasesItsReservation(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("a", 4, 2<<30, nil)})
	sim := src.NewEngine
	src.NewEngine = func(e Entry) (Engine, error) {
		eng, err := sim(e)
		return failingEngine{eng}, err
	}
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "healthy", allHealthy(c, 1))
	for range 5 { // 5 × 1.5 GiB on a 2 GiB node: only possible if each is released
		_, err := c.Create(context.Background(), model.Config{Name: "xy", Image: "busybox", Memory: 1536 << 20})
		if err == nil || !strings.Contains(err.Error(), "creating xy on a: Error response from daemon: no space left on device") {
			t.Fatalf("got %v", err)
		}
	}
	if n := c.Node("a:2375"); len(n.Containers) != 0 || n.Health != model.Healthy {
		t.Fatalf("after refused creates: %d containers, %v", len(n.Containers), n.Health)
	}
}

func TestMalformedExpressionsAndTakenNamesCreateNothing(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, running("web", false))})
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "healthy", allHealthy(c, 1))
	_, err := c.Create(context.Background(), model.Config{Image: "busybox", Env: []string{"constraint:a==b"}})
	if !sched.IsInvalid(err) || err.Error() != `invalid constraint "a==b": Key 'a' is invalid` {
		t.Fatalf("got %v", err)
	}
	_, err = c.Create(context.Background(), model.Config{Name: "web", Image: "busybox"})
	if !model.IsConflict(err) {
		t.Fatalf("got %v", err)
	}
	if n := len(c.Node("a:2375").Containers); n != 1 {
		t.Fatalf("%d containers; want the one there was", n)
	}
}

func TestParallelCreatesNeverOverReserveOrReuseNames(t *testing.T) {
	var nodes []*model.Node
	for i := range 4 {
		nodes = append(nodes, simNode(fmt.Sprintf("n%d", i), 2, 1<<30, nil))
	}
	c := startSim(t, SimSource("test", nodes), fast())
	waitFor(t, 2*time.Second, "healthy", allHealthy(c, 4))
	// 200 creates of 100 MiB and 0.2 CPU on 4 nodes of 1 GiB (1075 MiB with
	// overcommit) and 2 CPUs (no CPU overcommit below 20): 10 fit per node
	// by memory and by CPU. Names repeat: 50 distinct names, 4 times each.
	var wg sync.WaitGroup
	var mu sync.Mutex
	placed, refused, conflicts := 0, 0, 0
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Create(context.Background(), model.Config{Name: fmt.Sprintf("job-%d", i%50), Image: "busybox", Memory: 100 << 20, CPUs: 200})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				placed++
			case model.IsConflict(err):
				conflicts++
			case err.Error() == "no resources available to schedule container":
				refused++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if placed+refused+conflicts != 200 {
		t.Fatalf("%d placed, %d refused, %d conflicts", placed, refused, conflicts)
	}
	if placed != 40 {
		t.Fatalf("%d placed; want 40 (10 per node)", placed)
	}
	names := map[string]int{}
	for _, n := range c.Nodes() {
		cpus, mem := n.Reserved()
		if mem > n.TotalMemory(model.DefaultOvercommit) || cpus > n.TotalCPUs(model.DefaultOvercommit) {
			t.Errorf("%s over-reserved: %s, %s", n.Name, n.ReservedMemoryText(model.DefaultOvercommit), n.ReservedCPUsText(model.DefaultOvercommit))
		}
		for _, ct := range n.Containers {
			names[ct.Name]++
		}
	}
	for name, k := range names {
		if k > 1 {
			t.Errorf("name %s used %d times", name, k)
		}
	}
}

func TestDiscoveryLeavingMovesContainers(t *testing.T) {
	web := running("web", true)
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, web), simNode("b", 4, 8<<30, nil)})
	entries := make(chan []Entry, 2)
	entries <- []Entry{{Addr: "a:2375"}, {Addr: "b:2375"}}
	src.Discovery = chanDiscovery(entries)
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "healthy", allHealthy(c, 2))
	entries <- []Entry{{Addr: "b:2375"}}
	waitFor(t, 2*time.Second, "a gone and web on b", func() bool {
		n, w := copies(c, web.SwarmID)
		return len(c.Nodes()) == 1 && n == 1 && w[0] == "b"
	})
}

type chanDiscovery chan []Entry

func (d chanDiscovery) Watch(ctx context.Context) (<-chan []Entry, <-chan error) {
	return d, make(chan error)
}

// BenchmarkReschedule1000Containers crashes a simulated node holding 1,000
// containers with the reschedule policy (9 other nodes have room) and
// measures, with default options, the time until every one of them runs
// elsewhere ("total"), and the part after the node was flagged Unhealthy
// ("move").
func BenchmarkReschedule1000Containers(b *testing.B) {
	for range b.N {
		b.StopTimer()
		var cs []*model.Container
		for i := range 1000 {
			cs = append(cs, running(fmt.Sprintf("c%d", i), true))
		}
		nodes := []*model.Node{simNode("failing", 64, 256<<30, nil, cs...)}
		for i := range 9 {
			nodes = append(nodes, simNode(fmt.Sprintf("n%d", i), 64, 256<<30, nil))
		}
		src := SimSource("bench", nodes)
		c, _ := New(src, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { c.Run(ctx); close(done) }()
		for !allHealthy(c, 10)() {
			time.Sleep(time.Millisecond)
		}
		events, stop := c.Subscribe(4096)
		b.StartTimer()
		start := time.Now()
		src.Sim("failing:2375").Crash()
		var flagged time.Time
		moved := 0
		for moved < 1000 {
			e := <-events
			switch e.Action {
			case "engine_disconnect":
				flagged = time.Now()
			case "reschedule":
				moved++
			}
		}
		total := time.Since(start)
		b.StopTimer()
		b.ReportMetric(total.Seconds(), "s-total")
		b.ReportMetric(time.Since(flagged).Seconds(), "s-move")
		stop()
		cancel()
		<-done
		b.StartTimer()
	}
}

// TestSimulatedNetworksListTheirRunningContainers as dockerd's do, the
// default bridge included.
func TestSimulatedNetworksListTheirRunningContainers(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil)})
	c := startSim(t, src, Options{})
	waitFor(t, 2*time.Second, "a healthy", allHealthy(c, 1))
	for _, mode := range []string{"", "bridge", "host"} {
		ct, err := c.Create(context.Background(), model.Config{Image: "nginx", NetworkMode: mode})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(context.Background(), ct.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create(context.Background(), model.Config{Image: "nginx"}); err != nil { // created, not running
		t.Fatal(err)
	}
	nets, err := src.Sim("a:2375").Networks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, nw := range nets {
		got[nw.Name] = len(nw.Containers)
	}
	if got["bridge"] != 2 || got["host"] != 1 || got["none"] != 0 {
		t.Fatalf("containers per network: %v; want bridge 2, host 1, none 0", got)
	}
}

// TestSimEventStreamKeepsOrderAndBreaksWhenFarBehind: a simulated engine's
// stream holds only a few events in its channel, but a reader that is
// slow for a while still gets every event in order (up to 256 behind, as
// before), and one that falls further behind gets the break a real
// engine's stream gives, after the events it could still hold.
func TestSimEventStreamKeepsOrderAndBreaksWhenFarBehind(t *testing.T) {
	for _, tc := range []struct {
		name    string
		creates int
		broken  bool
	}{
		{"within the channel", simEventChan, false},
		{"behind, within the buffer", simEventBuffer, false},
		{"too far behind", simEventBuffer + 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nd := simNode("n", 4, 8<<30, nil)
			nd.Images = []model.Image{{ID: "sha256:" + strings.Repeat("b", 64), RepoTags: []string{"busybox:latest"}}}
			s := NewSimEngine(nd)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			evs, errs := s.Events(ctx)
			var ids []string
			for i := range tc.creates {
				id, err := s.Create(ctx, CreateSpec{Config: model.Config{Name: fmt.Sprintf("c%d", i), Image: "busybox"}})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			want := ids
			if tc.broken {
				want = ids[:simEventBuffer]
			}
			for i, id := range want {
				brk := errs
				if tc.broken {
					brk = nil // the break is read after the events it kept
				}
				select {
				case ev := <-evs:
					if ev.ID != id || ev.Action != "create" {
						t.Fatalf("event %d: %s %s, want create %s (in the order of the creates)", i, ev.Action, model.ShortID(ev.ID), model.ShortID(id))
					}
				case err := <-brk:
					t.Fatalf("event %d: the stream broke: %v", i, err)
				case <-time.After(10 * time.Second):
					t.Fatalf("event %d never came", i)
				}
			}
			select {
			case err := <-errs:
				if !tc.broken || !strings.Contains(err.Error(), "fell behind") {
					t.Fatalf("the stream broke: %v", err)
				}
			case ev := <-evs:
				t.Fatalf("an event more than created: %+v", ev)
			default:
				if tc.broken {
					t.Fatal("a stream 257 events behind did not break")
				}
			}
		})
	}
}

// TestMaxCPUsFollowsTheNodes: the largest node's CPUs (what a create's
// --cpus is checked against) is kept, not recounted per call, and follows
// nodes joining and leaving.
func TestMaxCPUsFollowsTheNodes(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("small", 4, 8<<30, nil), simNode("big", 32, 8<<30, nil), simNode("mid", 8, 8<<30, nil)})
	entries := make(chan []Entry, 3)
	entries <- []Entry{{Addr: "small:2375"}, {Addr: "big:2375"}}
	src.Discovery = chanDiscovery(entries)
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "healthy", allHealthy(c, 2))
	for _, step := range []struct {
		entries []Entry
		want    int
	}{
		{nil, 32},
		{[]Entry{{Addr: "small:2375"}}, 4}, // the biggest left
		{[]Entry{{Addr: "small:2375"}, {Addr: "mid:2375"}}, 8}, // a bigger one joined (pending counts: its CPUs are known once connected)
	} {
		if step.entries != nil {
			entries <- step.entries
		}
		waitFor(t, 2*time.Second, fmt.Sprintf("MaxCPUs %d", step.want), func() bool { return c.MaxCPUs() == step.want })
	}
}

// TestNetworksFollowEveryChange: Networks answers from what it last
// collected while no node's networks changed; a network created or
// removed through the manager is listed, or not, at once.
func TestNetworksFollowEveryChange(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil), simNode("b", 4, 8<<30, nil)})
	c := startSim(t, src, Options{})
	waitFor(t, 2*time.Second, "a and b healthy", allHealthy(c, 2))
	names := func() []string {
		var out []string
		for _, nw := range c.Networks() {
			out = append(out, nw.Node+"/"+nw.Name)
		}
		return out
	}
	before := names()
	if !slices.Contains(before, "a:2375/bridge") || !slices.Contains(before, "b:2375/bridge") {
		t.Fatalf("networks %v lack the bridges", before)
	}
	if _, err := c.CreateNetwork(context.Background(), "a/front", "bridge"); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Contains(got, "a:2375/front") || len(got) != len(before)+1 {
		t.Fatalf("after creating a/front: %v (before: %v)", got, before)
	}
	if err := c.RemoveNetwork(context.Background(), "a/front"); err != nil {
		t.Fatal(err)
	}
	if got := names(); !slices.Equal(got, before) {
		t.Fatalf("after removing a/front: %v, want %v", got, before)
	}
}
