package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReplicatedManagersAnswerAtOnceWithTheStoreFrozen freezes the real
// store (SIGSTOP) under two replicated managers: once neither can know a
// primary, both say so (no manager still names the old primary), the
// real docker CLI's `ps` and `info` answer at once from the manager's
// own view, and `run` fails at once with a clear 503 instead of waiting
// for a primary until the client gives up.
func TestReplicatedManagersAnswerAtOnceWithTheStoreFrozen(t *testing.T) {
	eachStore(t, testAnswerWithTheStoreFrozen)
}

func testAnswerWithTheStoreFrozen(t *testing.T, cb *consulBed) {
	ports := []int{freePort(t), freePort(t)}
	api := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	for i := range ports {
		cb.start(t, "manage", "--headless", "--replication", "--replication-ttl", "10s",
			"--advertise", api(i), "-H", "tcp://"+api(i), cb.url())
	}
	cb.join(t, cb.nodes[0])
	docker := func(i int, args ...string) (string, error, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		began := time.Now()
		out, err := exec.CommandContext(ctx, "docker", append([]string{"-H", "tcp://" + api(i)}, args...)...).CombinedOutput()
		return string(out), err, time.Since(began)
	}
	info := func(i int) string { s, _, _ := docker(i, "info"); return s }
	eventually(t, 20*time.Second, "one primary, one replica naming it", func() bool {
		a, b := info(0), info(1)
		return strings.Count(a+b, "Role: primary") == 1 && strings.Count(a+b, "Role: replica") == 1 &&
			strings.Count(a+b, "Primary: 127.0.0.1:") == 1 && strings.Contains(a+b, "Nodes: 1")
	})
	cb.storeSignal(t, syscall.SIGSTOP)
	eventually(t, 25*time.Second, "no manager primary nor naming a primary", func() bool {
		a, b := info(0), info(1)
		return !strings.Contains(a+b, "Role: primary") && !strings.Contains(a+b, "Primary: ")
	})
	for i := range ports {
		out, err, took := docker(i, "ps", "-a")
		if err != nil || took > 5*time.Second {
			t.Errorf("manager %d: docker ps with no primary: %v after %s\n%s", i, err, took.Round(time.Millisecond), out)
		}
		out, err, took = docker(i, "info")
		if err != nil || !strings.Contains(out, "Nodes: 1") || took > 5*time.Second {
			t.Errorf("manager %d: docker info with no primary (want its own view, Nodes: 1): %v after %s\n%s", i, err, took.Round(time.Millisecond), out)
		}
		out, err, took = docker(i, "run", "-d", "--name", "np", "busybox", "true")
		if err == nil || !strings.Contains(out, "no primary manager is elected") || took > 5*time.Second {
			t.Errorf("manager %d: docker run with no primary: want a prompt 'no primary manager is elected', got %v after %s\n%s", i, err, took.Round(time.Millisecond), out)
		}
	}
}

// storeSignal sends sig to the test bed's store (its script keeps the
// pid in its folder), and undoes a STOP when the test ends.
func (cb *consulBed) storeSignal(t *testing.T, sig syscall.Signal) { cb.consulSignal(t, sig) }
