package api

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestEveryCallIsSeenByTheNextPsAndInspect: after each call through the
// manager returns, the very next `docker ps -a` and `docker inspect`
// through the manager show its effect, with no waiting for the engine's
// event (issue 9: `docker pause` returned, but ps said Paused only once
// the event arrived).
func TestEveryCallIsSeenByTheNextPsAndInspect(t *testing.T) {
	rc := startOnTestbed(t)
	for _, cli := range clis {
		t.Run(cli, func(t *testing.T) {
			name := "rw"
			// row is rw's `docker ps -a` line: "NAME|STATUS".
			row := func() string {
				out := rc.must(t, cli, "ps", "-a", "--format", "{{.Names}}|{{.Status}}")
				for _, l := range strings.Split(out, "\n") {
					if strings.HasPrefix(l, "node-2/") {
						return l
					}
				}
				return ""
			}
			state := func(ref string) string {
				return strings.TrimSpace(rc.must(t, cli, "inspect", "-f", "{{.Name}} {{.State.Status}}", ref))
			}
			check := func(call string, wantRow, wantState string) {
				t.Helper()
				if got := row(); !regexp.MustCompile(wantRow).MatchString(got) {
					t.Fatalf("right after %s, ps -a shows %q; want %s", call, got, wantRow)
				}
				if got := state(name); got != "/"+name+" "+wantState {
					t.Fatalf("right after %s, inspect says %q; want %s", call, got, wantState)
				}
			}
			rc.must(t, cli, "create", "--name", name, "-e", "constraint:node==node-2", "busybox", "sleep", "300")
			check("create", `^node-2/rw\|Created$`, "created")
			rc.must(t, cli, "start", name)
			check("start", `^node-2/rw\|Up `, "running")
			rc.must(t, cli, "pause", name)
			check("pause", `^node-2/rw\|Up .*\(Paused\)$`, "paused")
			rc.must(t, cli, "unpause", name)
			check("unpause", `^node-2/rw\|Up [^(]*$`, "running")
			// The same, as fast as a program can ask: no process start
			// between the call and the next read.
			for range 5 {
				for _, step := range []struct{ call, state string }{{"pause", "paused"}, {"unpause", "running"}} {
					if code, body := rc.post(t, "/containers/"+name+"/"+step.call); code != http.StatusNoContent {
						t.Fatalf("%s: %d %s", step.call, code, body)
					}
					if got := rc.psState(t, name); got != step.state {
						t.Fatalf("the ps right after a %s says %s", step.call, got)
					}
				}
			}
			rc.must(t, cli, "stop", "-t", "1", name)
			check("stop", `^node-2/rw\|Exited \(137\) `, "exited")
			rc.must(t, cli, "start", name)
			check("start", `^node-2/rw\|Up `, "running")
			rc.must(t, cli, "kill", name)
			check("kill", `^node-2/rw\|Exited \(137\) `, "exited")
			rc.must(t, cli, "restart", "-t", "1", name)
			check("restart", `^node-2/rw\|Up `, "running")
			rc.must(t, cli, "rename", name, "rw2")
			name = "rw2"
			check("rename", `^node-2/rw2\|Up `, "running")
			if _, errOut, err := rc.docker(cli, "inspect", "rw"); err == nil || !strings.Contains(errOut, "No such") {
				t.Fatalf("right after rename, the old name still answers: %v %s", err, errOut)
			}
			rc.must(t, cli, "update", "--memory", "48m", "--memory-swap", "96m", name)
			if got := strings.TrimSpace(rc.must(t, cli, "inspect", "-f", "{{.HostConfig.Memory}}", name)); got != "50331648" {
				t.Fatalf("right after update, inspect says memory %s", got)
			}
			if info := rc.must(t, cli, "info"); !regexp.MustCompile(`node-2: [^\n]*\n(?: +└ [^\n]*\n)*? +└ Reserved Memory: 48 MiB / `).MatchString(info) {
				t.Fatalf("right after update, docker info does not reserve the 48 MiB on node-2:\n%s", info)
			}
			rc.must(t, cli, "rm", "-f", name)
			if got := row(); got != "" {
				t.Fatalf("right after rm, ps -a shows %q", got)
			}
			if _, errOut, err := rc.docker(cli, "inspect", name); err == nil || !strings.Contains(errOut, "No such") {
				t.Fatalf("right after rm, inspect: %v %s", err, errOut)
			}
		})
	}
}

// post calls the manager's API directly.
func (rc *realCluster) post(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Post("http"+strings.TrimPrefix(rc.host, "tcp")+path, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// psState is the State `GET /containers/json?all=1` gives the container
// named name.
func (rc *realCluster) psState(t *testing.T, name string) string {
	t.Helper()
	resp, err := http.Get("http" + strings.TrimPrefix(rc.host, "tcp") + "/containers/json?all=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []summary
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if strings.HasSuffix(s.Names[0], "/"+name) {
			return s.State
		}
	}
	return "absent"
}
