package backend

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"swarmdeck/model"
)

// inspected reads an InspectDocument as docker's type, with the Node.
func inspected(t *testing.T, doc []byte) (container.InspectResponse, map[string]any) {
	t.Helper()
	var in container.InspectResponse
	if err := json.Unmarshal(doc, &in); err != nil {
		t.Fatalf("not docker's inspect: %v\n%s", err, doc)
	}
	var raw struct{ Node map[string]any }
	if err := json.Unmarshal(doc, &raw); err != nil || raw.Node == nil {
		t.Fatalf("no Node object: %v\n%s", err, doc)
	}
	return in, raw.Node
}

func TestInspectDocumentOfASimulatedContainerHasDockersShape(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil)})
	c := startSim(t, src, Options{})
	waitFor(t, 2*time.Second, "a healthy", allHealthy(c, 1))
	ct, err := c.Create(context.Background(), model.Config{Name: "web", Image: "nginx", CPUs: model.CPUs(1), Memory: 64 << 20, NetworkMode: "bridge",
		Ports: []model.PortBinding{{HostPort: "8080", ContainerPort: "80", Proto: "tcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background(), ct.ID); err != nil {
		t.Fatal(err)
	}
	doc, err := c.InspectDocument(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	in, node := inspected(t, doc)
	if in.ID != ct.ID || in.Name != "/web" || in.State == nil || in.State.Status != "running" || !in.State.Running ||
		in.HostConfig.NanoCPUs != 1e9 || in.HostConfig.Memory != 64<<20 || in.HostConfig.PortBindings["80/tcp"][0].HostPort != "8080" ||
		in.Config.Image != "nginx" {
		t.Fatalf("the document:\n%s", doc)
	}
	if node["Name"] != "a" {
		t.Fatalf("Node: %v", node)
	}
	if _, err := c.InspectDocument(context.Background(), "nothing"); err == nil {
		t.Fatal("a missing container inspected")
	}
}

func TestInspectDocumentOfARealContainerIsTheEngines(t *testing.T) {
	tb := requireTestbed(t)
	c := startReal(t, tb, Options{})
	ct, err := c.Create(context.Background(), model.Config{Name: "inspected", Image: "busybox", Cmd: loop, Memory: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background(), ct.ID); err != nil {
		t.Fatal(err)
	}
	doc, err := c.InspectDocument(context.Background(), "inspected")
	if err != nil {
		t.Fatal(err)
	}
	in, node := inspected(t, doc)
	i := slices.Index(tb.addrs, ct.Node) + 1
	want, err := tb.docker(t, i).ContainerInspect(context.Background(), ct.ID)
	if err != nil {
		t.Fatal(err)
	}
	// What only the engine knows is there: its pid, paths, driver.
	if in.State.Pid != want.State.Pid || in.State.Pid == 0 || in.LogPath != want.LogPath || in.LogPath == "" ||
		in.Driver != want.Driver || in.HostConfig.Memory != 32<<20 {
		t.Fatalf("not the engine's document:\n%s", doc)
	}
	if node["Addr"] != ct.Node {
		t.Fatalf("Node: %v", node)
	}
}
