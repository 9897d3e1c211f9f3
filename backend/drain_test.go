package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"swarmdeck/model"
)

// names lists the names of a node's containers, sorted.
func names(c *Cluster, addr string) []string {
	var out []string
	if n := c.Node(addr); n != nil {
		for _, ct := range n.Containers {
			out = append(out, ct.Name)
		}
	}
	slices.Sort(out)
	return out
}

func TestDrainMovesPolicyContainersAndListsTheRest(t *testing.T) {
	web, db, batch := running("web", true), running("db", false), running("batch", false)
	db.Labels[model.LabelRebalance] = "true" // opted in without a policy
	src := SimSource("test", []*model.Node{
		simNode("a", 4, 8<<30, nil, web, db, batch),
		simNode("b", 4, 8<<30, nil),
		simNode("c", 4, 8<<30, nil),
	})
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 3))

	res, err := c.SetAvailability(context.Background(), "a", model.Drain, false)
	if err != nil {
		t.Fatal(err)
	}
	var moving []string
	for _, ct := range res.Moving {
		moving = append(moving, ct.Name)
	}
	slices.Sort(moving)
	if strings.Join(moving, ",") != "db,web" || len(res.Blocking) != 1 || res.Blocking[0].Container.Name != "batch" ||
		!strings.Contains(res.Blocking[0].Reason, "no reschedule policy") {
		t.Fatalf("moving %v, blocking %+v; want db,web moving and batch blocking for want of a policy", moving, res.Blocking)
	}
	waitFor(t, 3*time.Second, "a holds batch alone", func() bool { return strings.Join(names(c, "a:2375"), ",") == "batch" })
	for _, ct := range []*model.Container{web, db} {
		n, where := copies(c, ct.SwarmID)
		if n != 1 || where[0] == "a" {
			t.Fatalf("%s: %d copies on %v; want one, off a", ct.Name, n, where)
		}
		moved, _, err := c.Inspect(ct.Name)
		if err != nil || moved.State != model.Running {
			t.Fatalf("%s after the move: %v %v; want running", ct.Name, moved, err)
		}
	}
	// Nothing new lands on a drained node, and the explanation says why.
	if ct, err := c.Create(context.Background(), model.Config{Image: "busybox", Labels: map[string]string{}}); err != nil || ct.Node == "a:2375" {
		t.Fatalf("create after drain: %v on %v", err, ct)
	}
	if got := c.Node("a:2375").Availability; got != model.Drain {
		t.Fatalf("availability %s; want drain", got)
	}
	// Force moves the blocker too.
	if _, err := c.SetAvailability(context.Background(), "a:2375", model.Drain, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "a empty", func() bool { return len(names(c, "a:2375")) == 0 })
	if n, where := copies(c, batch.SwarmID); n != 1 || where[0] == "a" {
		t.Fatalf("batch: %d copies on %v", n, where)
	}
	var drained, moves int
	for _, e := range c.RecentEvents() {
		switch {
		case e.Kind == model.EventAvailability && e.Action == "node_drain":
			drained++
		case e.Kind == model.EventMove && strings.Contains(e.Message, "a is draining"):
			moves++
		}
	}
	if drained != 2 || moves != 3 {
		t.Fatalf("%d drain and %d move events; want 2 and 3", drained, moves)
	}
}

func TestAPausedNodeKeepsItsContainersAndTakesNoneNew(t *testing.T) {
	web := running("web", true)
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, web), simNode("b", 4, 8<<30, nil, running("x", false), running("y", false))})
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 2))
	if _, err := c.SetAvailability(context.Background(), "a", model.Pause, false); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		ct, err := c.Create(context.Background(), model.Config{Image: "busybox", Labels: map[string]string{}})
		if err != nil || ct.Node != "b:2375" {
			t.Fatalf("create %d on a paused cluster: %v %+v; want b", i, err, ct)
		}
	}
	if got := names(c, "a:2375"); strings.Join(got, ",") != "web" {
		t.Fatalf("a holds %v; want web still", got)
	}
	if _, err := c.SetAvailability(context.Background(), "nope", model.Pause, false); !IsNotFound(err) {
		t.Fatalf("unknown node: %v; want not found", err)
	}
}

// brokenState refuses to save.
type brokenState struct{ MemoryState }

var errBroken = errors.New("disk full")

func (*brokenState) Save(context.Context, string, model.Availability) error { return errBroken }

func TestAnAvailabilityThatCannotBeSavedChangesNothing(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, running("web", true)), simNode("b", 4, 8<<30, nil)})
	opts := fast()
	opts.State = &brokenState{}
	c := startSim(t, src, opts)
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 2))
	if _, err := c.SetAvailability(context.Background(), "a", model.Drain, false); !errors.Is(err, errBroken) {
		t.Fatalf("got %v; want the store's error", err)
	}
	time.Sleep(100 * time.Millisecond) // a drain, had it started, would have moved web by now
	if c.Node("a:2375").Availability != model.Active || strings.Join(names(c, "a:2375"), ",") != "web" {
		t.Fatalf("a is %s with %v; want active with web", c.Node("a:2375").Availability, names(c, "a:2375"))
	}
}

func TestADrainSurvivesARestartThroughTheStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	nodes := func() []*model.Node {
		return []*model.Node{simNode("a", 4, 8<<30, nil), simNode("b", 4, 8<<30, nil)}
	}
	opts := fast()
	opts.State = &FileState{Path: path}
	ctx, cancel := context.WithCancel(context.Background())
	first, err := New(SimSource("test", nodes()), opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); first.Run(ctx) }()
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(first, 2))
	if _, err := first.SetAvailability(ctx, "a", model.Drain, false); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done

	opts.State = &FileState{Path: path}
	second := startSim(t, SimSource("test", nodes()), opts)
	waitFor(t, 2*time.Second, "a drained after the restart", func() bool {
		n := second.Node("a:2375")
		return n != nil && n.Availability == model.Drain
	})
	if second.Node("b:2375").Availability != model.Active {
		t.Fatal("b is not active")
	}
}

func TestAWaitedDrainSaysWhatMovedWhatCouldNotAndWarnsOfALastGlobalCopy(t *testing.T) {
	web, stuck, pinned, agent := running("web", true), running("stuck", true), running("pinned", false), running("agent", false)
	stuck.Env = []string{"constraint:node==a"} // nowhere else to go
	pinned.Env = []string{"constraint:node==a"}
	agent.Labels[LabelGlobalID] = "g1"
	agent.Labels["com.swarmdeck.mode"] = "global"
	agent.Env = []string{"constraint:node==a"} // its only copy
	src := SimSource("test", []*model.Node{
		simNode("a", 4, 8<<30, nil, web, stuck, pinned, agent),
		simNode("b", 4, 8<<30, nil),
	})
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 2))

	res, err := c.SetAvailability(context.Background(), "a", model.Drain, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "global agent has no running copy left once a's goes") {
		t.Fatalf("warnings %q; want one about agent's last copy", res.Warnings)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := map[string]string{}
	for _, o := range c.WaitDrain(ctx, res) {
		got[o.Container] = o.To
		if o.Err != "" {
			got[o.Container] = "✗ " + o.Err
		}
	}
	// stuck and pinned cannot go anywhere (a constraint pins them to a):
	// they block the drain, with why, and are not tried.
	if len(got) != 1 || got["web"] != "b" {
		t.Errorf("outcomes %v; want web moved to b alone", got)
	}
	blocking := map[string]string{}
	for _, b := range res.Blocking {
		blocking[b.Container.Name] = b.Reason
	}
	for _, name := range []string{"stuck", "pinned"} {
		if !strings.Contains(blocking[name], "no other node can take it: ") || !strings.Contains(blocking[name], "[node==a]") {
			t.Errorf("%s blocks with %q; want its constraint named", name, blocking[name])
		}
	}
}

// TestAContainerPinnedToADrainedNodeBlocksTheDrain drains the node a
// policy container's constraint pins it to: it is listed as blocking,
// with why, and no move is tried (the outside trial saw it "failed to
// move" and retried on every pass).
func TestAContainerPinnedToADrainedNodeBlocksTheDrain(t *testing.T) {
	pinned := running("pol1", true)
	pinned.Env = []string{"constraint:node==a"}
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, pinned), simNode("b", 4, 8<<30, nil)})
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "two healthy", allHealthy(c, 2))
	res, err := c.SetAvailability(context.Background(), "a", model.Drain, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Moving) != 0 || len(res.Blocking) != 1 || !strings.Contains(res.Blocking[0].Reason, "no other node can take it: Unable to find a node that satisfies the following conditions; [available container slots]; [node==a]") {
		t.Fatalf("moving %v, blocking %+v; want pol1 blocking, pinned by its constraint", res.Moving, res.Blocking)
	}
	time.Sleep(200 * time.Millisecond) // several drain passes
	for _, e := range c.RecentEvents() {
		if e.Kind == model.EventFailure {
			t.Errorf("a failure while pol1 blocks the drain: %s", e.Message)
		}
	}
}

// holdStartsOn makes the engine at addr hold every start until the test
// closes release; entered (with room for n) says a start is held.
func holdStartsOn(src *Source, addr string, n int) *blockedStarts {
	sim := src.NewEngine
	slow := &blockedStarts{entered: make(chan struct{}, n), release: make(chan struct{})}
	src.NewEngine = func(e Entry) (Engine, error) {
		eng, err := sim(e)
		if e.Addr != addr {
			return eng, err
		}
		slow.Engine = eng
		return slow, err
	}
	return slow
}

// TestAContainerBeingMovedAnswersByItsName: while a drain moves web (its
// new copy created on b, not started yet), the bare name means the old
// copy, which still runs: inspect finds it (not "no such container" for
// a name two copies share), and a removal, a stop or a rename is refused
// with a conflict that says why, instead of being undone by the move or
// silently doing nothing (an outside trial's rm -f answered "No such
// container" and exited 0). Once the move ends, the name means the new copy.
func TestAContainerBeingMovedAnswersByItsName(t *testing.T) {
	web := running("web", true)
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, web), simNode("b", 4, 8<<30, nil)})
	slow := holdStartsOn(src, "b:2375", 1)
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 2))
	ctx := context.Background()
	res, err := c.SetAvailability(ctx, "a", model.Drain, false)
	if err != nil {
		t.Fatal(err)
	}
	<-slow.entered // the new copy is created on b; its start waits

	if ct, _, err := c.Inspect("web"); err != nil || ct.Node != "a:2375" {
		t.Fatalf("inspect web during the move: %v, %+v; want the old copy on a", err, ct)
	}
	for what, call := range map[string]func() error{
		"rm -f": func() error { return c.Remove(ctx, "web", true) },
		"stop":  func() error { return c.Stop(ctx, "web", time.Second) },
	} {
		err := call()
		if !model.IsConflict(err) || !strings.Contains(err.Error(), "is being moved off a") {
			t.Errorf("%s web during the move: %v; want a conflict saying it is being moved", what, err)
		}
	}
	close(slow.release)
	if out := c.WaitDrain(ctx, res); len(out) != 1 || out[0].Err != "" || out[0].To != "b" {
		t.Fatalf("the drain after the refused calls: %+v; want web moved to b", out)
	}
	if ct, _, err := c.Inspect("web"); err != nil || ct.Node != "b:2375" || ct.State != model.Running {
		t.Fatalf("inspect web after the move: %v, %+v; want it running on b", err, ct)
	}
}

// drainWithMovesHeld drains node a of 2×moveConcurrency containers onto
// b, whose starts are held: it returns once the first moveConcurrency
// moves hold at their new copy's start (the rest wait their turn), with
// the drain's result, a's containers and the hold (close release).
func drainWithMovesHeld(t *testing.T) (*Cluster, *AvailabilityResult, []*model.Container, *blockedStarts) {
	t.Helper()
	var cs []*model.Container
	for i := range 2 * moveConcurrency {
		cs = append(cs, running(fmt.Sprintf("web%d", i), true))
	}
	src := SimSource("test", []*model.Node{simNode("a", 64, 64<<30, nil, cs...), simNode("b", 64, 64<<30, nil)})
	slow := holdStartsOn(src, "b:2375", 2*moveConcurrency)
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 2))
	res, err := c.SetAvailability(context.Background(), "a", model.Drain, false)
	if err != nil {
		t.Fatal(err)
	}
	for range moveConcurrency {
		<-slow.entered // that many moves hold at their new copy's start
	}
	return c, res, cs, slow
}

// TestMovesNotStartedWhenTheDrainEndsStay: node a is activated while its
// drain's first moves run (their new copies' starts are held on b); the
// moves in flight end, and the ones not started yet are not made (an
// outside trial saw them made 12–23 s after the activation, "because a is
// draining").
func TestMovesNotStartedWhenTheDrainEndsStay(t *testing.T) {
	c, res, _, slow := drainWithMovesHeld(t)
	ctx := context.Background()
	if _, err := c.SetAvailability(ctx, "a", model.Active, false); err != nil {
		t.Fatal(err)
	}
	close(slow.release)
	c.WaitDrain(ctx, res)
	waitFor(t, 2*time.Second, "the moves in flight end", func() bool {
		return len(names(c, "a:2375"))+len(names(c, "b:2375")) == 2*moveConcurrency
	})
	time.Sleep(500 * time.Millisecond) // a move made late would show by now
	if got := len(names(c, "b:2375")); got != moveConcurrency {
		t.Fatalf("b holds %d containers: %v; want the %d moved before a was activated", got, names(c, "b:2375"), moveConcurrency)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A drain's move is a structured log record that says where from, why and
// how long it took, as a reschedule's does.
func TestAMoveIsLoggedWithItsCauseAndDuration(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, running("web", true)), simNode("b", 4, 8<<30, nil)})
	var logs syncBuffer
	opts := fast()
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	c := startSim(t, src, opts)
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 2))
	res, err := c.SetAvailability(context.Background(), "a", model.Drain, false)
	if err != nil {
		t.Fatal(err)
	}
	c.WaitDrain(context.Background(), res)
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec struct {
			Event, From, Cause, Node string
			Duration                 time.Duration
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Event == "move" {
			if rec.From != "a" || rec.Node != "b" || rec.Cause != "a is draining" || rec.Duration <= 0 {
				t.Fatalf("move record %s", line)
			}
			return
		}
	}
	t.Fatalf("no move record in\n%s", logs.String())
}

// TestContainersRemovedWhileWaitingToMoveStayRemoved: a drain moves a
// few containers at a time; one a user removes while it waits its turn is
// gone for good, and the drain's outcome says it was removed, not lost (an
// outside trial's rm -f of 20 containers mid-drain answered 0 for 16 of
// them, which the drain then created again on other nodes).
func TestContainersRemovedWhileWaitingToMoveStayRemoved(t *testing.T) {
	c, res, cs, slow := drainWithMovesHeld(t)
	ctx := context.Background()
	removed := map[string]bool{}
	for _, ct := range cs {
		if err := c.Remove(ctx, ct.Name, true); err == nil {
			removed[ct.Name] = true
		} else if !errors.As(err, new(*model.ConflictError)) {
			t.Fatalf("rm -f %s: %v", ct.Name, err)
		}
	}
	if len(removed) != moveConcurrency {
		t.Fatalf("%d removals answered; want the %d containers not moving yet", len(removed), moveConcurrency)
	}
	close(slow.release)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	outcomes := c.WaitDrain(wctx, res)
	time.Sleep(500 * time.Millisecond) // a move made late would show by now
	for _, name := range append(names(c, "a:2375"), names(c, "b:2375")...) {
		if removed[name] {
			t.Errorf("%s was removed and is back: a %v, b %v", name, names(c, "a:2375"), names(c, "b:2375"))
		}
	}
	for _, o := range outcomes {
		if o.Removed != removed[o.Container] || o.Err != "" {
			t.Errorf("outcome %+v; removed by the user: %v", o, removed[o.Container])
		}
	}
}

// holdRemoves makes an engine's removals wait until release is closed.
type holdRemoves struct {
	Engine
	entered chan struct{}
	release chan struct{}
}

func (h *holdRemoves) Remove(ctx context.Context, id string, force bool) error {
	select {
	case h.entered <- struct{}{}:
	default: // the test waits for the first removal only
	}
	select {
	case <-h.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return h.Engine.Remove(ctx, id, force)
}

// TestADrainDoesNotMoveAContainerARemovalIsRemoving: an rm -f under way
// (the engine is slow to answer) when the drain begins holds the move
// off; the container is removed, not moved back to life on another node.
func TestADrainDoesNotMoveAContainerARemovalIsRemoving(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, running("web", true)), simNode("b", 4, 8<<30, nil)})
	hold := &holdRemoves{entered: make(chan struct{}, 1), release: make(chan struct{})}
	sim := src.NewEngine
	src.NewEngine = func(e Entry) (Engine, error) {
		eng, err := sim(e)
		if e.Addr != "a:2375" {
			return eng, err
		}
		hold.Engine = eng
		return hold, err
	}
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 2))
	ctx := context.Background()
	rm := make(chan error, 1)
	go func() { rm <- c.Remove(ctx, "web", true) }()
	<-hold.entered
	res, err := c.SetAvailability(ctx, "a", model.Drain, false)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // drain passes: none may move web meanwhile
	close(hold.release)
	if err := <-rm; err != nil {
		t.Fatalf("rm -f web: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	outcomes := c.WaitDrain(wctx, res)
	time.Sleep(500 * time.Millisecond) // a move made late would show by now
	if got := append(names(c, "a:2375"), names(c, "b:2375")...); len(got) != 0 {
		t.Fatalf("after rm -f web: a and b hold %v", got)
	}
	if len(outcomes) != 1 || !outcomes[0].Removed || outcomes[0].Err != "" {
		t.Fatalf("outcomes %+v; want web removed", outcomes)
	}
}
