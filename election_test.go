package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	consul "github.com/hashicorp/consul/api"

	"swarmdeck/backend"
)

// consulSignal sends sig to the test bed's Consul agent (scripts/consul.sh
// keeps its pid), and undoes a STOP when the test ends.
func (cb *consulBed) consulSignal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cb.dir, "pid"))
	if err != nil {
		t.Fatalf("the Consul agent's pid: %v", err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("signal %v to Consul (%d): %v", sig, pid, err)
	}
	if sig == syscall.SIGSTOP {
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	}
}

// registered reports whether addr is registered in the test's prefix.
func (cb *consulBed) registered(t *testing.T, addr string) bool {
	src, err := backend.OpenKV(cb.url(), nil, backend.KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	es, err := src.Registry.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Addr == addr {
			return true
		}
	}
	return false
}

// stopped sends SIGTERM to cmd and waits at most within for it to exit.
func stopped(t *testing.T, cmd *exec.Cmd, within time.Duration) (time.Duration, error) {
	t.Helper()
	began := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		return time.Since(began), err
	case <-time.After(within):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not stop within %s of SIGTERM", strings.Join(cmd.Args, " "), within)
	}
	return 0, nil
}

func TestJoinDeregistersOnSIGTERMAndSaysSoOnlyWhenItDid(t *testing.T) {
	cb := requireConsul(t)
	for _, tt := range []struct {
		name   string
		hang   bool
		within time.Duration
	}{
		{"Consul answers: deregistered", false, 5 * time.Second},
		{"Consul hangs (kill -STOP): stops anyway, within 5 s, and says it could not deregister", true, 5 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// An address of its own: an earlier test's join may still hold
			// cb.nodes[0] in the prefix until its TTL runs out.
			addr := fmt.Sprintf("127.0.0.1:%d", 40000+rand.IntN(20000))
			var out, errOut bytes.Buffer
			cmd := exec.Command(cb.bin, "join", "--advertise", addr, "--heartbeat", "1s", "--ttl", "10s", cb.url())
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			eventually(t, 5*time.Second, "the engine registered", func() bool { return cb.registered(t, addr) })
			if tt.hang {
				cb.consulSignal(t, syscall.SIGSTOP)
				time.Sleep(1500 * time.Millisecond) // a renewal is now waiting on the hung Consul
			}
			took, err := stopped(t, cmd, tt.within)
			t.Logf("join stopped %s after SIGTERM: %v\nstdout: %s\nstderr: %s", took.Round(time.Millisecond), err, out.String(), errOut.String())
			said := strings.Contains(out.String(), "deregistered "+addr)
			if tt.hang {
				if said || err == nil || !strings.Contains(errOut.String(), "cannot deregister "+addr) {
					t.Fatalf("with Consul hung, join exited with %v and said %q / %q", err, out.String(), errOut.String())
				}
				cb.consulSignal(t, syscall.SIGCONT)
				return
			}
			if !said || err != nil || cb.registered(t, addr) {
				t.Fatalf("join exited with %v, said %q, and the engine is registered: %v", err, out.String(), cb.registered(t, addr))
			}
		})
	}
}

// TestAManagerThatStopsResignsAndTheReplicaTakesOverAtOnce: SIGTERM to
// the primary makes it release the lock before it exits, so the replica
// is primary within a few seconds, not after the replication TTL.
func TestAManagerThatStopsResignsAndTheReplicaTakesOverAtOnce(t *testing.T) {
	cb := requireConsul(t)
	ports := []int{freePort(t), freePort(t)}
	api := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	manager := func(i int) *exec.Cmd {
		return cb.start(t, "manage", "--headless", "--replication", "--replication-ttl", "60s",
			"--advertise", api(i), "-H", "tcp://"+api(i), cb.url())
	}
	info := func(i int) string {
		out, _ := exec.Command("docker", "-H", "tcp://"+api(i), "info").CombinedOutput()
		return string(out)
	}
	first := manager(0)
	eventually(t, 15*time.Second, "the first manager primary", func() bool { return strings.Contains(info(0), "Role: primary") })
	manager(1)
	eventually(t, 15*time.Second, "the second a replica naming the first", func() bool {
		s := info(1)
		return strings.Contains(s, "Role: replica") && strings.Contains(s, "Primary: "+api(0))
	})
	took, _ := stopped(t, first, 10*time.Second)
	over := eventually(t, 5*time.Second, "the replica primary (the TTL is 60 s: only a resignation explains it)", func() bool {
		return strings.Contains(info(1), "Role: primary")
	})
	t.Logf("MEASURE the primary stopped %s after SIGTERM; the replica was primary %s later", took.Round(time.Millisecond), over.Round(time.Millisecond))
}

// TestTheElectionNeverShowsTwoPrimaries runs three contestants in
// process on the real Consul. Each one's role is owned by one goroutine:
// its onChange calls never overlap, at no moment do two contestants
// believe they are primary, and every replica names the current primary.
// Contestants stop (resigning) and start again over several rounds.
func TestTheElectionNeverShowsTwoPrimaries(t *testing.T) {
	cb := requireConsul(t)
	src, err := backend.OpenKV(cb.url(), nil, backend.KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type contestant struct {
		addr    string
		cancel  context.CancelFunc
		done    chan struct{}
		inCall  bool
		primary bool
		leader  string
	}
	var mu sync.Mutex
	cs := make([]*contestant, 3)
	var violations []string
	check := func() { // mu is held
		primaries := []string{}
		for _, c := range cs {
			if c != nil && c.done != nil && c.primary {
				primaries = append(primaries, c.addr)
			}
		}
		if len(primaries) > 1 {
			violations = append(violations, fmt.Sprintf("two primaries at once: %v", primaries))
		}
	}
	start := func(i int) {
		c := &contestant{addr: fmt.Sprintf("10.0.0.%d:2375", i+1), done: make(chan struct{})}
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel = cancel
		mu.Lock()
		cs[i] = c
		mu.Unlock()
		go func() {
			defer close(c.done)
			src.Elector.Election(ctx, c.addr, 20*time.Second, func(primary bool, leader string) {
				mu.Lock()
				defer mu.Unlock()
				if c.inCall {
					violations = append(violations, c.addr+": two onChange calls at once")
				}
				c.inCall = true
				c.primary, c.leader = primary, leader
				check()
				c.inCall = false
			})
			mu.Lock()
			c.primary = false // resigned
			mu.Unlock()
		}()
	}
	settled := func() string { // the primary, once everyone agrees on it
		var p string
		eventually(t, 15*time.Second, "one primary that every contestant names", func() bool {
			mu.Lock()
			defer mu.Unlock()
			p = ""
			for _, c := range cs {
				if c.primary {
					p = c.addr
				}
			}
			for _, c := range cs {
				if p == "" || c.leader != p {
					return false
				}
			}
			return true
		})
		return p
	}
	for i := range cs {
		start(i)
	}
	t.Cleanup(func() {
		for _, c := range cs {
			c.cancel()
			<-c.done
		}
	})
	for round := range 4 {
		p := settled()
		i := 0
		for i = range cs {
			if cs[i].addr == p {
				break
			}
		}
		began := time.Now()
		cs[i].cancel()
		<-cs[i].done
		t.Logf("round %d: %s resigned in %s", round+1, p, time.Since(began).Round(time.Millisecond))
		start(i)
	}
	settled()
	mu.Lock()
	defer mu.Unlock()
	if len(violations) > 0 {
		t.Fatalf("%d violations: %v", len(violations), violations)
	}
}

// TestAManagerRestartedOnItsAddressTakesOverItsOldLock: a primary killed
// with -9 and started again on the same address finds the key still held
// by its dead run's session. It must never name itself as a primary it
// would forward to, and must not leave the cluster without a primary until
// that session expires (up to twice its TTL, and a Consul restart renews
// it): it ends its dead run's session and leads at once.
func TestAManagerRestartedOnItsAddressTakesOverItsOldLock(t *testing.T) {
	cb := requireConsul(t)
	cfg := consul.DefaultConfig()
	cfg.Address = cb.consul
	cl, err := consul.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	self, key := "10.0.0.9:2375", cb.prefix+"/docker/swarm/leader"
	old, _, err := cl.Session().Create(&consul.SessionEntry{TTL: "10s", Behavior: consul.SessionBehaviorRelease, LockDelay: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := cl.KV().Acquire(&consul.KVPair{Key: key, Value: []byte(self), Session: old, Flags: consul.LockFlagValue}, nil); err != nil || !ok {
		t.Fatalf("the dead run's lock: %v %v", ok, err)
	}
	src, err := backend.OpenKV(cb.url(), nil, backend.KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var roles []string
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		src.Elector.Election(ctx, self, 20*time.Second, func(primary bool, leader string) {
			mu.Lock()
			defer mu.Unlock()
			roles = append(roles, fmt.Sprintf("%v %q", primary, leader))
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	began := time.Now()
	eventually(t, 5*time.Second, "primary long before the old session's 10 s TTL", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(roles) > 0 && roles[len(roles)-1] == fmt.Sprintf("true %q", self)
	})
	t.Logf("primary %s after its restart", time.Since(began).Round(time.Millisecond))
	mu.Lock()
	defer mu.Unlock()
	for _, r := range roles {
		if r == fmt.Sprintf("false %q", self) {
			t.Fatalf("the restarted manager named itself as the primary it forwards to: %v", roles)
		}
	}
	if info, _, err := cl.Session().Info(old, nil); err != nil || info != nil {
		t.Fatalf("the dead run's session still exists (%v)", err)
	}
}
