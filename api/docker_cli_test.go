package api

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// These tests run the real docker CLIs against swarmdeck over the three
// real dockerd of scripts/testbed.sh. Plain `go test` skips them; under
// scripts/test.sh (SWARMDECK_REQUIRE_INTEGRATION=1) a missing part fails.

// clis are the docker clients to test with: the machine's own and
// Debian's docker.io client.
var clis = []string{"/usr/local/bin/docker", "/usr/bin/docker"}

type realCluster struct {
	addrs []string
	host  string // DOCKER_HOST of swarmdeck
	c     *backend.Cluster
}

func startOnTestbed(t testing.TB) *realCluster {
	t.Helper()
	nodes := os.Getenv("SWARMDECK_TESTBED_NODES")
	if nodes == "" {
		if os.Getenv("SWARMDECK_REQUIRE_INTEGRATION") != "" {
			t.Fatal("SWARMDECK_TESTBED_NODES is not set: scripts/testbed.sh did not start the real dockerd this test needs")
		}
		t.Skip("needs real dockerd and docker CLIs: run scripts/test.sh")
	}
	for _, cli := range clis {
		if _, err := os.Stat(cli); err != nil {
			t.Fatalf("docker CLI %s is missing: %v (scripts/testbed.sh installs Debian's docker.io)", cli, err)
		}
	}
	return startOnNodes(t, nodes, backend.Options{})
}

// startOnNodes runs a manager (with opts) over the real engines at
// nodes, serves its Docker API to the CLIs, and waits until every engine
// is healthy; the engines' containers and test networks are removed
// before and after.
func startOnNodes(t testing.TB, nodes string, opts backend.Options) *realCluster {
	t.Helper()
	rc := &realCluster{addrs: strings.Split(nodes, ",")}
	rc.clean(t)
	src, err := backend.Open("nodes://"+nodes, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc.c, err = backend.New(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rc.c.Run(ctx); close(done) }()
	srv := httptest.NewServer(New(rc.c))
	rc.host = "tcp://" + srv.Listener.Addr().String()
	t.Cleanup(func() { srv.Close(); cancel(); <-done; rc.clean(t) })
	waitHealthy(t, rc, len(rc.addrs), 20*time.Second)
	return rc
}

// clean removes every container and every network this test made, on
// the engines themselves.
func (rc *realCluster) clean(t testing.TB) {
	for _, a := range rc.addrs {
		out, _ := exec.Command("docker", "-H", "tcp://"+a, "ps", "-aq").Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command("docker", append([]string{"-H", "tcp://" + a, "rm", "-f"}, ids...)...).Run()
		}
		out, _ = exec.Command("docker", "-H", "tcp://"+a, "network", "ls", "-q", "--filter", "name=sdnet").Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command("docker", append([]string{"-H", "tcp://" + a, "network", "rm"}, ids...)...).Run()
		}
		out, _ = exec.Command("docker", "-H", "tcp://"+a, "volume", "ls", "-q", "--filter", "name=sdvol").Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command("docker", append([]string{"-H", "tcp://" + a, "volume", "rm"}, ids...)...).Run()
		}
		exec.Command("docker", "-H", "tcp://"+a, "rmi", "sdimg0:1", "sdimg1:1").Run()
	}
}

// docker runs a docker CLI against swarmdeck.
func (rc *realCluster) docker(cli string, args ...string) (string, string, error) {
	cmd := exec.Command(cli, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+rc.host, "DOCKER_TLS_VERIFY=", "DOCKER_CONTEXT=")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func (rc *realCluster) must(t testing.TB, cli string, args ...string) string {
	t.Helper()
	out, errOut, err := rc.docker(cli, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s%s", cli, args, err, out, errOut)
	}
	return out
}

func TestDockerCLIsSeeTheClusterAsOneHost(t *testing.T) {
	rc := startOnTestbed(t)
	for i, cli := range clis {
		t.Run(cli, func(t *testing.T) {
			name := fmt.Sprintf("web%d", i)
			info := rc.must(t, cli, "info")
			for _, want := range []string{"Role: primary", "Strategy: spread", "Nodes: 3", "node-1: " + rc.addrs[0], "└ Status: Healthy", "Server Version: swarmdeck/"} {
				if !strings.Contains(info, want) {
					t.Fatalf("docker info lacks %q:\n%s", want, info)
				}
			}
			id := strings.TrimSpace(rc.must(t, cli, "run", "-d", "--name", name, "-m", "20m", "-e", "constraint:zone==b", "busybox", "sleep", "300"))
			if len(id) != 64 {
				t.Fatalf("run printed %q", id)
			}
			if ps := rc.must(t, cli, "ps"); !strings.Contains(ps, "node-2/"+name) {
				t.Fatalf("docker ps:\n%s", ps)
			}
			if got := strings.TrimSpace(rc.must(t, cli, "inspect", "-f", "{{.Node.Name}} {{.State.Running}} {{index .Config.Labels \"com.docker.swarm.constraints\"}}", name)); got != `node-2 true ["zone==b"]` {
				t.Fatalf("inspect: %q", got)
			}
			info = rc.must(t, cli, "info")
			if !regexp.MustCompile(`node-2: [^\n]*\n(   └ [^\n]*\n)*?   └ Reserved Memory: 20 MiB / `).MatchString(info) {
				t.Fatalf("node-2 does not reserve 20 MiB:\n%s", info)
			}
			if got := strings.TrimSpace(rc.must(t, cli, "exec", name, "echo", "hi from exec")); got != "hi from exec" {
				t.Fatalf("exec: %q", got)
			}
			talker := name + "-talker"
			rc.must(t, cli, "run", "-d", "--name", talker, "busybox", "sh", "-c", "echo hello from logs; sleep 300")
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(rc.must(t, cli, "logs", talker), "hello from logs") {
				if time.Now().After(deadline) {
					t.Fatal("docker logs never showed the output")
				}
				time.Sleep(100 * time.Millisecond)
			}
			rc.must(t, cli, "stop", "-t", "1", name)
			if ps := rc.must(t, cli, "ps", "-a", "--filter", "name="+name); !strings.Contains(ps, "Exited") {
				t.Fatalf("after stop:\n%s", ps)
			}
			rc.must(t, cli, "start", name)
			if ps := rc.must(t, cli, "ps", "--filter", "name="+name); !strings.Contains(ps, "Up ") {
				t.Fatalf("after start:\n%s", ps)
			}
			rc.must(t, cli, "rm", "-f", name, talker)
			if ps := rc.must(t, cli, "ps", "-a"); strings.Contains(ps, name) {
				t.Fatalf("after rm -f:\n%s", ps)
			}

			net := fmt.Sprintf("node-1/sdnet%d", i)
			rc.must(t, cli, "network", "create", net)
			if ls := rc.must(t, cli, "network", "ls"); !strings.Contains(ls, net) || !strings.Contains(ls, "node-3/bridge") {
				t.Fatalf("network ls:\n%s", ls)
			}
			rc.must(t, cli, "network", "rm", net)
			if ls := rc.must(t, cli, "network", "ls"); strings.Contains(ls, net) {
				t.Fatalf("after network rm:\n%s", ls)
			}

			vol := fmt.Sprintf("sdvol%d", i)
			rc.must(t, cli, "volume", "create", "node-3/"+vol)
			if ls := rc.must(t, cli, "volume", "ls"); !strings.Contains(ls, "node-3/"+vol) || strings.Contains(ls, "node-1/"+vol) {
				t.Fatalf("volume ls:\n%s", ls)
			}
			rc.must(t, cli, "volume", "rm", "node-3/"+vol)

			// An image on two nodes is removed from both.
			img := fmt.Sprintf("sdimg%d:1", i)
			for _, a := range rc.addrs[:2] {
				if out, err := exec.Command("docker", "-H", "tcp://"+a, "tag", "busybox:latest", img).CombinedOutput(); err != nil {
					t.Fatalf("tag: %v %s", err, out)
				}
			}
			rc.c.RefreshNode(context.Background(), rc.addrs[0])
			rc.c.RefreshNode(context.Background(), rc.addrs[1])
			if images := rc.must(t, cli, "images"); strings.Count(images, fmt.Sprintf("sdimg%d ", i)) != 2 {
				t.Fatalf("images:\n%s", images)
			}
			rc.must(t, cli, "rmi", img)
			for _, a := range rc.addrs[:2] {
				if exec.Command("docker", "-H", "tcp://"+a, "image", "inspect", img).Run() == nil {
					t.Fatalf("%s still has %s", a, img)
				}
			}

			_, errOut, err := rc.docker(cli, "run", "-d", "-e", "constraint:zone=b", "busybox", "true")
			if err == nil || !strings.Contains(errOut, `invalid constraint "zone=b": One of operator ==, != is expected`) {
				t.Fatalf("malformed constraint: %v %s", err, errOut)
			}
			_, errOut, err = rc.docker(cli, "run", "-d", "-m", "1000g", "busybox", "true")
			if err == nil || !strings.Contains(errOut, "no resources available to schedule container") {
				t.Fatalf("no room: %v %s", err, errOut)
			}
		})
	}
}

// TestDockerEventsStreamsTheCluster: docker events through the manager
// shows a container's events with Swarm's node attributes, and one
// create for a container created through the manager, as dockerd shows
// (the manager's own placement event is the console's, not Docker's).
func TestDockerEventsStreamsTheCluster(t *testing.T) {
	rc := startOnTestbed(t)
	cmd := exec.Command(clis[0], "events")
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+rc.host)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	time.Sleep(300 * time.Millisecond)
	rc.must(t, clis[0], "run", "-d", "--name", "evented", "busybox", "sleep", "300")
	timeout := time.After(10 * time.Second)
	var creates []string // the create comes before the start
	for {
		select {
		case l := <-lines:
			if strings.Contains(l, "container create") && strings.Contains(l, "evented") {
				creates = append(creates, l)
			}
			if strings.Contains(l, "container start") && strings.Contains(l, "name=evented") && strings.Contains(l, "node.name=") {
				if len(creates) != 1 {
					t.Fatalf("docker events showed %d creates of evented before its start, want 1:\n%s", len(creates), strings.Join(creates, "\n"))
				}
				return
			}
		case <-timeout:
			t.Fatal("docker events showed no start of evented")
		}
	}
}

func TestParallelRunsNeverOverReserve(t *testing.T) {
	rc := startOnTestbed(t)
	var cpus int
	for _, n := range rc.c.Nodes() {
		cpus += int(n.TotalCPUs(model.DefaultOvercommit) / 1000)
	}
	// 50 runs of one CPU each on a cluster of `cpus` CPUs: exactly `cpus`
	// fit; the rest are refused with Swarm's message.
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errOut, err := rc.docker(clis[i%2], "run", "-d", "-c", "1", "busybox", "sleep", "300")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case strings.Contains(errOut, "no resources available to schedule container"):
				refused++
			default:
				t.Errorf("run %d: %v %s", i, err, errOut)
			}
		}()
	}
	wg.Wait()
	if ok != cpus || ok+refused != 50 {
		t.Fatalf("%d placed, %d refused; want %d placed on %d CPUs", ok, refused, cpus, cpus)
	}
	for _, n := range rc.c.Nodes() {
		used, _ := n.Reserved()
		if used > n.TotalCPUs(model.DefaultOvercommit) {
			t.Errorf("%s over-reserved: %s", n.Name, n.ReservedCPUsText(model.DefaultOvercommit))
		}
	}
}
