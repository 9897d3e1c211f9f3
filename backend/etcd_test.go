package backend

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"swarmdeck/internal/testcerts"
)

// An etcd of the test's own that serves TLS and wants client
// certificates: the kv.* options reach it, and nothing else does.
func TestEtcdOverTLS(t *testing.T) {
	bin := "/usr/bin/etcd"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("SWARMDECK_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("%s is missing: scripts/testbed.sh install puts Debian's etcd-server there", bin)
		}
		t.Skip("needs Debian's etcd-server")
	}
	dir := t.TempDir()
	testcerts.Write(t, dir)
	file := func(name string) string { return filepath.Join(dir, name) }
	ports := [2]int{}
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	client, peer := fmt.Sprintf("https://127.0.0.1:%d", ports[0]), fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	cmd := exec.Command(bin, "--name", "tls", "--data-dir", file("data"), "--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "tls="+peer,
		"--cert-file", file("server-cert.pem"), "--key-file", file("server-key.pem"), "--client-cert-auth", "--trusted-ca-file", file("ca.pem"),
		"--log-level", "error", "--logger", "zap")
	log, _ := os.Create(file("etcd.log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	url := fmt.Sprintf("etcd://127.0.0.1:%d/tls", ports[0])
	opts, err := ParseDiscoveryOpts([]string{"kv.cacertfile=" + file("ca.pem"), "kv.certfile=" + file("cert.pem"), "kv.keyfile=" + file("key.pem")})
	if err != nil {
		t.Fatal(err)
	}
	src, err := OpenKV(url, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	registered := make(chan struct{})
	go func() {
		src.Registry.Register(ctx, "10.0.0.7:2375", "tls-node", time.Second, 5*time.Second, 0, func(error) {})
		close(registered)
	}()
	deadline := time.Now().Add(20 * time.Second)
	var entries []Entry
	for len(entries) == 0 {
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(file("etcd.log"))
			t.Fatalf("no entry over TLS within 20 s (%v)\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
		lctx, lcancel := context.WithTimeout(ctx, 2*time.Second)
		entries, err = src.Registry.List(lctx)
		lcancel()
	}
	if len(entries) != 1 || entries[0] != (Entry{Name: "tls-node", Addr: "10.0.0.7:2375"}) {
		t.Fatalf("entries over TLS: %v", entries)
	}
	// Without the certificates, etcd is not reached.
	plain, err := OpenKV(url, nil, KVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lctx, lcancel := context.WithTimeout(ctx, 2*time.Second)
	defer lcancel()
	if err := plain.Registry.Check(lctx); err == nil || !strings.Contains(err.Error(), "cannot reach etcd at "+url) {
		t.Fatalf("plain Check of a TLS etcd: %v", err)
	}
	// Deregistration revokes the lease: the entry goes at once.
	cancel()
	<-registered
	left, err := src.Registry.List(context.Background())
	if err != nil || len(left) != 0 {
		t.Fatalf("after deregistration: %v %v", left, err)
	}
}
