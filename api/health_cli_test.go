package api

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// nodeStatus is node's "└ Status:" line of `docker info`.
func nodeStatus(t *testing.T, rc *realCluster, cli, node string) string {
	t.Helper()
	info := rc.must(t, cli, "info")
	m := regexp.MustCompile(` ` + node + `: [^\n]*\n(?: +└ [^\n]*\n)*? +└ Status: ([^\n]*)`).FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("docker info shows no status for %s:\n%s", node, info)
	}
	return m[1]
}

// TestASlowStopThroughTheCLINeverFlagsTheNode is issue 9's report:
// busybox sleep as PID 1 ignores SIGTERM, so every `docker stop -t 20`
// takes its 20 s (longer than the 15 s the manager used to allow, which
// then counted the timeout as a connection failure). Three stops and
// starts through the real docker CLI leave node-1 Healthy and web listed.
func TestASlowStopThroughTheCLINeverFlagsTheNode(t *testing.T) {
	rc := startOnTestbed(t)
	cli := clis[0]
	rc.must(t, cli, "run", "-d", "--name", "web", "-e", "reschedule:on-node-failure", "-e", "constraint:node==node-1",
		"busybox", "/bin/sleep", "100000")
	for round := 1; round <= 3; round++ {
		began := time.Now()
		rc.must(t, cli, "stop", "-t", "20", "web")
		if took := time.Since(began); took < 20*time.Second {
			t.Fatalf("round %d: the stop took %s; sleep ignores SIGTERM, so it should take its 20 s", round, took)
		}
		if ps := rc.must(t, cli, "ps", "-a", "--filter", "name=web"); !strings.Contains(ps, "node-1/web") || !strings.Contains(ps, "Exited (137)") {
			t.Fatalf("round %d: after the stop, ps -a shows:\n%s", round, ps)
		}
		if st := nodeStatus(t, rc, cli, "node-1"); st != "Healthy" {
			t.Fatalf("round %d: node-1 is %q after a slow stop", round, st)
		}
		rc.must(t, cli, "start", "web")
		if ps := rc.must(t, cli, "ps", "--filter", "name=web"); !strings.Contains(ps, "node-1/web") || !strings.Contains(ps, "Up ") {
			t.Fatalf("round %d: after the start, ps shows:\n%s", round, ps)
		}
	}
	if st := nodeStatus(t, rc, cli, "node-1"); st != "Healthy" {
		t.Fatalf("node-1 is %q after three slow stops", st)
	}
	if got := strings.TrimSpace(rc.must(t, cli, "inspect", "-f", "{{.Node.Name}} {{.State.Running}}", "web")); got != "node-1 true" {
		t.Fatalf("inspect web: %q", got)
	}
}
