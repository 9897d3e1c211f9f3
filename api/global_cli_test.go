package api

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"swarmdeck/model"
)

// engineNames lists name and state of every container of one engine,
// read from the engine itself ("g running").
func engineNames(t *testing.T, addr string) []string {
	t.Helper()
	out, err := exec.Command("docker", "-H", "tcp://"+addr, "ps", "-a", "--format", "{{.Names}} {{.State}}").Output()
	if err != nil {
		t.Fatalf("docker ps -a on %s: %v", addr, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if lines[0] == "" {
		return nil
	}
	slices.Sort(lines)
	return lines
}

// TestAGlobalContainerThroughTheDockerCLI runs global containers with the
// real docker CLI on three real dockerd: a create raises no failure, the
// bare name stops and starts every copy and asks for a copy where one is
// meant; a copy that cannot be made on a node is said (a WARNING of
// docker run) and leaves nothing; one that can be made nowhere fails the
// run and leaves nothing.
func TestAGlobalContainerThroughTheDockerCLI(t *testing.T) {
	rc := startOnTestbed(t)
	cli := clis[0]
	loop := []string{"busybox", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"}
	_, errOut, err := rc.docker(cli, append([]string{"run", "-d", "--name", "gl", "-e", "mode:global"}, loop...)...)
	if err != nil || strings.Contains(errOut, "WARNING") {
		t.Fatalf("docker run gl: %v\n%s", err, errOut)
	}
	for _, a := range rc.addrs {
		if got := engineNames(t, a); !slices.Equal(got, []string{"gl running"}) {
			t.Fatalf("%s holds %v; want gl running", a, got)
		}
	}
	for _, e := range rc.c.RecentEvents() {
		if e.Kind == model.EventFailure {
			t.Errorf("a global create raised a failure event: %s", e.Message)
		}
	}
	// The bare name: stop and start act on every copy.
	rc.must(t, cli, "stop", "-t", "1", "gl")
	for _, a := range rc.addrs {
		if got := engineNames(t, a); !slices.Equal(got, []string{"gl exited"}) {
			t.Fatalf("after docker stop gl, %s holds %v; want gl exited", a, got)
		}
	}
	rc.must(t, cli, "start", "gl")
	for _, a := range rc.addrs {
		if got := engineNames(t, a); !slices.Equal(got, []string{"gl running"}) {
			t.Fatalf("after docker start gl, %s holds %v; want gl running", a, got)
		}
	}
	// One copy's business (logs, inspect) names the copies to choose from.
	for _, args := range [][]string{{"logs", "gl"}, {"inspect", "gl"}} {
		_, errOut, err := rc.docker(cli, args...)
		if err == nil || !strings.Contains(errOut, "gl is a global container, one copy per node: name the copy this acts on, as NODE/gl (node-1/gl, node-2/gl, node-3/gl)") {
			t.Errorf("docker %v: %v\n%s", args, err, errOut)
		}
	}
	if out := rc.must(t, cli, "inspect", "-f", "{{.Name}} {{.State.Status}}", "node-2/gl"); strings.TrimSpace(out) != "/gl running" {
		t.Errorf("docker inspect node-2/g: %q", out)
	}

	// An image only node-1 has: node-2 and node-3 get no copy, and say so.
	if out, err := exec.Command("docker", "-H", "tcp://"+rc.addrs[0], "tag", "busybox", "sdimg-one:1").CombinedOutput(); err != nil {
		t.Fatalf("docker tag on node-1: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "-H", "tcp://"+rc.addrs[0], "rmi", "sdimg-one:1").Run() })
	_, errOut, err = rc.docker(cli, "run", "-d", "--name", "part", "-e", "mode:global", "sdimg-one:1", "sleep", "300")
	if err != nil || !strings.Contains(errOut, "WARNING: global part: no copy on node-2: ") || !strings.Contains(errOut, "WARNING: global part: no copy on node-3: ") {
		t.Fatalf("docker run part (an image on node-1 only): %v\n%s", err, errOut)
	}
	if got := engineNames(t, rc.addrs[0]); !slices.Contains(got, "part running") {
		t.Errorf("node-1 holds %v; want part running", got)
	}
	for _, a := range rc.addrs[1:] {
		if got := engineNames(t, a); !slices.Equal(got, []string{"gl running"}) {
			t.Errorf("%s holds %v; want gl alone (no copy of part, not even created)", a, got)
		}
	}
	// The reconciler does not try node-2 and node-3 again on every pass
	// (every 5 s): a failed copy is retried once a minute.
	time.Sleep(6 * time.Second)
	failed := 0
	for _, e := range rc.c.RecentEvents() {
		if e.Kind == model.EventFailure && strings.HasPrefix(e.Message, "global part: no copy on ") {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d failure events for part's copies after a reconcile pass; want 2 (node-2, node-3, once)", failed)
	}
	// --rm would make the reconciler create each copy again as it exits:
	// refused with a 400 that says so, and nothing is created.
	_, errOut, err = rc.docker(cli, "run", "-d", "--rm", "--name", "gone", "-e", "mode:global", "busybox", "true")
	if err == nil || !strings.Contains(errOut, "a global container cannot be run with --rm") {
		t.Fatalf("docker run --rm of a global: %v\n%s", err, errOut)
	}
	for _, a := range rc.addrs {
		if got := engineNames(t, a); slices.ContainsFunc(got, func(n string) bool { return strings.HasPrefix(n, "gone ") }) {
			t.Fatalf("%s holds %v after a refused global run --rm", a, got)
		}
	}
	// A command that starts nowhere: the run fails, no copy is left.
	_, errOut, err = rc.docker(cli, "run", "-d", "--name", "broken", "-e", "mode:global", "busybox", "/no/such/command")
	if err == nil || !strings.Contains(errOut, "global broken: no copy runs, and none is left") {
		t.Fatalf("docker run broken: %v\n%s", err, errOut)
	}
	for _, a := range rc.addrs {
		if got := engineNames(t, a); slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "broken ") }) {
			t.Errorf("%s holds %v after a global that started nowhere; want no copy of broken", a, got)
		}
	}
	if out := rc.must(t, cli, "ps", "-a", "--format", "{{.Names}}"); strings.Contains(out, "broken") {
		t.Errorf("docker ps -a through the manager lists broken:\n%s", out)
	}
}
