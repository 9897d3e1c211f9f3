package api

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"swarmdeck/model"
)

// TestSummaryEncodingIsEncodingJSONs: the hand-written encoder of a
// `docker ps` entry writes exactly what encoding/json writes for the
// summary struct, over randomized containers whose names, labels, commands
// and ports hold what JSON must escape (quotes, HTML characters, control
// characters, invalid UTF-8, U+2028) — and over nil and empty fields.
func TestSummaryEncodingIsEncodingJSONs(t *testing.T) {
	nasty := []string{"", "web", `a"b`, `back\slash`, "<script>&</script>", "tab\there", "nl\n", "\x00\x1f", "bad\xffutf8",
		"line\u2028sep", "ünïcødé", "日本", "com.docker.swarm.id", "a=b, c"}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return nasty[rng.IntN(len(nasty))] }
	nodes := []*model.Node{{Name: "node-1", Addr: "10.0.0.1:2375"}, {Name: "node-2", Addr: "10.0.0.2:2375"},
		{Name: `n"<2>`, Addr: "10.0.0.3:2375"}, {Name: "ünï", Addr: "[::1]:2375"}}
	var pc psCache // one cache for every container: shared templates must stay exact
	now := time.Unix(2e9, 0)
	for i := range 2000 {
		node := nodes[rng.IntN(len(nodes))]
		c := &model.Container{ID: fmt.Sprintf("%064x", i), State: model.State(rng.IntN(4)),
			Created: time.Unix(int64(rng.IntN(2e9)), 0), Run: &model.Run{Started: time.Unix(int64(rng.IntN(2e9)), 0)}}
		if rng.IntN(8) == 0 {
			c.ID = pick() + c.ID
		}
		c.Name, c.Image, c.NetworkMode = pick(), pick(), pick()
		for range rng.IntN(3) {
			c.Cmd = append(c.Cmd, pick())
		}
		switch rng.IntN(3) {
		case 0: // nil labels
		case 1:
			c.Labels = map[string]string{}
		default:
			c.Labels = map[string]string{}
			for range 1 + rng.IntN(20) {
				c.Labels[pick()+fmt.Sprint(rng.IntN(30))] = pick()
			}
			if rng.IntN(2) == 0 { // a swarm ID label: its value is a hole when it is the record's SwarmID
				c.SwarmID = fmt.Sprintf("%032x", rng.IntN(1e6))
				c.Labels[model.LabelSwarmID] = []string{c.SwarmID, c.SwarmID, pick()}[rng.IntN(3)]
			}
		}
		if c.SwarmID == "" && rng.IntN(3) == 0 { // a record of the manager's own create: its labels lack the swarm ID label
			c.SwarmID = []string{fmt.Sprintf("%032x", rng.IntN(1e6)), pick()}[rng.IntN(2)]
		}
		for range rng.IntN(3) {
			b := model.PortBinding{ContainerPort: fmt.Sprint(rng.IntN(70000)), Proto: []string{"tcp", "udp", "sctp"}[rng.IntN(3)]}
			if rng.IntN(2) == 0 {
				b.HostPort, b.HostIP = fmt.Sprint(rng.IntN(70000)), []string{"", "0.0.0.0", "127.0.0.1", "::"}[rng.IntN(4)]
			}
			c.Ports = append(c.Ports, b)
		}
		for range rng.IntN(3) { // networks, as a real engine reports them
			ep := model.Endpoint{Network: pick() + fmt.Sprint(rng.IntN(3)), NetworkID: fmt.Sprintf("%064x", rng.IntN(1e6)), IPv4: "172.18.0." + fmt.Sprint(rng.IntN(255))}
			if rng.IntN(2) == 0 {
				ep.AskedIPv4, ep.Aliases = ep.IPv4, []string{pick(), "db"}
			}
			c.Run.Endpoints = append(c.Run.Endpoints, ep)
		}
		down := rng.IntN(5) == 0
		if !down {
			// The cached template of a container of a healthy node,
			// filled from the record.
			want, err := json.Marshal(summarize(c, node, false, now))
			if err != nil {
				t.Fatal(err)
			}
			if got := pc.get(c, node).appendEntry(nil, c, node, statusText(c, false, now)); string(got) != string(want) {
				t.Fatalf("container %d from the cache:\n got %s\nwant %s", i, got, want)
			}
		}
		sm := summarize(c, node, down, now)
		if rng.IntN(10) == 0 {
			sm.Names, sm.Ports, sm.Mounts = nil, nil, nil
		}
		if rng.IntN(10) == 0 {
			sm.Mounts = make([]struct{}, 2)
		}
		want, err := json.Marshal(sm)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeSummary(sm).appendEntry(nil, nil, nil, sm.Status); string(got) != string(want) {
			t.Fatalf("container %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestPsTemplatesAreShared: containers that differ only in what is their
// own (ID, name, creation time, swarm ID) share one template, and stay
// exact when their node is renamed or is another node; a port whose IP
// is the node's address keeps its template per address.
func TestPsTemplatesAreShared(t *testing.T) {
	a := &model.Node{Name: "node-a", Addr: "10.0.0.1:2375"}
	b := &model.Node{Name: "node-b", Addr: "10.0.0.2:2375"}
	var pc psCache
	now := time.Unix(2e9, 0)
	var cs []*model.Container
	for i := range 1000 {
		c := &model.Container{ID: fmt.Sprintf("%064x", i), SwarmID: fmt.Sprintf("%032x", i), State: model.Running,
			Created: time.Unix(int64(1e9+i), 0), Run: &model.Run{Started: time.Unix(int64(1e9+i), 0)}}
		c.Name, c.Image, c.NetworkMode, c.Cmd = fmt.Sprintf("web-%d", i), "nginx:1.25", "bridge", []string{"nginx", "-g", "daemon off;"}
		c.Labels = map[string]string{"app": "web", model.LabelSwarmID: c.SwarmID}
		if i%2 == 1 {
			c.Ports = []model.PortBinding{{HostPort: "8080", ContainerPort: "80", Proto: "tcp"}}
		}
		cs = append(cs, c)
	}
	check := func(step string, n *model.Node) map[*psTemplate]bool {
		t.Helper()
		distinct := map[*psTemplate]bool{}
		for _, c := range cs {
			want, _ := json.Marshal(summarize(c, n, false, now))
			tm := pc.get(c, n)
			distinct[tm] = true
			if got := tm.appendEntry(nil, c, n, statusText(c, false, now)); string(got) != string(want) {
				t.Fatalf("%s: %s:\n got %s\nwant %s", step, c.Name, got, want)
			}
		}
		return distinct
	}
	if d := check("on node-a", a); len(d) != 2 {
		t.Errorf("1,000 containers of two shapes made %d templates, want 2 (one per shape)", len(d))
	}
	check("node-a renamed", &model.Node{Name: "renamed", Addr: a.Addr})
	check("on node-b", b)
	if len(pc.shared) > 3 { // one per shape, and the port's per address
		t.Errorf("%d templates kept for 1,000 containers of two shapes on three nodes, want 3", len(pc.shared))
	}
	check("on a node whose name is escaped (written in: one template each)", &model.Node{Name: `a"b`, Addr: b.Addr})
}
