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
	node := &model.Node{Name: "node-1", Addr: "10.0.0.1:2375"}
	for i := range 2000 {
		c := &model.Container{ID: fmt.Sprintf("%064x", i), State: model.State(rng.IntN(4)),
			Created: time.Unix(int64(rng.IntN(2e9)), 0), Started: time.Unix(int64(rng.IntN(2e9)), 0)}
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
		}
		for range rng.IntN(3) {
			b := model.PortBinding{ContainerPort: fmt.Sprint(rng.IntN(70000)), Proto: []string{"tcp", "udp", "sctp"}[rng.IntN(3)]}
			if rng.IntN(2) == 0 {
				b.HostPort, b.HostIP = fmt.Sprint(rng.IntN(70000)), []string{"", "0.0.0.0", "127.0.0.1", "::"}[rng.IntN(4)]
			}
			c.Ports = append(c.Ports, b)
		}
		down := rng.IntN(5) == 0
		sm := summarize(c, node, down, time.Unix(2e9, 0))
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
		status, _ := json.Marshal(sm.Status)
		e := encodeSummary(sm)
		got := string(e.head) + string(status) + string(e.tail)
		if got != string(want) {
			t.Fatalf("container %d:\n got %s\nwant %s", i, got, want)
		}
	}
}
