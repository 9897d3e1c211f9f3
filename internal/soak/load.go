package soak

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// What a container is, as far as the load knows.
const (
	stCreated = "created"
	stRunning = "running"
	stStopped = "stopped"
	stUnknown = "unknown" // an operation of unknown outcome: the load only tries to remove it
	stRemoved = "removed"
	stNew     = "new" // being created
)

// rules are the placement rules of the load's containers: none, hard
// constraints (most satisfied by two nodes of four, one by a single
// node) and soft ones.
var rules = [][]string{
	nil, nil,
	{"constraint:zone==a"},      // node-1, node-4
	{"constraint:disk==ssd"},    // node-1, node-3
	{"constraint:disk==hdd"},    // node-2, node-4
	{"constraint:node!=node-2"}, // all but node-2
	{"constraint:node==node-3"}, // node-3 only: waits for it when it dies
	{"constraint:zone==~b"},     // soft
	{"constraint:disk==~ssd"},   // soft
	{"constraint:node==~node-4"},
}

// Reservations: CPUs in thousandths, memory in GiB. Each node has 2 CPUs
// and about 24.7 GiB, so the load runs into both.
var (
	cpuChoices = []int64{0, 0, 500, 1000}
	memChoices = []int64{0, 0, 4, 8}
)

// ctr is one container of the load.
type ctr struct {
	key    string
	policy bool
	state  string
	busy   bool
}

// load keeps about cfg.Live containers, and creates, starts, stops and
// removes them through the managers.
type load struct {
	r  *run
	mu sync.Mutex
	cs []*ctr
	n  int
}

func newLoad(r *run) *load { return &load{r: r} }

// run runs the workers and the slow stopper until ctx ends; operations
// under way finish.
func (l *load) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range l.r.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				l.step()
				sleep(ctx, l.r.rng.between(50*time.Millisecond, 400*time.Millisecond))
			}
		}()
	}
	if slices.Contains(l.r.cfg.Faults, FaultSlowStop) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sleep(ctx, l.r.rng.between(5*time.Second, 15*time.Second)) {
				if c := l.claim(func(c *ctr) bool { return c.state == stRunning }); c != nil {
					l.stop(c, 16+l.r.rng.intn(6), true)
					l.release(c)
				}
			}
		}()
	}
	wg.Wait()
}

// step does one operation: a create when there are fewer than Live
// containers, otherwise a start, stop or remove of one not busy.
func (l *load) step() {
	l.mu.Lock()
	live := 0
	for _, c := range l.cs {
		if c.state != stRemoved {
			live++
		}
	}
	l.mu.Unlock()
	if live < l.r.cfg.Live || l.r.rng.intn(10) == 0 {
		l.create()
		return
	}
	var c *ctr
	switch l.r.rng.intn(6) {
	case 0, 1:
		c = l.claim(func(c *ctr) bool { return c.state == stCreated || c.state == stStopped })
		if c != nil {
			l.start(c)
		}
	case 2, 3:
		c = l.claim(func(c *ctr) bool { return c.state == stRunning })
		if c != nil {
			l.stop(c, l.r.rng.intn(3), false)
		}
	default:
		c = l.claim(func(c *ctr) bool { return c.state != stRemoved })
		if c != nil {
			l.remove(c)
		}
	}
	if c != nil {
		l.release(c)
	}
}

// claim marks busy a random container that ok accepts.
func (l *load) claim(ok func(*ctr) bool) *ctr {
	l.mu.Lock()
	defer l.mu.Unlock()
	var cands []*ctr
	for _, c := range l.cs {
		if !c.busy && ok(c) {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	c := pick(l.r.rng, cands)
	c.busy = true
	return c
}

func (l *load) release(c *ctr) {
	l.mu.Lock()
	c.busy = false
	l.mu.Unlock()
}

// policy reports whether the container key has the reschedule policy.
func (l *load) policy(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.cs {
		if c.key == key {
			return c.policy
		}
	}
	return false
}

// manager picks a manager that answers (or any, when none does).
func (l *load) manager() *docker {
	ms := l.r.liveManagers()
	if len(ms) == 0 {
		ms = l.r.managers
	}
	return pick(l.r.rng, ms).api
}

// op runs one operation and records it; the outcome sets the
// container's state: ok to done, unknown to unknown, refused leaves it.
func (l *load) op(c *ctr, op string, timeout time.Duration, rec *Record, done string, call func(context.Context, *docker) error) {
	d := l.manager()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	start := time.Now()
	err := call(ctx, d)
	cancel()
	rec.T, rec.Kind, rec.Op, rec.Key, rec.Policy, rec.Manager = start, KindOp, op, c.key, c.policy, d.addr
	rec.Outcome, rec.Took = outcome(err), ms(time.Since(start))
	if err != nil {
		rec.Err = err.Error()
	}
	l.r.h.Add(*rec)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch rec.Outcome {
	case OutcomeOK:
		c.state = done
	case OutcomeUnknown:
		if c.state != stRemoved || op == OpCreate {
			c.state = stUnknown
		}
	case OutcomeRefused:
		// a create refused made nothing; a remove refused (404) finds
		// nothing to remove: the load leaves it (the checker still allows
		// for a copy the manager lost track of)
		if op == OpCreate || (op == OpRemove && c.state == stUnknown) {
			c.state = stRemoved
		}
	}
}

// create creates a container through a manager and, when that worked,
// starts it.
func (l *load) create() {
	rng := l.r.rng
	l.mu.Lock()
	l.n++
	c := &ctr{key: fmt.Sprintf("%s-%d", l.r.id, l.n), policy: rng.intn(2) == 0, state: stNew, busy: true}
	l.cs = append(l.cs, c)
	l.mu.Unlock()
	defer l.release(c)
	rule := pick(rng, rules)
	var body createBody
	body.Image, body.Cmd = "busybox", []string{"sleep", "100000"}
	body.Labels = map[string]string{labelRun: l.r.id, labelKey: c.key}
	body.Env = append([]string{}, rule...)
	if c.policy {
		body.Env = append(body.Env, "reschedule:on-node-failure")
	}
	switch cpu := pick(rng, cpuChoices); {
	case cpu == 1000:
		body.HostConfig.CPUShares = 1 // Swarm: -c is a number of CPUs
	case cpu > 0:
		body.HostConfig.NanoCPUs = cpu * 1e6
	}
	body.HostConfig.Memory = pick(rng, memChoices) << 30
	rec := &Record{Rule: fmt.Sprint(rule, fmt.Sprintf(" cpus=%d mem=%dG", body.HostConfig.NanoCPUs/1e6+body.HostConfig.CPUShares*1000, body.HostConfig.Memory>>30))}
	l.op(c, OpCreate, 30*time.Second, rec, stCreated, func(ctx context.Context, d *docker) error {
		id, err := d.create(ctx, c.key, body)
		rec.ID = id
		return err
	})
	l.mu.Lock()
	created := c.state == stCreated
	l.mu.Unlock()
	if created {
		l.start(c)
	}
}

func (l *load) start(c *ctr) {
	l.op(c, OpStart, 30*time.Second, &Record{}, stRunning, func(ctx context.Context, d *docker) error { return d.start(ctx, c.key) })
}

// stop stops a container with stop -t t; busybox sleep ignores SIGTERM,
// so the stop takes t seconds. A slow one is recorded as a fault too.
func (l *load) stop(c *ctr, t int, slow bool) {
	if slow {
		l.r.h.Add(Record{Kind: KindFault, Fault: FaultSlowStop, Target: c.key, Message: fmt.Sprintf("stop -t %d", t)})
	}
	l.op(c, OpStop, time.Duration(t)*time.Second+30*time.Second, &Record{Timeout: t}, stStopped,
		func(ctx context.Context, d *docker) error { return d.stop(ctx, c.key, t) })
}

func (l *load) remove(c *ctr) {
	l.op(c, OpRemove, 40*time.Second, &Record{}, stRemoved, func(ctx context.Context, d *docker) error { return d.remove(ctx, c.key) })
}
