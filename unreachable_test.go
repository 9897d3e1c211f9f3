package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer a running command writes while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestJoinAndManageKeepTryingAStoreAwayAtStart runs the built binary on
// stores nothing listens on: join and manage log (with timestamps) that
// they cannot reach the store and keep trying, as they do when it goes
// away mid-run, instead of exiting; join stopped before any registration
// says nothing was registered and exits 3, list's code for an
// unreachable store.
func TestJoinAndManageKeepTryingAStoreAwayAtStart(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "swarmdeck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, scheme := range []string{"etcd", "zk", "consul"} {
		t.Run(scheme, func(t *testing.T) {
			store := fmt.Sprintf("%s://127.0.0.1:%d/t", scheme, freePort(t))
			api := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			for _, args := range [][]string{
				{"join", "--advertise", "127.0.0.1:2375", "--heartbeat", "1s", "--ttl", "20s", store},
				{"manage", "--headless", "-H", "tcp://" + api, store},
			} {
				var out lockedBuffer
				cmd := exec.Command(bin, args...)
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				select {
				case err := <-done:
					t.Fatalf("%s exited with the store away at start: %v\n%s", args[0], err, out.String())
				case <-time.After(8 * time.Second):
				}
				log := out.String()
				if !strings.Contains(log, "cannot reach the discovery store; retrying") || !strings.Contains(log, "time=") {
					t.Errorf("%s: want a timestamped 'cannot reach the discovery store; retrying', got:\n%s", args[0], log)
				}
				cmd.Process.Signal(syscall.SIGTERM)
				var err error
				select {
				case err = <-done:
				case <-time.After(15 * time.Second):
					cmd.Process.Kill()
					t.Fatalf("%s did not stop on SIGTERM", args[0])
				}
				if args[0] != "join" {
					continue
				}
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != exitUnreachable || strings.Contains(out.String(), "deregistered") ||
					!strings.Contains(out.String(), "nothing was registered") {
					t.Errorf("join stopped before registering: %v; want exit %d saying nothing was registered, never 'deregistered':\n%s", err, exitUnreachable, out.String())
				}
			}
		})
	}
}
