package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Labels the soak puts on every container it creates.
const (
	labelRun = "swarmdeck.soak"     // the run's ID
	labelKey = "swarmdeck.soak.key" // the container's key (its name)
)

// Config is one soak run.
type Config struct {
	Duration  time.Duration // of load and faults
	Engines   []string      // host:port of node-1..node-N of the test bed
	BedDir    string        // the test bed's DIR (node-I/pid)
	Scripts   string        // the project's scripts/ folder
	Consul    string        // host:port
	ConsulDir string        // the Consul's data folder, for consul.sh kill and revive
	Bin       string        // the swarmdeck binary
	Managers  int           // 1, or 2 replicated
	Workers   int           // load workers
	Live      int           // containers the load keeps, about
	Faults    []string      // fault kinds to inject (default: all)
	Seed      uint64
	WorkDir   string // history, manager and agent logs
	Keep      bool   // leave the soak's containers on the engines
}

// AllFaults is every fault kind, the default.
var AllFaults = []string{FaultKillEngine, FaultHangEngine, FaultSlowStop, FaultKillPrimary, FaultKillReplica, FaultRestartConsul}

// run is the state of one soak.
type run struct {
	cfg      Config
	id       string
	h        *History
	rng      *lockedRand
	engines  []*docker
	managers []*proc
	joins    []*proc
	load     *load
	faults   *faults
}

// Run runs a soak and writes its history to WorkDir/history.jsonl; it
// returns the history's path. Errors are the soak's own (a script that
// failed, a bed that is not there), never the cluster's: those are for
// Check.
func Run(ctx context.Context, cfg Config) (string, error) {
	if len(cfg.Engines) < 2 {
		return "", fmt.Errorf("the soak needs at least 2 engines, got %d", len(cfg.Engines))
	}
	if cfg.Managers < 1 || cfg.Managers > 2 {
		return "", fmt.Errorf("--managers must be 1 or 2, not %d", cfg.Managers)
	}
	if len(cfg.Faults) == 0 {
		cfg.Faults = AllFaults
	}
	for _, f := range cfg.Faults {
		if !slices.Contains(AllFaults, f) {
			return "", fmt.Errorf("unknown fault %q (known: %s)", f, strings.Join(AllFaults, ", "))
		}
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(cfg.WorkDir, "history.jsonl")
	h, err := CreateHistory(path)
	if err != nil {
		return "", err
	}
	r := &run{cfg: cfg, id: fmt.Sprintf("soak%d", time.Now().UnixNano()), h: h, rng: newRand(cfg.Seed)}
	for _, e := range cfg.Engines {
		r.engines = append(r.engines, newDocker(e))
	}
	err = r.run(ctx)
	if cerr := h.Close(); err == nil {
		err = cerr
	}
	return path, err
}

func (r *run) run(ctx context.Context) error {
	r.h.Add(Record{Kind: KindPhase, Phase: "start", Message: fmt.Sprintf("run %s: %d engines, %d managers, %s, faults %s, seed %d",
		r.id, len(r.engines), r.cfg.Managers, r.cfg.Duration, strings.Join(r.cfg.Faults, ","), r.cfg.Seed)})
	if err := r.cleanEngines(ctx); err != nil {
		return err
	}
	observeCtx, stopObserving := context.WithCancel(context.WithoutCancel(ctx))
	var observers sync.WaitGroup
	defer func() { stopObserving(); observers.Wait() }()
	for _, e := range r.engines {
		observers.Add(1)
		go func() { defer observers.Done(); r.probe(observeCtx, e) }()
	}
	if err := r.startProcs(ctx); err != nil {
		return err
	}
	defer r.stopProcs()
	for _, m := range r.managers {
		observers.Add(3)
		go func() { defer observers.Done(); r.sample(observeCtx, m) }()
		go func() { defer observers.Done(); r.follow(observeCtx, m) }()
		go func() { defer observers.Done(); m.supervise(observeCtx) }()
	}
	for _, j := range r.joins {
		observers.Add(1)
		go func() { defer observers.Done(); j.supervise(observeCtx) }()
	}
	if err := r.waitHealthy(ctx, 60*time.Second); err != nil {
		return fmt.Errorf("the cluster never came up: %w", err)
	}

	faultCtx, stopFaults := context.WithTimeout(ctx, r.cfg.Duration)
	defer stopFaults()
	r.load = newLoad(r)
	r.faults = newFaults(r)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.load.run(faultCtx) }()
	go func() { defer wg.Done(); r.faults.run(faultCtx) }()
	wg.Wait()
	r.h.Add(Record{Kind: KindPhase, Phase: "faults_end"})
	if ctx.Err() != nil {
		return ctx.Err()
	}

	phase, healed := r.heal(ctx, 3*time.Minute)
	r.h.Add(Record{Kind: KindPhase, Phase: phase, Message: healed})
	r.observeFinal(ctx)
	r.h.Add(Record{Kind: KindPhase, Phase: "final"})
	r.stopProcs() // before cleaning, or a primary moves what is removed
	r.races()
	if !r.cfg.Keep {
		r.cleanEngines(context.WithoutCancel(ctx))
	}
	return nil
}

// startProcs starts a join agent per engine and the managers.
func (r *run) startProcs(ctx context.Context) error {
	disc := "consul://" + r.cfg.Consul + "/" + r.id
	for i, e := range r.cfg.Engines {
		j := &proc{name: "join " + e, bin: r.cfg.Bin, h: r.h, log: filepath.Join(r.cfg.WorkDir, fmt.Sprintf("join-%d.log", i+1)),
			args: []string{"join", "--advertise", e, "--heartbeat", "1s", "--ttl", "10s", disc}}
		j.start(ctx)
		r.joins = append(r.joins, j)
	}
	for i := range r.cfg.Managers {
		addr, err := freePort()
		if err != nil {
			return err
		}
		args := []string{"manage", "--headless", "-H", "tcp://" + addr, "--log-file", filepath.Join(r.cfg.WorkDir, fmt.Sprintf("manager-%d.slog", i+1))}
		if r.cfg.Managers > 1 {
			args = append(args, "--replication", "--replication-ttl", "10s", "--advertise", addr)
		}
		m := &proc{name: addr, api: newDocker(addr), bin: r.cfg.Bin, h: r.h, manager: true, log: filepath.Join(r.cfg.WorkDir, fmt.Sprintf("manager-%d.log", i+1)),
			args: append(args, disc)}
		m.start(ctx)
		r.managers = append(r.managers, m)
	}
	return ctx.Err()
}

func (r *run) stopProcs() {
	for _, p := range append(slices.Clone(r.managers), r.joins...) {
		p.kill(syscall.SIGTERM)
	}
}

// races records each data race a process built with -race reported in
// its log.
func (r *run) races() {
	for _, p := range append(slices.Clone(r.managers), r.joins...) {
		b, err := os.ReadFile(p.log)
		if err != nil {
			continue
		}
		if i := strings.Index(string(b), "WARNING: DATA RACE"); i >= 0 {
			excerpt := string(b[i:min(len(b), i+3000)])
			r.h.Add(Record{Kind: KindManager, Manager: p.name, Action: "race", Message: p.log + ": " + excerpt})
		}
	}
}

// liveManagers are the managers that answer, in order.
func (r *run) liveManagers() []*proc {
	var out []*proc
	for _, m := range r.managers {
		if m.up() {
			out = append(out, m)
		}
	}
	return out
}

// waitHealthy waits until every manager answers and lists every engine
// Healthy.
func (r *run) waitHealthy(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	var why error
	for time.Now().Before(deadline) {
		if why = r.allHealthy(ctx); why == nil {
			return nil
		}
		if !sleep(ctx, 500*time.Millisecond) {
			return ctx.Err()
		}
	}
	return why
}

func (r *run) allHealthy(ctx context.Context) error {
	primaries := 0
	for _, m := range r.managers {
		if !m.up() {
			return fmt.Errorf("manager %s is not up", m.name)
		}
		ictx, cancel := context.WithTimeout(ctx, 3*time.Second)
		role, nodes, err := m.api.info(ictx)
		cancel()
		if err != nil {
			return fmt.Errorf("manager %s: %w", m.name, err)
		}
		if role == "primary" {
			primaries++
		}
		for _, e := range r.cfg.Engines {
			i := slices.IndexFunc(nodes, func(n NodeSample) bool { return n.Addr == e })
			if i < 0 || nodes[i].Status != "Healthy" {
				return fmt.Errorf("manager %s does not list %s Healthy", m.name, e)
			}
		}
	}
	if primaries != 1 {
		return fmt.Errorf("%d managers say they are primary", primaries)
	}
	return nil
}

// heal waits for the faults' heals to settle: every engine answers, every
// manager is up and sees every node Healthy with one primary, and what
// the engines hold and the managers list stays the same for 6 s. It
// returns the phase ("healed" or "not_healed") and what it saw.
func (r *run) heal(ctx context.Context, within time.Duration) (string, string) {
	start := time.Now()
	if err := r.waitHealthy(ctx, within); err != nil {
		return PhaseNotHealed, fmt.Sprintf("not healed after %s: %v", within, err)
	}
	last, stable := "", time.Time{}
	for time.Since(start) < within && ctx.Err() == nil {
		snap := r.snapshot(ctx)
		if snap != last {
			last, stable = snap, time.Now()
		} else if time.Since(stable) >= 6*time.Second {
			return PhaseHealed, fmt.Sprintf("healed and stable after %s", time.Since(start).Round(time.Second))
		}
		sleep(ctx, time.Second)
	}
	return PhaseNotHealed, fmt.Sprintf("healthy after a while, but the containers never stayed the same for 6 s within %s", within)
}

// snapshot is what the engines hold and the managers list, as text.
func (r *run) snapshot(ctx context.Context) string {
	var b strings.Builder
	for _, e := range r.engines {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cs, err := e.list(lctx)
		cancel()
		fmt.Fprintf(&b, "%s %v:", e.addr, err)
		for _, c := range cs {
			fmt.Fprintf(&b, " %s/%s", c.ID, c.State)
		}
		b.WriteByte('\n')
	}
	for _, m := range r.managers {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cs, err := m.api.list(lctx)
		cancel()
		fmt.Fprintf(&b, "%s %v:", m.name, err)
		for _, c := range cs {
			fmt.Fprintf(&b, " %s/%s", c.ID, c.State) // not Status: "Up 5 seconds" moves every second
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// observeFinal records every engine's containers, asked directly, and
// every manager's ps -a.
func (r *run) observeFinal(ctx context.Context) {
	for _, e := range r.engines {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cs, err := e.list(lctx)
		cancel()
		if err != nil {
			r.h.Add(Record{Kind: KindNote, Engine: e.addr, Message: "final listing failed", Err: err.Error()})
			continue
		}
		r.h.Add(Record{Kind: KindEngine, Engine: e.addr, Containers: cs})
	}
	for _, m := range r.managers {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cs, err := m.api.list(lctx)
		cancel()
		if err != nil {
			r.h.Add(Record{Kind: KindNote, Manager: m.name, Message: "final ps -a failed", Err: err.Error()})
			continue
		}
		r.h.Add(Record{Kind: KindPS, Manager: m.name, Containers: cs})
	}
}

// cleanEngines removes every container of an earlier soak from the
// engines, directly.
func (r *run) cleanEngines(ctx context.Context) error {
	var errs []error
	for _, e := range r.engines {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var ls []listed
		err := e.call(lctx, "GET", "/containers/json", url.Values{"all": {"1"}, "filters": {`{"label":["` + labelRun + `"]}`}}, nil, &ls)
		for _, c := range ls {
			if err == nil {
				err = e.remove(lctx, c.ID)
			}
		}
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("cleaning %s: %w", e.addr, err))
		}
	}
	return errors.Join(errs...)
}

// engineIndex is node-I's I for an engine address.
func (r *run) engineIndex(addr string) int {
	return slices.Index(r.cfg.Engines, addr) + 1
}

// lockedRand is a seeded random source for several goroutines.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newRand(seed uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, seed^0x5eed))}
}

// intn is in [0, n).
func (l *lockedRand) intn(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

// between is a duration in [a, b).
func (l *lockedRand) between(a, b time.Duration) time.Duration {
	return a + time.Duration(l.intn(int(b-a)/int(time.Millisecond)))*time.Millisecond
}

// pick chooses one of xs.
func pick[T any](l *lockedRand, xs []T) T { return xs[l.intn(len(xs))] }

// itoa is strconv.Itoa, short.
func itoa(i int) string { return strconv.Itoa(i) }
