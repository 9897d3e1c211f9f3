package api

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"swarmdeck/model"
)

// TestCallsInFlightOnAHungEngineEndWhenItsNodeIsFlagged: node-2's
// dockerd is stopped with kill -STOP while calls on its container are in
// flight, through the real docker CLI and the raw API (kill, top, pause,
// exec create and start, inspect, logs, a create constrained to node-2,
// stop and restart). Each ends within a few seconds of node-2 turning
// Unhealthy, with "the node became unhealthy during the call", instead of
// hanging until the engine is continued.
func TestCallsInFlightOnAHungEngineEndWhenItsNodeIsFlagged(t *testing.T) {
	rc := startOnTestbed(t)
	cli := clis[0]
	rc.must(t, cli, "run", "-d", "--name", "hung", "-e", "constraint:node==node-2", "busybox", "/bin/sleep", "100000")
	base := "http://" + strings.TrimPrefix(rc.host, "tcp://") + "/v" + APIVersion
	created, err := http.Post(base+"/containers/hung/exec", "application/json", strings.NewReader(`{"Cmd":["true"]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(created.Body)
	created.Body.Close()
	id := between(string(body), `"Id":"`, `"`)
	if id == "" {
		t.Fatalf("exec create answered %s", body)
	}

	pid := dockerdPid(t, 2)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	waitStopped(t, pid)
	stopped := time.Now()

	type call struct {
		name string
		run  func() (string, error) // what the user saw
	}
	raw := func(method, path, body string) func() (string, error) {
		return func() (string, error) {
			req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return fmt.Sprintf("%d %s", resp.StatusCode, b), nil
		}
	}
	docker := func(args ...string) func() (string, error) {
		return func() (string, error) {
			out, errOut, err := rc.docker(cli, args...)
			return out + errOut, err
		}
	}
	calls := []call{
		{"docker kill", docker("kill", "hung")},
		{"docker top", docker("top", "hung")},
		{"docker pause", docker("pause", "hung")},
		{"docker exec", docker("exec", "hung", "true")},
		{"docker stop -t 1", docker("stop", "-t", "1", "hung")},
		{"docker restart -t 1", docker("restart", "-t", "1", "hung")},
		{"docker create on node-2", docker("create", "-e", "constraint:node==node-2", "busybox", "true")},
		{"POST /exec", raw("POST", "/containers/hung/exec", `{"Cmd":["true"]}`)},
		{"GET /containers/hung/json", raw("GET", "/containers/hung/json", "")},
		{"GET /containers/hung/logs", raw("GET", "/containers/hung/logs?stdout=1", "")},
		{"POST /exec/ID/start (hijacked)", func() (string, error) { return hijacked(t, rc.host, "/v"+APIVersion+"/exec/"+id+"/start") }},
	}
	type result struct {
		out string
		err error
		at  time.Time
	}
	results := make([]result, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c.run()
			results[i] = result{out, err, time.Now()}
		}()
	}
	var flagged time.Time
	for flagged.IsZero() {
		for _, n := range rc.c.Nodes() {
			if n.Name == "node-2" && n.Health != model.Healthy {
				flagged = time.Now()
			}
		}
		if time.Since(stopped) > 20*time.Second {
			t.Fatal("node-2 was not flagged 20 s after its dockerd was stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ended := make(chan struct{})
	go func() { wg.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		// Calls still hanging: continue the engine so they end, and say which.
		syscall.Kill(pid, syscall.SIGCONT)
		<-ended
	}
	for i, c := range calls {
		r := results[i]
		// Generous: the end is the docker CLI's exit, on a loaded machine.
		if late := r.at.Sub(flagged); late > 8*time.Second {
			t.Errorf("%s ended %s after node-2 was flagged (%s after the engine hung): %.300q", c.name, late.Round(time.Millisecond), r.at.Sub(stopped).Round(time.Millisecond), r.out)
		}
		if c.name == "POST /exec/ID/start (hijacked)" {
			continue // a raw stream can only be closed
		}
		if strings.Contains(r.out, "the node became unhealthy during the call") {
			if !strings.Contains(r.out, "node-2") || strings.Contains(r.out, "127.0.0.1:") {
				t.Errorf("%s: the user saw %.300q: it names the engine's address, not its node", c.name, r.out)
			}
			continue
		}
		// A docker CLI call whose process started slowly on a loaded
		// machine may reach the manager only once node-2 is flagged: it is
		// refused at once, saying the node is unhealthy (Swarm's words).
		// The raw calls start at once: they are in flight.
		if c.run != nil && strings.HasPrefix(c.name, "docker ") && strings.Contains(r.out, "node-2") && strings.Contains(strings.ToLower(r.out), "unhealthy") {
			t.Logf("%s reached the manager after node-2 was flagged: %.200q", c.name, r.out)
			continue
		}
		t.Errorf("%s: the user saw %.300q (%v), not why it ended", c.name, r.out, r.err)
	}
}

// waitStopped waits until every thread of process pid is stopped (a
// SIGSTOP is delivered to each thread as it next runs: on a loaded
// machine that is not at once).
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		running := len(tasks) == 0
		for _, task := range tasks {
			b, err := os.ReadFile(task)
			if err != nil {
				continue // a thread that ended
			}
			// pid (comm) STATE …: the state follows the last ')'.
			if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] != "T" {
				running = true
			}
		}
		if !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd %d is not stopped 20 s after SIGSTOP", pid)
		}
	}
}

// dockerdPid is the pid of the test bed's node i's dockerd.
func dockerdPid(t *testing.T, i int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(os.Getenv("SWARMDECK_TESTBED_DIR"), fmt.Sprintf("node-%d", i), "pid"))
	if err != nil {
		t.Fatalf("node-%d's pid: %v", i, err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	return pid
}

// hijacked starts an exec as the docker CLI does (an upgraded
// connection) and reads until the manager answers or closes it.
func hijacked(t *testing.T, host, path string) (string, error) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(host, "tcp://"))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	body := `{"Detach":false,"Tty":false}`
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
	b, err := io.ReadAll(bufio.NewReader(conn))
	return string(b), err
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}
