package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTheImageRunsManageAndJoinAsTheTalkDid builds the container image
// with scripts/image.sh on the test bed's first real dockerd, then runs
// from it, as the talk ran Swarm: two `join` containers that register the
// other two engines in a real Consul, and a `manage` container (no
// terminal, so headless) that finds them there; the real docker CLI then
// reads `docker info` through the containerized manager and runs a
// container through it.
func TestTheImageRunsManageAndJoinAsTheTalkDid(t *testing.T) {
	addrs := cleanTestbed(t, "SWARMDECK_TESTBED_NODES", "SWARMDECK_CONSUL")
	if len(addrs) < 3 {
		t.Fatalf("needs 3 engines, the test bed has %d", len(addrs))
	}
	consul := os.Getenv("SWARMDECK_CONSUL")
	builder := "tcp://" + addrs[0]
	docker := func(host string, args ...string) (string, error) {
		out, err := exec.Command("docker", append([]string{"-H", host}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	must := func(host string, args ...string) string {
		t.Helper()
		out, err := docker(host, args...)
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	tag := fmt.Sprintf("swarmdeck-test:%d", os.Getpid())
	build := exec.Command("scripts/image.sh", tag)
	build.Env = append(os.Environ(), "DOCKER_HOST="+builder)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("scripts/image.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { docker(builder, "rmi", "-f", tag) })
	size, _ := strconv.ParseInt(must(builder, "image", "inspect", "--format", "{{.Size}}", tag), 10, 64)
	t.Logf("image %s: %.1f MB", tag, float64(size)/1e6)
	if user := must(builder, "image", "inspect", "--format", "{{.Config.User}}", tag); user != "65532:65532" {
		t.Errorf("the image runs as %q, want the non-root 65532:65532", user)
	}
	if out := must(builder, "run", "--rm", tag, "--version"); !strings.HasPrefix(out, "swarmdeck version ") {
		t.Errorf("docker run %s --version: %q", tag, out)
	}

	prefix := fmt.Sprintf("consul://%s/swarmdeck-image-%d", consul, os.Getpid())
	for _, a := range addrs[1:3] {
		must(builder, "run", "-d", "--net", "host", tag, "join", "--advertise", a, "--heartbeat", "1s", "--ttl", "10s", prefix)
	}
	api := freeAddr(t)
	manager := must(builder, "run", "-d", "--net", "host", tag, "manage", "-H", "tcp://"+api, prefix)
	want := []string{"Nodes: 2", "node-2: " + addrs[1], "node-3: " + addrs[2], "Server Version: swarmdeck/"}
	var info string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		info, _ = docker("tcp://"+api, "info")
		ok := strings.Count(info, "└ Status: Healthy") == 2
		for _, w := range want {
			ok = ok && strings.Contains(info, w)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := docker(builder, "logs", manager)
			t.Fatalf("docker info through the containerized manager lacks %q or two healthy nodes:\n%s\n--- manager's log:\n%s", want, info, logs)
		}
	}
	if strings.Contains(info, "node-1: ") {
		t.Errorf("node-1 never joined, yet the manager lists it:\n%s", info)
	}
	must("tcp://"+api, "run", "-d", "--name", "from-the-image", "busybox", "sleep", "300")
	if where := must("tcp://"+api, "inspect", "--format", "{{.Node.Name}}", "from-the-image"); where != "node-2" && where != "node-3" {
		t.Errorf("the container went to %q, not to a joined engine", where)
	}
	if logs, _ := docker(builder, "logs", manager); !strings.Contains(logs, "running headless") {
		t.Errorf("the manager in a container without a terminal does not say it runs headless:\n%s", logs)
	}

	// docker run -it: the console on the embedded cluster, in a terminal
	// (tmux) as an operator would open it.
	session := fmt.Sprintf("swarmdeck-image-%d", os.Getpid())
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "40",
		"docker -H "+builder+" run -it --rm "+tag+"; echo console exited with $?; sleep 30").CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", session).Run() })
	screen := func(want string) string {
		t.Helper()
		var s []byte
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			s, _ = exec.Command("tmux", "capture-pane", "-p", "-t", session).Output()
			if strings.Contains(string(s), want) {
				return string(s)
			}
		}
		t.Fatalf("the console in the image never showed %q:\n%s", want, s)
		return ""
	}
	screen("Nodes [6]")
	screen("SIMULATED")
	exec.Command("tmux", "send-keys", "-t", session, "q").Run()
	screen("console exited with 0")
}
