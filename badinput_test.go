package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

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
	cmd := exec.Command(swarmdeckBinary(t), args...)
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
		{"a billionth of a CPU", []string{"--cpus", "1e-9"}, "range of CPUs is from 0.01 to 16.00, as there are only 16 CPUs available"},
		{"--cpus ''", []string{"--cpus", ""}, `invalid argument "" for "--cpus" flag: failed to parse  as a rational number`},
		{"--cpus too precise", []string{"--cpus", "0.0000000001"}, `value is too precise`},
		{"-m ''", []string{"-m", ""}, `invalid argument "" for "-m, --memory" flag: invalid size: ''`},
		{"-m 1e30 is not called negative", []string{"-m", "1e30"}, `invalid size: '1e30'`},
		{"-m past int64", []string{"-m", "99999999999999999999g"}, `larger than 1 EiB`},
		{"-m below 6MB", []string{"-m", "1k"}, "Minimum memory limit allowed is 6MB"},
		{"negative -c", []string{"-c", "-1"}, "invalid CPU shares (-1): value must be a positive integer"},
		{"overflowing -c", []string{"-c", "9223372036854775807"}, "invalid CPU shares (9223372036854775807): value must be at most 262144"},
		{"a name with a slash", []string{"--name", "t3/x"}, "Invalid container name (t3/x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"a name with a newline", []string{"--name", "a\nb"}, `Invalid container name (a\nb)`},
		{"a huge count", []string{"--count", "99999999999"}, "--count 99999999999: want 1 to 100000 containers"},
		{"a count past the limit", []string{"--count", "100001"}, "--count 100001: want 1 to 100000 containers"},
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
