package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStopAnswersAsTheEngineDoes: a stop of a container that is not
// running is 304 Not Modified, as from the engine; a t= that is not a
// whole number is a 400 that names it, and the container is untouched.
func TestStopAnswersAsTheEngineDoes(t *testing.T) {
	srv, _ := simServer(t)
	if code, body, _ := call(t, srv, "POST", "/containers/create?name=st", `{"Image":"busybox"}`); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	for _, tt := range []struct {
		method, path string
		code         int
		says         string
	}{
		{"POST", "/containers/st/stop", http.StatusNotModified, ""}, // created, never started
		{"POST", "/containers/st/start", http.StatusNoContent, ""},
		{"POST", "/containers/st/stop?t=abc", http.StatusBadRequest, `t=\"abc\" is not a whole number of seconds`},
		{"POST", "/containers/st/restart?t=1.5", http.StatusBadRequest, `t=\"1.5\" is not a whole number of seconds`},
		{"GET", "/containers/json?filters=" + `{"name":["st"]}`, http.StatusOK, `"State":"running"`}, // still running
		{"POST", "/containers/st/stop?t=1", http.StatusNoContent, ""},
		{"POST", "/containers/st/stop?t=1", http.StatusNotModified, ""},
	} {
		code, body, _ := call(t, srv, tt.method, tt.path, "")
		if code != tt.code || !strings.Contains(body, tt.says) {
			t.Fatalf("%s %s: %d %s; want %d and %q", tt.method, tt.path, code, body, tt.code, tt.says)
		}
	}
}

// TestAContainerOfADownNodeIsInspectedFromItsLastKnownState: cache-us
// has no reschedule policy; when us-1 goes down, inspect answers (it was
// "Container cache-us running on unhealthy node us-1") with its last
// known config, State dead and not running, and why in State.Error.
func TestAContainerOfADownNodeIsInspectedFromItsLastKnownState(t *testing.T) {
	srv, c := simServer(t)
	c.Source().Sim("10.0.2.21:2375").Crash()
	var code int
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if code, body, _ = call(t, srv, "GET", "/containers/cache-us/json", ""); strings.Contains(body, `"Dead":true`) || time.Now().After(deadline) {
			break
		}
	}
	var doc struct {
		Name   string
		Config struct{ Image string }
		State  struct {
			Status, Error string
			Running, Dead bool
		}
		Node struct{ Name string }
	}
	json.Unmarshal([]byte(body), &doc)
	if code != http.StatusOK || doc.Name != "/cache-us" || doc.Config.Image != "redis:7" || doc.Node.Name != "us-1" ||
		doc.State.Status != "dead" || doc.State.Running || !strings.HasPrefix(doc.State.Error, "Host Down: its node us-1 is ") {
		t.Fatalf("inspect cache-us on a down node: %d %s", code, body)
	}
}
