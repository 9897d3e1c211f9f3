package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// withoutTerminal is the built command as docker run without -t, a pipe
// or a systemd unit starts it: a new session with no controlling
// terminal, standard input /dev/null, $TERM as given ("" unsets it).
func withoutTerminal(ctx context.Context, t *testing.T, term string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, swarmdeckBinary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TERM=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if term != "" {
		cmd.Env = append(cmd.Env, "TERM="+term)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd
}

// TestTheConsoleWithoutATerminalSaysSo starts every form of the console
// with no terminal to draw on, with and without $TERM: each says, in the
// same words, that it needs one, and exits 1 (it used to panic in tcell
// with TERM set, say "term not set" without it, or run headless on the
// simulated cluster for sim://N).
func TestTheConsoleWithoutATerminalSaysSo(t *testing.T) {
	const want = "swarmdeck: the console needs a terminal (use docker run -it, or manage --headless)\n"
	for _, tt := range []struct {
		name, term string
		args       []string
	}{
		{name: "swarmdeck with TERM=xterm", term: "xterm"},
		{name: "swarmdeck without TERM"},
		{name: "swarmdeck sim://50", term: "xterm", args: []string{"sim://50"}},
		{name: "swarmdeck --cluster FILE", term: "xterm", args: []string{"--cluster", "examples/demo.yaml"}},
		{name: "swarmdeck --log-format json", term: "xterm", args: []string{"--log-format", "json"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for range 5 { // the panic was a race: 18 runs in 20
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				cmd := withoutTerminal(ctx, t, tt.term, tt.args...)
				var out, errOut bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errOut
				err := cmd.Run()
				cancel()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != exitRefused || errOut.String() != want || out.Len() != 0 {
					t.Fatalf("%v: stdout %q, stderr %q; want exit 1 and %q", err, out.String(), errOut.String(), want)
				}
			}
		})
	}
}

// TestManageWithoutATerminalKeepsStderrJSON runs `--log-format JSON
// manage` the way docker run -d does (no terminal, so headless) with
// metrics on 0.0.0.0:0: standard error is JSON lines only (the headless
// notice and the off-loopback warning included), the metrics address is
// confirmed with the port the kernel chose, and a request no route serves
// is counted as route="unmatched".
func TestManageWithoutATerminalKeepsStderrJSON(t *testing.T) {
	api := freeAddr(t)
	dir := t.TempDir()
	stdoutPath, stderrPath := filepath.Join(dir, "stdout"), filepath.Join(dir, "stderr")
	stdout, _ := os.Create(stdoutPath)
	stderr, _ := os.Create(stderrPath)
	defer stdout.Close()
	defer stderr.Close()
	cmd := withoutTerminal(context.Background(), t, "xterm", "--log-format", "JSON", "manage", "-H", "tcp://"+api,
		"--metrics-addr", "0.0.0.0:0", "sim://3")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	waitPing(t, api)

	served := regexp.MustCompile(`(?m)^Prometheus metrics on http://(\S+):(\d+)/metrics$`)
	var port string
	for deadline := time.Now().Add(10 * time.Second); port == ""; time.Sleep(100 * time.Millisecond) {
		out, _ := os.ReadFile(stdoutPath)
		if m := served.FindSubmatch(out); m != nil {
			port = string(m[2])
		} else if time.Now().After(deadline) {
			t.Fatalf("standard output does not say where metrics are served:\n%s", out)
		}
	}
	if port == "0" {
		t.Fatal("the metrics address is given with port 0, not the port the kernel chose")
	}
	resp, err := http.Get("http://" + api + "/v1.41/no/such/route")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("an unknown route: %s", resp.Status)
	}
	m := scrapeMetrics(t, "http://127.0.0.1:"+port+"/metrics")
	if m[`swarmdeck_api_requests_total{code="404",route="unmatched"}`] != 1 {
		t.Errorf("the 404 is not counted as route=\"unmatched\": %v", m)
	}
	for series := range m {
		if strings.Contains(series, `route="/"`) {
			t.Errorf("a request is labelled with the catch-all pattern: %s", series)
		}
	}

	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	records := readJSONLines(t, stderrPath) // fails on any line that is not JSON
	said := func(level, msg string, attrs map[string]string) bool {
		for _, r := range records {
			if r["level"] != level || !strings.Contains(fmt.Sprint(r["msg"]), msg) {
				continue
			}
			ok := true
			for k, v := range attrs {
				ok = ok && fmt.Sprint(r[k]) == v
			}
			if ok {
				return true
			}
		}
		return false
	}
	if !said("INFO", "no terminal for the console: running headless", nil) {
		t.Errorf("the headless notice is not a record: %v", records)
	}
	if !said("WARN", "not on loopback", map[string]string{"addr": "[::]:" + port}) && !said("WARN", "not on loopback", map[string]string{"addr": "0.0.0.0:" + port}) {
		t.Errorf("the off-loopback warning is not a record naming the real address: %v", records)
	}
	if !said("INFO", "serving Prometheus metrics", nil) {
		t.Errorf("where metrics are served is not logged: %v", records)
	}
}

// TestAnEngineNeverReachedIsSaidAtInfo manages one address nothing
// listens on, at the default level: the log says once, at info, naming
// the engine and the error, that it is not reachable, while probes go on.
func TestAnEngineNeverReachedIsSaidAtInfo(t *testing.T) {
	api, engine := freeAddr(t), freeAddr(t)
	stderrPath := filepath.Join(t.TempDir(), "stderr")
	stderr, _ := os.Create(stderrPath)
	defer stderr.Close()
	cmd := exec.Command(swarmdeckBinary(t), "--log-format", "json", "manage", "--headless", "-H", "tcp://"+api, "nodes://"+engine)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	waitPing(t, api)
	// Probes run about twice a second: several runs of
	// --engine-failure-retry (3) fit in these seconds.
	time.Sleep(6 * time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	var said []map[string]any
	for _, r := range readJSONLines(t, stderrPath) {
		if r["event"] == "engine_unreachable" {
			said = append(said, r)
		}
	}
	if len(said) != 1 {
		t.Fatalf("%d engine_unreachable records, want 1: %v", len(said), said)
	}
	r := said[0]
	if r["level"] != "INFO" || r["addr"] != engine || r["node"] != engine || !strings.Contains(fmt.Sprint(r["error"]), "Cannot connect") {
		t.Errorf("the record: %v", r)
	}
}

// TestOperatorFlagsAsAUserTypesThem runs the built command with the log
// and metrics flags as operators type them.
func TestOperatorFlagsAsAUserTypesThem(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		code int
		err  string // a part of standard error
	}{
		{name: "--log-format in capitals", args: []string{"--log-format", "JSON", "version"}},
		{name: "--log-level in capitals", args: []string{"-l", "DEBUG", "version"}},
		{name: "an empty --log-level", args: []string{"--log-level=", "version"}, code: exitUsage, err: `swarmdeck: invalid --log-level "": want debug, info, warn or error`},
		{name: "an empty --log-format", args: []string{"--log-format=", "version"}, code: exitUsage, err: `swarmdeck: invalid --log-format "": want text or json`},
		{name: "--debug after manage", args: []string{"manage", "--debug", "sim://1"}, code: exitUsage,
			err: "swarmdeck manage: unknown flag: --debug (a global flag: put it before the command, as in swarmdeck --debug … manage …)"},
		{name: "-l after join", args: []string{"join", "-l", "debug", "consul://127.0.0.1:1/x"}, code: exitUsage,
			err: "swarmdeck join: unknown shorthand flag: 'l' in -l (a global flag: put it before the command, as in swarmdeck -l … join …)"},
		{name: "an empty --metrics-addr", args: []string{"manage", "--headless", "--metrics-addr", "", "sim://1"}, code: exitUsage,
			err: "swarmdeck manage: --metrics-addr is empty: give HOST:PORT, such as 127.0.0.1:9323, or leave the flag out (metrics are off by default)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runBinaryWithin(t, 10*time.Second, tt.args...) // a flag taken in silence would serve on
			if code != tt.code || !strings.Contains(errOut, tt.err) || tt.err == "" && errOut != "" {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errOut, tt.code, tt.err)
			}
		})
	}
}

// TestWaitingContainersCountAsDockerPsListsThem kill -9s a real engine
// holding three containers, two of which may move but are pinned to it:
// they wait. The containers gauge, docker info's counts and the old
// node's reservation all count the three docker ps -a lists.
func TestWaitingContainersCountAsDockerPsListsThem(t *testing.T) {
	addrs := cleanTestbed(t, "SWARMDECK_TESTBED_NODES")
	api, met := freeAddr(t), freeAddr(t)
	stderr, _ := os.Create(filepath.Join(t.TempDir(), "stderr"))
	defer stderr.Close()
	cmd := exec.Command(swarmdeckBinary(t), "manage", "--headless", "-H", "tcp://"+api, "--metrics-addr", met, "nodes://"+strings.Join(addrs, ","))
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	waitPing(t, api)
	docker := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("docker", append([]string{"-H", "tcp://" + api}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	until := func(what string, ok func(m map[string]float64) bool) map[string]float64 {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			m := scrapeMetrics(t, "http://"+met+"/metrics")
			if ok(m) {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not so after 30s: %v", what, m)
			}
		}
	}
	until("3 healthy nodes", func(m map[string]float64) bool { return m[`swarmdeck_nodes{status="healthy"}`] == 3 })
	pin := "constraint:node==node-1"
	docker("run", "-d", "--name", "wait-a", "-m", "64m", "-e", pin, "-e", "reschedule:on-node-failure", "busybox", "sleep", "600")
	docker("run", "-d", "--name", "wait-b", "-e", pin, "-e", "reschedule:on-node-failure", "busybox", "sleep", "600")
	docker("run", "-d", "--name", "stays", "-e", pin, "busybox", "sleep", "600")

	if out, err := exec.Command("scripts/testbed.sh", "kill", "1").CombinedOutput(); err != nil {
		t.Fatalf("testbed.sh kill 1: %v\n%s", err, out)
	}
	m := until("two containers waiting", func(m map[string]float64) bool { return m["swarmdeck_reschedule_queue_containers"] == 2 })
	listed := len(strings.Fields(docker("ps", "-aq")))
	var counted float64
	for series, v := range m {
		if strings.HasPrefix(series, "swarmdeck_containers{") {
			counted += v
		}
	}
	if listed != 3 || counted != 3 || m[`swarmdeck_containers{state="waiting"}`] != 2 || m[`swarmdeck_containers{state="host_down"}`] != 1 {
		t.Errorf("docker ps -a lists %d containers; the gauge counts %v: %v", listed, counted, m)
	}
	if got := docker("info", "--format", "{{.Containers}}"); got != "3" {
		t.Errorf("docker info: Containers %s, want 3", got)
	}
	info := docker("info")
	node := info[strings.Index(info, " node-1: "):]
	if i := strings.Index(node[1:], " node-2: "); i > 0 {
		node = node[:i]
	}
	if !strings.Contains(node, "Containers: 3\n") || !strings.Contains(node, "Reserved Memory: 64 MiB / ") {
		t.Errorf("docker info says of node-1, which held the three:\n%s", node)
	}
}

// TestJoinLogsStructuredRecords runs join with --log-format json on the
// test bed's real Consul: standard error is JSON records naming the
// engine, standard output keeps the two terse lines scripts read.
func TestJoinLogsStructuredRecords(t *testing.T) {
	cb := requireConsul(t)
	addr := cb.nodes[0]
	stderrPath := filepath.Join(t.TempDir(), "stderr")
	stderr, _ := os.Create(stderrPath)
	defer stderr.Close()
	var out bytes.Buffer
	cmd := exec.Command(cb.bin, "--log-format", "json", "join", "--advertise", addr, "--heartbeat", "1s", "--ttl", "10s", cb.url())
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the engine registered", func() bool { return cb.registered(t, addr) })
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("join: %v", err)
	}
	want := fmt.Sprintf("registering %s in %s every 1s (TTL 10s)\nderegistered %s\n", addr, cb.url(), addr)
	if out.String() != want {
		t.Errorf("standard output %q, want %q", out.String(), want)
	}
	events := map[string]bool{}
	for _, r := range readJSONLines(t, stderrPath) {
		if r["addr"] != addr || r["kind"] != "join" {
			t.Errorf("a record does not name the engine: %v", r)
		}
		events[fmt.Sprint(r["event"])] = true
	}
	if !events["register"] || !events["deregister"] {
		t.Errorf("the log lacks the register and deregister records: %v", events)
	}
}
