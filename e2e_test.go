package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestConsoleEndToEndOnRealEngines runs the built binary in tmux against
// the three real dockerd of scripts/testbed.sh (scripts/test.sh starts
// them): it launches a container through the form, kills the dockerd it
// landed on, and reads the reschedule off the screen; then it pins one
// to a node, kills that node, and finds it waiting, with its reason.
func TestConsoleEndToEndOnRealEngines(t *testing.T) {
	nodes, dir := os.Getenv("SWARMDECK_TESTBED_NODES"), os.Getenv("SWARMDECK_TESTBED_DIR")
	if nodes == "" {
		if os.Getenv("SWARMDECK_REQUIRE_INTEGRATION") != "" {
			t.Fatal("SWARMDECK_TESTBED_NODES is not set: scripts/testbed.sh did not start the real dockerd this test needs")
		}
		t.Skip("needs real dockerd and tmux: run scripts/test.sh")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed for the end-to-end console test: apt-get install tmux")
	}
	addrs := strings.Split(nodes, ",")
	cleanEngines(t, addrs, dir)
	t.Cleanup(func() { cleanEngines(t, addrs, dir) })

	bin := filepath.Join(t.TempDir(), "swarmdeck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	session := fmt.Sprintf("swarmdeck-e2e-%d", os.Getpid())
	logFile := filepath.Join(t.TempDir(), "swarmdeck.log")
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50",
		fmt.Sprintf("%s manage --log-file %s nodes://%s; echo console exited with $?; sleep 30", bin, logFile, nodes))
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", session).Run() })
	screen := func() string { return tmux("capture-pane", "-p", "-t", session) }
	wait := func(within time.Duration, want ...string) string {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			s := screen()
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(s, w)
			}
			if ok {
				return s
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(logFile)
				t.Fatalf("after %s the screen lacks one of %q:\n%s\n--- log:\n%s", within, want, s, log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	keys := func(ks ...string) {
		for _, k := range ks {
			tmux("send-keys", "-t", session, k)
			time.Sleep(80 * time.Millisecond)
		}
	}
	text := func(s string) {
		tmux("send-keys", "-t", session, "-l", s)
		time.Sleep(150 * time.Millisecond)
	}

	wait(20*time.Second, "Nodes: 3/3 healthy", "node-1", "node-2", "node-3")
	keys("n")
	wait(5*time.Second, "Where it would go")
	text("busybox")
	keys("Tab")
	text("e2e-web")
	keys("Tab")
	text("sleep 600")
	keys("Tab", "Tab", "Tab", "Tab", "Tab", "Tab", "Tab") // CPUs, Memory, Ports, Network, Env, Labels → Constraints
	text("node==~node-2")
	wait(5*time.Second, "✓ e2e-web → node-2")
	keys("Tab", "Tab", "Enter", "Down", "Enter") // Affinities → Reschedule: on-node-failure
	wait(5*time.Second, "on-node-failure")
	keys("Tab", "Tab", "Tab", "Enter") // Count, On failure → Launch
	wait(15*time.Second, "node-2/e2e-web", "running", "launched 1 of 1: e2e-web")

	// Kill the dockerd of node-2: the container must move, and the screen
	// must say so.
	killed := time.Now()
	b, err := os.ReadFile(filepath.Join(dir, "node-2", "pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s := wait(15*time.Second, "Rescheduled container e2e-web from node-2 to")
	t.Logf("the reschedule showed %.1fs after kill -9", time.Since(killed).Seconds())
	keys("4")
	s = wait(5*time.Second, "Events [", "Flagging engine as unhealthy", "Rescheduled container e2e-web from node-2 to")
	keys("2")
	s = wait(5*time.Second, "/e2e-web")
	if strings.Contains(s, "node-2/e2e-web") {
		t.Fatalf("e2e-web still shown on node-2:\n%s", s)
	}

	// A container pinned to node-3 cannot move when node-3 dies: it keeps
	// its row, waiting, with why, and its details say it in full.
	// The form keeps the last launch's values: change the name and the
	// constraint only (Ctrl-U empties a field).
	keys("n")
	wait(5*time.Second, "Where it would go", "e2e-web", "on-node-failure")
	keys("Tab", "C-u")
	text("e2e-pinned")
	keys("Tab", "Tab", "Tab", "Tab", "Tab", "Tab", "Tab", "Tab", "C-u") // Command … Labels → Constraints
	text("node==node-3")
	wait(5*time.Second, "✓ e2e-pinned → node-3")
	keys("Tab", "Tab", "Tab", "Tab", "Tab", "Enter") // Affinities, Reschedule, Count, On failure → Launch
	wait(15*time.Second, "node-3/e2e-pinned", "launched 1 of 1: e2e-pinned")
	b, err = os.ReadFile(filepath.Join(dir, "node-3", "pid"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscan(string(b), &pid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wait(15*time.Second, "Waiting to reschedule: 1")
	// Its row stays in the containers view, under the node it left,
	// waiting, with the start of its reason.
	keys("2")
	rowOf := func(s, name string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, name) {
				return l
			}
		}
		return ""
	}
	s = wait(15*time.Second, "Containers [", "node-3/e2e-pinned", "waiting: Unable") // the reason comes with the first try to move it
	if row := rowOf(s, "node-3/e2e-pinned"); !strings.Contains(row, "waiting: Unable") {
		t.Fatalf("the waiting container's row does not say it waits, and why: %q\n%s", row, s)
	}
	text(":waiting")
	keys("Enter")
	s = wait(5*time.Second, "Containers [1/", "node-3/e2e-pinned", "waiting")
	if row := rowOf(s, "node-3/e2e-pinned"); !strings.Contains(row, "waiting: Unable") {
		t.Fatalf(":waiting lists the container without its reason: %q\n%s", row, s)
	}
	keys("Enter")
	s = wait(15*time.Second, "Container node-3/e2e-pinned", "waiting to be rescheduled off node-3", "Reason: Unable to find a node that satisfies")
	if !strings.Contains(strings.Join(strings.Fields(s), " "), "node==node-3") {
		t.Fatalf("the reason does not name the constraint:\n%s", s)
	}
	keys("Escape")

	keys("q")
	s = wait(10*time.Second, "console exited with 0")
	if strings.Contains(s, "Nodes: ") {
		t.Fatalf("the terminal was not restored after q:\n%s", s)
	}
}

// cleanEngines revives killed test-bed engines and removes every
// container, with the real docker CLI.
func cleanEngines(t *testing.T, addrs []string, dir string) {
	for i, addr := range addrs {
		if exec.Command("docker", "-H", "tcp://"+addr, "version").Run() != nil {
			cmd := exec.Command("scripts/testbed.sh", "revive", fmt.Sprint(i+1))
			cmd.Env = append(os.Environ(), "DIR="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("revive node-%d: %v\n%s", i+1, err, out)
			}
		}
		ids, _ := exec.Command("docker", "-H", "tcp://"+addr, "ps", "-aq").Output()
		if f := strings.Fields(string(ids)); len(f) > 0 {
			exec.Command("docker", append([]string{"-H", "tcp://" + addr, "rm", "-f"}, f...)...).Run()
		}
	}
}
