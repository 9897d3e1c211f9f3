package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"swarmdeck/backend"
	"swarmdeck/clusterfile"
	"swarmdeck/model"
)

// startWarmed runs a manager of src and its endpoint with the warmer, as
// manage does, until the test's end (after the cleanups registered
// later, which see them running).
func startWarmed(t testing.TB, src *backend.Source, opts backend.Options) (*backend.Cluster, *Server) {
	t.Helper()
	c, err := backend.New(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	h := New(c)
	warmed := make(chan struct{})
	go func() { h.Warm(ctx); close(warmed) }()
	t.Cleanup(func() { cancel(); <-done; <-warmed })
	return c, h
}

// simServer serves the API of the demo cluster, simulated.
func simServer(t testing.TB) (*httptest.Server, *backend.Cluster) {
	t.Helper()
	f, err := clusterfile.Load("../examples/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := backend.SimSource("sim://demo", f.Nodes)
	src.File = f
	c, h := startWarmed(t, src, backend.Options{ProbeInterval: 50 * time.Millisecond, Heartbeat: 50 * time.Millisecond})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	deadline := time.Now().Add(3 * time.Second)
	for {
		healthy := 0
		for _, n := range c.Nodes() {
			if n.Health == model.Healthy {
				healthy++
			}
		}
		if healthy == 5 {
			return srv, c
		}
		if time.Now().After(deadline) {
			t.Fatal("the demo cluster did not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func call(t *testing.T, srv *httptest.Server, method, path, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestRoutesAndStatusCodes(t *testing.T) {
	srv, _ := simServer(t)
	tests := []struct {
		name, method, path, body string
		code                     int
		contains                 string
	}{
		{"ping", "GET", "/_ping", "", 200, "OK"},
		{"ping with a version prefix", "GET", "/v1.41/_ping", "", 200, "OK"},
		{"version", "GET", "/version", "", 200, `"Version":"swarmdeck/`},
		{"info lists the nodes in SystemStatus", "GET", "/v1.41/info", "", 200, `["  └ Reserved Memory","5 GiB / 16.8 GiB"]`},
		{"info says the role", "GET", "/info", "", 200, `["Role","primary"]`},
		{"create with a malformed constraint is a 400 naming it", "POST", "/v1.41/containers/create",
			`{"Image":"busybox","Env":["constraint:zone=eu"]}`, 400, `invalid constraint \"zone=eu\": One of operator ==, != is expected`},
		{"create with a bad policy is a 400", "POST", "/containers/create",
			`{"Image":"busybox","Env":["reschedule:always"]}`, 400, "invalid reschedule policy: always"},
		{"create with a taken name is a 409", "POST", "/containers/create?name=db", `{"Image":"busybox"}`, 409,
			"Conflict: The name db is already assigned."},
		{"create with no room is Swarm's message", "POST", "/containers/create",
			`{"Image":"busybox","HostConfig":{"Memory":1099511627776}}`, 500, "no resources available to schedule container"},
		{"create with an impossible constraint is Swarm's message", "POST", "/containers/create",
			`{"Image":"busybox","Env":["constraint:zone==mars"]}`, 500,
			`Unable to find a node that satisfies the following conditions \n[available container slots]\n[zone==mars]`},
		{"create that is no JSON is a 400", "POST", "/containers/create", `{`, 400, "not JSON"},
		{"an unknown container is a 404", "GET", "/containers/nope/json", "", 404, "No such container: nope"},
		{"a Swarm-mode route is a clear 404", "GET", "/v1.41/services", "", 404, "swarmdeck does not serve GET /services"},
		{"images/viz is a 501", "GET", "/images/viz", "", 501, "Not supported in clustering mode."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, h := call(t, srv, tt.method, tt.path, tt.body)
			if code != tt.code || !strings.Contains(body, tt.contains) {
				t.Fatalf("%s %s = %d %s\nwant %d containing %s", tt.method, tt.path, code, body, tt.code, tt.contains)
			}
			if h.Get("API-Version") != APIVersion {
				t.Fatalf("API-Version header %q", h.Get("API-Version"))
			}
		})
	}
}

func TestPsNamesFiltersAndHostDown(t *testing.T) {
	srv, c := simServer(t)
	var list []summary
	_, body, _ := call(t, srv, "GET", "/containers/json", "")
	json.Unmarshal([]byte(body), &list)
	if len(list) != 5 { // running ones on healthy nodes; batch-old exited
		t.Fatalf("%d containers: %s", len(list), body)
	}
	names := map[string]summary{}
	for _, s := range list {
		names[s.Names[0]] = s
	}
	db, ok := names["/eu-1/db"]
	if !ok || db.Ports[0].IP != "10.0.1.11" || db.Ports[0].PublicPort != 5432 || !strings.HasPrefix(db.Status, "Up ") {
		t.Fatalf("eu-1/db: %+v", db)
	}
	if !strings.Contains(body, `"HostConfig":{"NetworkMode":"bridge"},"NetworkSettings":{"Networks":{}},"Mounts":[]}`) {
		t.Fatalf("docker's fixed fields are not as docker writes them: %s", body)
	}
	_, body, _ = call(t, srv, "GET", `/containers/json?all=1&filters={"node":["eu-3"]}`, "")
	if !strings.Contains(body, `"/eu-3/batch-old"`) || strings.Contains(body, "eu-1") || !strings.Contains(body, `"Status":"Exited (0)`) {
		t.Fatalf("node=eu-3 with all: %s", body)
	}
	_, body, _ = call(t, srv, "GET", `/containers/json?filters={"label":["app=cache"]}`, "")
	if strings.Count(body, `"Id"`) != 2 {
		t.Fatalf("label=app=cache: %s", body)
	}
	// A node goes down: its containers leave ps, and show Host Down with -a.
	c.Source().Sim("10.0.2.21:2375").Crash()
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, body, _ = call(t, srv, "GET", "/containers/json?all=1", "")
		if strings.Contains(body, `"/us-1/cache-us"`) && strings.Contains(body, "Host Down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Host Down: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, body, _ = call(t, srv, "GET", "/containers/json", ""); strings.Contains(body, "us-1/cache-us") {
		t.Fatal("a container of a down node in plain ps")
	}
}

func TestCreateStartStopRemoveThroughTheAPI(t *testing.T) {
	srv, c := simServer(t)
	code, body, _ := call(t, srv, "POST", "/v1.41/containers/create?name=api",
		`{"Image":"busybox","Cmd":["sleep","100"],"Env":["constraint:zone==us","reschedule:on-node-failure","A=1"],"HostConfig":{"Memory":67108864,"CpuShares":2}}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	var created struct{ Id string }
	json.Unmarshal([]byte(body), &created)
	ct, n, err := c.Inspect("api")
	if err != nil || ct.ID != created.Id || n.Labels["zone"] != "us" || ct.Memory != 64<<20 || ct.CPUs != model.CPUs(2) {
		t.Fatalf("api: %+v on %+v, %v", ct, n, err)
	}
	if ct.Labels[model.LabelConstraints] != `["zone==us"]` || len(ct.Env) != 1 || ct.Env[0] != "A=1" || ct.Reschedule()[0] != "on-node-failure" {
		t.Fatalf("rules: labels %v env %v", ct.Labels, ct.Env)
	}
	for _, step := range []struct{ method, path string }{
		{"POST", "/containers/api/start"}, {"POST", "/containers/" + created.Id[:12] + "/stop?t=1"},
		{"POST", "/containers/" + n.Name + "/api/start"}, {"DELETE", "/containers/api?force=1"},
	} {
		if code, body, _ := call(t, srv, step.method, step.path, ""); code != 204 {
			t.Fatalf("%s %s: %d %s", step.method, step.path, code, body)
		}
	}
	if _, _, err := c.Inspect("api"); !backend.IsNotFound(err) {
		t.Fatalf("after DELETE: %v", err)
	}
	// Names are unique across the cluster on rename too.
	if code, body, _ := call(t, srv, "POST", "/containers/db/rename?name=web-1", ""); code != 409 {
		t.Fatalf("rename onto a taken name: %d %s", code, body)
	}
}

func TestUpdateIsCheckedAgainstTheNode(t *testing.T) {
	srv, _ := simServer(t)
	code, body, _ := call(t, srv, "POST", "/containers/db/update", `{"Memory":68719476736}`)
	if code != 500 || !strings.Contains(body, "cannot update db: 64 GiB of memory does not fit on eu-1 (1 GiB of 16.8 GiB reserved by the others)") {
		t.Fatalf("update beyond the node: %d %s", code, body)
	}
}

// TestWaitOnASimulatedEngine: docker run asks for a wait before it
// starts a container (-d too); on a simulated engine, which has no API to
// pass it to, the manager answers it as dockerd: headers at once, the
// exit once the container exits (next-exit), at once for one not running
// (not-running), and a bad condition is a 400. It used to be a 500 that
// docker run printed as "error waiting for container".
func TestWaitOnASimulatedEngine(t *testing.T) {
	srv, _ := simServer(t)
	if code, body, _ := call(t, srv, "POST", "/containers/create?name=waiter", `{"Image":"busybox","HostConfig":{"Memory":67108864}}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	resp, err := http.Post(srv.URL+"/v1.41/containers/waiter/wait?condition=next-exit", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("wait: %d %s", resp.StatusCode, b)
	}
	got := make(chan string, 1)
	go func() { b, _ := io.ReadAll(resp.Body); got <- string(b) }()
	if code, body, _ := call(t, srv, "POST", "/containers/waiter/start", ""); code != 204 {
		t.Fatalf("start: %d %s", code, body)
	}
	select {
	case b := <-got:
		t.Fatalf("the wait for the next exit ended before any exit: %q", b)
	case <-time.After(300 * time.Millisecond):
	}
	if code, body, _ := call(t, srv, "POST", "/containers/waiter/stop?t=1", ""); code != 204 {
		t.Fatalf("stop: %d %s", code, body)
	}
	select {
	case b := <-got:
		var w struct{ StatusCode *int }
		if json.Unmarshal([]byte(b), &w) != nil || w.StatusCode == nil {
			t.Fatalf("the wait answered %q", b)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the wait did not end 30 s after the stop")
	}
	if code, body, _ := call(t, srv, "POST", "/containers/waiter/wait", ""); code != 200 || !strings.Contains(body, `"StatusCode":`) {
		t.Fatalf("wait (not-running) on a stopped container: %d %s", code, body)
	}
	if code, body, _ := call(t, srv, "POST", "/containers/waiter/wait?condition=later", ""); code != 400 || !strings.Contains(body, "invalid condition") {
		t.Fatalf("wait with a bad condition: %d %s", code, body)
	}
}
