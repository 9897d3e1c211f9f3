package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"swarmdeck/backend"
	"swarmdeck/internal/testcerts"
)

func TestTheAPIOverTLSWithClientCertificates(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("no docker CLI on this machine")
	}
	dir := t.TempDir()
	testcerts.Write(t, dir)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	cfg, err := parseManage([]string{"--tlsverify", "--tlscacert", filepath.Join(dir, "ca.pem"),
		"--tlscert", filepath.Join(dir, "server-cert.pem"), "--tlskey", filepath.Join(dir, "server-key.pem"),
		"-H", "tcp://" + addr, "sim://2"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cluster, _ := backend.New(cfg.source, cfg.opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cluster.Run(ctx)
	var warn bytes.Buffer
	stop, err := serveAPI(ctx, cluster, cfg, &warn)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	run := func(args ...string) (string, error) {
		cmd := exec.Command(docker, append([]string{"-H", "tcp://" + addr}, args...)...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=", "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	time.Sleep(200 * time.Millisecond)
	out, err := run("--tlsverify", "--tlscacert", filepath.Join(dir, "ca.pem"), "--tlscert", filepath.Join(dir, "cert.pem"),
		"--tlskey", filepath.Join(dir, "key.pem"), "info")
	if err != nil || !strings.Contains(out, "Role: primary") || !strings.Contains(out, "node-1: sim-1:2375") {
		t.Fatalf("docker info over TLS with a client certificate: %v\n%s", err, out)
	}
	if out, err := run("--tls", "--tlscacert", filepath.Join(dir, "ca.pem"), "info"); err == nil {
		t.Fatalf("without a client certificate the endpoint answered:\n%s", out)
	}
	if out, err := run("info"); err == nil {
		t.Fatalf("plain HTTP was answered:\n%s", out)
	}
	if warn.Len() != 0 {
		t.Fatalf("a TLS endpoint on loopback warned: %s", warn.String())
	}
}

func TestListeningElsewhereWithoutTLSWarnsLoudly(t *testing.T) {
	cfg, err := parseManage([]string{"-H", "tcp://0.0.0.0:0", "sim://1"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cluster, _ := backend.New(cfg.source, cfg.opts)
	var warn bytes.Buffer
	stop, err := serveAPI(context.Background(), cluster, cfg, &warn)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if !strings.Contains(warn.String(), "WARNING: the Docker API of the whole cluster is served on tcp://0.0.0.0:0 WITHOUT TLS") {
		t.Fatalf("warning: %q", warn.String())
	}
	// A port already taken is an error before anything is served.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	cfg, _ = parseManage([]string{"-H", "tcp://" + l.Addr().String(), "sim://1"}, &bytes.Buffer{})
	if _, err := serveAPI(context.Background(), cluster, cfg, &warn); err == nil || !strings.Contains(err.Error(), "cannot serve the Docker API on tcp://"+l.Addr().String()) {
		t.Fatalf("a taken port: %v", err)
	}
}
