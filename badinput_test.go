package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"swarmdeck/api"
	"swarmdeck/backend"
	"swarmdeck/model"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// swarmdeckBinary builds the command once per test run.
func swarmdeckBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "swarmdeck-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "swarmdeck")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v", binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// runBinary runs the built command and returns its output and exit code.
func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runBinaryWithin(t, 2*time.Minute, args...)
}

// runBinaryWithin is runBinary that kills the command after d: for a
// command that, wrongly accepting its line, would serve on.
func runBinaryWithin(t *testing.T, d time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, swarmdeckBinary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestPlaceRefusesBadResourcesAndNames runs `swarmdeck place` as a user
// does with the bad values: each is a usage error (exit 2) in
// Docker's words, and nothing is placed.
func TestPlaceRefusesBadResourcesAndNames(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		message string
	}{
		{"-c with no number", []string{"-c"}, `invalid argument "nginx" for "-c, --cpu-shares" flag: must be an integer`},
		{"negative --cpus", []string{"--cpus", "-1"}, "--cpus: Range of CPUs is from 0.01 to 16.00, as there are only 16 CPUs available"},
		{"a billionth of a CPU", []string{"--cpus", "1e-9"}, "--cpus: Range of CPUs is from 0.01 to 16.00, as there are only 16 CPUs available"},
		{"--cpus ''", []string{"--cpus", ""}, `invalid argument "" for "--cpus" flag: failed to parse  as a rational number`},
		{"--cpus too precise", []string{"--cpus", "0.0000000001"}, `value is too precise`},
		{"-m ''", []string{"-m", ""}, `invalid argument "" for "-m, --memory" flag: invalid size: ''`},
		{"-m 1e30 is not called negative", []string{"-m", "1e30"}, `invalid size: '1e30'`},
		{"-m past int64", []string{"-m", "99999999999999999999g"}, `larger than 1 EiB`},
		{"-m below 6MB", []string{"-m", "1k"}, "--memory: Minimum memory limit allowed is 6MB"},
		{"negative -c", []string{"-c", "-1"}, "--cpu-shares: invalid CPU shares (-1): value must be a positive integer"},
		{"overflowing -c", []string{"-c", "9223372036854775807"}, "invalid CPU shares (9223372036854775807): value must be at most 262144"},
		{"a name with a slash", []string{"--name", "t3/x"}, "Invalid container name (t3/x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"a name with a newline", []string{"--name", "a\nb"}, `Invalid container name (a\nb)`},
		{"a huge count", []string{"--count", "99999999999"}, "--count 99999999999: want 1 to 1000000 containers"},
		{"a count past the limit", []string{"--count", "1000001"}, "--count 1000001: want 1 to 1000000 containers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"place", "--cluster", demo}, tt.args...), "nginx")
			out, errOut, code := runBinary(t, args...)
			if code != exitUsage || !strings.Contains(errOut, tt.message) || out != "" {
				t.Fatalf("place %q: exit %d, stdout %q, stderr %q\nwant exit 2 and %q", tt.args, code, out, errOut, tt.message)
			}
		})
	}
}

// TestHeadlessLinesCannotBeForged: a message carrying a newline or a
// terminal escape (an engine's error text, a node name from discovery)
// stays on its own line, escaped.
func TestHeadlessLinesCannotBeForged(t *testing.T) {
	for _, msg := range []string{"placed a\n12:00:00.000 engine forged", "x\r\x1b[2Jy", "bad\u2028line", "\xff\xfe"} {
		line := formatEvent(model.Event{Kind: model.EventPlaced, Message: msg})
		if strings.ContainsAny(line, "\n\r\x1b\u2028") || !utf8.ValidString(line) {
			t.Fatalf("formatEvent(%q) = %q", msg, line)
		}
	}
	if got := formatEvent(model.Event{Kind: model.EventPlaced, Message: `placed "web" on eu-1`}); !strings.HasSuffix(got, `placed "web" on eu-1`) {
		t.Fatalf("a clean message changed: %q", got)
	}
}

// TestOperatorInputHasLimits runs the command as a user does with
// oversized or inconsistent input: each is a usage error (exit 2) that
// names the problem, before anything is built or served.
func TestOperatorInputHasLimits(t *testing.T) {
	bad := "clusterfile/testdata/bad/"
	for _, tt := range []struct {
		name    string
		args    []string
		message string
	}{
		{"a second YAML document", []string{"place", "--cluster", bad + "two-documents.yaml", "nginx"},
			bad + "two-documents.yaml:5: a second YAML document (after ---): a cluster file is one document"},
		{"two nodes of one name", []string{"place", "--cluster", bad + "duplicate-node-name.yaml", "nginx"},
			bad + "duplicate-node-name.yaml:6: node name a is already the name of the node on line 2"},
		{"two containers of one id", []string{"manage", "--cluster", bad + "duplicate-container-id.yaml"},
			bad + "duplicate-container-id.yaml:14: container id 1111111111111111111111111111111111111111111111111111111111111111 is already used on line 7"},
		{"an overcommit of 1e300 in the file", []string{"place", "--cluster", bad + "huge-overcommit.yaml", "nginx"},
			"swarm.overcommit should be at most 100 (101 times the node), 1e+300 is invalid"},
		{"an overcommit of 1e300 on the command line", []string{"manage", "--cluster", demo, "--cluster-opt", "swarm.overcommit=1e300"},
			"swarm.overcommit should be at most 100 (101 times the node), 1e+300 is invalid"},
		{"too many containers per simulated node", []string{"manage", "sim://10?containers=5000"},
			"a simulated cluster has at most 1000 containers per node and 500000 in all (asked 10×5000)"},
		{"too many simulated containers in all", []string{"manage", "sim://1000?containers=501"},
			"(asked 1000×501)"},
		{"too many simulated nodes", []string{"manage", "sim://20001"}, "a simulated cluster has 1 to 20000 nodes"},
		{"a negative number of simulated containers", []string{"manage", "sim://1000?containers=-1"},
			`discovery "sim://1000?containers=-1": containers=-1: want a whole number of containers per node, 0 to 1000`},
		{"containers above their node's capacity", []string{"place", "--cluster", bad + "over-capacity.yaml", "nginx"},
			bad + "over-capacity.yaml:10: container a2 on node n1: the node's containers would reserve 4 CPUs and 8 GiB, more than its 2 CPUs and 4.2 GiB (with 5% overcommit)"},
		{"containers above their node's capacity, managed", []string{"manage", "--cluster", bad + "over-capacity.yaml"},
			bad + "over-capacity.yaml:10: container a2 on node n1"},
		{"a node name with a terminal escape and a newline", []string{"place", "--cluster", bad + "control-node-name.yaml", "nginx"},
			bad + `control-node-name.yaml:2: node 1: invalid node name "n1\x1b[31mRED\nFORGEDLINE": a node name is a hostname of at most 253 characters, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`},
		{"a node name with a slash", []string{"manage", "--cluster", bad + "slash-node-name.yaml"},
			bad + `slash-node-name.yaml:5: node 2: invalid node name "a/b"`},
		{"-H unix:// without a path", []string{"manage", "-H", "unix://", "sim://2"}, `invalid -H "unix://": want tcp://host:port or unix:///path`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runBinary(t, tt.args...)
			if code != exitUsage || !strings.Contains(errOut, tt.message) || out != "" || strings.Count(errOut, "\n") > 1 || strings.Contains(errOut, "\x1b") {
				t.Fatalf("swarmdeck %q: exit %d, stdout %q, stderr %q\nwant exit 2 and %q", tt.args, code, out, errOut, tt.message)
			}
		})
	}
}

// TestClusterOptOnTheCommandLineWinsOverTheFile: the file's settings and
// the command line's are merged once, the command line winning, and
// `docker info` shows the result.
func TestClusterOptOnTheCommandLineWinsOverTheFile(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"the file's overcommit (5%)", nil, []string{`"Strategy","spread"`, `"  └ Reserved Memory","5 GiB / 16.8 GiB"`}},
		{"--cluster-opt swarm.overcommit=0.5", []string{"--cluster-opt", "swarm.overcommit=0.5"}, []string{`"  └ Reserved Memory","5 GiB / 24 GiB"`}},
		{"--strategy keeps the file's overcommit", []string{"--strategy", "binpack"}, []string{`"Strategy","binpack"`, `"  └ Reserved Memory","5 GiB / 16.8 GiB"`}},
		{"--cluster-opt with --strategy", []string{"--strategy", "random", "--cluster-opt", "swarm.overcommit=0"}, []string{`"Strategy","random"`, `"  └ Reserved Memory","5 GiB / 16 GiB"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := serveManage(t, append([]string{"--cluster", demo}, tt.args...)...)
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				resp, err := http.Get(srv.URL + "/info")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				missing := ""
				for _, w := range tt.want {
					if !strings.Contains(string(b), w) {
						missing = w
					}
				}
				if missing == "" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("docker info lacks %s:\n%s", missing, b)
				}
			}
		})
	}
}

// serveManage runs the manager `swarmdeck manage ARGS` would run, in
// process, behind a test server of its Docker endpoint, until the test
// ends.
func serveManage(t *testing.T, args ...string) *httptest.Server {
	t.Helper()
	cfg, err := parseManage(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := backend.New(cfg.source, cfg.opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cluster.Run(ctx); close(done) }()
	srv := httptest.NewServer(api.New(cluster))
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return srv
}

// TestSimulatedReservationsFitTheirNodes: a generated simulated cluster
// with many containers per node never shows a node reserved past its
// capacity in `docker info`, however many containers it holds.
func TestSimulatedReservationsFitTheirNodes(t *testing.T) {
	for _, url := range []string{"sim://5?containers=1000", "sim://7?containers=40", "sim://3?containers=1"} {
		t.Run(url, func(t *testing.T) {
			srv := serveManage(t, url)
			var info struct {
				Containers   int
				SystemStatus [][2]string
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				resp, err := http.Get(srv.URL + "/info")
				if err != nil {
					t.Fatal(err)
				}
				err = json.NewDecoder(resp.Body).Decode(&info)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if strings.Count(fmt.Sprint(info.SystemStatus), "Reserved CPUs") > 0 && info.Containers > 0 || time.Now().After(deadline) {
					break
				}
			}
			checked := 0
			for _, kv := range info.SystemStatus {
				if !strings.HasSuffix(kv[0], "Reserved CPUs") {
					continue
				}
				var used, total float64
				if _, err := fmt.Sscanf(kv[1], "%g / %g", &used, &total); err != nil {
					t.Fatalf("%q: %v", kv[1], err)
				}
				if used > total {
					t.Errorf("a node shows Reserved CPUs: %s", kv[1])
				}
				checked++
			}
			if checked == 0 {
				t.Fatalf("no node's Reserved CPUs in /info: %v", info.SystemStatus)
			}
		})
	}
}
