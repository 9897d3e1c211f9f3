package backend

import (
	"context"
	"slices"
	"testing"
	"time"

	"swarmdeck/model"
)

// blockedStarts is an engine whose starts wait until released.
type blockedStarts struct {
	Engine
	entered chan struct{}
	release chan struct{}
}

func (b *blockedStarts) Start(ctx context.Context, id string) error {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.Engine.Start(ctx, id)
}

// TestTakingOverReturnsAtOnceAndReconcilesBeforeMoving: the election's
// goroutine calls SetRole and must go back to watching the lock, so the
// reconcile a new primary does (here: starting a rescheduled copy that
// its manager created but never started, on an engine that is slow to
// start it) runs in the rescheduler, not in SetRole.
func TestTakingOverReturnsAtOnceAndReconcilesBeforeMoving(t *testing.T) {
	half := running("half", true)
	half.State = model.Created
	half.Labels[model.LabelStartAfterReschedule] = "true"
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, half)})
	sim := src.NewEngine
	slow := &blockedStarts{entered: make(chan struct{}, 1), release: make(chan struct{})}
	src.NewEngine = func(e Entry) (Engine, error) {
		eng, err := sim(e)
		slow.Engine = eng
		return slow, err
	}
	c, _ := startReplica(t, src, nil)
	waitFor(t, 2*time.Second, "a healthy", allHealthy(c, 1))

	returned := make(chan struct{})
	go func() { c.SetRole(true, "me:3376"); close(returned) }()
	<-slow.entered // the reconcile starts half, and the start hangs
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("SetRole waits for the reconcile: the election would stop watching the lock")
	}
	if role, _ := c.Role(); role != "primary" {
		t.Fatalf("role %s after the takeover", role)
	}
	close(slow.release)
	waitFor(t, 2*time.Second, "half started by the reconcile", func() bool {
		ct, _, _ := c.Inspect("half")
		return ct != nil && ct.State == model.Running
	})
}

// startReplica runs a replicated manager of src that keeps its state in
// state; stop ends it.
func startReplica(t *testing.T, src *Source, state StateStore) (c *Cluster, stop func()) {
	t.Helper()
	opts := fast()
	opts.State = state
	c, err := New(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	c.Replicated()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	stop = func() { cancel(); <-done } // twice is fine: done stays closed
	t.Cleanup(stop)
	return c, stop
}

// primaryAndReplica runs two managers of src sharing one state, first
// the primary and second its replica, and waits until both see every
// node of src (n of them) Healthy.
func primaryAndReplica(t *testing.T, src *Source, n int) (first *Cluster, stopFirst func(), second *Cluster, state *MemoryState) {
	t.Helper()
	state = &MemoryState{} // the cluster's shared state (Consul, etcd, ZooKeeper or a file in real use)
	first, stopFirst = startReplica(t, src, state)
	second, _ = startReplica(t, src, state)
	first.SetRole(true, "first:3376")
	second.SetRole(false, "first:3376")
	waitFor(t, 2*time.Second, "nodes healthy", func() bool { return allHealthy(first, n)() && allHealthy(second, n)() })
	return first, stopFirst, second, state
}

// TestRemovedWhileWaitingStaysRemovedAfterATakeover: a container removed
// while it waits to be rescheduled (its node dead, no room elsewhere) must
// not be moved by the manager that takes over before the node comes back.
func TestRemovedWhileWaitingStaysRemovedAfterATakeover(t *testing.T) {
	web := running("web", true)
	web.Memory = 6 << 30
	filler := running("filler", false)
	filler.Memory = 4 << 30
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, web), simNode("b", 4, 8<<30, nil, filler)})
	first, stopFirst, second, _ := primaryAndReplica(t, src, 2)

	src.Sim("a:2375").Crash()
	waitFor(t, 3*time.Second, "web waits for room", func() bool {
		q := first.Queued()
		return len(q) == 1 && q[0].Container.Name == "web" && q[0].Reason != ""
	})
	if err := first.Remove(context.Background(), "web", true); err != nil {
		t.Fatal(err)
	}
	stopFirst() // killed before a comes back

	second.SetRole(true, "second:3376")
	if err := second.Remove(context.Background(), "filler", true); err != nil {
		t.Fatal(err) // room for web on b: a manager that forgot the removal moves it there
	}
	waitFor(t, 2*time.Second, "second reconciled", func() bool { return health(second, "a:2375") == model.Unhealthy })
	for range 20 { // several rescheduler rounds (each removal nudges it too)
		second.nudge()
		time.Sleep(20 * time.Millisecond)
	}
	cs, err := src.Sim("b:2375").Containers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range cs {
		if ct.SwarmID == web.SwarmID {
			t.Fatalf("the removed web was moved to b by the new primary")
		}
	}
	if q := second.Queued(); len(q) != 0 {
		t.Fatalf("the new primary waits to move %s, removed before it took over", q[0].Container.Name)
	}
}

// TestRemovedAfterATakeoverStaysRemovedWhenItsOldNodeComesBack: web moved
// off a hung node, then the primary died; the new primary finds the old
// copy on the still-hung node and the moved one elsewhere. The user removes
// web; when the hung node comes back, its old copy must go too.
func TestRemovedAfterATakeoverStaysRemovedWhenItsOldNodeComesBack(t *testing.T) {
	src, web, _, stopFirst, second := webMovedOffHungA(t)
	stopFirst()
	second.SetRole(true, "second:3376")
	waitFor(t, 3*time.Second, "the new primary sees web on b only", func() bool {
		n, where := copies(second, web.SwarmID)
		return health(second, "a:2375") == model.Unhealthy && n == 1 && where[0] == "b" && len(second.Queued()) == 0
	})
	if err := second.Remove(context.Background(), "web", true); err != nil {
		t.Fatal(err)
	}
	src.Sim("a:2375").Heal()
	defer func() {
		for _, e := range second.RecentEvents() {
			t.Logf("%s %s %s", e.Action, e.Container, e.Message)
		}
	}()
	waitFor(t, 3*time.Second, "a healthy and its old copy of the removed web gone", func() bool {
		cs, _ := src.Sim("a:2375").Containers(context.Background())
		return health(second, "a:2375") == model.Healthy && len(cs) == 0
	})
}

// TestAMovedContainerRemovedStaysRemovedAfterATakeover: web moved off a
// hung node and the user removed the moved copy; the primary dies before
// the node comes back. The new primary, which sees web's old copy on the
// hung node only, must not move it again.
func TestAMovedContainerRemovedStaysRemovedAfterATakeover(t *testing.T) {
	src, web, first, stopFirst, second := webMovedOffHungA(t)
	if err := first.Remove(context.Background(), "web", true); err != nil {
		t.Fatal(err)
	}
	stopFirst()
	waitFor(t, 2*time.Second, "the replica saw the removal", func() bool {
		_, where := copies(second, web.SwarmID)
		return !slices.Contains(where, "b")
	})
	second.SetRole(true, "second:3376")
	for range 20 { // several rescheduler rounds
		second.nudge()
		time.Sleep(20 * time.Millisecond)
	}
	cs, _ := src.Sim("b:2375").Containers(context.Background())
	for _, ct := range cs {
		if ct.SwarmID == web.SwarmID {
			t.Fatal("the removed web was moved to b again by the new primary")
		}
	}
	src.Sim("a:2375").Heal()
	waitFor(t, 3*time.Second, "a healthy and its old copy of the removed web gone", func() bool {
		cs, _ := src.Sim("a:2375").Containers(context.Background())
		return health(second, "a:2375") == model.Healthy && len(cs) == 0
	})
}

// webMovedOffHungA runs a primary and a replica sharing their state over
// nodes a (with web, which has the policy) and b, hangs a, and waits for
// the primary to move web to b.
func webMovedOffHungA(t *testing.T) (src *Source, web *model.Container, first *Cluster, stopFirst func(), second *Cluster) {
	t.Helper()
	web = running("web", true)
	src = SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, web), simNode("b", 4, 8<<30, nil)})
	first, stopFirst, second, _ = primaryAndReplica(t, src, 2)
	src.Sim("a:2375").Hang()
	waitFor(t, 3*time.Second, "web moved to b, and the move done", func() bool {
		n, where := copies(first, web.SwarmID)
		first.mu.Lock()
		defer first.mu.Unlock()
		return n == 1 && where[0] == "b" && len(first.queue) == 0 // not just the create in flight
	})
	return src, web, first, stopFirst, second
}

// TestAFormerPrimaryForgetsWhatItQueuedOnceAnotherDecides (soak run 5):
// web, pinned to a, waits to be rescheduled off dead a in the primary's
// queue; the primary steps down, a comes back, and the user removes web
// through the new primary. The former primary must not count web as
// waiting on a (its docker info showed a reserving 3 of its 2 CPUs), and
// once it is primary again it must not recreate web on a.
func TestAFormerPrimaryForgetsWhatItQueuedOnceAnotherDecides(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("a", 2, 8<<30, nil), simNode("b", 2, 8<<30, nil)})
	first, _, second, _ := primaryAndReplica(t, src, 2)
	ctx := context.Background()
	web, err := first.Create(ctx, model.Config{Name: "web", Image: "busybox", CPUs: 1000,
		Env: []string{"reschedule:on-node-failure", "constraint:node==a"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	src.Sim("a:2375").Crash()
	waitFor(t, 3*time.Second, "web waits: only a may take it", func() bool {
		q := first.Queued()
		return len(q) == 1 && q[0].Container.Name == "web" && q[0].Reason != ""
	})

	first.SetRole(false, "second:3376")
	second.SetRole(true, "second:3376")
	src.Sim("a:2375").Heal()
	waitFor(t, 3*time.Second, "a back with web in both views", func() bool {
		n1, _ := copies(first, web.SwarmID)
		n2, _ := copies(second, web.SwarmID)
		return health(first, "a:2375") == model.Healthy && health(second, "a:2375") == model.Healthy && n1 == 1 && n2 == 1
	})
	if err := second.Remove(ctx, "web", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the former primary saw web removed", func() bool {
		n, _ := copies(first, web.SwarmID)
		return n == 0
	})
	if q := first.Queued(); len(q) != 0 {
		t.Fatalf("the former primary still shows %s waiting to move off %s, removed through the new primary", q[0].Container.Name, q[0].From)
	}

	second.SetRole(false, "first:3376")
	first.SetRole(true, "first:3376")
	for range 20 { // several rescheduler rounds
		first.nudge()
		time.Sleep(20 * time.Millisecond)
	}
	cs, _ := src.Sim("a:2375").Containers(ctx)
	for _, ct := range cs {
		if ct.SwarmID == web.SwarmID {
			t.Fatalf("web, removed, was recreated on a (%s) by the former primary", ct.State)
		}
	}
}

// TestAMovedContainerRemovedByAManagerThatNeverSawTheMove (soak, 20-minute
// run): web moved off hung a to b; its primary died, and a manager
// started while a was still hung took over (a is Pending to it: it never
// listed a's containers, so it does not know web's old copy is there).
// The user removes web; when a comes back, web's old copy must go.
func TestAMovedContainerRemovedByAManagerThatNeverSawTheMove(t *testing.T) {
	src, web, _, stopFirst, _ := webMovedOffHungA(t)
	stopFirst()
	third, _ := startReplica(t, src, &MemoryState{})
	third.SetRole(true, "third:3376")
	waitFor(t, 3*time.Second, "the new manager sees web on b, a not yet", func() bool {
		n, where := copies(third, web.SwarmID)
		return health(third, "b:2375") == model.Healthy && health(third, "a:2375") == model.Pending && n == 1 && where[0] == "b"
	})
	if err := third.Remove(context.Background(), "web", true); err != nil {
		t.Fatal(err)
	}
	src.Sim("a:2375").Heal()
	waitFor(t, 3*time.Second, "a connected and web's old copy gone from it", func() bool {
		cs, _ := src.Sim("a:2375").Containers(context.Background())
		return health(third, "a:2375") == model.Healthy && len(cs) == 0
	})
}
