package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMetricsAndJSONLogsThroughAKillDrill runs the built manager headless
// on the test bed's real dockerd with --log-format json and
// --metrics-addr, creates containers with the real docker CLI, kills -9
// the engine they run on, and checks what an operator watches: the
// gauges and counters Prometheus scrapes moved as they should, every log
// record on stderr is a JSON object naming its node and container, the
// reschedule says why, and the event lines on stdout keep their format.
func TestMetricsAndJSONLogsThroughAKillDrill(t *testing.T) {
	addrs := cleanTestbed(t, "SWARMDECK_TESTBED_NODES")
	nodes := strings.Join(addrs, ",")

	bin := filepath.Join(t.TempDir(), "swarmdeck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	api, met := freeAddr(t), freeAddr(t)
	stdoutPath, stderrPath := filepath.Join(t.TempDir(), "stdout"), filepath.Join(t.TempDir(), "stderr")
	stdout, _ := os.Create(stdoutPath)
	stderr, _ := os.Create(stderrPath)
	cmd := exec.Command(bin, "--log-format", "json", "manage", "--headless", "-H", "tcp://"+api, "--metrics-addr", met, "nodes://"+nodes)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	waitPing(t, api)
	scrape := func() map[string]float64 { return scrapeMetrics(t, "http://"+met+"/metrics") }
	until := func(what string, within time.Duration, ok func(m map[string]float64) bool) map[string]float64 {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			m := scrape()
			if ok(m) {
				return m
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(stderrPath)
				t.Fatalf("after %s, %s is still not so; metrics:\n%v\n--- log:\n%s", within, what, m, log)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	before := until("3 healthy nodes", 20*time.Second, func(m map[string]float64) bool { return m[`swarmdeck_nodes{status="healthy"}`] == 3 })
	if before[`swarmdeck_cpus{kind="total"}`] <= 0 || before[`swarmdeck_memory_bytes{kind="total"}`] <= 0 || before["swarmdeck_leader"] != 1 {
		t.Fatalf("capacity and leadership gauges: %v", before)
	}

	docker := func(args ...string) (string, error) {
		out, err := exec.Command("docker", append([]string{"-H", "tcp://" + api}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := docker("run", "-d", "--name", "ops-web", "-m", "32m", "-e", "reschedule:on-node-failure", "busybox", "sleep", "600"); err != nil {
		t.Fatalf("docker run ops-web: %v\n%s", err, out)
	}
	where, err := docker("inspect", "--format", "{{.Node.Name}}", "ops-web")
	if err != nil || !strings.HasPrefix(where, "node-") {
		t.Fatalf("docker inspect ops-web: %q %v", where, err)
	}
	if out, err := docker("run", "-d", "--name", "ops-pinned", "-e", "constraint:node=="+where, "busybox", "sleep", "600"); err != nil {
		t.Fatalf("docker run ops-pinned: %v\n%s", err, out)
	}
	if out, err := docker("run", "-d", "-e", "constraint:zone==mars", "busybox", "sleep", "600"); err == nil {
		t.Fatalf("a create no node fits was accepted: %s", out)
	}
	after := until("two running containers", 10*time.Second, func(m map[string]float64) bool {
		return m[`swarmdeck_containers{state="running"}`] == before[`swarmdeck_containers{state="running"}`]+2
	})
	for series, want := range map[string]float64{
		"swarmdeck_placements_total":                                               before["swarmdeck_placements_total"] + 2,
		`swarmdeck_placement_refusals_total{reason="no_node_fits"}`:                1,
		`swarmdeck_placement_duration_seconds_count{outcome="placed"}`:             2,
		`swarmdeck_memory_bytes{kind="reserved"}`:                                  before[`swarmdeck_memory_bytes{kind="reserved"}`] + 32<<20,
		`swarmdeck_api_requests_total{code="201",route="POST /containers/create"}`: 2,
		`swarmdeck_api_requests_total{code="500",route="POST /containers/create"}`: 1,
	} {
		if after[series] != want {
			t.Errorf("%s = %v after two creates and a refusal, want %v", series, after[series], want)
		}
	}
	if after[`swarmdeck_api_requests_total{code="200",route="GET /containers/{name}/json"}`] < 1 {
		t.Errorf("docker inspect is not counted under its route template: %v", after)
	}

	// kill -9 the engine ops-web runs on.
	i := strings.TrimPrefix(where, "node-")
	if out, err := exec.Command("scripts/testbed.sh", "kill", i).CombinedOutput(); err != nil {
		t.Fatalf("testbed.sh kill %s: %v\n%s", i, err, out)
	}
	drill := until("a reschedule", 30*time.Second, func(m map[string]float64) bool { return m["swarmdeck_reschedules_total"] >= 1 })
	for series, want := range map[string]float64{
		`swarmdeck_nodes{status="healthy"}`:           2,
		`swarmdeck_nodes{status="unhealthy"}`:         1,
		`swarmdeck_containers{state="host_down"}`:     1, // ops-pinned, which has no reschedule policy
		"swarmdeck_reschedules_total":                 1,
		"swarmdeck_reschedule_duration_seconds_count": 1,
		"swarmdeck_reschedule_queue_containers":       0,
	} {
		if drill[series] != want {
			t.Errorf("%s = %v after the kill -9 of %s, want %v", series, drill[series], where, want)
		}
	}
	if f := drill[`swarmdeck_engine_probe_failures_total{node="`+where+`"}`]; f < 3 {
		t.Errorf("engine probe failures of %s: %v, want at least --engine-failure-retry (3)", where, f)
	}
	if drill[`swarmdeck_cpus{kind="total"}`] >= before[`swarmdeck_cpus{kind="total"}`] {
		t.Errorf("the total CPUs did not drop with %s: %v then %v", where, before[`swarmdeck_cpus{kind="total"}`], drill[`swarmdeck_cpus{kind="total"}`])
	}
	if s := drill["swarmdeck_reschedule_duration_seconds_sum"]; s <= 0 || s > 30 {
		t.Errorf("reschedule took %vs by the histogram", s)
	}

	// The events on stdout keep their line format for scripts.
	line := []byte(" reschedule Rescheduled container ops-web from " + where + " to ")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, _ := os.ReadFile(stdoutPath)
		if bytes.Contains(out, line) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("standard output lacks %q:\n%s", line, out)
		}
	}
	if out, _ := os.ReadFile(stdoutPath); bytes.Contains(out, []byte(`{"time"`)) || !bytes.HasPrefix(out, []byte("swarmdeck managing nodes://")) {
		t.Errorf("standard output is not the event lines:\n%s", out)
	}
	if out, _ := os.ReadFile(stdoutPath); !bytes.Contains(out, []byte(" placed ops-web on "+where+"\n")) || bytes.Contains(out, []byte("placed placed")) {
		t.Errorf("the create's event line is not TIME placed NAME on NODE:\n%s", out)
	}

	// The log: JSON lines, each about a node or a container naming it.
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	records := readJSONLines(t, stderrPath)
	find := func(event, container string) map[string]any {
		for _, r := range records {
			if r["event"] == event && (container == "" || r["container"] == container) {
				return r
			}
		}
		t.Fatalf("no %q record for %q in the log:\n%v", event, container, records)
		return nil
	}
	if r := find("create", "ops-web"); r["node"] != where || r["level"] != "INFO" {
		t.Errorf("the create record: %v", r)
	}
	if r := find("engine_connect", ""); r["addr"] == nil || r["node"] == nil {
		t.Errorf("the engine_connect record does not name its address: %v", r)
	}
	if r := find("engine_disconnect", ""); r["node"] != where || !strings.Contains(fmt.Sprint(r["msg"]), "Connect failed") || r["error"] == nil {
		t.Errorf("failure detection does not say why: %v", r)
	}
	if r := find("reschedule", "ops-web"); r["from"] != where || !strings.Contains(fmt.Sprint(r["cause"]), where+" is Unhealthy after") || r["node"] == where {
		t.Errorf("the reschedule does not say why: %v", r)
	}
	if r := find("lost", "ops-pinned"); r["node"] != where {
		t.Errorf("the lost container's record: %v", r)
	}
	for _, r := range records {
		if strings.HasPrefix(fmt.Sprint(r["event"]), "engine_") && r["node"] == nil {
			t.Errorf("a record about an engine names no node: %v", r)
		}
	}
}

// cleanTestbed returns the test bed's engines, every container removed
// now and when the test ends; it skips the test when one of the named
// variables (the bed's and Consul's) is not set, and fails it instead
// under SWARMDECK_REQUIRE_INTEGRATION.
func cleanTestbed(t *testing.T, need ...string) []string {
	t.Helper()
	for _, v := range need {
		if os.Getenv(v) == "" {
			if os.Getenv("SWARMDECK_REQUIRE_INTEGRATION") != "" {
				t.Fatalf("%s is not set: scripts/testbed.sh or scripts/consul.sh did not start what this test needs", v)
			}
			t.Skip("needs the real dockerd and Consul of the test bed: run scripts/test.sh")
		}
	}
	addrs, dir := strings.Split(os.Getenv("SWARMDECK_TESTBED_NODES"), ","), os.Getenv("SWARMDECK_TESTBED_DIR")
	cleanEngines(t, addrs, dir)
	t.Cleanup(func() {
		cleanEngines(t, addrs, dir)
		// A revived engine may still be removing what it held: wait, so
		// that the next test finds the bed empty.
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			left := 0
			for _, a := range addrs {
				out, _ := exec.Command("docker", "-H", "tcp://"+a, "ps", "-aq").Output()
				left += len(strings.Fields(string(out)))
			}
			if left == 0 {
				return
			}
			cleanEngines(t, addrs, dir)
		}
	})
	return addrs
}

// scrapeMetrics reads a Prometheus text exposition into series → value.
func scrapeMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s\n%s", url, resp.Status, body)
	}
	m := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape %s: bad line %q", url, line)
		}
		m[line[:i]] = v
	}
	return m
}

// readJSONLines parses a log file that must hold one JSON object a line.
func readJSONLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("a log line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		t.Fatal("the manager logged nothing")
	}
	return out
}
