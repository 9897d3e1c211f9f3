package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/pkg/jsonmessage"

	"swarmdeck/model"
)

func TestPullRefReadsFromImageAndTagAsDockerDoes(t *testing.T) {
	for _, tt := range []struct {
		query string
		ref   string
		all   bool
		bad   string // in the error, when refused
	}{
		{"fromImage=busybox&tag=latest", "busybox:latest", false, ""},
		{"fromImage=127.0.0.1:5000/team/app&tag=v1", "127.0.0.1:5000/team/app:v1", false, ""},
		{"fromImage=busybox&tag=sha256:" + strings.Repeat("a", 64), "busybox@sha256:" + strings.Repeat("a", 64), false, ""},
		{"fromImage=busybox", "busybox", true, ""},                   // docker pull -a: every tag
		{"fromImage=busybox:1.36", "busybox:1.36", false, ""},        // a tag in the name
		{"fromImage=busybox:latest&tag=v1", "busybox:v1", false, ""}, // the tag apart overrides it, as dockerd
		{"fromImage=127.0.0.1:5000/app:v1&tag=v2", "127.0.0.1:5000/app:v2", false, ""},
		{"fromImage=Busybox&tag=1", "", false, `"Busybox:1"`},
		{"fromImage=busybox&tag=a%20b", "", false, `"busybox:a b"`},
		{"tag=1", "", false, "fromImage"},
	} {
		r, _ := http.NewRequest(http.MethodPost, "/images/create?"+tt.query, nil)
		ref, all, err := pullRef(r)
		switch {
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad) || status(err) != http.StatusBadRequest):
			t.Errorf("%s: %v; want a 400 naming %s", tt.query, err, tt.bad)
		case tt.bad == "" && (err != nil || ref != tt.ref || all != tt.all):
			t.Errorf("%s: %q all=%v %v; want %q all=%v", tt.query, ref, all, err, tt.ref, tt.all)
		}
	}
}

func TestImageFiltersAsDockerImagesTakesThem(t *testing.T) {
	tagged := model.Image{ID: "sha256:1", RepoTags: []string{"127.0.0.1:5000/team/app:v1", "busybox:latest"}, Labels: map[string]string{"team": "web"}}
	dangling := model.Image{ID: "sha256:2", RepoTags: []string{"<none>:<none>"}}
	for _, tt := range []struct {
		args []string // key=value
		im   model.Image
		want bool
	}{
		{nil, tagged, true},
		{[]string{"reference=busybox"}, tagged, true},
		{[]string{"reference=busybox:latest"}, tagged, true},
		{[]string{"reference=busy*"}, tagged, true},
		{[]string{"reference=127.0.0.1:5000/team/*"}, tagged, true},
		{[]string{"reference=redis"}, tagged, false},
		{[]string{"dangling=true"}, tagged, false},
		{[]string{"dangling=true"}, dangling, true},
		{[]string{"dangling=false"}, dangling, false},
		{[]string{"label=team"}, tagged, true},
		{[]string{"label=team=web"}, tagged, true},
		{[]string{"label=team=db"}, tagged, false},
		{[]string{"label=team"}, dangling, false},
	} {
		f := filters.NewArgs()
		for _, a := range tt.args {
			k, v, _ := strings.Cut(a, "=")
			f.Add(k, v)
		}
		if got := imageFiltered(f, tt.im); got != tt.want {
			t.Errorf("%v on %v: %v, want %v", tt.args, tt.im.RepoTags, got, tt.want)
		}
	}
}

// TestAPullThroughTheEndpointStreamsEveryNodesProgress: on the simulated
// demo cluster (no registry needed), a pull reaches every healthy node:
// Swarm's line per node at its start and end, each engine's steps tagged
// with the node, and docker images then shows the image once (one ID on
// every node).
func TestAPullThroughTheEndpointStreamsEveryNodesProgress(t *testing.T) {
	srv, c := simServer(t)
	resp, err := http.Post(srv.URL+"/v1.41/images/create?fromImage=alpine&tag=3.19", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := map[string][]string{} // by ID
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m.Error != nil {
			t.Fatalf("the pull failed: %v", m.Error)
		}
		node, _, _ := strings.Cut(m.ID, ": ")
		lines[node] = append(lines[node], m.Status)
	}
	healthy := 0
	for _, n := range c.Nodes() {
		if n.Health != model.Healthy {
			if len(lines[n.Name]) > 0 {
				t.Errorf("the unhealthy %s pulled: %v", n.Name, lines[n.Name])
			}
			continue
		}
		healthy++
		got := lines[n.Name]
		if len(got) < 3 || got[0] != "Pulling alpine:3.19..." || got[len(got)-1] != "Pulling alpine:3.19... : downloaded" {
			t.Errorf("%s's lines: %q", n.Name, got)
		}
	}
	code, body, _ := call(t, srv, http.MethodGet, "/images/json?filters="+url.QueryEscape(`{"reference":["alpine"]}`), "")
	var ims []struct{ RepoTags []string }
	json.Unmarshal([]byte(body), &ims)
	if code != http.StatusOK || len(ims) != 1 || ims[0].RepoTags[0] != "alpine:3.19" {
		t.Errorf("docker images alpine after the pull onto %d nodes: %d %s", healthy, code, body)
	}
}
