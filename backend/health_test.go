package backend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"swarmdeck/model"
)

// probedEngine is a simulated engine whose user calls fail as the test
// says, and whose pings it counts (and may fail on a pattern).
type probedEngine struct {
	Engine
	pings    atomic.Int64
	pingFail func(n int64) bool // fails the n-th ping (1-based) when true

	mu      sync.Mutex
	callErr error // every user call (create, start, stop, kill, remove) fails with it
	block   bool  // user calls wait until their context ends
}

func (p *probedEngine) Ping(ctx context.Context) error {
	n := p.pings.Add(1)
	if p.pingFail != nil && p.pingFail(n) {
		return fmt.Errorf("ping: %w", syscall.ECONNREFUSED)
	}
	return p.Engine.Ping(ctx)
}

func (p *probedEngine) user(ctx context.Context) error {
	p.mu.Lock()
	err, block := p.callErr, p.block
	p.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (p *probedEngine) fail(err error, block bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.callErr, p.block = err, block
}

func (p *probedEngine) Create(ctx context.Context, spec CreateSpec) (string, error) {
	if err := p.user(ctx); err != nil {
		return "", err
	}
	return p.Engine.Create(ctx, spec)
}

func (p *probedEngine) Start(ctx context.Context, id string) error {
	if err := p.user(ctx); err != nil {
		return err
	}
	return p.Engine.Start(ctx, id)
}

func (p *probedEngine) Stop(ctx context.Context, id string, d time.Duration) error {
	if err := p.user(ctx); err != nil {
		return err
	}
	return p.Engine.Stop(ctx, id, d)
}

func (p *probedEngine) Kill(ctx context.Context, id string) error {
	if err := p.user(ctx); err != nil {
		return err
	}
	return p.Engine.Kill(ctx, id)
}

// probedSim is a one-node simulated cluster (node a, with web running)
// whose engine is a probedEngine.
func probedSim(t *testing.T, opts Options, pingFail func(int64) bool) (*Cluster, *probedEngine) {
	t.Helper()
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, running("web", true)), simNode("b", 4, 8<<30, nil)})
	sim := src.NewEngine
	var pe *probedEngine
	src.NewEngine = func(e Entry) (Engine, error) {
		eng, err := sim(e)
		if e.Addr != "a:2375" {
			return eng, err
		}
		pe = &probedEngine{Engine: eng, pingFail: pingFail}
		return pe, err
	}
	c := startSim(t, src, opts)
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 2))
	return c, pe
}

// disconnects counts the engine_disconnect events of node a.
func disconnects(c *Cluster) int {
	n := 0
	for _, e := range c.RecentEvents() {
		if e.Action == "engine_disconnect" && e.Node == "a" {
			n++
		}
	}
	return n
}

func TestAUserCallsErrorNeverMakesANodeUnhealthy(t *testing.T) {
	for _, tt := range []struct {
		name  string
		err   error
		block bool
		call  func(ctx context.Context, c *Cluster) error
	}{
		{"a stop that outlives its caller's deadline", nil, true, func(ctx context.Context, c *Cluster) error {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
			defer cancel()
			return c.Stop(ctx, "web", 30*time.Second)
		}},
		{"a start refused by a connection reset", fmt.Errorf("start: %w", syscall.ECONNRESET), false, func(ctx context.Context, c *Cluster) error {
			return c.Start(ctx, "web")
		}},
		{"a kill that times out", context.DeadlineExceeded, false, func(ctx context.Context, c *Cluster) error {
			return c.Kill(ctx, "web")
		}},
		{"a create the engine refuses with a 500", errors.New("Error response from daemon: no space left on device"), false, func(ctx context.Context, c *Cluster) error {
			_, err := c.Create(ctx, model.Config{Name: "x", Image: "busybox", Env: []string{"constraint:node==a"}})
			return err
		}},
		{"a create that cannot connect", fmt.Errorf("create: %w", syscall.ECONNREFUSED), false, func(ctx context.Context, c *Cluster) error {
			_, err := c.Create(ctx, model.Config{Name: "x", Image: "busybox", Env: []string{"constraint:node==a"}})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := fast()
			opts.FailureRetry = 1 // one counted failure would flag the node
			c, pe := probedSim(t, opts, nil)
			pe.fail(tt.err, tt.block)
			for range 3 {
				if err := tt.call(context.Background(), c); err == nil {
					t.Fatal("the call succeeded; the test wants it to fail")
				}
			}
			// The monitor probes (at once when the call could not
			// connect, else on its heartbeat): wait for a few probes.
			after := pe.pings.Load()
			waitFor(t, 2*time.Second, "three more probes", func() bool { return pe.pings.Load() >= after+3 })
			if n := c.Node("a:2375"); n.Health != model.Healthy || n.Failures != 0 || disconnects(c) != 0 {
				t.Fatalf("after failed user calls node a is %v with %d failures (%d disconnects); its probes answer", n.Health, n.Failures, disconnects(c))
			}
			if ct, _, err := c.Inspect("web"); err != nil || ct.Node != "a:2375" {
				t.Fatalf("web: %v, %v", ct, err)
			}
		})
	}
}

func TestAnAnsweredProbeResetsTheFailureCount(t *testing.T) {
	// Two failed probes, one answered, over and over: never three in a row.
	c, pe := probedSim(t, fast(), func(n int64) bool { return n > 3 && n%3 != 0 })
	var most atomic.Int64
	waitFor(t, 5*time.Second, "30 probes", func() bool {
		if f := int64(c.Node("a:2375").Failures); f > most.Load() {
			most.Store(f)
		}
		return pe.pings.Load() >= 30
	})
	if n := c.Node("a:2375"); n.Health != model.Healthy || disconnects(c) != 0 {
		t.Fatalf("node a is %v (%d disconnects); no three probes in a row failed", n.Health, disconnects(c))
	}
	if most.Load() == 0 || most.Load() > 2 {
		t.Fatalf("the failure count reached %d; want 1 or 2, reset by each answered probe", most.Load())
	}
}

func TestFailedProbesInARowMakeTheNodeUnhealthy(t *testing.T) {
	var down atomic.Bool
	c, _ := probedSim(t, fast(), func(int64) bool { return down.Load() })
	down.Store(true)
	waitFor(t, 3*time.Second, "a unhealthy", func() bool { return health(c, "a:2375") == model.Unhealthy })
	if n := c.Node("a:2375"); n.Failures < 3 {
		t.Fatalf("unhealthy after %d failed probes; want 3 in a row", n.Failures)
	}
	down.Store(false)
	waitFor(t, 3*time.Second, "a healthy again", func() bool { return health(c, "a:2375") == model.Healthy })
}

func TestAUserCallOnANodeThatTurnsUnhealthyEndsAtOnce(t *testing.T) {
	var down atomic.Bool
	c, pe := probedSim(t, fast(), func(int64) bool { return down.Load() })
	pe.fail(nil, true) // the stop hangs, as on a stopped dockerd
	done := make(chan error, 1)
	go func() { done <- c.Stop(context.Background(), "web", time.Hour) }()
	down.Store(true)
	err := <-done
	if !errors.Is(err, ErrNodeDown) {
		t.Fatalf("the stop ended with %v; want the node's failure", err)
	}
}

// removedAfterListing is an engine whose first listing is already stale:
// the container named victim is removed right after it was listed, as a
// primary removes a stale copy while another manager connects.
type removedAfterListing struct {
	Engine
	victim string
	done   bool
}

func (r *removedAfterListing) Containers(ctx context.Context) ([]*model.Container, error) {
	cs, err := r.Engine.Containers(ctx)
	if err == nil && !r.done {
		r.done = true
		for _, ct := range cs {
			if ct.Name == r.victim {
				r.Engine.Remove(ctx, ct.ID, true)
			}
		}
	}
	return cs, err
}

// TestAChangeBetweenListingAndEventsIsNotMissed: a manager that connects
// to an engine lists its containers and follows its events; a container
// removed between the two must not stay in its view (and its reservation
// on the node's CPUs) until the next full refresh, half a minute later.
func TestAChangeBetweenListingAndEventsIsNotMissed(t *testing.T) {
	stale := running("stale", true)
	stale.CPUs = model.CPUs(1)
	keep := running("keep", false)
	keep.CPUs = model.CPUs(1)
	src := SimSource("test", []*model.Node{simNode("a", 2, 8<<30, nil, stale, keep)})
	sim := src.NewEngine
	src.NewEngine = func(e Entry) (Engine, error) {
		eng, err := sim(e)
		return &removedAfterListing{Engine: eng, victim: "stale"}, err
	}
	opts := fast()
	opts.RefreshMin, opts.RefreshMax = time.Hour, time.Hour // only the events can tell
	c := startSim(t, src, opts)
	waitFor(t, 2*time.Second, "a healthy", allHealthy(c, 1))
	waitFor(t, 2*time.Second, "the removed container gone from the view and from the node's reservation", func() bool {
		n := c.Node("a:2375")
		if n == nil {
			return false
		}
		cpus, _ := n.Reserved()
		return cpus == model.CPUs(1) && len(n.Containers) == 1 && n.Containers[0].Name == "keep"
	})
}

// stuckPing is an engine whose pings, once stuck, answer nothing until
// their context ends (a real engine stopped by kill -STOP). It has no
// PingNow, so the wheel cannot ping it in place.
type stuckPing struct {
	Engine
	stuck atomic.Bool
}

func (s *stuckPing) Ping(ctx context.Context) error {
	if s.stuck.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Engine.Ping(ctx)
}

// refusing is a simulated engine whose pings, once down, are refused
// while its event stream stays open: only heartbeats can notice. It
// keeps the simulated engine's PingNow (pinged in place by the wheel).
type refusing struct {
	*SimEngine
	down atomic.Bool
}

func (r *refusing) Ping(ctx context.Context) error {
	if r.down.Load() {
		return fmt.Errorf("ping: %w", syscall.ECONNREFUSED)
	}
	return r.SimEngine.Ping(ctx)
}

func (r *refusing) PingNow() (bool, error) {
	if r.down.Load() {
		return true, fmt.Errorf("ping: %w", syscall.ECONNREFUSED)
	}
	return r.SimEngine.PingNow()
}

// TestAHungEngineNeverDelaysTheOthersHeartbeats: the heartbeats of every
// engine come from one timer; an engine whose ping hangs (for an hour
// here: the probe timeout) must not hold it. Another node that stops
// answering pings meanwhile (its event stream stays open, so only its
// heartbeats can tell) is still flagged, and the healthy ones stay
// Healthy with no failure counted.
func TestAHungEngineNeverDelaysTheOthersHeartbeats(t *testing.T) {
	for _, tt := range []struct {
		name string
		hang func(src *Source, stuck *stuckPing)
	}{
		{"a simulated engine that hangs", func(src *Source, _ *stuckPing) { src.Sim("hung:2375").Hang() }},
		{"an engine pinged by its monitor whose ping hangs", func(_ *Source, stuck *stuckPing) { stuck.stuck.Store(true) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var nodes []*model.Node
			for _, name := range []string{"a", "b", "hung", "dies", "c", "d"} {
				nodes = append(nodes, simNode(name, 4, 8<<30, nil, running(name+"-web", false)))
			}
			src := SimSource("test", nodes)
			sim := src.NewEngine
			stuck, dies := &stuckPing{}, &refusing{}
			src.NewEngine = func(e Entry) (Engine, error) {
				eng, err := sim(e)
				switch {
				case err != nil:
				case e.Addr == "dies:2375":
					dies.SimEngine = eng.(*SimEngine)
					return dies, nil
				case e.Addr == "hung:2375" && tt.name != "a simulated engine that hangs":
					stuck.Engine = eng
					return stuck, nil
				}
				return eng, err
			}
			opts := fast()
			opts.Heartbeat = 100 * time.Millisecond // five slots on the wheel
			opts.ProbeTimeout = time.Hour
			c := startSim(t, src, opts)
			waitFor(t, 5*time.Second, "nodes healthy", allHealthy(c, len(nodes)))
			tt.hang(src, stuck)
			time.Sleep(3 * opts.Heartbeat) // the hung engine's ping is under way
			dies.down.Store(true)
			waitFor(t, 10*time.Second, "the node whose pings are refused flagged while another engine hangs", func() bool {
				return health(c, "dies:2375") == model.Unhealthy
			})
			for _, addr := range []string{"a:2375", "b:2375", "c:2375", "d:2375"} {
				if n := c.Node(addr); n.Health != model.Healthy || n.Failures != 0 {
					t.Errorf("%s is %v with %d failures; its engine answers", addr, n.Health, n.Failures)
				}
			}
		})
	}
}

// deaf is an engine whose event stream stays open and says nothing: only
// the periodic full refresh can tell the manager what changed.
type deaf struct{ Engine }

func (deaf) Events(context.Context) (<-chan EngineEvent, <-chan error) {
	return make(chan EngineEvent), make(chan error)
}

// TestThePeriodicRefreshFindsWhatTheEventsMissed: the wheel starts every
// engine's full refresh. One that finds nothing new still moves the
// node's UpdatedAt on (docker info shows it) and keeps its containers;
// one that finds a container the events never told of shows it.
func TestThePeriodicRefreshFindsWhatTheEventsMissed(t *testing.T) {
	a := simNode("a", 4, 8<<30, nil, running("web", false), running("db", false))
	a.Images = []model.Image{{ID: "sha256:busybox", RepoTags: []string{"busybox:latest"}}}
	src := SimSource("test", []*model.Node{a})
	sim := src.NewEngine
	src.NewEngine = func(e Entry) (Engine, error) {
		eng, err := sim(e)
		return deaf{eng}, err
	}
	opts := fast()
	opts.RefreshMin, opts.RefreshMax = 100*time.Millisecond, 200*time.Millisecond
	c := startSim(t, src, opts)
	waitFor(t, 2*time.Second, "a healthy", allHealthy(c, 1))
	first := c.Node("a:2375")
	waitFor(t, 5*time.Second, "UpdatedAt moved on by a refresh", func() bool { return c.Node("a:2375").Updated.After(first.Updated) })
	if now := c.Node("a:2375"); !slices.Equal(now.Containers, first.Containers) {
		t.Fatalf("a refresh that found nothing new changed the containers: %v, was %v", describeAll(now.Containers), describeAll(first.Containers))
	}
	if _, err := src.Sim("a:2375").Create(context.Background(), CreateSpec{Config: model.Config{Name: "late", Image: "busybox"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the container created behind the manager's back shown", func() bool {
		return slices.ContainsFunc(c.Node("a:2375").Containers, func(ct *model.Container) bool { return ct.Name == "late" })
	})
}
