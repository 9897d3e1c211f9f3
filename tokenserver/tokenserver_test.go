package tokenserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const known = "0123456789abcdef0123456789abcdef"

// open loads testdata/state.json into a copy, at a fixed time.
func open(t *testing.T, now time.Time) (*Server, string) {
	t.Helper()
	data, err := os.ReadFile("testdata/state.json")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return now }
	return s, path
}

func do(s *Server, method, target, body string) (int, string) {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(method, target, strings.NewReader(body)))
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, strings.TrimSpace(string(b))
}

func TestProtocol(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Second)
	tests := []struct {
		name         string
		method, path string
		body         string
		code         int
		answer       string // the whole answer, or a part of an error
	}{
		{"the live entries, expired ones left out", "GET", "/v1/clusters/" + known, "", 200, `["10.0.0.1:2375","node-2=10.0.0.2:2375"]`},
		{"the same without /v1 (token://HOST/TOKEN)", "GET", "/clusters/" + known, "", 200, `["10.0.0.1:2375","node-2=10.0.0.2:2375"]`},
		{"an unknown cluster is empty", "GET", "/v1/clusters/nobody", "", 200, `[]`},
		{"a cluster that exists without entries", "GET", "/v1/clusters/emptycluster", "", 200, `[]`},
		{"a token with a slash", "GET", "/v1/clusters/a/b", "", 400, `invalid token "a/b"`},
		{"a token too long", "GET", "/v1/clusters/" + strings.Repeat("a", 65), "", 400, "invalid token"},
		{"register", "POST", "/v1/clusters/" + known + "?ttl=30", "10.0.0.9:2375", 200, ""},
		{"register without a ttl", "POST", "/v1/clusters/" + known, "10.0.0.9:2375", 400, `invalid ttl ""`},
		{"a ttl of zero", "POST", "/v1/clusters/" + known + "?ttl=0", "10.0.0.9:2375", 400, "whole seconds from 1 to 86400"},
		{"a ttl over a day", "POST", "/v1/clusters/" + known + "?ttl=86401", "10.0.0.9:2375", 400, "invalid ttl"},
		{"an entry without a port", "POST", "/v1/clusters/" + known + "?ttl=30", "10.0.0.9", 400, `invalid entry "10.0.0.9"`},
		{"a name with '='", "POST", "/v1/clusters/" + known + "?ttl=30", "weird=name=10.0.0.9:2375", 400, `invalid node name "weird=name"`},
		{"a name with a space", "POST", "/v1/clusters/" + known + "?ttl=30", "a b=10.0.0.9:2375", 400, `invalid node name "a b"`},
		{"a name with a slash", "POST", "/v1/clusters/" + known + "?ttl=30", "a/b=10.0.0.9:2375", 400, `invalid node name "a/b"`},
		{"a named entry", "POST", "/v1/clusters/" + known + "?ttl=30", "node-9=10.0.0.9:2375", 200, ""},
		{"an empty entry", "POST", "/v1/clusters/" + known + "?ttl=30", "", 400, `invalid entry ""`},
		{"another verb", "DELETE", "/v1/clusters/" + known, "", 405, "use GET or POST"},
		{"elsewhere", "GET", "/v2/other", "", 404, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := open(t, at)
			code, answer := do(s, tt.method, tt.path, tt.body)
			if code != tt.code || !strings.Contains(answer, tt.answer) || tt.code == 200 && answer != tt.answer {
				t.Fatalf("%s %s: %d %q; want %d %q", tt.method, tt.path, code, answer, tt.code, tt.answer)
			}
		})
	}
}

func TestEntriesExpireAndTheStateSurvivesARestart(t *testing.T) {
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC) // every entry of the fixture has expired
	s, path := open(t, now)
	code, token := do(s, "POST", "/v1/clusters", "")
	if code != 200 || len(token) != 32 {
		t.Fatalf("create: %d %q", code, token)
	}
	if code, _ := do(s, "POST", "/v1/clusters/"+token+"?ttl=10", "10.0.0.1:2375"); code != 200 {
		t.Fatalf("register: %d", code)
	}
	do(s, "POST", "/v1/clusters/"+token+"?ttl=20", "10.0.0.2:2375")
	list := func(s *Server) string { _, a := do(s, "GET", "/v1/clusters/"+token, ""); return a }
	if got := list(s); got != `["10.0.0.1:2375","10.0.0.2:2375"]` {
		t.Fatalf("list: %s", got)
	}
	// A restart reads the file again.
	again, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := now.Add(15 * time.Second)
	again.now = func() time.Time { return clock }
	if got := list(again); got != `["10.0.0.2:2375"]` {
		t.Fatalf("after a restart and 15 s: %s; want the entry of TTL 20 s only", got)
	}
	clock = now.Add(20 * time.Second)
	if got := list(again); got != `[]` {
		t.Fatalf("after 20 s: %s; want none", got)
	}
	// A write prunes what expired from the file.
	do(again, "POST", "/v1/clusters/"+token+"?ttl=5", "10.0.0.3:2375")
	var state map[string]map[string]time.Time
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &state); err != nil || len(state[token]) != 1 {
		t.Fatalf("state file %s: %v", data, err)
	}
}

func TestABadStateFileIsNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open: %v", err)
	}
	if s, err := Open(filepath.Join(t.TempDir(), "missing.json")); err != nil || len(s.clusters) != 0 {
		t.Fatalf("a missing file: %v", err)
	}
	var _ http.Handler = &Server{}
}

func TestAStateFolderThatCannotBeWrittenIsRefusedAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nonexistent", "dir", "x.json")
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "its folder is not writable") {
		t.Fatalf("Open(%s): %v; want a folder that is not writable named", path, err)
	}
}

// TestAChangeThatCannotBeKeptIsNotServed: when the state cannot be
// written (its folder went away), the POST answers 500 and neither the
// entry nor the new cluster is served.
func TestAChangeThatCannotBeKeptIsNotServed(t *testing.T) {
	s, path := open(t, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Second))
	if err := os.RemoveAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	if code, answer := do(s, "POST", "/v1/clusters/"+known+"?ttl=30", "10.0.0.9:2375"); code != 500 || !strings.Contains(answer, "cannot keep the entry") {
		t.Fatalf("register: %d %q", code, answer)
	}
	if _, answer := do(s, "GET", "/v1/clusters/"+known, ""); strings.Contains(answer, "10.0.0.9") {
		t.Fatalf("an entry that was not kept is served: %s", answer)
	}
	if code, _ := do(s, "POST", "/v1/clusters/fresh?ttl=30", "10.0.0.9:2375"); code != 500 {
		t.Fatalf("register in a new cluster: %d", code)
	}
	if code, _ := do(s, "POST", "/v1/clusters", ""); code != 500 || len(s.clusters) != 2 {
		t.Fatalf("create: %d, %d clusters; want 500 and the fixture's 2", code, len(s.clusters))
	}
}

func TestTheCapsOnClustersAndEntries(t *testing.T) {
	s, _ := open(t, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Second))
	s.maxClusters, s.maxEntries = 3, 3 // the fixture has 2 clusters; known has 2 live entries
	for _, tt := range []struct {
		method, path, body string
		code               int
		answer             string
	}{
		{"POST", "/v1/clusters/" + known + "?ttl=30", "10.0.0.9:2375", 200, ""},
		{"POST", "/v1/clusters/" + known + "?ttl=30", "10.0.0.10:2375", 429, "holds 3 entries, the most this server keeps"},
		{"POST", "/v1/clusters/" + known + "?ttl=60", "10.0.0.9:2375", 200, ""}, // a renewal
		{"POST", "/v1/clusters", "", 200, ""},
		{"POST", "/v1/clusters", "", 429, "this server keeps at most 3"},
		{"POST", "/v1/clusters/another?ttl=30", "10.0.0.9:2375", 429, "this server keeps at most 3 clusters"},
	} {
		code, answer := do(s, tt.method, tt.path, tt.body)
		if code != tt.code || !strings.Contains(answer, tt.answer) {
			t.Errorf("%s %s %q: %d %q; want %d %q", tt.method, tt.path, tt.body, code, answer, tt.code, tt.answer)
		}
	}
}
