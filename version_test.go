package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestGlobalFlagsComeBeforeTheCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string // a part of standard output
		err  string // the start of standard error
	}{
		{name: "--version", args: []string{"--version"}, out: "swarmdeck version "},
		{name: "-v", args: []string{"-v"}, out: ", Docker API 1.41"},
		{name: "the version command", args: []string{"version"}, out: "API version: 1.41"},
		{name: "the version command takes no arguments", args: []string{"version", "x"}, code: exitUsage, err: `swarmdeck version: takes no arguments, got ["x"]`},
		{name: "an unknown flag before the command", args: []string{"--bogus", "manage", "a:1"}, code: exitUsage, err: "swarmdeck: unknown flag: --bogus\n"},
		{name: "a manage flag before manage", args: []string{"--headless", "manage", "a:1"}, code: exitUsage, err: "swarmdeck: unknown flag: --headless\n"},
		{name: "a bad log level", args: []string{"-l", "loud", "version"}, code: exitUsage, err: `swarmdeck: invalid --log-level "loud": want debug, info, warn or error`},
		{name: "a bad log format", args: []string{"--log-format", "xml", "version"}, code: exitUsage, err: `swarmdeck: invalid --log-format "xml": want text or json`},
		{name: "log flags, then a command", args: []string{"--debug", "--log-format", "json", "-l", "warn", "version"}, out: "Version:"},
		{name: "help", args: []string{"--help"}, out: "Global flags, before the command:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, &out, &errOut)
			if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.HasPrefix(errOut.String(), tt.err) {
				t.Fatalf("exit %d, stdout %q, stderr %q\nwant exit %d, stdout with %q, stderr starting %q", code, out.String(), errOut.String(), tt.code, tt.out, tt.err)
			}
		})
	}
	g, rest, err := parseGlobals([]string{"--debug", "--log-format", "json", "manage", "--headless", "a:1"})
	if err != nil || g.log.level != -4 || !g.log.json || strings.Join(rest, " ") != "manage --headless a:1" {
		t.Fatalf("parseGlobals: %+v %q %v", g, rest, err)
	}
}

// TestTheBuiltBinaryKnowsItsCommit builds swarmdeck with -buildvcs=true
// and checks that the commit it was built from shows in `swarmdeck
// --version`, `swarmdeck version`, and through the manager in the real
// docker CLI's `docker version` and `docker info`.
func TestTheBuiltBinaryKnowsItsCommit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is needed to stamp the build")
	}
	bin, head := buildWithVCS(t)
	out := mustRun(t, bin, "--version")
	if !strings.HasPrefix(out, "swarmdeck version ") || !strings.Contains(out, "commit "+head[:12]) || strings.Contains(out, "built unknown") {
		t.Fatalf("swarmdeck --version printed %q; want the commit %s and the build date", out, head[:12])
	}
	long := mustRun(t, bin, "version")
	if !strings.Contains(long, "Commit:      "+head) || !strings.Contains(long, "Go version:  go1.") {
		t.Fatalf("swarmdeck version printed:\n%s\nwant the commit %s", long, head)
	}
	var ver string
	for _, l := range strings.Split(long, "\n") {
		if v, ok := strings.CutPrefix(l, " Version:     "); ok {
			ver = strings.TrimPrefix(v, "v")
		}
	}

	docker, err := exec.LookPath("docker")
	if err != nil {
		if os.Getenv("SWARMDECK_REQUIRE_INTEGRATION") != "" {
			t.Fatal("the docker CLI is needed to read the version through the manager")
		}
		t.Skip("no docker CLI")
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "manage", "--headless", "-H", "tcp://"+addr, "sim://2")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	waitPing(t, addr)
	got := mustRun(t, docker, "-H", "tcp://"+addr, "version", "--format", "{{.Server.Version}} {{.Server.GitCommit}} {{.Server.APIVersion}}")
	if want := fmt.Sprintf("swarmdeck/%s %s", ver, head[:12]); !strings.HasPrefix(got, want) || !strings.Contains(got, " 1.41") {
		t.Fatalf("docker version through the manager: %q, want %q… 1.41", got, want)
	}
	if got := mustRun(t, docker, "-H", "tcp://"+addr, "info", "--format", "{{.ServerVersion}}"); strings.TrimSpace(got) != "swarmdeck/"+ver {
		t.Fatalf("docker info through the manager: server version %q, want swarmdeck/%s", got, ver)
	}
}

// buildWithVCS builds the working tree with -buildvcs=true and returns
// the binary and the commit it must report. Go stamps a build only from a
// checkout whose .git is a folder, so a git worktree's files are copied
// over a clone of its commit first.
func buildWithVCS(t *testing.T) (bin, head string) {
	t.Helper()
	head = strings.TrimSpace(mustRun(t, "git", "rev-parse", "HEAD"))
	src, _ := os.Getwd()
	if st, err := os.Stat(".git"); err != nil || !st.IsDir() {
		src = filepath.Join(t.TempDir(), "src")
		mustRun(t, "git", "clone", "-q", "--shared", "--no-checkout", ".", src)
		mustRun(t, "git", "-C", src, "checkout", "-q", head)
		files := mustRun(t, "git", "ls-files", "-z", "-c", "-o", "--exclude-standard")
		for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
			b, err := os.ReadFile(f)
			if os.IsNotExist(err) {
				os.Remove(filepath.Join(src, f)) // deleted in the working tree
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Dir(filepath.Join(src, f)), 0o755)
			if err := os.WriteFile(filepath.Join(src, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	bin = filepath.Join(t.TempDir(), "swarmdeck")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	return bin, head
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitPing waits until a Docker API answers /_ping at addr.
func waitPing(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/_ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing answers /_ping on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
