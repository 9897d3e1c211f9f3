package main

import (
	"bytes"
	"strings"

	"syscall"
	"testing"
	"time"
)

func TestManageFlagsAsSwarm(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  string
		want string // the error; empty for a valid line
	}{
		{name: "no discovery", args: nil, want: "discovery required to manage a cluster. See 'swarmdeck manage --help'."},
		{name: "the discovery from the environment", env: "a:1", args: nil},
		{name: "a failure retry of 0", args: []string{"--engine-failure-retry", "0", "a:1"}, want: "invalid failure retry count"},
		{name: "the deprecated retry", args: []string{"--engine-refresh-retry", "5", "a:1"}, want: "--engine-refresh-retry is deprecated. Use --engine-failure-retry"},
		{name: "the deprecated retry at its default is fine", args: []string{"--engine-refresh-retry", "3", "a:1"}},
		{name: "a zero min interval", args: []string{"--engine-refresh-min-interval", "0s", "a:1"}, want: "min refresh interval should be a positive number"},
		{name: "max below min", args: []string{"--engine-refresh-min-interval", "10s", "--engine-refresh-max-interval", "5s", "a:1"},
			want: "max refresh interval cannot be less than min refresh interval"},
		{name: "a bad strategy", args: []string{"--strategy", "fair", "a:1"}, want: `strategy not supported: "fair" (use spread, binpack or random)`},
		{name: "a bad filter", args: []string{"-f", "ports", "a:1"}, want: `filter not supported: "ports" (use health, port, containerslots, dependency, affinity, constraint, whitelist)`},
		{name: "a bad overcommit", args: []string{"--cluster-opt", "swarm.overcommit=-2", "a:1"}, want: "swarm.overcommit should be larger than -1, -2.000000 is invalid"},
		{name: "an unknown cluster option", args: []string{"--cluster-opt", "swarm.createretry=1", "a:1"}, want: `unsupported --cluster-opt "swarm.createretry=1" (swarmdeck knows swarm.overcommit)`},
		{name: "a replication TTL Consul cannot keep", args: []string{"--replication", "--advertise", "127.0.0.1:3376", "--replication-ttl", "1ms", "consul://127.0.0.1:1/x"},
			want: "--replication-ttl 1ms is below the shortest TTL consul:// keeps (10s)"},
		{name: "a replication TTL Consul refuses", args: []string{"--replication", "--advertise", "127.0.0.1:3376", "--replication-ttl", "49h", "consul://127.0.0.1:1/x"},
			want: "--replication-ttl 49h0m0s is above the longest TTL consul:// accepts (24h0m0s)"},
		{name: "a negative grace", args: []string{"--reschedule-grace", "-1s", "a:1"}, want: "--reschedule-grace should not be a negative number"},
		{name: "a bad address", args: []string{"10.0.0.1"}, want: `invalid address "10.0.0.1": want host:port, please check you are using the correct discovery (missing token:// ?)`},
		{name: "a cluster file and a discovery", args: []string{"--cluster", "examples/demo.yaml", "a:1"}, want: "--cluster and a discovery both name the cluster: give one"},
		{name: "a broken cluster file", args: []string{"sim://clusterfile/testdata/bad/bad-memory.yaml"},
			want: `clusterfile/testdata/bad/bad-memory.yaml:4: node a: memory: invalid size: 'lots' (want bytes or a size such as 512m, 2g or 2GiB)`},
		{name: "a state file that is not JSON", args: []string{"--state-file", "testdata/state-broken.json", "a:1"},
			want: "node availability cannot be read (fix the file, or move it away to start with every node active): state file testdata/state-broken.json: invalid character 'n' looking for beginning of object key string"},
		{name: "a state file with an unknown availability", args: []string{"--state-file", "testdata/state-bad-availability.json", "a:1"},
			want: "node availability cannot be read (fix the file, or move it away to start with every node active): state file testdata/state-bad-availability.json, node 127.0.0.1:2375: unknown availability \"asleep\" (want active, pause or drain)"},
		{name: "a state file that cannot be written", args: []string{"--state-file", "/proc/nonexistent/state.json", "a:1"},
			want: "node availability could not be kept (choose another --state-file): state file /proc/nonexistent/state.json: mkdir /proc/nonexistent: no such file or directory"},
		{name: "an unknown flag", args: []string{"--colour", "a:1"}, want: "unknown flag: --colour"},
		{name: "a bad -H", args: []string{"-H", "http://x", "a:1"}, want: `invalid -H "http://x": want tcp://host:port or unix:///path`},
		{name: "-H unix:// without a path", args: []string{"-H", "unix://", "a:1"}, want: `invalid -H "unix://": want tcp://host:port or unix:///path`},
		{name: "-H on an abstract socket", args: []string{"-H", "unix://@hidden", "a:1"}, want: `invalid -H "unix://@hidden": want tcp://host:port or unix:///path`},
		{name: "-H without a port", args: []string{"-H", "tcp://127.0.0.1", "a:1"}, want: `invalid -H "tcp://127.0.0.1": want tcp://host:port or unix:///path`},
		{name: "--tls without a key", args: []string{"--tls", "--tlscert", "c.pem", "a:1"}, want: "--tlscert and --tlskey must be provided when using --tls"},
		{name: "--tlsverify without a CA", args: []string{"--tlsverify", "--tlscert", "c.pem", "--tlskey", "k.pem", "a:1"}, want: "--tlscacert must be provided when using --tlsverify"},
		{name: "certificates without --tls", args: []string{"--tlscert", "c.pem", "a:1"}, want: "--tlscert, --tlskey and --tlscacert require the use of either --tls or --tlsverify"},
		{name: "certificates that do not exist", args: []string{"--tls", "--tlscert", "nope.pem", "--tlskey", "nope.key", "a:1"}, want: "--tlscert and --tlskey: open nope.pem: no such file or directory"},
		{name: "a full valid line", args: []string{"--strategy", "binpack", "-f", "health", "-f", "constraint", "--reschedule-grace", "5s",
			"--cluster-opt", "swarm.overcommit=0.1", "nodes://a:1,b:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SWARM_DISCOVERY", tt.env)
			cfg, err := parseManage(tt.args, &bytes.Buffer{})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v (%+v)\nwant %s", err, cfg, tt.want)
			}
		})
	}
	cfg, err := parseManage([]string{"--strategy", "binpack", "-f", "health", "-f", "constraint", "--reschedule-grace", "5s",
		"--cluster-opt", "swarm.overcommit=0.1", "--engine-failure-retry", "2", "nodes://a:1,b:2"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.opts
	if o.Sched.Strategy != "binpack" || len(o.Sched.Filters) != 2 || o.Sched.Overcommit != 10 || o.RescheduleGrace != 5*time.Second || o.FailureRetry != 2 {
		t.Fatalf("options %+v", o)
	}
}

func TestManageHeadlessOnASimulatedCluster(t *testing.T) {
	var out, errOut bytes.Buffer
	done := make(chan int)
	cfg, err := parseManage([]string{"--headless", "--cluster", "examples/demo.yaml"}, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- runManager(cfg, &out, &errOut) }()
	time.Sleep(500 * time.Millisecond)
	// runManager stops on SIGINT; the test process sends it to itself.
	interruptSelf(t)
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"swarmdeck managing sim://examples/demo.yaml (SIMULATED): strategy spread",
		"eu-1 (10.0.1.11:2375) connected: 8 CPUs, 16 GiB"} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if bytes.Contains(out.Bytes(), []byte("ap-1 (10.0.3.31:2375) connected")) {
		t.Error("ap-1 is described as unhealthy and must not connect")
	}
}

// interruptSelf sends SIGINT to the test process, as Ctrl-C would.
func interruptSelf(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
}

func TestJoinListAndReplicationFlagsAsSwarm(t *testing.T) {
	for _, tt := range []struct {
		cmd  func([]string, *bytes.Buffer, *bytes.Buffer) int
		args []string
		want string
		code int // 0: 2, bad usage
	}{
		{joinCmd, []string{"consul://127.0.0.1:1/x"}, "swarmdeck join: missing mandatory --advertise flag", 0},
		{joinCmd, []string{"--advertise", "10.0.0.1", "consul://127.0.0.1:1/x"}, "swarmdeck join: --advertise should be of the form ip:port or hostname:port", 0},
		{joinCmd, []string{"--advertise", "a:1", "--heartbeat", "500ms", "consul://127.0.0.1:1/x"}, "swarmdeck join: --heartbeat should be at least one second", 0},
		{joinCmd, []string{"--advertise", "a:1", "--heartbeat", "20s", "--ttl", "20s", "consul://127.0.0.1:1/x"}, "swarmdeck join: --ttl must be strictly superior to the heartbeat value", 0},
		{joinCmd, []string{"--advertise", "a:1", "--delay", "-1s", "consul://127.0.0.1:1/x"}, "swarmdeck join: --delay should not be a negative number", 0},
		{joinCmd, []string{"--advertise", "a:1", "nodes://a:1"}, "swarmdeck join: join needs a key-value or token discovery (consul://, etcd://, zk://, token://): nodes://a:1 is not one", 0},
		{joinCmd, []string{"--advertise", "a:1", "--heartbeat", "1s", "--ttl", "5s", "consul://127.0.0.1:1/x"}, "swarmdeck join: --ttl 5s is below the shortest TTL consul:// keeps (10s)", 0},
		{joinCmd, []string{"--advertise", "a:1", "zk://127.0.0.1:1/x", "--discovery-opt", "kv.cacertfile=a", "--discovery-opt", "kv.certfile=b", "--discovery-opt", "kv.keyfile=c"}, `swarmdeck join: discovery zk://127.0.0.1:1/x: ZooKeeper speaks plain TCP here`, 0},
		{listCmd, []string{"--timeout", "0s", "a:1"}, "swarmdeck list: --timeout should be a positive number", 0},
		// An unreachable store for list is exit 3 (as for join), not bad usage.
		{listCmd, []string{"consul://127.0.0.1:1/x"}, "swarmdeck list: cannot reach Consul at consul://127.0.0.1:1/x:", exitUnreachable},
		{joinCmd, []string{"--advertise", "a:1", "--name", "weird=name", "etcd://127.0.0.1:1/x"}, `swarmdeck join: --name: invalid node name "weird=name"`, 0},
		{joinCmd, []string{"--advertise", "a:1", "--name", "a b", "etcd://127.0.0.1:1/x"}, `swarmdeck join: --name: invalid node name "a b"`, 0},
		{joinCmd, []string{"--advertise", "a:1", "--name", "a/b", "etcd://127.0.0.1:1/x"}, `swarmdeck join: --name: invalid node name "a/b"`, 0},
		{joinCmd, []string{"--advertise", "a:1", "--ttl", "100000h", "zk://127.0.0.1:1/x"}, "swarmdeck join: --ttl 100000h0m0s is above the longest TTL zk:// accepts (596h31m23.647s)", 0},
		{joinCmd, []string{"--advertise", "a:1", "--ttl", "25h", "consul://127.0.0.1:1/x"}, "swarmdeck join: --ttl 25h0m0s is above the longest TTL consul:// accepts (24h0m0s)", 0},
		{joinCmd, []string{"--advertise", "a:1", "--ttl", "25h", "token://127.0.0.1:1/abc"}, "swarmdeck join: --ttl 25h0m0s is above the longest TTL token:// accepts (24h0m0s)", 0},
		{manageCmd, []string{"--replication", "consul://127.0.0.1:1/x"}, "swarmdeck manage: --advertise address must be provided when using --replication", 0},
		{manageCmd, []string{"--replication", "--advertise", "a:1", "--replication-ttl", "0s", "consul://127.0.0.1:1/x"}, "swarmdeck manage: --replication-ttl should be a positive number", 0},
		{manageCmd, []string{"--replication", "--advertise", "a:1", "nodes://a:1"}, "swarmdeck manage: Leader election is only supported with consul, etcd and zookeeper discovery.", 0},
		{manageCmd, []string{"--heartbeat", "100ms", "a:1"}, "swarmdeck manage: --heartbeat should be at least one second", 0},
		{listCmd, []string{"--timeout", "1s", "etcd://127.0.0.1:1/x"}, "swarmdeck list: cannot reach etcd at etcd://127.0.0.1:1/x:", exitUnreachable},
		{listCmd, []string{"--timeout", "1s", "zk://127.0.0.1:1/x"}, "swarmdeck list: cannot reach ZooKeeper at zk://127.0.0.1:1/x:", exitUnreachable},
		{manageCmd, []string{"--replication", "--advertise", "a:1", "token://127.0.0.1:1/abc"}, "swarmdeck manage: Leader election is only supported with consul, etcd and zookeeper discovery.", 0},
		{manageCmd, []string{"mesos://a:1/x"}, `swarmdeck manage: discovery "mesos://a:1/x": unsupported scheme mesos`, 0},
	} {
		want := tt.code
		if want == 0 {
			want = 2
		}
		var out, errOut bytes.Buffer
		code := tt.cmd(tt.args, &out, &errOut)
		if code != want || !strings.HasPrefix(errOut.String(), tt.want) {
			t.Errorf("%v: exit %d, %q\nwant exit %d, %q", tt.args, code, errOut.String(), want, tt.want)
		}
	}
	var out, errOut bytes.Buffer
	if code := listCmd([]string{"nodes://a:1,b:[2:3]"}, &out, &errOut); code != 0 || out.String() != "a:1\nb:2\nb:3\n" {
		t.Fatalf("list of a static discovery: %d %q %q", code, out.String(), errOut.String())
	}
}

func joinCmd(args []string, out, errOut *bytes.Buffer) int   { return join(args, out, errOut) }
func listCmd(args []string, out, errOut *bytes.Buffer) int   { return list(args, out, errOut) }
func manageCmd(args []string, out, errOut *bytes.Buffer) int { return manage(args, out, errOut) }
