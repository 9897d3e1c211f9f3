package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// TestAContainerWaitingToRescheduleStaysVisible: a container whose node
// died and that no other node can take (its constraint pins it) is never
// invisible: ps -a lists it under its node with why it waits, inspect
// answers the same by name and by ID, its name stays taken, and rm takes
// it out of the queue (its copy goes when the node comes back).
func TestAContainerWaitingToRescheduleStaysVisible(t *testing.T) {
	srv, c := simServer(t)
	code, body, _ := call(t, srv, "POST", "/containers/create?name=pinned",
		`{"Image":"busybox","Env":["constraint:node==us-1","reschedule:on-node-failure"]}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var created struct{ Id string }
	json.Unmarshal([]byte(body), &created)
	if code, body, _ := call(t, srv, "POST", "/containers/pinned/start", ""); code != http.StatusNoContent {
		t.Fatalf("start: %d %s", code, body)
	}
	sim := c.Source().Sim("10.0.2.21:2375")
	sim.Crash()
	var waiting []backend.Queued
	deadline := time.Now().Add(5 * time.Second)
	for waiting = c.Queued(); len(waiting) != 1 || waiting[0].Reason == ""; waiting = c.Queued() {
		if time.Now().After(deadline) {
			t.Fatalf("pinned is not waiting with a reason: %+v", waiting)
		}
		time.Sleep(10 * time.Millisecond)
	}

	_, body, _ = call(t, srv, "GET", "/containers/json?all=1", "")
	var list []summary
	json.Unmarshal([]byte(body), &list)
	var row *summary
	for i := range list {
		if list[i].Names[0] == "/us-1/pinned" {
			row = &list[i]
		}
	}
	// One line (the scheduler's reason has newlines), and not running.
	if row == nil || row.ID != created.Id || row.Status != "Host Down, waiting to reschedule: "+strings.Join(strings.Fields(waiting[0].Reason), " ") || strings.Contains(row.Status, "\n") || row.State != "dead" {
		t.Fatalf("ps -a shows %+v; want us-1/pinned waiting, dead, with why on one line (%s)", row, body)
	}
	for filter, listed := range map[string]bool{"running": false, "dead": true} {
		for _, all := range []string{"all=1&", ""} { // a status filter shows all without -a, as dockerd
			_, body, _ := call(t, srv, "GET", `/containers/json?`+all+`filters={"status":["`+filter+`"]}`, "")
			if strings.Contains(body, "/us-1/") != listed {
				t.Fatalf("ps (%s) --filter status=%s: lists the down node's containers: %v, want %v\n%s", all, filter, !listed, listed, body)
			}
		}
	}
	if _, body, _ := call(t, srv, "GET", "/containers/json", ""); strings.Contains(body, "pinned") {
		t.Fatalf("plain ps lists a container whose host is down: %s", body)
	}

	answers := map[string]bool{}
	for _, ref := range []string{"pinned", created.Id, created.Id[:12], "us-1/pinned"} {
		code, body, _ := call(t, srv, "GET", "/containers/"+ref+"/json", "")
		var doc struct {
			Id    string
			State struct {
				Error, Status string
				Running       bool
			}
			Node struct{ Name string }
		}
		json.Unmarshal([]byte(body), &doc)
		if code != http.StatusOK || doc.Id != created.Id || doc.Node.Name != "us-1" || !strings.Contains(doc.State.Error, "waiting to be rescheduled") ||
			!strings.Contains(doc.State.Error, "\n[node==us-1]") || doc.State.Status != "dead" || doc.State.Running {
			t.Fatalf("inspect %s: %d %s", ref, code, body)
		}
		answers[body] = true
	}
	if len(answers) != 1 {
		t.Fatalf("inspect by name and by ID differ: %v", answers)
	}
	for _, ref := range []string{"pinned", created.Id} {
		code, body, _ := call(t, srv, "POST", "/containers/"+ref+"/start", "")
		if code != http.StatusInternalServerError || !strings.Contains(body, "Container pinned is waiting to be rescheduled: its node us-1 is down") {
			t.Fatalf("start %s: %d %s", ref, code, body)
		}
	}
	if code, body, _ := call(t, srv, "POST", "/containers/create?name=pinned", `{"Image":"busybox"}`); code != http.StatusConflict {
		t.Fatalf("the name of a waiting container was given again: %d %s", code, body)
	}

	if code, body, _ := call(t, srv, "DELETE", "/containers/pinned?force=1", ""); code != http.StatusNoContent {
		t.Fatalf("rm: %d %s", code, body)
	}
	if code, _, _ := call(t, srv, "GET", "/containers/"+created.Id+"/json", ""); code != http.StatusNotFound || len(c.Queued()) != 0 {
		t.Fatalf("after rm: inspect %d, %d waiting", code, len(c.Queued()))
	}
	sim.Heal()
	deadline = time.Now().Add(5 * time.Second)
	for {
		left, _ := sim.Inspect(context.Background(), created.Id)
		if left == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the removed container's copy stayed on us-1 after it came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The log says why the copy went, truly: it runs nowhere else.
	var said string
	for _, e := range c.RecentEvents() {
		if e.Action == "duplicate_removed" && e.Container == "pinned" {
			said = e.Message
		}
	}
	if said != "removed the stale copy of pinned from us-1: removed by the user while its node was down" {
		t.Fatalf("the removal of the copy was logged as %q", said)
	}
}

// TestAWaitingContainerOnRealEnginesThroughTheCLI: kill -9 of node-1's
// dockerd leaves web (pinned to node-1, with the reschedule policy)
// waiting; both docker CLIs list it with ps -a and inspect it the same by
// name and by ID.
func TestAWaitingContainerOnRealEnginesThroughTheCLI(t *testing.T) {
	rc := startOnTestbed(t)
	dir := os.Getenv("SWARMDECK_TESTBED_DIR")
	cli := clis[0]
	id := strings.TrimSpace(rc.must(t, cli, "run", "-d", "--name", "web", "-e", "reschedule:on-node-failure",
		"-e", "constraint:node==node-1", "busybox", "sleep", "600"))
	b, err := os.ReadFile(filepath.Join(dir, "node-1", "pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	t.Cleanup(func() { // before startOnTestbed's cleanup: node-1 back for the next test
		cmd := exec.Command("../scripts/testbed.sh", "revive", "1")
		cmd.Env = append(os.Environ(), "DIR="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("revive node-1: %v\n%s", err, out)
		}
	})
	syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for len(rc.c.Queued()) != 1 || rc.c.Queued()[0].Reason == "" {
		if time.Now().After(deadline) {
			t.Fatalf("web is not waiting with a reason: %+v", rc.c.Queued())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, cli := range clis {
		ps := rc.must(t, cli, "ps", "-a", "--format", "{{.Names}}|{{.Status}}")
		if !strings.Contains(ps, "node-1/web|Host Down, waiting to reschedule: ") {
			t.Fatalf("%s ps -a:\n%s", cli, ps)
		}
		byName := rc.must(t, cli, "inspect", "web")
		if byID := rc.must(t, cli, "inspect", id); byID != byName || !strings.Contains(byName, `"Error": "Container web is waiting to be rescheduled: its node node-1 is down`) {
			t.Fatalf("%s inspect by name:\n%s\nby ID:\n%s", cli, byName, byID)
		}
	}
}

// TestRmOfAContainerOnADownRealNodeThroughTheCLI: db has no reschedule
// policy and its node-1 is killed. `docker rm db` is refused, naming the
// node and rm -f; `docker rm -f db` succeeds and db leaves ps -a at once;
// when node-1's dockerd is revived, the manager removes db from it.
func TestRmOfAContainerOnADownRealNodeThroughTheCLI(t *testing.T) {
	rc := startOnTestbed(t)
	dir := os.Getenv("SWARMDECK_TESTBED_DIR")
	revive := func() error {
		cmd := exec.Command("../scripts/testbed.sh", "revive", "1")
		cmd.Env = append(os.Environ(), "DIR="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("revive node-1: %v\n%s", err, out)
		}
		return nil
	}
	revived := false
	t.Cleanup(func() { // before startOnTestbed's cleanup: node-1 back for the next test
		if !revived {
			if err := revive(); err != nil {
				t.Error(err)
			}
		}
	})
	for _, name := range []string{"db1", "db2"} {
		rc.must(t, clis[0], "run", "-d", "--name", name, "-e", "constraint:node==node-1", "busybox", "sleep", "600")
	}
	b, err := os.ReadFile(filepath.Join(dir, "node-1", "pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for rc.c.Node(rc.addrs[0]).Health == model.Healthy {
		if time.Now().After(deadline) {
			t.Fatal("node-1 not flagged down within 10 s of kill -9")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i, cli := range clis {
		name := []string{"db1", "db2"}[i]
		_, errOut, err := rc.docker(cli, "rm", name)
		if err == nil || !strings.Contains(errOut, "its node node-1 is down") || !strings.Contains(errOut, "Use docker rm -f") {
			t.Fatalf("%s rm %s (node down): %v\n%s", cli, name, err, errOut)
		}
		rc.must(t, cli, "rm", "-f", name)
		if ps := rc.must(t, cli, "ps", "-a", "--format", "{{.Names}}"); strings.Contains(ps, name) {
			t.Fatalf("%s ps -a after rm -f %s:\n%s", cli, name, ps)
		}
	}
	revived = true
	if err := revive(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		out, err := exec.Command("docker", "-H", "tcp://"+rc.addrs[0], "ps", "-a", "--format", "{{.Names}}").Output()
		if err == nil && !strings.Contains(string(out), "db") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node-1's engine still holds, 20 s after its revive: %s (%v)", out, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestAContainerJustQueuedIsCountedOnce: docker info and ps -a read the
// nodes' views, then the queue, without a lock between; a node evacuated
// in between lists in its view the containers it has just queued. Each is
// counted once (the fault soak saw a new primary's first docker info with
// a node reserving 28 of its 24.7 GiB).
func TestAContainerJustQueuedIsCountedOnce(t *testing.T) {
	x := &model.Container{ID: "x", Config: model.Config{Name: "x", Memory: 8 << 30}}
	y := &model.Container{ID: "y", Config: model.Config{Name: "y", Memory: 8 << 30}}
	for _, tc := range []struct {
		name    string
		view    []*model.Container
		waiting []*model.Container
		want    []string
	}{
		{"evacuated before the view was read", nil, []*model.Container{x, y}, []string{"x", "y"}},
		{"evacuated between the two reads", []*model.Container{x, y}, []*model.Container{x, y}, nil},
		{"one of two", []*model.Container{x}, []*model.Container{x, y}, []string{"y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range notIn(&model.Node{Containers: tc.view}, tc.waiting) {
				got = append(got, c.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("added to the node's count: %v, want %v", got, tc.want)
			}
		})
	}
}
