package api

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"

	"swarmdeck/model"
)

// TestCreatesFromOneBodyShareOnlyTheBody: creates that send the same body
// (a scale-out) decode it once and keep one copy of it as their recreate
// body, yet every container has its own name, swarm ID and labels, every
// answer is what encoding/json writes, and a refusal is said again for
// each create that earns it.
func TestCreatesFromOneBodyShareOnlyTheBody(t *testing.T) {
	srv, c := simServer(t)
	body := `{"Image":"busybox","Env":["A=1"],"Labels":{"team":"a"},"HostConfig":{"Memory":67108864}}`
	ids := map[string]string{}
	for _, name := range []string{"one", "two", "three"} {
		code, out, _ := call(t, srv, "POST", "/containers/create?name="+name, body)
		if code != 201 {
			t.Fatalf("create %s: %d %s", name, code, out)
		}
		var a struct {
			Id       string
			Warnings []string
		}
		if err := json.Unmarshal([]byte(out), &a); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(map[string]any{"Id": a.Id, "Warnings": []string{}})
		if out != string(want)+"\n" {
			t.Errorf("create %s answered %q, want encoding/json's %q", name, out, want)
		}
		ids[name] = a.Id
	}
	var raw []byte
	swarmIDs := map[string]bool{}
	for _, ct := range c.Containers() {
		if ids[ct.Name] != ct.ID {
			continue
		}
		if string(ct.Raw) != body {
			t.Errorf("%s keeps %q as its recreate body, want what the client sent", ct.Name, ct.Raw)
		}
		if raw == nil {
			raw = ct.Raw
		} else if &raw[0] != &ct.Raw[0] {
			t.Errorf("%s keeps a copy of the body of its own; the three containers should share one", ct.Name)
		}
		if sid, _ := ct.Label(model.LabelSwarmID); ct.Labels["team"] != "a" || sid != ct.SwarmID || ct.SwarmID == "" || swarmIDs[ct.SwarmID] {
			t.Errorf("%s: labels %v, swarm ID %s: each container has its own swarm ID label", ct.Name, ct.Labels, ct.SwarmID)
		}
		swarmIDs[ct.SwarmID] = true
		if ct.Memory != 64<<20 || len(ct.Env) != 1 || ct.Env[0] != "A=1" {
			t.Errorf("%s: memory %d, env %v", ct.Name, ct.Memory, ct.Env)
		}
	}
	if len(swarmIDs) != 3 {
		t.Fatalf("found %d of the 3 containers", len(swarmIDs))
	}
	// Refusals of a body already seen are made again, each time.
	for range 2 {
		if code, out, _ := call(t, srv, "POST", "/containers/create?name=x", body); code != 400 || !strings.Contains(out, "Invalid container name (x)") {
			t.Errorf("a bad name with a known body: %d %s", code, out)
		}
		big := `{"Image":"busybox","HostConfig":{"NanoCpus":9223372036854775807}}`
		if code, out, _ := call(t, srv, "POST", "/containers/create?name=big", big); code != 400 || !strings.Contains(out, "Range of CPUs") {
			t.Errorf("too many CPUs: %d %s", code, out)
		}
		if code, out, _ := call(t, srv, "POST", "/containers/create?name=bad", `{"Image":"busybox","Tty":"yes"}`); code != 400 || !strings.Contains(out, "not JSON") {
			t.Errorf("a field of the wrong type: %d %s", code, out)
		}
	}
}

// TestVersionPrefixIsTheRegexps: the hand-written match of the /vX.Y
// prefix cuts exactly where `^/v[0-9]+\.[0-9]+/` matches.
func TestVersionPrefixIsTheRegexps(t *testing.T) {
	re := regexp.MustCompile(`^/v[0-9]+\.[0-9]+/`)
	for _, p := range []string{"/v1.41/info", "/v1.24/containers/json", "/v10.100/x", "/v1.41", "/v1.41/", "/v1./x", "/v.41/x",
		"/v1/x", "/vx.1/x", "/info", "", "/", "/v", "v1.41/info", "/v1.4a/x", "/v01.041//", "/V1.41/info", "//v1.41/info"} {
		want := 0
		if loc := re.FindStringIndex(p); loc != nil {
			want = loc[1] - 1
		}
		if got := versionPrefix(p); got != want {
			t.Errorf("versionPrefix(%q) = %d, want %d", p, got, want)
		}
	}
}

// TestNodeInfoIsEncodingJSONs: a node's SystemStatus lines, written with
// keys encoded once, are what encoding/json writes for Swarm's pairs; so
// are those the cache keeps for the node's next view, whether only its
// refresh time moved on (the kept lines with the new time written in) or
// more changed.
func TestNodeInfoIsEncodingJSONs(t *testing.T) {
	o := model.DefaultOvercommit
	want := func(n *model.Node) string {
		var pairs [][2]string
		pairs = append(pairs, [2]string{" " + n.Name, n.Addr}, [2]string{"  └ ID", n.ID}, [2]string{"  └ Status", n.Health.String()},
			[2]string{"  └ Availability", n.Availability.String()})
		k := model.CountContainers(n.Containers)
		if n.Health == model.Healthy {
			pairs = append(pairs, [2]string{"  └ Containers", fmt.Sprintf("%d (%d Running, %d Paused, %d Stopped)", k.Total, k.Running, k.Paused, k.Stopped)})
		} else {
			pairs = append(pairs, [2]string{"  └ Containers", fmt.Sprint(k.Total)})
		}
		pairs = append(pairs, [2]string{"  └ Reserved CPUs", n.ReservedCPUsText(o)}, [2]string{"  └ Reserved Memory", n.ReservedMemoryText(o)},
			[2]string{"  └ Labels", labelList(n.Labels)})
		if n.Error != "" {
			pairs = append(pairs, [2]string{"  └ Error", n.Error})
		}
		updated := ""
		if !n.Updated.IsZero() {
			updated = n.Updated.UTC().Format(time.RFC3339)
		}
		pairs = append(pairs, [2]string{"  └ UpdatedAt", updated}, [2]string{"  └ ServerVersion", n.Version})
		b, _ := json.Marshal(pairs)
		return string(b)
	}
	got := func(p *infoPart) string { return "[" + string(p.status[1:]) + "]" }
	nexts := []struct {
		what   string
		change func(n *model.Node)
	}{
		{"refreshed", func(n *model.Node) { n.Updated = time.Unix(1.8e9, 0) }},
		{"never refreshed", func(n *model.Node) { n.Updated = time.Time{} }},
		{"drained", func(n *model.Node) { n.Availability, n.Updated = model.Drain, n.Updated.Add(time.Hour) }},
		{"a container more", func(n *model.Node) {
			n.Containers, n.Updated = append(slices.Clip(n.Containers), &model.Container{State: model.Running}), n.Updated.Add(time.Hour)
		}},
		{"relabeled", func(n *model.Node) { n.Labels, n.Updated = map[string]string{"zone": "us"}, n.Updated.Add(time.Hour) }},
		{"failing", func(n *model.Node) { n.Error, n.Health = "EOF", model.Unhealthy }},
	}
	for _, n := range []*model.Node{
		{Name: "node-1", Addr: "10.0.0.1:2375", ID: "AB:CD", Health: model.Healthy, CPUs: 4, Memory: 8 << 30, Version: "20.10",
			Labels: map[string]string{"zone": "eu", "disk": "ssd"}, Updated: time.Unix(1.7e9, 0),
			Containers: []*model.Container{{State: model.Running, Config: model.Config{CPUs: 500, Memory: 1 << 30}}, {State: model.Exited}}},
		{Name: `n"<&>`, Addr: "[::1]:2375", Health: model.Unhealthy, Error: "dial tcp: refused\n\x00", Labels: map[string]string{"é": "\u2028"}},
	} {
		if got, want := got(nodeInfo(n, o)), want(n); got != want {
			t.Errorf("%s:\n got %s\nwant %s", n.Name, got, want)
		}
		for _, next := range nexts {
			c := &infoCache{}
			c.sweep([]*model.Node{n}, o)
			c.part(n, o)
			m := *n
			next.change(&m)
			if got, want := got(c.part(&m, o)), want(&m); got != want {
				t.Errorf("%s, %s:\n got %s\nwant %s", n.Name, next.what, got, want)
			}
		}
	}
}

// TestPsShowsAndFiltersNetworks: docker ps shows a container's networks
// by name (what {{.Networks}} prints) from the endpoints its engine
// reported, and network= keeps those on a network named or whose ID
// starts with the value, as dockerd does.
func TestPsShowsAndFiltersNetworks(t *testing.T) {
	web := &model.Container{ID: "w1", Run: &model.Run{Endpoints: []model.Endpoint{{Network: "front", NetworkID: "aaa111"}, {Network: "back", NetworkID: "bbb222", IPv4: "10.0.1.2"}}}}
	db := &model.Container{ID: "d1", Run: &model.Run{Endpoints: []model.Endpoint{{Network: "back", NetworkID: "bbb222", IPv4: "10.0.1.3"}}}}
	lone := &model.Container{ID: "l1"}
	n := &model.Node{Name: "node-1", Addr: "10.0.0.1:2375"}
	var sm struct {
		NetworkSettings struct {
			Networks map[string]struct{ NetworkID, IPAddress string }
		}
	}
	if err := json.Unmarshal(encodeSummary(summarize(web, n, false, time.Now())).appendEntry(nil, nil, nil, "Up"), &sm); err != nil {
		t.Fatal(err)
	}
	if got := sm.NetworkSettings.Networks; len(got) != 2 || got["back"].NetworkID != "bbb222" || got["back"].IPAddress != "10.0.1.2" {
		t.Errorf("web's networks in docker ps: %+v", got)
	}
	for _, tt := range []struct {
		values []string
		want   []*model.Container
	}{
		{[]string{"back"}, []*model.Container{web, db}},
		{[]string{"front"}, []*model.Container{web}},
		{[]string{"bbb"}, []*model.Container{web, db}}, // an ID prefix
		{[]string{"front", "nothing"}, []*model.Container{web}},
		{[]string{"ack"}, nil}, // a name is matched whole
	} {
		f := filters.NewArgs()
		for _, v := range tt.values {
			f.Add("network", v)
		}
		var got []*model.Container
		for _, c := range []*model.Container{web, db, lone} {
			if matches(f, c, false) {
				got = append(got, c)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("network=%v kept %d containers, want %d", tt.values, len(got), len(tt.want))
		}
	}
	if err := checkPsFilters(filters.NewArgs(filters.Arg("network", "back"))); err != nil {
		t.Errorf("network= refused: %v", err)
	}
}

// TestAnExpressionLabelThatIsNoJSONIsWarnedOf: Swarm ignores a constraint
// (affinity, whitelist, reschedule) label that is not a JSON array of
// strings, so the container is made as if it had none; the create says
// so in its warnings, which docker run prints, naming the label and the
// two ways to write it.
func TestAnExpressionLabelThatIsNoJSONIsWarnedOf(t *testing.T) {
	srv, _ := simServer(t)
	for _, tc := range []struct {
		name, labels string
		want         []string
	}{
		{"okjson", `{"com.docker.swarm.constraints":"[\"zone==eu\"]"}`, nil},
		{"notjson", `{"com.docker.swarm.constraints":"not json"}`,
			[]string{`label com.docker.swarm.constraints="not json" is not a JSON array of strings`, "-e constraint:EXPR"}},
		{"numbers", `{"com.docker.swarm.affinities":"[1,2]","team":"a"}`,
			[]string{`label com.docker.swarm.affinities="[1,2]" is not a JSON array`, "-e affinity:EXPR"}},
	} {
		code, out, _ := call(t, srv, "POST", "/containers/create?name="+tc.name, `{"Image":"busybox","Labels":`+tc.labels+`}`)
		var a struct{ Warnings []string }
		if code != 201 || json.Unmarshal([]byte(out), &a) != nil {
			t.Fatalf("%s: %d %s", tc.name, code, out)
		}
		if len(tc.want) == 0 && len(a.Warnings) != 0 || len(tc.want) > 0 && len(a.Warnings) != 1 {
			t.Fatalf("%s: warnings %q", tc.name, a.Warnings)
		}
		for _, w := range tc.want {
			if !strings.Contains(a.Warnings[0], w) {
				t.Errorf("%s: warning %q does not say %q", tc.name, a.Warnings[0], w)
			}
		}
	}
}
