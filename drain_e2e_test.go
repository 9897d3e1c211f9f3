package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// realBed is the three real dockerd of the test bed and the built binary.
type realBed struct {
	nodes []string
	dir   string
	bin   string
}

func requireRealBed(t *testing.T) *realBed {
	t.Helper()
	nodes, dir := os.Getenv("SWARMDECK_TESTBED_NODES"), os.Getenv("SWARMDECK_TESTBED_DIR")
	if nodes == "" {
		if os.Getenv("SWARMDECK_REQUIRE_INTEGRATION") != "" {
			t.Fatal("SWARMDECK_TESTBED_NODES is not set: scripts/testbed.sh did not start the real dockerd this test needs")
		}
		t.Skip("needs real dockerd: run scripts/test.sh")
	}
	rb := &realBed{nodes: strings.Split(nodes, ","), dir: dir, bin: filepath.Join(t.TempDir(), "swarmdeck")}
	cleanEngines(t, rb.nodes, dir)
	t.Cleanup(func() { cleanEngines(t, rb.nodes, dir) })
	if out, err := exec.Command("go", "build", "-o", rb.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return rb
}

// start runs the binary; stop ends it with SIGTERM (SIGKILL after 5s).
// manageHealthy starts a headless manager of the bed's engines (1 s
// heartbeat, a state file of the test's own) and returns its address once
// docker info shows the three engines healthy.
func (rb *realBed) manageHealthy(t *testing.T) (api string) {
	t.Helper()
	api = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	rb.start(t, "manage", "--headless", "-H", "tcp://"+api, "--heartbeat", "1s", "--state-file", filepath.Join(t.TempDir(), "state.json"), "nodes://"+strings.Join(rb.nodes, ","))
	eventually(t, 20*time.Second, "three healthy engines", func() bool {
		out, _ := docker(api, "info")
		return strings.Count(out, "└ Status: Healthy") == 3
	})
	return api
}

func (rb *realBed) start(t *testing.T, args ...string) (stop func()) {
	t.Helper()
	cmd := exec.Command(rb.bin, args...)
	log, _ := os.Create(filepath.Join(t.TempDir(), "out.log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(stop)
	t.Cleanup(func() { // after stop: the whole log
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("%s %s said:\n%s", filepath.Base(rb.bin), args[0], b)
		}
	})
	return stop
}

// loopCmd is an image and command that run until stopped and stop at once
// on SIGTERM (busybox sleep as PID 1 ignores it: a stop would take 10s).
var loopCmd = []string{"busybox", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"}

// docker runs the real docker CLI against host.
func docker(host string, args ...string) (string, error) {
	out, err := exec.Command("docker", append([]string{"-H", "tcp://" + host}, args...)...).CombinedOutput()
	return string(out), err
}

// namesOn lists the names of the running containers of one engine.
func namesOn(t *testing.T, engine string) []string {
	out, err := docker(engine, "ps", "--format", "{{.Names}}")
	if err != nil {
		t.Fatalf("docker ps on %s: %v\n%s", engine, err, out)
	}
	f := strings.Fields(out)
	slices.Sort(f)
	return f
}

func TestDrainMovesEveryPolicyContainerOffAndSurvivesARestart(t *testing.T) {
	rb := requireRealBed(t)
	api := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	state := filepath.Join(t.TempDir(), "state.json")
	manage := func() func() {
		return rb.start(t, "manage", "--headless", "-H", "tcp://"+api, "--state-file", state, "nodes://"+strings.Join(rb.nodes, ","))
	}
	stop := manage()
	eventually(t, 20*time.Second, "three healthy engines", func() bool {
		out, _ := docker(api, "info")
		return strings.Count(out, "└ Status: Healthy") == 3
	})
	node := func(verb, name string, extra ...string) string {
		t.Helper()
		out, err := exec.Command(rb.bin, append([]string{"node", verb, name, "--host", "tcp://" + api}, extra...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("swarmdeck node %s %s: %v\n%s", verb, name, err, out)
		}
		return string(out)
	}
	// Pause node-2 and node-3 so that everything lands on node-1.
	node("pause", "node-2")
	node("pause", "node-3")
	if out, err := docker(api, "run", "-d", "-e", "constraint:node==node-2", "busybox", "sleep", "600"); err == nil ||
		!strings.Contains(out, "node-2 fits, but node is paused") {
		t.Fatalf("docker run -e constraint:node==node-2 onto the paused node (%v) said:\n%s", err, out)
	}
	info, _ := docker(api, "info")
	if strings.Count(info, "└ Availability: pause") != 2 || strings.Count(info, "└ Availability: active") != 1 {
		t.Fatalf("docker info after two pauses:\n%s", info)
	}
	var want []string
	for i := range 6 {
		name := fmt.Sprintf("svc-%d", i)
		want = append(want, name)
		if out, err := docker(api, append([]string{"run", "-d", "--name", name, "-e", "reschedule:on-node-failure"}, loopCmd...)...); err != nil {
			t.Fatalf("run %s: %v\n%s", name, err, out)
		}
	}
	if out, err := docker(api, append([]string{"run", "-d", "--name", "pinned"}, loopCmd...)...); err != nil {
		t.Fatalf("run pinned: %v\n%s", err, out)
	}
	if got := namesOn(t, rb.nodes[0]); len(got) != 7 {
		t.Fatalf("node-1 runs %v; want all seven", got)
	}
	node("activate", "node-2")
	node("activate", "node-3")
	out := node("drain", "node-1")
	if !strings.Contains(out, "node-1 ("+rb.nodes[0]+") is now draining (kept in file "+state+")") ||
		!strings.Contains(out, "moved off it: 6") || !strings.Contains(out, "blocking the drain: 1") ||
		!strings.Contains(out, "pinned: it has no reschedule policy") {
		t.Fatalf("swarmdeck node drain said:\n%s", out)
	}
	eventually(t, 60*time.Second, "node-1 runs pinned alone", func() bool {
		return slices.Equal(namesOn(t, rb.nodes[0]), []string{"pinned"})
	})
	// Nothing lost, nothing twice: each service runs exactly once, off node-1.
	var elsewhere []string
	for _, e := range rb.nodes[1:] {
		elsewhere = append(elsewhere, namesOn(t, e)...)
	}
	slices.Sort(elsewhere)
	if !slices.Equal(elsewhere, want) {
		t.Fatalf("node-2 and node-3 run %v; want each of %v once", elsewhere, want)
	}
	var all string
	var psErr error
	eventually(t, 10*time.Second, "docker ps -a through the manager: seven running, none on node-1 but pinned", func() bool {
		all, psErr = docker(api, "ps", "-a", "--format", "{{.Names}} {{.Status}}")
		return psErr == nil && strings.Count(all, "\n") == 7 && !strings.Contains(all, "node-1/svc") && !strings.Contains(all, "Exited")
	})

	// A restarted manager still knows node-1 is drained.
	stop()
	stop = manage()
	eventually(t, 20*time.Second, "node-1 drained after the restart", func() bool {
		out, _ := docker(api, "info")
		return strings.Count(out, "└ Status: Healthy") == 3 && strings.Count(out, "└ Availability: drain") == 1 &&
			strings.Index(out, "node-1") < strings.Index(out, "└ Availability: drain") &&
			strings.Index(out, "└ Availability: drain") < strings.Index(out, "node-2")
	})
	// A run aimed at the drained node says why it is refused, as the
	// placement explanations do.
	if out, err := docker(api, "run", "-d", "--name", "aimed", "-e", "constraint:node==node-1", "busybox", "sleep", "600"); err == nil ||
		!strings.Contains(out, "[node==node-1]") || !strings.Contains(out, "node-1 fits, but node is draining") {
		t.Fatalf("docker run -e constraint:node==node-1 onto the drained node (%v) said:\n%s", err, out)
	}
	for i := range 3 {
		name := fmt.Sprintf("after-%d", i)
		if out, err := docker(api, "run", "-d", "--name", name, "busybox", "sleep", "600"); err != nil {
			t.Fatalf("run %s: %v\n%s", name, err, out)
		}
	}
	if got := namesOn(t, rb.nodes[0]); !slices.Equal(got, []string{"pinned"}) {
		t.Fatalf("node-1 runs %v after the restart; want pinned alone (it is drained)", got)
	}
	// Force moves the last one; activate brings the node back.
	node("drain", "node-1", "--force")
	eventually(t, 30*time.Second, "node-1 empty", func() bool { return len(namesOn(t, rb.nodes[0])) == 0 })
	node("activate", "node-1")
	if out, err := docker(api, "run", "-d", "--name", "back", "busybox", "sleep", "600"); err != nil {
		t.Fatalf("run back: %v\n%s", err, out)
	}
	if got := namesOn(t, rb.nodes[0]); !slices.Equal(got, []string{"back"}) {
		t.Fatalf("node-1 runs %v once active again; want back (the emptiest node)", got)
	}
}

func TestAGlobalContainerFollowsAFourthEngineThatJoinsAndIsDrained(t *testing.T) {
	rb := requireRealBed(t)
	// node-4 joins a bed of three: its address follows the bed's ports.
	var base int
	fmt.Sscan(os.Getenv("BASEPORT"), &base)
	if base == 0 {
		t.Fatal("BASEPORT is not set: load the test bed's env")
	}
	fourth := fmt.Sprintf("127.0.0.1:%d", base+4)
	testbed := func(args ...string) {
		t.Helper()
		cmd := exec.Command("scripts/testbed.sh", args...)
		cmd.Env = append(os.Environ(), "DIR="+rb.dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("testbed.sh %v: %v\n%s", args, err, out)
		}
	}
	list := filepath.Join(t.TempDir(), "cluster")
	write := func(addrs ...string) {
		if err := os.WriteFile(list, []byte(strings.Join(addrs, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(rb.nodes...)
	api := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	rb.start(t, "manage", "--headless", "-H", "tcp://"+api, "--heartbeat", "1s", "--state-file", filepath.Join(t.TempDir(), "state.json"), "file://"+list)
	eventually(t, 20*time.Second, "three healthy engines", func() bool {
		out, _ := docker(api, "info")
		return strings.Count(out, "└ Status: Healthy") == 3
	})
	loop := loopCmd
	if out, err := docker(api, append([]string{"run", "-d", "--name", "agent", "--label", "com.swarmdeck.mode=global"}, loop...)...); err != nil {
		t.Fatalf("run agent: %v\n%s", err, out)
	}
	if out, err := docker(api, append([]string{"run", "-d", "--name", "ssd-agent", "-e", "mode:global", "-e", "constraint:disk==ssd"}, loop...)...); err != nil {
		t.Fatalf("run ssd-agent: %v\n%s", err, out)
	}
	ps := func() []string {
		out, _ := docker(api, "ps", "--format", "{{.Names}}")
		f := strings.Fields(out)
		slices.Sort(f)
		return f
	}
	// psShows waits until docker ps through the manager lists want: the
	// manager sees an engine's change on its next refresh of it, a moment
	// after the engine made it (asked once, right after the drain, ps
	// still listed node-4's copy at high load).
	psShows := func(when string, want []string) {
		t.Helper()
		var got []string
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if got = ps(); slices.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("docker ps through the manager %s: %v after 30 s; want %v", when, got, want)
			}
		}
	}
	want := []string{"node-1/agent", "node-1/ssd-agent", "node-2/agent", "node-3/agent", "node-3/ssd-agent"}
	// docker run answers with the first copy; the others start right after.
	psShows("after the runs", want)
	// A fourth engine joins through the discovery file: it gets agent (it
	// has disk=hdd, so not ssd-agent).
	testbed("start-node", "4")
	t.Cleanup(func() {
		docker(fourth, "rm", "-f", "agent")
		testbed("stop-node", "4")
	})
	write(append(slices.Clone(rb.nodes), fourth)...)
	eventually(t, 30*time.Second, "node-4 runs agent", func() bool { return slices.Equal(namesOn(t, fourth), []string{"agent"}) })
	psShows("after node-4 joined", append(slices.Clone(want), "node-4/agent"))
	// Drained, it loses its copy; the others keep theirs.
	out, err := exec.Command(rb.bin, "node", "drain", "node-4", "--host", "tcp://"+api).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "global copies removed from it (a drained node runs none): 1\n  agent\n") {
		t.Fatalf("swarmdeck node drain node-4: %v\n%s", err, out)
	}
	eventually(t, 30*time.Second, "node-4 runs nothing", func() bool { return len(namesOn(t, fourth)) == 0 })
	psShows("after the drain", want)
	// rm through the manager removes every copy.
	if out, err := docker(api, "rm", "-f", "agent"); err != nil {
		t.Fatalf("rm agent: %v\n%s", err, out)
	}
	for _, e := range rb.nodes {
		if got := namesOn(t, e); slices.Contains(got, "agent") {
			t.Fatalf("%s still runs agent after rm: %v", e, got)
		}
	}
	psShows("after rm agent", []string{"node-1/ssd-agent", "node-3/ssd-agent"})
}

// testbedCtl runs scripts/testbed.sh with the bed's directory.
func (rb *realBed) testbedCtl(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("scripts/testbed.sh", args...)
	cmd.Env = append(os.Environ(), "DIR="+rb.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testbed.sh %v: %v\n%s", args, err, out)
	}
}

// TestADrainWhoseDestinationDiesLosesNothing kills the only destination
// of a drain while the old copies stop (busybox sleep takes the full 10s
// stop timeout): the old copies must stay, and once the destination is
// back each container runs exactly once.
func TestADrainWhoseDestinationDiesLosesNothing(t *testing.T) {
	rb := requireRealBed(t)
	api := rb.manageHealthy(t)
	t.Cleanup(func() { exec.Command("scripts/testbed.sh", "revive", "1").Run() })
	var names []string
	for i := range 6 {
		name := fmt.Sprintf("nv%d", i+1)
		names = append(names, name)
		if out, err := docker(api, "run", "-d", "--name", name, "-e", "reschedule:on-node-failure", "-e", "constraint:zone!=b", "busybox", "sleep", "600"); err != nil {
			t.Fatalf("run %s: %v\n%s", name, err, out)
		}
	}
	onThree := namesOn(t, rb.nodes[2])
	if len(onThree) == 0 || len(namesOn(t, rb.nodes[1])) != 0 {
		t.Fatalf("spread put %v on node-3 and %v on node-2; want some on node-3, none on node-2", onThree, namesOn(t, rb.nodes[1]))
	}
	type result struct {
		out []byte
		err error
	}
	drained := make(chan result, 1)
	go func() {
		out, err := exec.Command(rb.bin, "node", "drain", "node-3", "--host", "tcp://"+api).CombinedOutput()
		drained <- result{out, err}
	}()
	time.Sleep(2 * time.Second)
	rb.testbedCtl(t, "kill", "1")
	// While node-1 is down, every container is still known to the manager.
	// The drain waited for its moves: it says they failed and why, and
	// exits 1.
	r := <-drained
	if ee := (*exec.ExitError)(nil); !errors.As(r.err, &ee) || ee.ExitCode() != 1 ||
		!strings.Contains(string(r.out), fmt.Sprintf("failed to move: %d", len(onThree))) ||
		!strings.Contains(string(r.out), "node-1 is Unhealthy") && !strings.Contains(string(r.out), "node-1 stopped answering") {
		t.Errorf("swarmdeck node drain node-3 (%v) said:\n%s", r.err, r.out)
	}
	// Each old copy runs on node-3 (started again if it had stopped).
	if got := namesOn(t, rb.nodes[2]); !slices.Equal(got, onThree) {
		t.Errorf("node-3 runs %v after the failed drain; want %v", got, onThree)
	}
	ps, _ := docker(api, "ps", "-a", "--format", "{{.Names}} {{.Status}}")
	for _, name := range names {
		if !strings.Contains(ps, "/"+name+" ") {
			t.Errorf("docker ps -a through the manager lost %s while node-1 is down:\n%s", name, ps)
		}
	}
	rb.testbedCtl(t, "revive", "1")
	// Back, node-1 holds no second copy: each container exists exactly
	// once, and the ones the drain tried to move run (node-1's own were
	// killed with their engine, and stay exited as Swarm left them).
	var all []string
	defer func() {
		if t.Failed() {
			t.Logf("the engines hold: %v", all)
		}
	}()
	eventually(t, 60*time.Second, "each container exactly once, node-3's running", func() bool {
		all = nil
		for _, e := range rb.nodes {
			out, _ := docker(e, "ps", "-a", "--format", "{{.Names}} {{.State}}")
			all = append(all, strings.Fields(out)...)
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(all); i += 2 {
			seen[all[i]]++
			if slices.Contains(onThree, all[i]) && all[i+1] != "running" {
				return false
			}
		}
		for _, n := range names {
			if seen[n] != 1 {
				return false
			}
		}
		return len(seen) == len(names)
	})
}

// TestAGlobalContainerFollowsItsNodesThroughAFailure kills an engine that
// holds a global copy: revived, it runs its copy again; an rm while it is
// down removes the others at once and its copy when it returns.
func TestAGlobalContainerFollowsItsNodesThroughAFailure(t *testing.T) {
	rb := requireRealBed(t)
	api := rb.manageHealthy(t)
	t.Cleanup(func() { exec.Command("scripts/testbed.sh", "revive", "3").Run() })
	if out, err := docker(api, append([]string{"run", "-d", "--name", "ga", "-e", "mode:global"}, loopCmd...)...); err != nil {
		t.Fatalf("run ga: %v\n%s", err, out)
	}
	downAndBack := func(what string) {
		t.Helper()
		rb.testbedCtl(t, "kill", "3")
		eventually(t, 20*time.Second, "node-3 unhealthy", func() bool {
			out, _ := docker(api, "info")
			return strings.Count(out, "└ Status: Unhealthy") == 1
		})
		if what != "" {
			if out, err := docker(api, "rm", "-f", what); err != nil {
				t.Fatalf("rm -f %s with node-3 down: %v\n%s", what, err, out)
			}
			for _, e := range rb.nodes[:2] {
				if got := namesOn(t, e); slices.Contains(got, what) {
					t.Fatalf("%s still runs %s after rm -f: %v", e, what, got)
				}
			}
		}
		rb.testbedCtl(t, "revive", "3")
	}
	downAndBack("")
	eventually(t, 30*time.Second, "node-3 runs ga again once back", func() bool {
		return slices.Equal(namesOn(t, rb.nodes[2]), []string{"ga"})
	})
	downAndBack("ga")
	eventually(t, 30*time.Second, "node-3's copy of ga removed once back", func() bool {
		out, _ := docker(rb.nodes[2], "ps", "-a", "--format", "{{.Names}}")
		return strings.TrimSpace(out) == ""
	})
	if out, _ := docker(api, "ps", "-a", "--format", "{{.Names}}"); strings.TrimSpace(out) != "" {
		t.Fatalf("docker ps -a through the manager after rm ga: %s", out)
	}
}
