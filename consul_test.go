package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"swarmdeck/backend"
	"swarmdeck/internal/testcerts"
	"swarmdeck/model"
)

// These tests need the real key-value stores of scripts/consul.sh,
// scripts/etcd.sh and scripts/zk.sh and the real dockerd of
// scripts/testbed.sh; scripts/test.sh starts them all.

// kvStore is one real store the discovery tests run on.
type kvStore struct {
	scheme string // consul, etcd, zk
	env    string // the variable with its host:port; env+"_DIR" has its folder
	script string // its start/kill/revive/stop script
	dirVar string // the script's variable for its folder
}

var kvStores = []kvStore{
	{scheme: "consul", env: "SWARMDECK_CONSUL", script: "scripts/consul.sh", dirVar: "CONSUL_DIR"},
	{scheme: "etcd", env: "SWARMDECK_ETCD", script: "scripts/etcd.sh", dirVar: "ETCD_DIR"},
	{scheme: "zk", env: "SWARMDECK_ZK", script: "scripts/zk.sh", dirVar: "ZK_DIR"},
}

type consulBed struct {
	store  kvStore
	consul string   // the store's host:port
	dir    string   // the store's folder (for kill and revive)
	nodes  []string // dockerd addresses
	tbDir  string
	bin    string
	prefix string
}

func requireConsul(t *testing.T) *consulBed { return requireStore(t, kvStores[0]) }

// eachStore runs a test on every real key-value store.
func eachStore(t *testing.T, test func(t *testing.T, cb *consulBed)) {
	for _, s := range kvStores {
		t.Run(s.scheme, func(t *testing.T) { test(t, requireStore(t, s)) })
	}
}

func requireStore(t *testing.T, s kvStore) *consulBed {
	t.Helper()
	cb := &consulBed{store: s, consul: os.Getenv(s.env), dir: os.Getenv(s.env + "_DIR"),
		tbDir: os.Getenv("SWARMDECK_TESTBED_DIR")}
	nodes := os.Getenv("SWARMDECK_TESTBED_NODES")
	if s.env != "" && cb.consul == "" || nodes == "" {
		if os.Getenv("SWARMDECK_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("%s or SWARMDECK_TESTBED_NODES is not set: %s or scripts/testbed.sh did not start", s.env, s.script)
		}
		t.Skipf("needs a real %s and real dockerd: run scripts/test.sh", s.scheme)
	}
	cb.nodes = strings.Split(nodes, ",")
	cb.prefix = fmt.Sprintf("t%d", time.Now().UnixNano())
	cb.bin = filepath.Join(t.TempDir(), "swarmdeck")
	if out, err := exec.Command("go", "build", "-o", cb.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cleanEngines(t, cb.nodes, cb.tbDir)
	t.Cleanup(func() { cleanEngines(t, cb.nodes, cb.tbDir) })
	return cb
}

func (cb *consulBed) url() string { return cb.store.scheme + "://" + cb.consul + "/" + cb.prefix }

// storeCtl runs the store's script: kill (away, data kept) or revive.
func (cb *consulBed) storeCtl(t *testing.T, verb string) {
	t.Helper()
	cmd := exec.Command(cb.store.script, verb)
	cmd.Env = append(os.Environ(), cb.store.dirVar+"="+cb.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cb.store.script, verb, err, out)
	}
}

// start runs the built binary until the test ends (SIGTERM, then SIGKILL).
func (cb *consulBed) start(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(cb.bin, args...)
	log, _ := os.Create(filepath.Join(t.TempDir(), "out.log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		}
	})
	return cmd
}

func (cb *consulBed) join(t *testing.T, addr string) *exec.Cmd {
	return cb.start(t, "join", "--advertise", addr, "--heartbeat", "1s", "--ttl", "10s", cb.url())
}

// joinAll registers every engine and waits until the manager has them.
func (cb *consulBed) joinAll(t *testing.T, c *backend.Cluster) []*exec.Cmd {
	t.Helper()
	var agents []*exec.Cmd
	for _, a := range cb.nodes {
		agents = append(agents, cb.join(t, a))
	}
	eventually(t, 5*time.Second, "the joined engines healthy", func() bool { return healthyNodes(c) == len(cb.nodes) })
	return agents
}

// manager runs a manager in process over the Consul discovery.
func (cb *consulBed) manager(t *testing.T) *backend.Cluster {
	t.Helper()
	src, err := backend.OpenKV(cb.url(), nil, backend.KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := backend.New(src, backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func healthyNodes(c *backend.Cluster) int {
	k := 0
	for _, n := range c.Nodes() {
		if n.Health == model.Healthy {
			k++
		}
	}
	return k
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// running counts the running copies of a swarm ID on the real engines.
func running(cb *consulBed, swarmID string) (count int, where []string) {
	for _, a := range cb.nodes {
		out, err := exec.Command("docker", "-H", "tcp://"+a, "ps", "-q", "--filter", "label=com.docker.swarm.id="+swarmID).Output()
		if err == nil && len(strings.Fields(string(out))) > 0 {
			count += len(strings.Fields(string(out)))
			where = append(where, a)
		}
	}
	return count, where
}

func TestJoinedEnginesAppearWithinAHeartbeat(t *testing.T) {
	eachStore(t, testJoinedEnginesAppearWithinAHeartbeat)
}

func testJoinedEnginesAppearWithinAHeartbeat(t *testing.T, cb *consulBed) {
	c := cb.manager(t)
	start := time.Now()
	for _, a := range cb.nodes {
		cb.join(t, a)
	}
	took := eventually(t, 5*time.Second, "three joined engines healthy", func() bool { return healthyNodes(c) == 3 })
	t.Logf("MEASURE join-to-schedulable %s for 3 engines (heartbeat 1s)", took.Round(time.Millisecond))
	if took > time.Since(start) {
		t.Fatal("clock")
	}
	for _, n := range c.Nodes() {
		if n.Labels["testbed"] != "swarmdeck" || n.Labels["zone"] == "" {
			t.Fatalf("%s has labels %v", n.Name, n.Labels)
		}
	}
	if out, err := exec.Command(cb.bin, "list", cb.url()).Output(); err != nil || len(strings.Fields(string(out))) != 3 {
		t.Fatalf("swarmdeck list: %v %q", err, out)
	}
}

func TestAnAgentThatStopsRenewingDisappearsAndItsContainersMove(t *testing.T) {
	eachStore(t, testAnAgentThatStopsRenewingDisappearsAndItsContainersMove)
}

func testAnAgentThatStopsRenewingDisappearsAndItsContainersMove(t *testing.T, cb *consulBed) {
	c := cb.manager(t)
	agents := cb.joinAll(t, c)
	ct, err := c.Create(context.Background(), model.Config{Name: "mover", Image: "busybox", Cmd: []string{"sleep", "600"},
		Env: []string{"constraint:node==~node-3", "reschedule:on-node-failure"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Start(context.Background(), "mover")
	// The agent dies without deregistering: its key lives until its TTL.
	agents[2].Process.Kill()
	took := eventually(t, 40*time.Second, "node-3 gone from the cluster", func() bool { return len(c.Nodes()) == 2 })
	t.Logf("node-3 left discovery %s after its agent died (TTL 10s)", took.Round(time.Second))
	// Its engine still runs the old copy (only the registration died); the
	// cluster runs the container once more, on a node it still has.
	eventually(t, 10*time.Second, "mover running once on node-1 or node-2", func() bool {
		_, where := running(cb, ct.SwarmID)
		others := 0
		for _, w := range where {
			if w != cb.nodes[2] {
				others++
			}
		}
		return others == 1
	})
	if n, _, err := c.Inspect("mover"); err != nil || n.Node == cb.nodes[2] {
		t.Fatalf("the cluster sees mover at %v (%v)", n, err)
	}
}

func TestTwoManagersFailOverAndMoveContainersOnce(t *testing.T) {
	eachStore(t, testTwoManagersFailOverAndMoveContainersOnce)
}

func testTwoManagersFailOverAndMoveContainersOnce(t *testing.T, cb *consulBed) {
	for _, a := range cb.nodes {
		cb.join(t, a)
	}
	ports := []int{freePort(t), freePort(t)}
	api := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	manager := func(i int) *exec.Cmd {
		return cb.start(t, "manage", "--headless", "--replication", "--replication-ttl", "20s",
			"--advertise", api(i), "-H", "tcp://"+api(i), cb.url())
	}
	docker := func(i int, args ...string) string {
		out, _ := exec.Command("docker", append([]string{"-H", "tcp://" + api(i)}, args...)...).CombinedOutput()
		return string(out)
	}
	m1 := manager(0)
	eventually(t, 15*time.Second, "the first manager primary", func() bool { return strings.Contains(docker(0, "info"), "Role: primary") })
	manager(1)
	eventually(t, 15*time.Second, "the second a replica naming the first", func() bool {
		info := docker(1, "info")
		return strings.Contains(info, "Role: replica") && strings.Contains(info, "Primary: "+api(0))
	})
	eventually(t, 10*time.Second, "the replica sees the three engines", func() bool { return strings.Count(docker(1, "info"), "└ Status: Healthy") == 3 })
	// A write sent to the replica is done by the primary.
	out := docker(1, "run", "-d", "--name", "ha", "-e", "constraint:node==~node-2", "-e", "reschedule:on-node-failure", "busybox", "sleep", "600")
	id := strings.TrimSpace(out)
	if len(id) != 64 {
		t.Fatalf("run through the replica: %s", out)
	}
	swarmID := strings.TrimSpace(docker(0, "inspect", "-f", `{{index .Config.Labels "com.docker.swarm.id"}}`, "ha"))
	// The primary and node-2's dockerd die together.
	start := time.Now()
	m1.Process.Kill()
	pid, _ := os.ReadFile(filepath.Join(cb.tbDir, "node-2", "pid"))
	var p int
	fmt.Sscan(string(pid), &p)
	syscall.Kill(p, syscall.SIGKILL)
	took := eventually(t, 40*time.Second, "the replica primary within twice the replication TTL", func() bool {
		return strings.Contains(docker(1, "info"), "Role: primary")
	})
	t.Logf("MEASURE failover %s (replication TTL 20s)", took.Round(100*time.Millisecond))
	moved := eventually(t, 20*time.Second, "ha running on node-1 or node-3", func() bool {
		n, where := running(cb, swarmID)
		return n == 1 && where[0] != cb.nodes[1]
	})
	t.Logf("ha moved %s after the kills", moved.Round(100*time.Millisecond))
	// And it stays at one copy.
	time.Sleep(3 * time.Second)
	if n, where := running(cb, swarmID); n != 1 {
		t.Fatalf("%d running copies of ha on %v; want exactly one", n, where)
	}
	_ = start
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestStoreAwayAndBack(t *testing.T) { eachStore(t, testStoreAwayAndBack) }

func testStoreAwayAndBack(t *testing.T, cb *consulBed) {
	c := cb.manager(t)
	agents := cb.joinAll(t, c)
	cb.storeCtl(t, "kill")
	eventually(t, 10*time.Second, "the manager says the store is away", func() bool {
		for _, e := range c.RecentEvents() {
			if e.Action == "discovery" && strings.Contains(e.Message, "does not answer") {
				return true
			}
		}
		return false
	})
	time.Sleep(3 * time.Second)
	if healthyNodes(c) != 3 {
		t.Fatalf("the view shrank while the store was away: %d nodes", healthyNodes(c))
	}
	cb.storeCtl(t, "revive")
	eventually(t, 30*time.Second, "the manager hears from the store again", func() bool {
		for _, e := range c.RecentEvents() {
			if e.Action == "discovery" && strings.Contains(e.Message, "answers again") {
				return true
			}
		}
		return false
	})
	// Discovery works again without a restart: an agent that stops and
	// deregisters takes its node away.
	agents[0].Process.Signal(syscall.SIGTERM)
	agents[0].Wait()
	eventually(t, 15*time.Second, "node-1 deregistered", func() bool { return len(c.Nodes()) == 2 })
}

func TestReplicatedManagersOverTLS(t *testing.T) {
	cb := requireConsul(t)
	for _, a := range cb.nodes {
		cb.join(t, a)
	}
	certs := t.TempDir()
	testcerts.Write(t, certs)
	cert := func(name string) string { return filepath.Join(certs, name) }
	ports := []int{freePort(t), freePort(t)}
	api := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	for i := range 2 {
		cb.start(t, "manage", "--headless", "--replication", "--advertise", api(i), "-H", "tcp://"+api(i),
			"--tlsverify", "--tlscacert", cert("ca.pem"), "--tlscert", cert("server-cert.pem"), "--tlskey", cert("server-key.pem"), cb.url())
		if i == 0 {
			time.Sleep(2 * time.Second) // let the first one win the election
		}
	}
	docker := func(i int, args ...string) string {
		tls := []string{"--tlsverify", "--tlscacert", cert("ca.pem"), "--tlscert", cert("cert.pem"), "--tlskey", cert("key.pem"), "-H", "tcp://" + api(i)}
		cmd := exec.Command("docker", append(tls, args...)...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=", "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=")
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	eventually(t, 20*time.Second, "a primary and a replica naming it, over TLS", func() bool {
		return strings.Contains(docker(0, "info"), "Role: primary") && strings.Contains(docker(1, "info"), "Primary: "+api(0))
	})
	eventually(t, 10*time.Second, "the replica sees the engines", func() bool { return strings.Count(docker(1, "info"), "└ Status: Healthy") == 3 })
	if out := docker(1, "run", "-d", "--name", "tlsha", "busybox", "sleep", "600"); len(strings.TrimSpace(out)) != 64 {
		t.Fatalf("a run sent to the replica over TLS: %s", out)
	}
	if ps := docker(0, "ps"); !strings.Contains(ps, "/tlsha") {
		t.Fatalf("the primary does not list it:\n%s", ps)
	}
}

// A Consul restart must not take the pool away: the join agents keep
// their sessions (Consul keeps them across a restart) and renew them when
// Consul answers again, so no engine ever leaves discovery. (Found by the
// fault soak: the agents dropped their session at the first failed renew,
// the old session held the key until it expired, and 20 s after Consul
// came back every node left the cluster while its engine answered.)
func TestJoinedEnginesStayThroughAConsulRestart(t *testing.T) {
	cb := requireConsul(t)
	c := cb.manager(t)
	cb.joinAll(t, c)
	cb.storeCtl(t, "kill")
	time.Sleep(3 * time.Second) // three missed heartbeats
	cb.storeCtl(t, "revive")
	// The old sessions' TTL is 10 s, which Consul may stretch to 20 s.
	deadline := time.Now().Add(25 * time.Second)
	for time.Now().Before(deadline) {
		if n := healthyNodes(c); n != len(cb.nodes) {
			for _, e := range c.RecentEvents() {
				t.Log(e.Time.Format("15:04:05.000"), e.Action, e.Message)
			}
			t.Fatalf("%d of %d nodes Healthy %s after Consul came back", n, len(cb.nodes), 25*time.Second-time.Until(deadline).Round(time.Second))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestReplicatedManagersAgreeOnADrainedNode(t *testing.T) {
	cb := requireConsul(t)
	for _, a := range cb.nodes {
		cb.join(t, a)
	}
	ports := []int{freePort(t), freePort(t)}
	api := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	docker := func(i int, args ...string) string {
		out, _ := exec.Command("docker", append([]string{"-H", "tcp://" + api(i)}, args...)...).CombinedOutput()
		return string(out)
	}
	cb.start(t, "manage", "--headless", "--replication", "--advertise", api(0), "-H", "tcp://"+api(0), cb.url())
	eventually(t, 15*time.Second, "the first manager primary", func() bool { return strings.Contains(docker(0, "info"), "Role: primary") })
	cb.start(t, "manage", "--headless", "--replication", "--advertise", api(1), "-H", "tcp://"+api(1), cb.url())
	eventually(t, 15*time.Second, "a replica that sees the three engines", func() bool {
		info := docker(1, "info")
		return strings.Contains(info, "Role: replica") && strings.Count(info, "└ Status: Healthy") == 3
	})
	// Drained through the replica (the request goes to the primary), kept
	// in Consul: both managers say so.
	out, err := exec.Command(cb.bin, "node", "drain", "node-2", "--host", "tcp://"+api(1)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "is now draining (kept in Consul") {
		t.Fatalf("swarmdeck node drain node-2 through the replica: %v\n%s", err, out)
	}
	drained := regexp.MustCompile(`node-2: [^\n]*\n(   └ [^\n]*\n)*?   └ Availability: drain`)
	for i := range 2 {
		eventually(t, 10*time.Second, fmt.Sprintf("manager %d shows node-2 drained", i+1), func() bool {
			info := docker(i, "info")
			return drained.MatchString(info) && strings.Count(info, "└ Availability: drain") == 1
		})
	}
	// And a new container does not land there.
	if out := docker(1, "run", "-d", "--name", "after-drain", "-e", "constraint:node!=node-1", "busybox", "sleep", "60"); len(strings.TrimSpace(out)) != 64 {
		t.Fatalf("run: %s", out)
	}
	if ps := docker(0, "ps"); !strings.Contains(ps, "node-3/after-drain") {
		t.Fatalf("after-drain is not on node-3 (node-1 excluded, node-2 drained):\n%s", ps)
	}
}
