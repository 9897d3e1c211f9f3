package api

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a strings.Builder that a command writes while a test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

// TestDockerLogsFollowOnAHungNodeEndsWithWhy: `docker logs -f` through
// the manager, with both real docker CLIs, on a container of node-2 whose
// dockerd is then stopped with kill -STOP. Once node-2 is flagged the
// stream ends with an error naming the node and why (a system error frame
// of Docker's stream framing), and the CLI fails: not a bare end of
// stream, which reads as the container's own end. A TTY container's
// stream, which has no framing, is cut: the CLI fails too.
func TestDockerLogsFollowOnAHungNodeEndsWithWhy(t *testing.T) {
	rc := startOnTestbed(t)
	loop := []string{"busybox", "sh", "-c", "while true; do echo tick; sleep 0.2; done"}
	rc.must(t, clis[0], append([]string{"run", "-d", "--name", "chatty", "-e", "constraint:node==node-2"}, loop...)...)
	// A TTY's stream has no framing to carry the error: it is cut.
	rc.must(t, clis[0], append([]string{"run", "-d", "-t", "--name", "chatty-tty", "-e", "constraint:node==node-2"}, loop...)...)
	type follower struct {
		cli, name   string
		cmd         *exec.Cmd
		out, errOut *syncBuffer
		done        chan error
	}
	var fs []*follower
	for _, x := range []struct{ cli, name string }{{clis[0], "chatty"}, {clis[1], "chatty"}, {clis[0], "chatty-tty"}, {clis[1], "chatty-tty"}} {
		cli := x.cli
		f := &follower{cli: cli, name: x.name, out: &syncBuffer{}, errOut: &syncBuffer{}, done: make(chan error, 1)}
		f.cmd = exec.Command(cli, "logs", "-f", x.name)
		f.cmd.Env = append(os.Environ(), "DOCKER_HOST="+rc.host, "DOCKER_TLS_VERIFY=", "DOCKER_CONTEXT=")
		f.cmd.Stdout, f.cmd.Stderr = f.out, f.errOut
		if err := f.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { f.done <- f.cmd.Wait() }()
		t.Cleanup(func() { f.cmd.Process.Kill() })
		fs = append(fs, f)
	}
	for _, f := range fs {
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(f.out.String(), "tick"); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s logs -f showed nothing in 30 s: %q %q", f.cli, f.out.String(), f.errOut.String())
			}
		}
	}
	pid := dockerdPid(t, 2)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	for _, f := range fs {
		select {
		case err := <-f.done:
			stderr := f.errOut.String()
			t.Logf("%s logs -f %s: %v: %s", f.cli, f.name, err, stderr)
			if err == nil {
				t.Errorf("%s logs -f %s ended with success (a bare end of stream); stderr %q", f.cli, f.name, stderr)
			}
			if f.name == "chatty-tty" {
				continue
			}
			for _, want := range []string{"error from daemon in stream", "logs of chatty on node node-2 ended", "the node became unhealthy during the call"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("%s logs -f ended (%v) without %q: stderr %q", f.cli, err, want, stderr)
				}
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("%s logs -f still runs 60 s after node-2's engine hung: %q", f.cli, f.errOut.String())
		}
	}
}
