package api

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"swarmdeck/backend"
	"swarmdeck/model"
)

func TestAppendJSONStringWritesWhatEncodingJSONWrites(t *testing.T) {
	for _, s := range []string{"", "plain", "  └ Reserved CPUs", `a "quoted" \ word`, "<b>&amp;</b>", "tab\there\nnewline",
		"\x00\x1f", "bad utf-8 \xff\xfe", "line sep \u2028 para \u2029", "émoji 🐳", "zone=eu, disk=ssd"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("appendJSONString(%q) = %s, want x%s", s, got, want)
		}
	}
}

// getJSON is a GET through a handler, decoded.
func getJSON(t *testing.T, h http.Handler, path string, v any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, rec.Body)
	}
}

// TestCachedPsAndInfoFollowEveryChange: docker ps -a and docker info of a
// server that has answered before (its encodings cached) equal those of a
// server that never did, after containers are created, started, stopped
// and removed, and after a node goes down.
func TestCachedPsAndInfoFollowEveryChange(t *testing.T) {
	srv, c := simServer(t)
	warm := srv.Config.Handler
	type ps = []map[string]any
	type info = map[string]any
	compare := func(step string) {
		t.Helper()
		var a, b ps
		getJSON(t, warm, "/containers/json?all=1", &a)
		getJSON(t, New(c), "/containers/json?all=1", &b)
		for _, l := range [][]map[string]any{a, b} {
			for _, ct := range l {
				if st, _ := ct["Status"].(string); strings.HasPrefix(st, "Up ") || strings.Contains(st, " ago") {
					ct["Status"] = "(a time)" // said at a slightly different time
				}
			}
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: docker ps -a from the cache differs from a fresh encoding\ncached: %v\nfresh:  %v", step, a, b)
		}
		var x, y info
		getJSON(t, warm, "/info", &x)
		getJSON(t, New(c), "/info", &y)
		for _, m := range []info{x, y} {
			delete(m, "SystemTime")
			delete(m, "NGoroutines")
		}
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("%s: docker info from the cache differs from a fresh one\ncached: %v\nfresh:  %v", step, x, y)
		}
	}
	compare("at start")
	steps := []struct{ step, method, path, body string }{
		{"a container created", "POST", "/containers/create?name=cached", `{"Image":"busybox","HostConfig":{"Memory":67108864}}`},
		{"it started", "POST", "/containers/cached/start", ""},
		{"it stopped", "POST", "/containers/cached/stop?t=1", ""},
		{"it was removed", "DELETE", "/containers/cached?force=1", ""},
	}
	for _, s := range steps {
		if code, body, _ := call(t, srv, s.method, s.path, s.body); code >= 300 {
			t.Fatalf("%s: %d %s", s.step, code, body)
		}
		compare(s.step)
	}
	var l ps
	getJSON(t, warm, "/containers/json?all=1", &l)
	for _, ct := range l {
		if n := ct["Names"].([]any)[0].(string); strings.HasSuffix(n, "/cached") {
			t.Fatalf("the removed container is still listed: %v", ct)
		}
	}
	var i info
	getJSON(t, warm, "/info", &i)
	before := i["ContainersStopped"].(float64)
	if code, body, _ := call(t, srv, "POST", "/containers/db/stop?t=1", ""); code != 204 {
		t.Fatalf("stop db: %d %s", code, body)
	}
	getJSON(t, warm, "/info", &i)
	if i["ContainersStopped"].(float64) != before+1 {
		t.Fatalf("docker info after a stop: %v stopped, want %v", i["ContainersStopped"], before+1)
	}
	compare("db stopped")
	// A node goes down: its containers say Host Down from the cache too.
	c.Source().Sim("10.0.2.21:2375").Crash()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var l ps
		getJSON(t, warm, "/containers/json?all=1", &l)
		if strings.Contains(fmt.Sprint(l), "Host Down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Host Down in docker ps -a: %v", l)
		}
	}
	compare("a node down")
	// Its containers count as stopped (not listed by plain docker ps, in
	// no state docker knows), so that docker info's figures add up.
	var down info
	getJSON(t, warm, "/info", &down)
	if sum := down["ContainersRunning"].(float64) + down["ContainersPaused"].(float64) + down["ContainersStopped"].(float64); sum != down["Containers"].(float64) {
		t.Errorf("with a node down, docker info says %v containers: %v running, %v paused, %v stopped", down["Containers"],
			down["ContainersRunning"], down["ContainersPaused"], down["ContainersStopped"])
	}
}

// TestTheFirstPsAfterAStartIsACopy: with the warmer running, the first
// `docker ps -a` after a manager start (1,500 containers on 50 nodes)
// encodes no container itself; its answer is what a server that never
// warmed answers. With 5 of the nodes' engines never answering (Pending
// for ever, 10 %), the others' containers are warmed all the same (the
// warmer used to wait while 1 % or more of the nodes were Pending).
func TestTheFirstPsAfterAStartIsACopy(t *testing.T) {
	for _, hung := range []int{0, 5} {
		t.Run(fmt.Sprintf("%d engines hung", hung), func(t *testing.T) {
			nodes := backend.GenerateNodes(50, 30)
			src := backend.SimSource("sim://50", nodes)
			for _, n := range nodes[:hung] {
				src.Sim(n.Addr).Hang()
			}
			c, h := startWarmed(t, src, backend.Options{})
			t.Cleanup(func() {
				for _, n := range nodes[:hung] {
					src.Sim(n.Addr).Heal() // before the manager stops: its calls to them return
				}
			})
			// Wait until every answering node's containers are visible
			// and the warmer has seen the cluster as it is then.
			want := (50 - hung) * 30
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				visible := 0
				for _, n := range c.Nodes() {
					if n.Health == model.Healthy {
						visible += len(n.Containers)
					}
				}
				h.ps.mu.Lock()
				made := h.ps.made
				h.ps.mu.Unlock()
				if visible == want && made >= want {
					time.Sleep(3 * warmIdle) // a pass that started before the last view finishes
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after 30 s: %d of %d containers visible, %d encoded by the warmer", visible, want, made)
				}
			}
			h.ps.mu.Lock()
			before := h.ps.made
			h.ps.mu.Unlock()
			var warm, fresh []map[string]any
			getJSON(t, h, "/containers/json?all=1", &warm)
			h.ps.mu.Lock()
			after := h.ps.made
			h.ps.mu.Unlock()
			if after != before {
				t.Errorf("the first docker ps -a encoded %d containers itself; the warmer should have", after-before)
			}
			getJSON(t, New(c), "/containers/json?all=1", &fresh)
			for _, l := range [][]map[string]any{warm, fresh} {
				for _, ct := range l {
					ct["Status"] = "(said at a slightly different time)"
				}
			}
			if len(warm) != want || !reflect.DeepEqual(warm, fresh) {
				t.Errorf("docker ps -a from the warmed cache (%d) differs from a fresh server's (%d)", len(warm), len(fresh))
			}
		})
	}
}

// TestKeptTemplatesFollowTheirRecords: when a node's list changes, the
// templates carried over from its former entries are each its own
// record's, never a neighbour's; after one create or one remove every
// record that stayed keeps its template (only the new one is looked up).
func TestKeptTemplatesFollowTheirRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tmpl := map[*model.Container]*psTemplate{}
	record := func() *model.Container {
		c := &model.Container{ID: fmt.Sprint(len(tmpl))}
		tmpl[c] = &psTemplate{}
		return c
	}
	for i := range 2000 {
		old := make([]*model.Container, rng.IntN(12))
		for k := range old {
			old[k] = record()
		}
		cs := slices.Clone(old)
		edits := 1 + rng.IntN(3)
		if i%2 == 0 {
			edits = 1 // one create or one remove: the usual change
		}
		for range edits {
			switch at := rng.IntN(len(cs) + 1); {
			case rng.IntN(2) == 0 || len(cs) == 0 || at == len(cs):
				cs = slices.Insert(cs, at, record())
			default:
				cs = slices.Delete(cs, at, at+1)
			}
		}
		was := make([]*psTemplate, len(old))
		for k, c := range old {
			was[k] = tmpl[c]
		}
		got := make([]*psTemplate, len(cs))
		kept(got, cs, was, old)
		missing := 0
		for j, c := range cs {
			switch {
			case got[j] == nil:
				missing++
			case got[j] != tmpl[c]:
				t.Fatalf("list %d: record %s was given record %v's template", i, c.ID, got[j])
			}
		}
		if edits == 1 && missing > max(0, len(cs)-len(old)) {
			t.Errorf("list %d: after one change %d of %d records lost their template (%d were new)", i, missing, len(cs), max(0, len(cs)-len(old)))
		}
	}
}
