package api

import (
	"net/http"
	"strings"
	"testing"
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
