package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"swarmdeck/model"
)

// These tests run the real docker CLIs against swarmdeck over the test
// bed's real dockerd and its real registry (scripts/registry.sh).

// requireRegistry is the test bed's registry, host:port.
func requireRegistry(t testing.TB) string {
	t.Helper()
	reg := os.Getenv("SWARMDECK_REGISTRY")
	if reg == "" {
		if os.Getenv("SWARMDECK_REQUIRE_INTEGRATION") != "" {
			t.Fatal("SWARMDECK_REGISTRY is not set: scripts/registry.sh did not start the registry this test needs")
		}
		t.Skip("needs the test bed's registry: run scripts/test.sh or scripts/bed.sh up")
	}
	return reg
}

// engine runs the docker CLI on one of the test bed's engines directly.
func (rc *realCluster) engine(t testing.TB, i int, args ...string) string {
	t.Helper()
	cmd := exec.Command("/usr/bin/docker", append([]string{"-H", "tcp://" + rc.addrs[i]}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker -H %s %v: %v\n%s", rc.addrs[i], args, err, out)
	}
	return string(out)
}

// onEngine reports whether engine i has the image.
func (rc *realCluster) onEngine(i int, ref string) bool {
	return exec.Command("/usr/bin/docker", "-H", "tcp://"+rc.addrs[i], "image", "inspect", ref).Run() == nil
}

// suffix is a random name part, so that a test's images are its own.
func suffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// registryOnly makes an image that only the registry has: busybox with a
// file of its own (so a layer no engine has), built on node-1, pushed,
// and removed from node-1 again. Its name is unique to the call.
func (rc *realCluster) registryOnly(t testing.TB, reg, what string) string {
	t.Helper()
	ref := fmt.Sprintf("%s/sd%s-%s:v1", reg, what, suffix())
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "stamp"), []byte(ref+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox:latest\nCOPY stamp /stamp\nCMD [\"/bin/sleep\", \"100000\"]\n"), 0o644)
	rc.engine(t, 0, "build", "-q", "-t", ref, dir)
	rc.engine(t, 0, "push", ref)
	rc.engine(t, 0, "rmi", ref)
	t.Cleanup(func() { rc.removeImage(ref) })
	return ref
}

// removeImage removes ref, and the containers made of it, from every
// engine.
func (rc *realCluster) removeImage(ref string) {
	for _, a := range rc.addrs {
		out, _ := exec.Command("/usr/bin/docker", "-H", "tcp://"+a, "ps", "-aq", "--filter", "ancestor="+ref).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command("/usr/bin/docker", append([]string{"-H", "tcp://" + a, "rm", "-f"}, ids...)...).Run()
		}
		exec.Command("/usr/bin/docker", "-H", "tcp://"+a, "rmi", "-f", ref).Run()
	}
}

// TestDockerPullThroughTheManagerLandsOnEveryNode: `docker pull` of an
// image only the registry has, through the manager, with both CLIs: every
// node pulls it, and the CLI shows each node's own progress (its layers'
// lines tagged with the node) and Swarm's line per node.
func TestDockerPullThroughTheManagerLandsOnEveryNode(t *testing.T) {
	rc := startOnTestbed(t)
	reg := requireRegistry(t)
	for _, cli := range clis {
		t.Run(cli, func(t *testing.T) {
			ref := rc.registryOnly(t, reg, "pull")
			for i := range rc.addrs {
				if rc.onEngine(i, ref) {
					t.Fatalf("node-%d has %s before the pull", i+1, ref)
				}
			}
			out := rc.must(t, cli, "pull", ref)
			t.Logf("docker pull through the manager:\n%s", out)
			for i := range rc.addrs {
				node := fmt.Sprintf("node-%d", i+1)
				if !strings.Contains(out, node+": Pulling "+ref+"... : downloaded") {
					t.Errorf("no line says %s downloaded it:\n%s", node, out)
				}
				if !regexp.MustCompile(node + `: [0-9a-f]{12}: Pull complete`).MatchString(out) {
					t.Errorf("no progress line of %s:\n%s", node, out)
				}
				if !rc.onEngine(i, ref) {
					t.Errorf("%s does not have %s after the pull", node, ref)
				}
			}
		})
	}
}

// TestAPullThatFailsSaysWhereAndWhy: an image the registry lacks, a
// registry nobody serves and a bad reference are refused with Docker's
// status for each (404, 500, 400) and a message that names the image and
// the nodes; a node that hangs mid-pull fails alone, named, and the other
// nodes' pulls are reported as done.
func TestAPullThatFailsSaysWhereAndWhy(t *testing.T) {
	rc := startOnTestbed(t)
	reg := requireRegistry(t)
	base := "http://" + strings.TrimPrefix(rc.host, "tcp://") + "/v" + APIVersion
	for _, tt := range []struct {
		name, query string
		code        int
		says        []string
	}{
		{"missing image", "fromImage=" + reg + "/sdnothere&tag=v1", 404, []string{"node-1, node-2, node-3: manifest for " + reg + "/sdnothere:v1 not found"}},
		{"no registry there", "fromImage=127.0.0.1:1/sdx&tag=v1", 500, []string{"node-1, node-2, node-3: ", "127.0.0.1:1", "connection refused"}},
		{"bad reference", "fromImage=Bad/Name&tag=v1", 400, []string{"Bad/Name:v1", "must be lowercase"}},
		{"bad tag", "fromImage=busybox&tag=no%20spaces", 400, []string{"busybox:no spaces", "invalid reference format"}},
		{"neither pull nor import", "tag=v1", 400, []string{"fromImage", "fromSrc"}},
		{"import under a bad name", "fromSrc=-&repo=Bad", 400, []string{"Bad", "must be lowercase"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(base+"/images/create?"+tt.query, "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.code, b)
			}
			for _, s := range tt.says {
				if !strings.Contains(string(b), s) {
					t.Errorf("the answer does not say %q: %s", s, b)
				}
			}
		})
	}
	t.Run("a node that hangs", func(t *testing.T) {
		ref := rc.registryOnly(t, reg, "hang")
		pid := dockerdPid(t, 3)
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		continued := false
		cont := func() {
			if !continued {
				syscall.Kill(pid, syscall.SIGCONT)
				continued = true
			}
		}
		t.Cleanup(cont)
		out, errOut, err := rc.docker(clis[0], "pull", ref)
		cont()
		if err == nil {
			t.Fatalf("the pull succeeded with node-3 hung:\n%s", out)
		}
		for _, s := range []string{"node-1: Pulling " + ref + "... : downloaded", "node-2: Pulling " + ref + "... : downloaded"} {
			if !strings.Contains(out, s) {
				t.Errorf("the healthy nodes' results are hidden: no %q in\n%s", s, out)
			}
		}
		if !strings.Contains(errOut, "node-3: ") || !strings.Contains(errOut, "1 of 3 nodes") {
			t.Errorf("the error does not name node-3: %s", errOut)
		}
		if !rc.onEngine(0, ref) || !rc.onEngine(1, ref) {
			t.Error("node-1 or node-2 lacks the image after the pull")
		}
		waitHealthy(t, rc, 3, 30*time.Second)
	})
}

// waitHealthy waits until n nodes are healthy (again).
func waitHealthy(t testing.TB, rc *realCluster, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		healthy := 0
		for _, x := range rc.c.Nodes() {
			if x.Health == model.Healthy {
				healthy++
			}
		}
		if healthy == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d nodes healthy, want %d", healthy, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDockerRunOfAnImageOnlyTheRegistryHas: `docker run` through the
// manager of an image no node has: it lands where its constraint says,
// that node pulls it first (the pull's steps are events of the cluster),
// one container is created, and it runs. Both CLIs.
func TestDockerRunOfAnImageOnlyTheRegistryHas(t *testing.T) {
	rc := startOnTestbed(t)
	reg := requireRegistry(t)
	for i, cli := range clis {
		t.Run(cli, func(t *testing.T) {
			ref := rc.registryOnly(t, reg, "run")
			evs := exec.Command(cli, "events")
			evs.Env = append(os.Environ(), "DOCKER_HOST="+rc.host)
			var seen strings.Builder
			evs.Stdout = &seen
			if err := evs.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond) // the stream is open
			name := fmt.Sprintf("sdpulled%d", i)
			id := strings.TrimSpace(rc.must(t, cli, "run", "-d", "--name", name, "-e", "constraint:zone==b", ref))
			ps := rc.must(t, cli, "ps", "--filter", "name="+name, "--format", "{{.Names}} {{.Status}}")
			if !strings.HasPrefix(ps, "node-2/"+name+" Up") {
				t.Fatalf("docker ps says %q; want it up on node-2 (zone b)", ps)
			}
			if !rc.onEngine(1, ref) || rc.onEngine(0, ref) || rc.onEngine(2, ref) {
				t.Errorf("only node-2 should have pulled %s", ref)
			}
			if n := strings.Count(rc.engine(t, 1, "ps", "-a", "--filter", "ancestor="+ref, "-q"), "\n"); n != 1 {
				t.Errorf("node-2 has %d containers of %s, want 1", n, ref)
			}
			if !strings.HasPrefix(id, rc.must(t, cli, "inspect", "-f", "{{.Id}}", name)[:12]) {
				t.Errorf("run printed %q", id)
			}
			time.Sleep(300 * time.Millisecond)
			evs.Process.Kill()
			evs.Wait()
			if s := seen.String(); !strings.Contains(s, "image pull "+ref) || !strings.Contains(s, "image pulled "+ref) || !strings.Contains(s, "node.name=node-2") {
				t.Errorf("the pull on node-2 is not in the events:\n%s", s)
			}
		})
	}
}

// dockerEnv runs a docker CLI against swarmdeck with more environment.
func (rc *realCluster) dockerEnv(t *testing.T, env []string, cli string, args ...string) string {
	t.Helper()
	cmd := exec.Command(cli, args...)
	cmd.Env = append(append(os.Environ(), "DOCKER_HOST="+rc.host, "DOCKER_TLS_VERIFY=", "DOCKER_CONTEXT="), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", cli, args, err, out)
	}
	return string(out)
}

// imageID is engine i's ID of ref, "" when it lacks it.
func (rc *realCluster) imageID(i int, ref string) string {
	out, err := exec.Command("/usr/bin/docker", "-H", "tcp://"+rc.addrs[i], "image", "inspect", "-f", "{{.Id}}", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// TestDockerImageCommandsThroughTheManager: with both CLIs, against the
// manager over the real engines and registry: images (one row per image
// ID, the node filter), inspect and history of an image, tag on every
// node that has it, push to the registry, save and load (onto every
// node), and errors that name the image.
func TestDockerImageCommandsThroughTheManager(t *testing.T) {
	rc := startOnTestbed(t)
	reg := requireRegistry(t)
	for _, cli := range clis {
		t.Run(cli, func(t *testing.T) {
			ref := rc.registryOnly(t, reg, "img")
			repo := strings.TrimSuffix(ref, ":v1")
			rc.must(t, cli, "pull", ref)

			// images: the pulled image is one ID on every node, so one row;
			// busybox is one row per distinct ID the engines have.
			rows := rc.must(t, cli, "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
			if n := strings.Count(rows, ref+" "); n != 1 {
				t.Errorf("docker images lists %s %d times, want once:\n%s", ref, n, rows)
			}
			ids := map[string]bool{}
			for i := range rc.addrs {
				ids[rc.imageID(i, "busybox:latest")] = true
			}
			if n := strings.Count(rows, "busybox:latest "); n != len(ids) {
				t.Errorf("docker images lists busybox %d times; the engines have %d distinct IDs:\n%s", n, len(ids), rows)
			}
			one := rc.must(t, cli, "images", "--no-trunc", "--filter", "node=node-2", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
			if !strings.Contains(one, "busybox:latest "+rc.imageID(1, "busybox:latest")) || strings.Count(one, "busybox:latest ") != 1 {
				t.Errorf("docker images --filter node=node-2 does not show node-2's busybox alone:\n%s", one)
			}

			// inspect and history of the image.
			for _, inspect := range [][]string{{"image", "inspect"}, {"inspect"}} {
				if id := strings.TrimSpace(rc.must(t, cli, append(inspect, "-f", "{{.Id}}", ref)...)); id != rc.imageID(0, ref) {
					t.Errorf("docker %v says %s; the engines have %s", inspect, id, rc.imageID(0, ref))
				}
			}
			if h := rc.must(t, cli, "history", "--no-trunc", ref); !strings.Contains(h, "COPY file:") {
				t.Errorf("history lacks the COPY layer:\n%s", h)
			}

			// tag on every node that has it; push the new tag.
			tagged := repo + "-tagged:v2"
			rc.must(t, cli, "tag", ref, tagged)
			for i := range rc.addrs {
				if !rc.onEngine(i, tagged) {
					t.Errorf("node-%d lacks the tag %s", i+1, tagged)
				}
			}
			t.Cleanup(func() { rc.removeImage(tagged) })
			rc.must(t, cli, "push", tagged)
			name := strings.TrimPrefix(strings.TrimSuffix(tagged, ":v2"), reg+"/")
			resp, err := http.Get("http://" + reg + "/v2/" + name + "/tags/list")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(b), `"v2"`) {
				t.Errorf("the registry does not have %s after the push: %s", tagged, b)
			}

			// save through the manager, remove it everywhere, load it back.
			archive := filepath.Join(t.TempDir(), "img.tar")
			rc.must(t, cli, "save", "-o", archive, ref)
			for i := range rc.addrs {
				rc.engine(t, i, "rmi", ref)
			}
			out := rc.must(t, cli, "load", "-i", archive)
			for i := range rc.addrs {
				if !rc.onEngine(i, ref) {
					t.Errorf("node-%d lacks %s after docker load", i+1, ref)
				}
				if !strings.Contains(out, fmt.Sprintf("node-%d: Loaded image: %s", i+1, ref)) {
					t.Errorf("load's output does not name node-%d:\n%s", i+1, out)
				}
			}

			// Errors name the image.
			for _, args := range [][]string{
				{"image", "inspect", "sdnothere:1"}, {"history", "sdnothere:1"}, {"tag", "sdnothere:1", "sdx:1"},
				{"push", reg + "/sdnothere:1"}, {"save", "-o", archive, "sdnothere:1"},
			} {
				_, errOut, err := rc.docker(cli, args...)
				if err == nil || !strings.Contains(errOut, "sdnothere") {
					t.Errorf("%v: %v %s", args, err, errOut)
				}
			}
		})
	}
}

// TestDockerBuildWithAConstraintBuildArg: docker build through the
// manager runs on the node the constraint build arg names (the
// expression taken out of the build args, so no warning), the other build
// args reach the Dockerfile, and a container of the new image runs there.
func TestDockerBuildWithAConstraintBuildArg(t *testing.T) {
	rc := startOnTestbed(t)
	for i, cli := range clis {
		t.Run(cli, func(t *testing.T) {
			ref := "sdbuilt-" + suffix() + ":v1"
			t.Cleanup(func() { rc.removeImage(ref) })
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox:latest\nARG greeting\nRUN echo \"$greeting\" > /greeting\n"), 0o644)
			out := rc.dockerEnv(t, []string{"DOCKER_BUILDKIT=0"}, cli, "build", "--build-arg", "constraint:node==node-3", "--build-arg", "greeting=hello from the build", "-t", ref, dir)
			if strings.Contains(out, "not consumed") {
				t.Errorf("the constraint reached the engine as a build arg:\n%s", out)
			}
			for j := range rc.addrs {
				if rc.onEngine(j, ref) != (j == 2) {
					t.Errorf("node-%d has %s: %v; only node-3 should", j+1, ref, rc.onEngine(j, ref))
				}
			}
			name := fmt.Sprintf("sdbuilt%d", i)
			got := rc.must(t, cli, "run", "--name", name, ref, "cat", "/greeting")
			if strings.TrimSpace(got) != "hello from the build" {
				t.Errorf("the container printed %q", got)
			}
			if ps := rc.must(t, cli, "ps", "-a", "--filter", "name="+name, "--format", "{{.Names}}"); !strings.HasPrefix(ps, "node-3/") {
				t.Errorf("the container of the built image is %q, not on node-3", ps)
			}
			_, errOut, err := rc.docker(cli, "build", "--build-arg", "constraint:zone==nowhere", "-t", ref, dir)
			if err == nil || !strings.Contains(errOut, "zone==nowhere") {
				t.Errorf("a build no node can take: %v %s", err, errOut)
			}
		})
	}
}

// TestDockerImportCommitAndCpThroughTheManager: docker import lands on
// every node; docker commit makes the image on the container's node
// only; docker cp into and out of a container (PUT, HEAD and GET of its
// archive) goes to its engine. Both CLIs.
func TestDockerImportCommitAndCpThroughTheManager(t *testing.T) {
	rc := startOnTestbed(t)
	for i, cli := range clis {
		t.Run(cli, func(t *testing.T) {
			id := suffix()
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello "+id+"\n"), 0o644)
			tarball := filepath.Join(t.TempDir(), "rootfs.tar")
			if out, err := exec.Command("tar", "-C", dir, "-cf", tarball, ".").CombinedOutput(); err != nil {
				t.Fatalf("tar: %v %s", err, out)
			}
			imported := "sdimported-" + id + ":v1"
			t.Cleanup(func() { rc.removeImage(imported) })
			out := rc.must(t, cli, "import", tarball, imported)
			for j := range rc.addrs {
				if !rc.onEngine(j, imported) {
					t.Errorf("node-%d lacks %s after docker import:\n%s", j+1, imported, out)
				}
			}

			name := fmt.Sprintf("sdcommit%d", i)
			rc.must(t, cli, "run", "-d", "--name", name, "-e", "constraint:node==node-2", "busybox", "/bin/sleep", "100000")
			rc.must(t, cli, "cp", filepath.Join(dir, "hello.txt"), name+":/tmp/hello.txt")
			back := filepath.Join(t.TempDir(), "back.txt")
			rc.must(t, cli, "cp", name+":/tmp/hello.txt", back)
			if got, _ := os.ReadFile(back); string(got) != "hello "+id+"\n" {
				t.Errorf("docker cp there and back gave %q", got)
			}
			committed := "sdcommitted-" + id + ":v1"
			t.Cleanup(func() { rc.removeImage(committed) })
			rc.must(t, cli, "commit", name, committed)
			for j := range rc.addrs {
				if rc.onEngine(j, committed) != (j == 1) {
					t.Errorf("node-%d has %s: %v; only node-2, the container's, should", j+1, committed, rc.onEngine(j, committed))
				}
			}
			if out := rc.must(t, cli, "run", "--rm", committed, "cat", "/tmp/hello.txt"); out != "hello "+id+"\n" {
				t.Errorf("a container of the committed image printed %q", out)
			}
			if _, errOut, err := rc.docker(cli, "commit", "sdnocontainer", committed); err == nil || !strings.Contains(errOut, "sdnocontainer") {
				t.Errorf("commit of a container that does not exist: %v %s", err, errOut)
			}
		})
	}
}

// authRegistry starts a registry of the test's own that asks for basic
// auth (user sduser, password sd-secret: testdata/registry-htpasswd), on
// a free loopback port, and stops it at the end. Its address.
func authRegistry(t *testing.T) string {
	t.Helper()
	requireRegistry(t) // the bed has Debian's docker-registry
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	htpasswd, _ := filepath.Abs("testdata/registry-htpasswd")
	cfg := fmt.Sprintf("version: 0.1\nlog: {level: warn}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp: {addr: %s}\nauth:\n  htpasswd: {realm: swarmdeck-test, path: %s}\n",
		filepath.Join(dir, "data"), addr, htpasswd)
	os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644)
	cmd := exec.Command("/usr/bin/docker-registry", "serve", filepath.Join(dir, "config.yml"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry with auth on %s did not answer within 10 s", addr)
		}
	}
}

// TestRegistryCredentialsPassThroughTheManager: against a registry that
// asks for a password, docker login, pull (onto every node), run (the
// chosen node pulls) and push through the manager work once logged in:
// the CLI's X-Registry-Auth reaches the engines. Without credentials the
// pull is refused, naming the nodes and why, and no node has the image.
func TestRegistryCredentialsPassThroughTheManager(t *testing.T) {
	rc := startOnTestbed(t)
	reg := authRegistry(t)
	for i, cli := range clis {
		t.Run(cli, func(t *testing.T) {
			config := t.TempDir() // the CLI's credentials, this test's only
			env := []string{"DOCKER_CONFIG=" + config}
			ref := fmt.Sprintf("%s/sdauth%d:v1", reg, i)
			t.Cleanup(func() { rc.removeImage(ref) })
			rc.must(t, "/usr/bin/docker", "-H", "tcp://"+rc.addrs[0], "tag", "busybox:latest", ref)

			cmd := exec.Command(cli, "pull", ref)
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+rc.host, "DOCKER_CONFIG="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "node-1, node-2, node-3: ") || !strings.Contains(string(out), "no basic auth credentials") {
				t.Errorf("a pull without credentials: %v\n%s", err, out)
			}

			login := exec.Command(cli, "login", "-u", "sduser", "--password-stdin", reg)
			login.Env = append(os.Environ(), "DOCKER_HOST="+rc.host, "DOCKER_CONFIG="+config)
			login.Stdin = strings.NewReader("sd-secret\n")
			if out, err := login.CombinedOutput(); err != nil || !strings.Contains(string(out), "Login Succeeded") {
				t.Fatalf("docker login through the manager: %v\n%s", err, out)
			}
			rc.dockerEnv(t, env, cli, "push", ref) // from node-1, the only node that has it
			rc.removeImage(ref)
			rc.dockerEnv(t, env, cli, "pull", ref)
			for j := range rc.addrs {
				if !rc.onEngine(j, ref) {
					t.Errorf("node-%d lacks %s after the pull with credentials", j+1, ref)
				}
			}
			rc.removeImage(ref)
			name := fmt.Sprintf("sdauthrun%d", i)
			rc.dockerEnv(t, env, cli, "run", "-d", "--name", name, "-e", "constraint:node==node-3", ref, "/bin/sleep", "100000")
			if ps := rc.must(t, cli, "ps", "--filter", "name="+name, "--format", "{{.Names}}"); !strings.HasPrefix(ps, "node-3/") {
				t.Errorf("the container of the registry's image is %q, not running on node-3", ps)
			}
		})
	}
}
