package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"swarmdeck/backend"
	"swarmdeck/internal/testcerts"
)

// serveOn starts the manager's endpoint as manage would, on a simulated
// cluster, and returns what it printed.
func serveOn(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cfg, err := parseManage(append(args, "sim://2"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := backend.New(cfg.source, cfg.opts)
	if err != nil {
		t.Fatal(err)
	}
	var warn bytes.Buffer
	stop, err := serveAPI(context.Background(), cluster, cfg, &warn)
	if err == nil {
		stop()
	}
	return warn.String(), err
}

func TestTheEndpointWarnsWhenAnyoneCanDriveTheCluster(t *testing.T) {
	dir := t.TempDir()
	testcerts.Write(t, dir)
	certs := []string{"--tlscert", filepath.Join(dir, "server-cert.pem"), "--tlskey", filepath.Join(dir, "server-key.pem")}
	ca := []string{"--tlscacert", filepath.Join(dir, "ca.pem")}
	for _, tt := range []struct {
		name string
		args []string
		warn string
	}{
		{"plain HTTP off the loopback", []string{"-H", "tcp://0.0.0.0:0"}, "WITHOUT TLS"},
		{"--tls without --tlsverify off the loopback", append([]string{"-H", "tcp://0.0.0.0:0", "--tls"}, certs...), "with --tls but WITHOUT --tlsverify"},
		{"--tls with a CA but without --tlsverify", append(append([]string{"-H", "tcp://0.0.0.0:0", "--tls"}, certs...), ca...), "WITHOUT --tlsverify"},
		{"--tlsverify off the loopback", append(append([]string{"-H", "tcp://0.0.0.0:0", "--tlsverify"}, certs...), ca...), ""},
		{"plain HTTP on the loopback", []string{"-H", "tcp://127.0.0.1:0"}, ""},
		{"--tls on the loopback", append([]string{"-H", "tcp://127.0.0.1:0", "--tls"}, certs...), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := serveOn(t, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if tt.warn == "" && out != "" || tt.warn != "" && (!strings.HasPrefix(out, "WARNING:") || !strings.Contains(out, tt.warn) || !strings.Contains(out, "controls every engine")) {
				t.Fatalf("printed %q; want a warning with %q", out, tt.warn)
			}
		})
	}
}

// TestForwardingToThePrimaryChecksItsCertificate: a replica's client
// trusts the primary only through --tlscacert (or the system's roots),
// never by skipping the check.
func TestForwardingToThePrimaryChecksItsCertificate(t *testing.T) {
	dir := t.TempDir()
	testcerts.Write(t, dir)
	base := manageFlags{tls: true, tlsCert: filepath.Join(dir, "server-cert.pem"), tlsKey: filepath.Join(dir, "server-key.pem")}
	primaryTLS, err := serverTLS(base)
	if err != nil {
		t.Fatal(err)
	}
	primary := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("OK")) }))
	primary.TLS = primaryTLS
	primary.StartTLS()
	defer primary.Close()
	for _, tt := range []struct {
		name  string
		ca    string
		trust bool
	}{
		{"with --tlscacert the primary is trusted", filepath.Join(dir, "ca.pem"), true},
		{"without it an unknown CA is refused", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := base
			f.tlsCA = tt.ca
			server, err := serverTLS(f)
			if err != nil {
				t.Fatal(err)
			}
			c := forwardTLS(server)
			if c.InsecureSkipVerify {
				t.Fatal("forwarding skips the certificate check")
			}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: c}}
			resp, err := client.Get(primary.URL)
			if resp != nil {
				resp.Body.Close()
			}
			var ua x509.UnknownAuthorityError
			if tt.trust && err != nil || !tt.trust && !errors.As(err, &ua) {
				t.Fatalf("reaching the primary: %v", err)
			}
		})
	}
}

func TestTheDefaultLogFileIsPrivateAndFollowsNoLink(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", t.TempDir())
	// A log and folder an older run left readable by others become private.
	os.Mkdir(filepath.Join(cache, "swarmdeck"), 0o755)
	os.WriteFile(filepath.Join(cache, "swarmdeck", "swarmdeck.log"), nil, 0o644)
	os.Chmod(filepath.Join(cache, "swarmdeck"), 0o755)
	_, closeLog, err := openLog(&manageConfig{}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	closeLog()
	path := filepath.Join(cache, "swarmdeck", "swarmdeck.log")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the log file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Fatalf("the log folder is %v; want 0700", di.Mode().Perm())
	}
	// A link planted where the log goes is refused, and its target untouched.
	target := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(target, []byte("precious"), 0o644)
	os.Remove(path)
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if _, _, err := openLog(&manageConfig{}, io.Discard); !errors.Is(err, syscall.ELOOP) {
		t.Fatalf("opening a planted link: %v; want ELOOP", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Fatalf("the link's target changed: %q", b)
	}
}

func TestAUnixSocketReplacesOnlyAStaleSocket(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "notes.txt")
	os.WriteFile(regular, []byte("keep me"), 0o644)
	live := filepath.Join(dir, "live.sock")
	l, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	stale := filepath.Join(dir, "stale.sock")
	sl, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	sl.(*net.UnixListener).SetUnlinkOnClose(false)
	sl.Close() // the socket file stays, nothing listens
	for _, tt := range []struct {
		name, path, err string
	}{
		{"a regular file is never removed", regular, "is a regular file, not a socket: refusing to remove it"},
		{"a directory is never removed", dir, "is a directory, not a socket"},
		{"a live socket is left to its server", live, "is in use: another server listens on it"},
		{"a stale socket is replaced", stale, ""},
		{"a new path is created", filepath.Join(dir, "new.sock"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := serveOn(t, "-H", "unix://"+tt.path)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("serving on %s: %v; want %q", tt.path, err, tt.err)
			}
		})
	}
	if b, _ := os.ReadFile(regular); string(b) != "keep me" {
		t.Fatalf("the regular file changed: %q", b)
	}
}

// TestTheLogFileFlagWorksBeforeTheCommand: `swarmdeck --log-file X
// sim://…` and `swarmdeck --log-file X manage …` (as the README says)
// write the log to X; manage's own --log-file wins.
func TestTheLogFileFlagWorksBeforeTheCommand(t *testing.T) {
	dir := t.TempDir()
	global, own := filepath.Join(dir, "global.log"), filepath.Join(dir, "own.log")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--log-file", global, "sim://2"}, global},
		{[]string{"--log-file", global, "manage", "sim://2"}, global},
		{[]string{"--log-file", global, "manage", "--log-file", own, "sim://2"}, own},
	} {
		g, rest, err := parseGlobals(tt.args)
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if rest[0] == "manage" {
			rest = rest[1:]
		}
		cfg, err := parseManage(rest, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		cfg.withLog(g.log)
		_, closeLog, err := openLog(cfg, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		closeLog()
		if _, err := os.Stat(tt.want); err != nil {
			t.Fatalf("%q: the log is not at %s: %v", tt.args, tt.want, err)
		}
		os.Remove(tt.want)
	}
}
