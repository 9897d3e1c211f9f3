package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The talk's first recipe, with a token server of our own in place of
// Docker Hub's: create, three joins, manage token://…, docker info.
func TestTalkTokenRecipe(t *testing.T) {
	cb := requireStore(t, kvStore{scheme: "token", script: "swarmdeck token-server"})
	state := filepath.Join(t.TempDir(), "tokens.json")
	tokenPort := freePort(t)
	host := fmt.Sprintf("127.0.0.1:%d", tokenPort)
	server := func() *exec.Cmd {
		srv := cb.start(t, "token-server", "-H", host, "--state", state)
		eventually(t, 10*time.Second, "the token server listening", func() bool {
			return exec.Command(cb.bin, "create", "--discovery-host", "http://"+host).Run() == nil
		})
		return srv
	}
	srv := server()
	out, err := exec.Command(cb.bin, "create", "--discovery-host", "http://"+host).Output()
	token := strings.TrimSpace(string(out))
	if err != nil || len(token) != 32 {
		t.Fatalf("swarmdeck create: %v %q", err, out)
	}
	discovery := "token://" + host + "/" + token
	var agents []*exec.Cmd
	for _, a := range cb.nodes {
		agents = append(agents, cb.start(t, "join", "--advertise", a, "--heartbeat", "1s", "--ttl", "3s", discovery))
	}
	api := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cb.start(t, "manage", "--headless", "--heartbeat", "1s", "-H", "tcp://"+api, discovery)
	info := ""
	eventually(t, 20*time.Second, "docker info lists the three joined nodes", func() bool {
		out, _ := exec.Command("docker", "-H", "tcp://"+api, "info").CombinedOutput()
		info = string(out)
		return strings.Contains(info, "Nodes: 3") && strings.Count(info, "└ Status: Healthy") == 3
	})
	for _, name := range []string{"node-1", "node-2", "node-3"} {
		if !strings.Contains(info, " "+name+": ") {
			t.Fatalf("docker info does not name %s:\n%s", name, info)
		}
	}
	list := func() []string {
		out, _ := exec.Command(cb.bin, "list", discovery).Output()
		return strings.Fields(string(out))
	}
	// A restart of the token server keeps the cluster.
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	server()
	if got := list(); !slices.Equal(got, cb.nodes) {
		t.Fatalf("after a restart of the token server, list says %v; want %v", got, cb.nodes)
	}
	// An agent that dies is forgotten after its TTL, and its node leaves.
	agents[2].Process.Kill()
	eventually(t, 15*time.Second, "node-3 forgotten after its 3s TTL", func() bool { return slices.Equal(list(), cb.nodes[:2]) })
	eventually(t, 10*time.Second, "docker info down to two nodes", func() bool {
		out, _ := exec.Command("docker", "-H", "tcp://"+api, "info").CombinedOutput()
		return strings.Contains(string(out), "Nodes: 2")
	})
}

// token://TOKEN points at Docker Hub's service, which is gone: the error
// says so and names the way out.
func TestHostedTokenServiceIsGone(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"list", "--timeout", "5s", "token://0123456789abcdef0123456789abcdef"}, &stdout, &stderr)
	msg := stderr.String()
	if code != exitUnreachable || !strings.Contains(msg, "shut down on 2019-06-19") || !strings.Contains(msg, "swarmdeck token-server") {
		t.Fatalf("exit %d, stderr %q", code, msg)
	}
}
