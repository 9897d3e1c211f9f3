package api

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"

	"swarmdeck/model"
)

// TestTheSwarmIDLabelIsShownThoughTheRecordKeepsItApart creates containers
// through the API on simulated engines (whose records keep the swarm ID
// out of their labels map, which the request's labels share) and requires
// Docker's shape everywhere a client sees labels: docker ps and inspect
// carry com.docker.swarm.id beside the user's labels, a label filter on it
// finds the one container, and an affinity on it places next to it.
func TestTheSwarmIDLabelIsShownThoughTheRecordKeepsItApart(t *testing.T) {
	srv, c := simServer(t)
	var ids [2]string
	for i := range ids {
		code, body, _ := call(t, srv, "POST", "/v1.41/containers/create?name=sid-"+fmt.Sprint(i),
			`{"Image":"busybox","Labels":{"team":"blue"},"HostConfig":{"Memory":16777216}}`)
		if code != 201 {
			t.Fatalf("create: %d %s", code, body)
		}
		var out struct{ ID string }
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		ids[i] = out.ID
	}
	rec, _, err := c.Inspect(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.SwarmID) != 64 {
		t.Fatalf("the record's swarm ID is %q", rec.SwarmID)
	}
	if _, ok := rec.Labels[model.LabelSwarmID]; ok {
		t.Errorf("the record's labels map holds the swarm ID (%v): each container would keep a map of its own", rec.Labels)
	}
	want := map[string]string{"team": "blue", model.LabelSwarmID: rec.SwarmID}

	code, body, _ := call(t, srv, "GET", "/containers/json?all=1&filters="+url.QueryEscape(`{"name":["sid-0"]}`), "")
	var ps []struct{ Labels map[string]string }
	if err := json.Unmarshal([]byte(body), &ps); err != nil || code != 200 || len(ps) != 1 {
		t.Fatalf("docker ps: %d %s", code, body)
	}
	if fmt.Sprint(ps[0].Labels) != fmt.Sprint(want) {
		t.Errorf("docker ps shows labels %v, want %v", ps[0].Labels, want)
	}

	code, body, _ = call(t, srv, "GET", "/containers/"+ids[0]+"/json", "")
	var in struct {
		Config struct{ Labels map[string]string }
	}
	if err := json.Unmarshal([]byte(body), &in); err != nil || code != 200 {
		t.Fatalf("docker inspect: %d %s", code, body)
	}
	if fmt.Sprint(in.Config.Labels) != fmt.Sprint(want) {
		t.Errorf("docker inspect shows labels %v, want %v", in.Config.Labels, want)
	}

	code, body, _ = call(t, srv, "GET", "/containers/json?all=1&filters="+url.QueryEscape(`{"label":["`+model.LabelSwarmID+`=`+rec.SwarmID+`"]}`), "")
	var found []struct{ Id string }
	if err := json.Unmarshal([]byte(body), &found); err != nil || code != 200 {
		t.Fatalf("docker ps --filter label: %d %s", code, body)
	}
	if len(found) != 1 || found[0].Id != ids[0] {
		t.Errorf("--filter label=%s=… found %v, want only %s", model.LabelSwarmID, found, ids[0])
	}

	code, body, _ = call(t, srv, "POST", "/v1.41/containers/create?name=beside",
		`{"Image":"busybox","Env":["affinity:`+model.LabelSwarmID+`==`+rec.SwarmID+`"],"HostConfig":{"Memory":16777216}}`)
	if code != 201 {
		t.Fatalf("create with an affinity on the swarm ID: %d %s", code, body)
	}
	beside, _, err := c.Inspect("beside")
	if err != nil {
		t.Fatal(err)
	}
	if beside.Node != rec.Node {
		t.Errorf("an affinity on %s's swarm ID placed it on %s, not beside it on %s", ids[0], beside.Node, rec.Node)
	}
}
