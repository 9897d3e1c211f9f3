package soak

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// faults injects random faults, one at a time per part (an engine, a
// manager, Consul), each healed after a while, until its context ends;
// then it heals whatever is still broken.
type faults struct {
	r  *run
	wg sync.WaitGroup
	mu sync.Mutex
	// busy parts: "engine", "manager", "consul"
	busy map[string]bool
}

func newFaults(r *run) *faults { return &faults{r: r, busy: map[string]bool{}} }

// part is what a fault breaks: faults of one part never overlap.
func part(fault string) string {
	switch fault {
	case FaultKillEngine, FaultHangEngine:
		return "engine"
	case FaultKillPrimary, FaultKillReplica:
		return "manager"
	}
	return "consul"
}

// run starts a fault every 3–8 s on a part that is not broken already.
// Heals run to their end even after ctx ends: run returns when all
// faults are healed.
func (f *faults) run(ctx context.Context) {
	var kinds []string
	for _, k := range f.r.cfg.Faults {
		if k == FaultSlowStop || (k == FaultKillReplica && f.r.cfg.Managers < 2) {
			continue // slow stops are the load's
		}
		kinds = append(kinds, k)
	}
	for len(kinds) > 0 && sleep(ctx, f.r.rng.between(3*time.Second, 8*time.Second)) {
		kind := pick(f.r.rng, kinds)
		p := part(kind)
		f.mu.Lock()
		if f.busy[p] {
			f.mu.Unlock()
			continue
		}
		f.busy[p] = true
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.inject(ctx, kind)
			f.mu.Lock()
			f.busy[p] = false
			f.mu.Unlock()
		}()
	}
	f.wg.Wait()
}

// inject breaks one part and heals it; the break lasts a random time, cut
// short when ctx ends.
func (f *faults) inject(ctx context.Context, kind string) {
	r := f.r
	heal := context.WithoutCancel(ctx)
	switch kind {
	case FaultKillEngine:
		e := pick(r.rng, r.engines)
		f.killEngine(ctx, heal, e)
	case FaultHangEngine:
		e := pick(r.rng, r.engines)
		f.hangEngine(ctx, e, r.rng.between(time.Second, 20*time.Second))
	case FaultKillPrimary, FaultKillReplica:
		m := f.managerWithRole(heal, kind == FaultKillPrimary)
		if m == nil {
			return
		}
		r.h.Add(Record{Kind: KindFault, Fault: kind, Target: m.name})
		m.kill(syscall.SIGKILL)
		sleep(ctx, r.rng.between(2*time.Second, 10*time.Second))
		start := time.Now()
		m.start(heal)
		r.h.Add(Record{Kind: KindHeal, Fault: kind, Target: m.name, Message: fmt.Sprintf("restarted, answering after %s", time.Since(start).Round(time.Millisecond))})
	case FaultRestartConsul:
		r.h.Add(Record{Kind: KindFault, Fault: kind, Target: r.cfg.Consul})
		if err := script(heal, r.cfg.Scripts, f.consulEnv(), "consul.sh", "kill"); err != nil {
			r.h.Add(Record{Kind: KindNote, Message: "consul kill failed", Err: err.Error()})
		}
		sleep(ctx, r.rng.between(time.Second, 8*time.Second))
		for {
			err := script(heal, r.cfg.Scripts, f.consulEnv(), "consul.sh", "revive")
			if err == nil {
				break
			}
			r.h.Add(Record{Kind: KindNote, Message: "consul revive failed, again", Err: err.Error()})
			script(heal, r.cfg.Scripts, f.consulEnv(), "consul.sh", "kill")
			sleep(heal, time.Second)
		}
		r.h.Add(Record{Kind: KindHeal, Fault: kind, Target: r.cfg.Consul})
	}
}

// managerWithRole finds the up manager that says it is the primary (or a
// replica); nil when there is none or the other manager is not up.
func (f *faults) managerWithRole(ctx context.Context, primary bool) *proc {
	live := f.r.liveManagers()
	if len(live) < len(f.r.managers) {
		return nil
	}
	for _, m := range live {
		ictx, cancel := context.WithTimeout(ctx, 3*time.Second)
		role, _, err := m.api.info(ictx)
		cancel()
		if err == nil && (role == "primary") == primary {
			return m
		}
	}
	return nil
}

// killEngine kill -9s a dockerd, follows its containers with the policy
// to other engines, and revives it after 3–15 s.
func (f *faults) killEngine(ctx, heal context.Context, e *docker) {
	r := f.r
	i := r.engineIndex(e.addr)
	var keys []string
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	cs, err := e.list(lctx)
	cancel()
	if err != nil {
		return // not answering: another fault will come
	}
	for _, c := range cs {
		if c.State == "running" && c.Key != "" && r.load.policy(c.Key) {
			keys = append(keys, c.Key)
		}
	}
	r.h.Add(Record{Kind: KindFault, Fault: FaultKillEngine, Target: e.addr, Message: fmt.Sprintf("node-%d, running %d containers with the policy", i, len(keys))})
	killed := time.Now()
	if err := script(heal, r.cfg.Scripts, f.bedEnv(), "testbed.sh", "kill", strconv.Itoa(i)); err != nil {
		r.h.Add(Record{Kind: KindNote, Engine: e.addr, Message: "kill failed", Err: err.Error()})
		return
	}
	f.wg.Add(1)
	go func() { defer f.wg.Done(); r.trackMoves(heal, e.addr, killed, keys) }()
	sleep(ctx, r.rng.between(3*time.Second, 15*time.Second))
	f.revive(heal, e, i)
}

// revive starts a killed dockerd again and waits until it answers (it
// first stops the containers it finds: 12–15 s).
func (f *faults) revive(ctx context.Context, e *docker, i int) {
	r := f.r
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := script(ctx, r.cfg.Scripts, f.bedEnv(), "testbed.sh", "revive", strconv.Itoa(i))
		if err == nil || f.answers(ctx, e, time.Minute) {
			break
		}
		r.h.Add(Record{Kind: KindNote, Engine: e.addr, Message: fmt.Sprintf("revive attempt %d failed", attempt), Err: err.Error()})
		if pid := f.pid(i); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL) // hung in its start: start it again
		}
		sleep(ctx, time.Second)
	}
	r.h.Add(Record{Kind: KindHeal, Fault: FaultKillEngine, Target: e.addr, Message: fmt.Sprintf("node-%d answers after %s", i, time.Since(start).Round(time.Millisecond))})
}

// answers waits up to within for an engine's /_ping.
func (f *faults) answers(ctx context.Context, e *docker, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := e.ping(pctx)
		cancel()
		if err == nil {
			return true
		}
		sleep(ctx, 500*time.Millisecond)
	}
	return false
}

// hangEngine stops a dockerd (SIGSTOP) for d, then lets it go on.
func (f *faults) hangEngine(ctx context.Context, e *docker, d time.Duration) {
	r := f.r
	i := r.engineIndex(e.addr)
	pid := f.pid(i)
	if pid <= 0 {
		return
	}
	r.h.Add(Record{Kind: KindFault, Fault: FaultHangEngine, Target: e.addr, Message: fmt.Sprintf("node-%d (pid %d) stopped for %s", i, pid, d.Round(time.Millisecond))})
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		r.h.Add(Record{Kind: KindNote, Engine: e.addr, Message: "SIGSTOP failed", Err: err.Error()})
		return
	}
	start := time.Now()
	sleep(ctx, d)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		r.h.Add(Record{Kind: KindNote, Engine: e.addr, Message: "SIGCONT failed", Err: err.Error()})
	}
	r.h.Add(Record{Kind: KindHeal, Fault: FaultHangEngine, Target: e.addr, Message: fmt.Sprintf("node-%d continued after %s", i, time.Since(start).Round(time.Millisecond))})
}

// pid is node-I's dockerd pid, from its pid file; 0 if none.
func (f *faults) pid(i int) int {
	b, err := os.ReadFile(filepath.Join(f.r.cfg.BedDir, fmt.Sprintf("node-%d", i), "pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// bedEnv is what testbed.sh needs to find the bed: its folder and base
// port (TESTBED_SLOT comes from the soak's environment).
func (f *faults) bedEnv() []string {
	_, port, _ := net.SplitHostPort(f.r.cfg.Engines[0])
	p, _ := strconv.Atoi(port)
	return []string{"DIR=" + f.r.cfg.BedDir, "BASEPORT=" + strconv.Itoa(p-1)}
}

// consulEnv is what consul.sh needs to find the agent.
func (f *faults) consulEnv() []string {
	_, port, _ := net.SplitHostPort(f.r.cfg.Consul)
	return []string{"CONSUL_DIR=" + f.r.cfg.ConsulDir, "CONSUL_PORT=" + port}
}
