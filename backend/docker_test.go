package backend

import (
	"context"
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

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"swarmdeck/internal/testcerts"
	"swarmdeck/model"
)

// The tests in this file run against real dockerd started by
// scripts/testbed.sh (scripts/test.sh does that and sets
// SWARMDECK_TESTBED_NODES). Plain `go test ./...` skips them; under the
// test command (SWARMDECK_REQUIRE_INTEGRATION=1) a missing test bed fails.

// testbed is the running test bed: node i (1-based) is addrs[i-1].
type testbed struct {
	addrs []string
	dir   string
}

func requireTestbed(t *testing.T) *testbed {
	t.Helper()
	nodes := os.Getenv("SWARMDECK_TESTBED_NODES")
	if nodes == "" {
		if os.Getenv("SWARMDECK_REQUIRE_INTEGRATION") != "" {
			t.Fatal("SWARMDECK_TESTBED_NODES is not set: scripts/testbed.sh did not start the real dockerd this test needs")
		}
		t.Skip("needs real dockerd: run scripts/test.sh (it starts them with scripts/testbed.sh)")
	}
	tb := &testbed{addrs: strings.Split(nodes, ","), dir: os.Getenv("SWARMDECK_TESTBED_DIR")}
	if len(tb.addrs) < 3 || tb.dir == "" {
		t.Fatalf("the test bed has %d nodes at %q; want 3", len(tb.addrs), tb.dir)
	}
	t.Cleanup(func() { tb.reset(t) })
	tb.reset(t)
	return tb
}

func (tb *testbed) docker(t *testing.T, i int) *client.Client {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.WithHost("tcp://"+tb.addrs[i-1]), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func (tb *testbed) pid(t *testing.T, i int) int {
	b, err := os.ReadFile(filepath.Join(tb.dir, fmt.Sprintf("node-%d", i), "pid"))
	if err != nil {
		t.Fatalf("node-%d: %v", i, err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	return pid
}

func (tb *testbed) signal(t *testing.T, i int, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(tb.pid(t, i), sig); err != nil {
		t.Fatalf("signal %v to node-%d: %v", sig, i, err)
	}
}

// alive reports whether node i answers a ping.
func (tb *testbed) alive(i int) bool {
	cli, err := client.NewClientWithOpts(client.WithHost("tcp://"+tb.addrs[i-1]), client.WithAPIVersionNegotiation())
	if err != nil {
		return false
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = cli.Ping(ctx)
	return err == nil
}

// reset brings every node back (CONT, or a fresh start after a kill) and
// removes every container, so each test starts from empty engines.
func (tb *testbed) reset(t *testing.T) {
	t.Helper()
	for i := range tb.addrs {
		if b, err := os.ReadFile(filepath.Join(tb.dir, fmt.Sprintf("node-%d", i+1), "pid")); err == nil {
			var pid int
			fmt.Sscan(string(b), &pid)
			syscall.Kill(pid, syscall.SIGCONT)
		}
		if !tb.alive(i + 1) {
			cmd := exec.Command("../scripts/testbed.sh", "revive", fmt.Sprint(i+1))
			cmd.Env = append(os.Environ(), "DIR="+tb.dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("revive node-%d: %v\n%s", i+1, err, out)
			}
		}
		cli := tb.docker(t, i+1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		list, err := cli.ContainerList(ctx, container.ListOptions{All: true})
		if err != nil {
			cancel()
			t.Fatalf("node-%d: %v", i+1, err)
		}
		for _, c := range list {
			if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !client.IsErrNotFound(err) {
				t.Fatalf("node-%d: remove %s: %v", i+1, c.ID, err)
			}
		}
		cancel()
	}
}

// loop is a command that runs until stopped and stops at once on SIGTERM.
var loop = []string{"sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"}

func startReal(t *testing.T, tb *testbed, opts Options) *Cluster {
	t.Helper()
	src, err := Open("nodes://"+strings.Join(tb.addrs, ","), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := startSim(t, src, opts) // the default probe interval, timeout and heartbeat, as `manage` runs
	waitFor(t, 20*time.Second, "the three engines healthy", allHealthy(c, len(tb.addrs)))
	return c
}

// startRealToStop starts a manager of the test bed's engines that the
// test stops (stop returns once it has ended), with the source to start
// the next one from.
func startRealToStop(t *testing.T, tb *testbed) (c *Cluster, src *Source, stop func()) {
	t.Helper()
	src, err := Open("nodes://"+strings.Join(tb.addrs, ","), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = New(src, Options{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	waitFor(t, 20*time.Second, "healthy", allHealthy(c, 3))
	return c, src, stop
}

// runningOn reports whether the engine of node i runs a container with
// this swarm ID, counting its running copies.
func runningOn(t *testing.T, tb *testbed, i int, swarmID string) int {
	cli := tb.docker(t, i)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	list, err := cli.ContainerList(ctx, container.ListOptions{})
	if err != nil {
		return -1
	}
	n := 0
	for _, c := range list {
		if c.Labels[model.LabelSwarmID] == swarmID && c.State == "running" {
			n++
		}
	}
	return n
}

func TestRealEnginesShowTheirLabelsCPUsAndMemory(t *testing.T) {
	tb := requireTestbed(t)
	c := startReal(t, tb, Options{})
	zones := []string{}
	for i, n := range c.Nodes() {
		if n.Name != fmt.Sprintf("node-%d", i+1) || n.CPUs < 1 || n.Memory < 1<<30 || n.Labels["testbed"] != "swarmdeck" ||
			n.Labels[model.LabelStorageDriver] == "" || n.Labels[model.LabelOSType] != "linux" || n.Version == "" {
			t.Fatalf("node %d: %+v", i+1, n)
		}
		if n.Warning != "" {
			t.Fatalf("node %s warns %q: the test bed's hosts have engine IDs of their own", n.Name, n.Warning)
		}
		zones = append(zones, n.Labels["zone"])
	}
	if strings.Join(zones, ",") != "a,b,c" {
		t.Fatalf("zones %v", zones)
	}
}

func TestRealContainersLandWhereTheirConstraintsSayAndRun(t *testing.T) {
	tb := requireTestbed(t)
	c := startReal(t, tb, Options{})
	for _, tt := range []struct {
		env  []string
		node string
	}{
		{[]string{"constraint:zone==b"}, "node-2"},
		{[]string{"constraint:node==node-3"}, "node-3"},
		{[]string{"constraint:disk==ssd", "constraint:zone!=a"}, "node-3"},
	} {
		ct, err := c.Create(context.Background(), model.Config{Image: "busybox", Cmd: loop, Env: tt.env, Memory: 32 << 20, CPUs: model.CPUs(1)})
		if err != nil {
			t.Fatalf("%v: %v", tt.env, err)
		}
		if err := c.Start(context.Background(), ct.ID); err != nil {
			t.Fatal(err)
		}
		n := c.Node(ct.Node)
		if n.Name != tt.node {
			t.Fatalf("%v landed on %s; want %s", tt.env, n.Name, tt.node)
		}
		i := slices.Index(tb.addrs, ct.Node) + 1
		in, err := tb.docker(t, i).ContainerInspect(context.Background(), ct.ID)
		if err != nil || !in.State.Running || in.State.Pid == 0 {
			t.Fatalf("on the engine: %v, %+v", err, in.State)
		}
		if in.Config.Labels[model.LabelSwarmID] != ct.SwarmID || in.Config.Labels[model.LabelConstraints] == "" || slices.ContainsFunc(in.Config.Env, func(e string) bool { return strings.HasPrefix(e, "constraint:") }) {
			t.Fatalf("labels %v env %v: the rules belong in the labels", in.Config.Labels, in.Config.Env)
		}
		if in.HostConfig.CPUShares != model.SharesForCPUs(model.CPUs(1), n.CPUs) || in.HostConfig.Memory != 32<<20 {
			t.Fatalf("shares %d, memory %d", in.HostConfig.CPUShares, in.HostConfig.Memory)
		}
	}
	// Made outside swarmdeck, a container shows up within a second.
	cli := tb.docker(t, 1)
	resp, err := cli.ContainerCreate(context.Background(), &container.Config{Image: "busybox", Cmd: loop}, nil, nil, nil, "outsider")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the outsider seen", func() bool { ct, _, _ := c.Inspect("outsider"); return ct != nil && ct.ID == resp.ID })
	if _, err := c.Create(context.Background(), model.Config{Name: "outsider", Image: "busybox"}); !model.IsConflict(err) {
		t.Fatalf("a taken name: %v", err)
	}
}

func TestRealNodeKilledItsContainersMoveOnce(t *testing.T) {
	tb := requireTestbed(t)
	c := startReal(t, tb, Options{})
	var movers []*model.Container
	for _, name := range []string{"web", "api"} {
		ct, err := c.Create(context.Background(), model.Config{Name: name, Image: "busybox", Cmd: loop,
			Env: []string{"constraint:node==~node-1", "reschedule:on-node-failure"}})
		if err != nil {
			t.Fatal(err)
		}
		movers = append(movers, ct)
	}
	lost, err := c.Create(context.Background(), model.Config{Name: "lost", Image: "busybox", Cmd: loop, Env: []string{"constraint:node==node-1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range append(movers, lost) {
		if err := c.Start(context.Background(), ct.Name); err != nil {
			t.Fatal(err)
		}
		if c.Node(ct.Node).Name != "node-1" {
			t.Fatalf("%s is on %s", ct.Name, ct.Node)
		}
	}
	killed := time.Now()
	tb.signal(t, 1, syscall.SIGKILL)
	for _, ct := range movers {
		waitFor(t, 10*time.Second, ct.Name+" running once on node-2 or node-3", func() bool {
			return runningOn(t, tb, 2, ct.SwarmID)+runningOn(t, tb, 3, ct.SwarmID) == 1
		})
	}
	t.Logf("both moved and running %.1fs after kill -9", time.Since(killed).Seconds())
	if n, where := copies(c, lost.SwarmID); n != 1 || where[0] != "node-1" {
		t.Fatalf("lost is on %v; without a policy it stays with its node", where)
	}
	found := false
	for _, e := range c.RecentEvents() {
		found = found || (e.Action == "lost" && e.Container == "lost")
	}
	if !found {
		t.Fatal("no lost event for the container without a policy")
	}
}

func TestRealHangThatHealsEndsWithOneCopy(t *testing.T) {
	tb := requireTestbed(t)
	c := startReal(t, tb, Options{})
	ct := runWebOnNode2(t, c)
	tb.signal(t, 2, syscall.SIGSTOP)
	waitFor(t, 15*time.Second, "web moved off the hung node-2", func() bool {
		n, where := copies(c, ct.SwarmID)
		return n == 1 && where[0] != "node-2" && runningOn(t, tb, slices.Index([]string{"node-1", "node-2", "node-3"}, where[0])+1, ct.SwarmID) == 1
	})
	tb.signal(t, 2, syscall.SIGCONT)
	waitFor(t, 15*time.Second, "node-2 healthy and its stale copy removed", func() bool {
		return health(c, tb.addrs[1]) == model.Healthy && runningOn(t, tb, 2, ct.SwarmID) == 0
	})
	total := 0
	for i := 1; i <= 3; i++ {
		total += runningOn(t, tb, i, ct.SwarmID)
	}
	if total != 1 {
		t.Fatalf("%d running copies of web; want exactly 1", total)
	}
}

func TestRealManagerRestartKeepsThePromise(t *testing.T) {
	tb := requireTestbed(t)
	first, src, stop := startRealToStop(t, tb)
	ct, err := first.Create(context.Background(), model.Config{Name: "web", Image: "busybox", Cmd: loop,
		Env: []string{"constraint:node==~node-3", "reschedule:on-node-failure"}})
	if err != nil {
		t.Fatal(err)
	}
	first.Start(context.Background(), "web")
	tb.signal(t, 3, syscall.SIGSTOP)
	// Stop the manager as soon as the new copy exists on an engine, maybe
	// before it was started: the next manager must finish the job.
	waitFor(t, 15*time.Second, "web recreated", func() bool {
		for _, x := range first.Containers() {
			if x.SwarmID == ct.SwarmID && x.ID != "" && x.Node != tb.addrs[2] {
				return true
			}
		}
		return false
	})
	before := map[string]string{}
	for _, n := range first.Nodes() {
		for _, x := range n.Containers {
			before[x.SwarmID] = n.Name
		}
	}
	stop()

	// A new manager, while node-3 still hangs with its stale copy.
	second := startSim(t, src, Options{ProbeInterval: time.Second, Heartbeat: time.Second})
	waitFor(t, 20*time.Second, "node-1 and node-2 healthy", func() bool {
		return health(second, tb.addrs[0]) == model.Healthy && health(second, tb.addrs[1]) == model.Healthy
	})
	if x, n, err := second.Inspect("web"); err != nil || n.Name != before[ct.SwarmID] || !hasPolicy(x) {
		for _, n := range second.Nodes() {
			for _, x := range n.Containers {
				t.Logf("second sees %s on %s (%s) swarm %s", x.Name, n.Name, x.State, model.ShortID(x.SwarmID))
			}
		}
		t.Logf("first had %v", before)
		t.Fatalf("the new manager sees web on %v (%v); the old one had it on %s", n, err, before[ct.SwarmID])
	}
	tb.signal(t, 3, syscall.SIGCONT)
	waitFor(t, 20*time.Second, "node-3 back and exactly one web running", func() bool {
		total := 0
		for i := 1; i <= 3; i++ {
			total += runningOn(t, tb, i, ct.SwarmID)
		}
		return health(second, tb.addrs[2]) == model.Healthy && total == 1 && runningOn(t, tb, 3, ct.SwarmID) == 0
	})
}

// TestMeasureRescheduleOnRealEngines is a measurement, run by
// scripts/measure.sh: rounds of kill -9 of the node holding a container
// with the reschedule policy, timing until it runs on another engine.
func TestMeasureRescheduleOnRealEngines(t *testing.T) {
	if os.Getenv("SWARMDECK_MEASURE") == "" {
		t.Skip("a measurement: scripts/measure.sh runs it")
	}
	tb := requireTestbed(t)
	c := startReal(t, tb, Options{})
	var took []time.Duration
	for round := range 5 {
		victim := round%3 + 1
		ct, err := c.Create(context.Background(), model.Config{Name: fmt.Sprintf("m%d", round), Image: "busybox", Cmd: loop,
			Env: []string{fmt.Sprintf("constraint:node==~node-%d", victim), "reschedule:on-node-failure"}})
		if err != nil {
			t.Fatal(err)
		}
		c.Start(context.Background(), ct.Name)
		start := time.Now()
		tb.signal(t, victim, syscall.SIGKILL)
		waitFor(t, 30*time.Second, "moved", func() bool {
			n := 0
			for i := 1; i <= 3; i++ {
				if i != victim {
					n += runningOn(t, tb, i, ct.SwarmID)
				}
			}
			return n == 1
		})
		took = append(took, time.Since(start))
		t.Logf("round %d: node-%d killed, %s running elsewhere after %s", round+1, victim, ct.Name, took[round].Round(time.Millisecond))
		tb.reset(t)
		waitFor(t, 30*time.Second, "all healthy again", allHealthy(c, 3))
	}
	slices.Sort(took)
	t.Logf("MEASURE real-reschedule median %s (min %s, max %s, %d runs)", took[len(took)/2].Round(time.Millisecond),
		took[0].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), len(took))
}

func TestRealLogsAndNetworks(t *testing.T) {
	tb := requireTestbed(t)
	c := startReal(t, tb, Options{})
	ct, err := c.Create(context.Background(), model.Config{Name: "talker", Image: "busybox",
		Cmd: []string{"sh", "-c", "echo hello from talker; echo oops >&2; sleep 30"}, Env: []string{"constraint:node==node-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background(), "talker"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rc, err := c.Logs(ctx, "node-1/talker", true)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got []byte
	buf := make([]byte, 256)
	for !strings.Contains(string(got), "oops") || !strings.Contains(string(got), "hello from talker") {
		n, err := rc.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("logs so far %q: %v", got, err)
		}
	}
	if !strings.Contains(string(got), "hello from talker\n") {
		t.Fatalf("logs %q", got)
	}
	if err := c.Stop(context.Background(), ct.SwarmID, time.Second); err != nil {
		t.Fatal(err)
	}
	if x, _, _ := c.Inspect("talker"); x.State != model.Exited {
		t.Fatalf("after stop: %v", x.State)
	}

	if _, err := c.CreateNetwork(context.Background(), "node-2/backend", "bridge"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateNetwork(context.Background(), "shared", "bridge"); err != nil {
		t.Fatal(err)
	}
	count := func(name string) (nodes []string) {
		for _, n := range c.Networks() {
			if n.Name == name {
				nodes = append(nodes, c.Node(n.Node).Name)
			}
		}
		return nodes
	}
	if got := count("backend"); len(got) != 1 || got[0] != "node-2" {
		t.Fatalf("backend on %v; want node-2 only", got)
	}
	if got := count("shared"); len(got) != 3 {
		t.Fatalf("shared on %v; want every node", got)
	}
	// A name three nodes have is ambiguous: nothing is removed.
	var ie *model.InvalidError
	if err := c.RemoveNetwork(context.Background(), "shared"); !errors.As(err, &ie) {
		t.Fatalf("removing an ambiguous name: %v", err)
	}
	if got := count("shared"); len(got) != 3 {
		t.Fatalf("an ambiguous remove left shared on %v", got)
	}
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		if err := c.RemoveNetwork(context.Background(), n+"/shared"); err != nil {
			t.Fatal(err)
		}
	}
	if got := count("shared"); len(got) != 0 {
		t.Fatalf("shared still on %v", got)
	}
	if err := c.RemoveNetwork(context.Background(), "node-2/backend"); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(context.Background(), "talker", false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Inspect("talker"); !IsNotFound(err) {
		t.Fatalf("after remove: %v", err)
	}
}

func TestRealEnginesOverTLSAndAUnixSocket(t *testing.T) {
	tb := requireTestbed(t)
	certs := t.TempDir()
	testcerts.Write(t, certs)
	testbed := func(args ...string) {
		cmd := exec.Command("../scripts/testbed.sh", args...)
		cmd.Env = append(os.Environ(), "DIR="+tb.dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("testbed %v: %v\n%s", args, err, out)
		}
	}
	testbed("start-tls", "4", certs)
	t.Cleanup(func() { testbed("stop-node", "4") })
	port := strings.Split(tb.addrs[0], ":")[1]
	var base int
	fmt.Sscan(port, &base)
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", base+3) // node-4
	sock := "unix://" + filepath.Join(tb.dir, "node-1", "docker.sock")

	src, err := Open("nodes://tls="+tlsAddr+",sock="+sock, TLSFromCertPath(certs))
	if err != nil {
		t.Fatal(err)
	}
	c := startSim(t, src, Options{ProbeInterval: time.Second, Heartbeat: time.Second})
	waitFor(t, 20*time.Second, "the TLS engine and the unix socket healthy", allHealthy(c, 2))
	for _, n := range c.Nodes() {
		if n.Labels["testbed"] != "swarmdeck" {
			t.Fatalf("%s: %+v", n.Name, n)
		}
	}
	ct, err := c.Create(context.Background(), model.Config{Image: "busybox", Cmd: loop, Env: []string{"constraint:node==tls"}})
	if err != nil || c.Start(context.Background(), ct.ID) != nil {
		t.Fatalf("create over TLS: %v", err)
	}
	if x, n, _ := c.Inspect(ct.ID); n.Name != "tls" || x.State != model.Running {
		t.Fatalf("%+v on %+v", x, n)
	}
	// Without the certificates the TLS engine is unreachable, and says why.
	plain, _ := NewDockerEngine(tlsAddr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := plain.Info(ctx); err == nil || !strings.Contains(err.Error(), "HTTP request to an HTTPS server") {
		t.Fatalf("plain HTTP to a TLS engine: %v", err)
	}
	c.Remove(context.Background(), ct.ID, true)
}

func TestARescheduledContainerKeepsItsWholeConfig(t *testing.T) {
	tb := requireTestbed(t)
	c := startReal(t, tb, Options{})
	// What the model does not hold (tty, working dir, hostname, a tmpfs)
	// comes with the create body, as from `docker run`.
	raw := `{"Image":"busybox","Tty":true,"WorkingDir":"/tmp","Hostname":"keeper","Cmd":["sleep","600"],
		"HostConfig":{"Tmpfs":{"/scratch":"size=1m"}}}`
	ct, err := c.Create(context.Background(), model.Config{Name: "keeper", Image: "busybox", Cmd: []string{"sleep", "600"},
		Env: []string{"constraint:node==~node-1", "reschedule:on-node-failure"}, Raw: []byte(raw)})
	if err != nil {
		t.Fatal(err)
	}
	c.Start(context.Background(), "keeper")
	tb.signal(t, 1, syscall.SIGKILL)
	waitFor(t, 10*time.Second, "keeper running on node-2 or node-3", func() bool {
		return runningOn(t, tb, 2, ct.SwarmID)+runningOn(t, tb, 3, ct.SwarmID) == 1
	})
	x, n, err := c.Inspect("keeper")
	if err != nil {
		t.Fatal(err)
	}
	in, err := tb.docker(t, slices.Index(tb.addrs, n.Addr)+1).ContainerInspect(context.Background(), x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !in.Config.Tty || in.Config.WorkingDir != "/tmp" || in.Config.Hostname != "keeper" || in.HostConfig.Tmpfs["/scratch"] != "size=1m" {
		t.Fatalf("the moved copy lost its config: tty %v, dir %q, hostname %q, tmpfs %v",
			in.Config.Tty, in.Config.WorkingDir, in.Config.Hostname, in.HostConfig.Tmpfs)
	}
	if in.Config.Labels[model.LabelSwarmID] != ct.SwarmID || in.Config.Labels[model.LabelStartAfterReschedule] != "true" {
		t.Fatalf("labels %v", in.Config.Labels)
	}
}

func TestACreateRetriesOnTheNodeThatHasTheImage(t *testing.T) {
	tb := requireTestbed(t)
	// Only node-3 has the image; spread would pick any node.
	if out, err := exec.Command("docker", "-H", "tcp://"+tb.addrs[2], "tag", "busybox:latest", "onlyhere:1").CombinedOutput(); err != nil {
		t.Fatalf("tag: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "-H", "tcp://"+tb.addrs[2], "rmi", "onlyhere:1").Run() })
	c := startReal(t, tb, Options{})
	// Fill node-3 a little so that spread prefers the others.
	if _, err := c.Create(context.Background(), model.Config{Image: "busybox", Cmd: loop, Env: []string{"constraint:node==node-3"}}); err != nil {
		t.Fatal(err)
	}
	ct, err := c.Create(context.Background(), model.Config{Name: "retried", Image: "onlyhere:1", Cmd: loop})
	if err != nil {
		t.Fatalf("create with an image only node-3 has: %v", err)
	}
	if n := c.Node(ct.Node); n.Name != "node-3" {
		t.Fatalf("landed on %s; want node-3, the only node with the image", n.Name)
	}
	if ct.Labels[model.LabelAffinities] != "" {
		t.Fatalf("the temporary image affinity was recorded: %v", ct.Labels)
	}
	// An image no node has is refused with the engine's words, nothing left behind.
	_, err = c.Create(context.Background(), model.Config{Name: "nowhere", Image: "nowhere:1", Cmd: loop})
	if err == nil || !strings.Contains(err.Error(), "No such image: nowhere:1") {
		t.Fatalf("an image nowhere: %v", err)
	}
	if _, _, err := c.Inspect("nowhere"); !IsNotFound(err) {
		t.Fatalf("a refused create left %v", err)
	}
}

// TestARealEngineKilledIsFlaggedInAboutASecond is the other half of
// "health comes from probes only": a probe that really fails still flags
// the node, with manage's defaults (heartbeat 1 s, three probes 500 ms
// apart, each within 1 s): about a second after kill -9 of a dockerd (its
// probes are refused at once), a few seconds after kill -STOP (each probe
// waits its timeout).
func TestARealEngineKilledIsFlaggedInAboutASecond(t *testing.T) {
	for _, tt := range []struct {
		fault  string
		sig    syscall.Signal
		within time.Duration
	}{
		{"kill -9", syscall.SIGKILL, 2 * time.Second},
		{"kill -STOP", syscall.SIGSTOP, 6 * time.Second},
	} {
		t.Run(tt.fault, func(t *testing.T) {
			tb := requireTestbed(t)
			c := startReal(t, tb, Options{})
			events, stop := c.Subscribe(64)
			defer stop()
			began := time.Now()
			tb.signal(t, 2, tt.sig)
			for e := range events {
				if e.Action == "engine_disconnect" && e.Node == "node-2" {
					break
				}
			}
			took := time.Since(began)
			t.Logf("MEASURE %s to Unhealthy: %s", tt.fault, took.Round(time.Millisecond))
			if n := c.Node(tb.addrs[1]); n.Health != model.Unhealthy || n.Failures < 3 {
				t.Fatalf("node-2 is %v after %d failures", n.Health, n.Failures)
			}
			if took > tt.within {
				t.Fatalf("node-2 was flagged %s after %s; want within %s", took, tt.fault, tt.within)
			}
			for _, a := range []string{tb.addrs[0], tb.addrs[2]} {
				if h := health(c, a); h != model.Healthy {
					t.Fatalf("%s is %v", a, h)
				}
			}
		})
	}
}

// A container removed after it moved stays removed when its old node
// comes back: the copy the old node still holds is stale, though no
// other copy runs any more. (Found by the fault soak: the old copy came
// back into the cluster, and was even started again.)
func TestRealRemovedAfterMovingStaysRemovedWhenItsNodeComesBack(t *testing.T) {
	tb := requireTestbed(t)
	c := startReal(t, tb, Options{})
	ct := runWebOnNode2(t, c)
	tb.signal(t, 2, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(tb.pid(t, 2), syscall.SIGCONT) })
	waitFor(t, 15*time.Second, "web moved off the hung node-2", func() bool {
		return runningOn(t, tb, 1, ct.SwarmID)+runningOn(t, tb, 3, ct.SwarmID) == 1
	})
	if err := c.Remove(context.Background(), "web", true); err != nil {
		t.Fatal(err)
	}
	tb.signal(t, 2, syscall.SIGCONT)
	// The engine's copy goes a moment before the manager records it gone:
	// both are waited for (the copy coming back would hold either).
	waitFor(t, 15*time.Second, "node-2 healthy and its old copy of web removed, on the engine and in the manager", func() bool {
		n, _ := copies(c, ct.SwarmID)
		return health(c, tb.addrs[1]) == model.Healthy && onEngine(t, tb, 2, ct.SwarmID) == 0 && n == 0
	})
	c.RefreshNode(context.Background(), tb.addrs[1])
	if n, where := copies(c, ct.SwarmID); n != 0 || onEngine(t, tb, 2, ct.SwarmID) != 0 {
		t.Fatalf("the removed web is back on %v", where)
	}
}

// onEngine counts the containers of a swarm ID on node i, in any state.
func onEngine(t *testing.T, tb *testbed, i int, swarmID string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	list, err := tb.docker(t, i).ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return -1
	}
	n := 0
	for _, c := range list {
		if c.Labels[model.LabelSwarmID] == swarmID {
			n++
		}
	}
	return n
}

// runWebOnNode2 runs "web", with the reschedule policy, on node-2 (a soft
// constraint: it may move).
func runWebOnNode2(t *testing.T, c *Cluster) *model.Container {
	t.Helper()
	ct, err := c.Create(context.Background(), model.Config{Name: "web", Image: "busybox", Cmd: loop,
		Env: []string{"constraint:node==~node-2", "reschedule:on-node-failure"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background(), "web"); err != nil {
		t.Fatal(err)
	}
	return ct
}

// TestRealNewPrimaryKeepsTheNewerOfTwoCopies: a manager moves web off a
// hung node-2 and dies; node-2 comes back with its old copy still running.
// The next manager sees two copies and must keep exactly one, the moved
// one, not remove both.
func TestRealNewPrimaryKeepsTheNewerOfTwoCopies(t *testing.T) {
	tb := requireTestbed(t)
	first, src, stop := startRealToStop(t, tb)
	ct := runWebOnNode2(t, first)
	tb.signal(t, 2, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(tb.pid(t, 2), syscall.SIGCONT) })
	waitFor(t, 15*time.Second, "web moved off the hung node-2", func() bool {
		return runningOn(t, tb, 1, ct.SwarmID)+runningOn(t, tb, 3, ct.SwarmID) == 1
	})
	stop()
	tb.signal(t, 2, syscall.SIGCONT)
	waitFor(t, 10*time.Second, "node-2 answers with its old copy running", func() bool {
		return runningOn(t, tb, 2, ct.SwarmID) == 1
	})

	second := startSim(t, src, Options{ProbeInterval: time.Second, Heartbeat: time.Second})
	waitFor(t, 20*time.Second, "all healthy and node-2's old copy removed", func() bool {
		return allHealthy(second, 3)() && onEngine(t, tb, 2, ct.SwarmID) == 0
	})
	// Give a wrong rule the time to remove the moved copy too.
	time.Sleep(3 * time.Second)
	if n := runningOn(t, tb, 1, ct.SwarmID) + runningOn(t, tb, 3, ct.SwarmID); n != 1 {
		t.Fatalf("%d running copies of web on node-1 and node-3; want the moved one, once", n)
	}
	if n, where := copies(second, ct.SwarmID); n != 1 || where[0] == "node-2" {
		t.Fatalf("the new manager sees web on %v; want one copy, the moved one", where)
	}
}

// TestRealAnUnnamedCreateRefusedSaysWhat: a create without a name that
// its engine refuses names "a container", not an empty name.
func TestRealAnUnnamedCreateRefusedSaysWhat(t *testing.T) {
	tb := requireTestbed(t)
	c := startReal(t, tb, Options{})
	_, err := c.Create(context.Background(), model.Config{Image: "swarmdeck-no-such-image:1", Env: []string{"constraint:node==node-1"}})
	if err == nil || !strings.HasPrefix(err.Error(), "creating a container on node-1: ") {
		t.Fatalf("the refused create said %v", err)
	}
}

// TestRealNetworksListTheirRunningContainers: a real engine's network
// list leaves the containers out (API 1.28 and up), so the console's
// networks view counted 0 on every network; each network is inspected
// for them, as a simulated engine lists them.
func TestRealNetworksListTheirRunningContainers(t *testing.T) {
	tb := requireTestbed(t)
	c := startReal(t, tb, Options{})
	ct, err := c.Create(context.Background(), model.Config{Name: "netcount", Image: "busybox",
		Cmd: []string{"sleep", "30"}, Env: []string{"constraint:node==node-1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Remove(context.Background(), ct.ID, true) })
	if err := c.Start(context.Background(), ct.ID); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	var eng Engine
	for _, n := range c.nodes {
		if n.name() == "node-1" {
			eng = n.eng
		}
	}
	c.mu.Unlock()
	nets, err := eng.Networks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, nw := range nets {
		if nw.Name == "bridge" {
			if !slices.Contains(nw.Containers, ct.ID) {
				t.Fatalf("node-1's bridge lists %v; want %s among them", nw.Containers, ct.ID)
			}
			return
		}
	}
	t.Fatalf("node-1 has no bridge network: %v", nets)
}
