package ui

import (
	"context"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/gdamore/tcell/v2"

	"swarmdeck/backend"
)

// heldPulls is the cluster with each node's pull held after its layer is
// downloaded, until the test releases them: the console's progress can
// be seen mid-pull.
type heldPulls struct {
	*backend.Cluster
	release chan struct{}
}

func (h *heldPulls) Pull(ctx context.Context, ref string, opts image.PullOptions, addrs []string,
	progress func(node string, m jsonmessage.JSONMessage)) (map[string]error, error) {
	return h.Cluster.Pull(ctx, ref, opts, addrs, func(node string, m jsonmessage.JSONMessage) {
		progress(node, m)
		if m.Status == "Download complete" {
			<-h.release
		}
	})
}

// TestAPullOntoTheMarkedNodesShowsEachNodesProgress: Space marks eu-2 and
// eu-3 on the nodes view, P asks for the image; the pull page shows each
// marked node's progress while the pulls are held mid-way, and no other
// node; once released, each node's result and the summary, the status
// line says it, the node page lists the image on a marked node only, and
// the events view has each node's pull. A bad reference is refused in
// the status line, naming it.
func TestAPullOntoTheMarkedNodesShowsEachNodesProgress(t *testing.T) {
	hp := &heldPulls{release: make(chan struct{})}
	h := startWith(t, demoSource(t), 160, 45, func(c *backend.Cluster) Backend { hp.Cluster = c; return hp })
	h.wait(settle, "Nodes: 5/6 healthy")
	h.typeText("1")
	h.key(tcell.KeyDown) // eu-1
	h.key(tcell.KeyDown) // eu-2
	h.typeText(" j ")    // marks eu-2, then eu-3
	h.wait(settle, "2 marked")
	h.typeText("P")
	h.wait(settle, "pull onto eu-2, eu-3:")
	h.typeText("alpine:3.19")
	h.key(tcell.KeyEnter)
	s := h.wait(settle, "Pull alpine:3.19 onto eu-2, eu-3", "… eu-2", "… eu-3", "0/1 layers", "Download complete", "pulling for")
	for _, other := range []string{"eu-1 ", "us-1 ", "us-2 "} {
		if strings.Contains(between(s, "Pull alpine", "pulling for"), other) {
			t.Errorf("the pull page shows %q, which is not marked:\n%s", other, s)
		}
	}
	close(hp.release)
	h.wait(settle, "✓ eu-2", "✓ eu-3", "1/1 layers", "pulled onto 2 nodes", "pull alpine:3.19: pulled onto 2 nodes")
	h.key(tcell.KeyEscape)
	h.wait(settle, "Nodes [6]")
	// The node pages show the console's state, which has the images once
	// it has the pulls' events (the manager reads the images first).
	h.typeText("4")
	h.wait(settle, "pulled alpine:3.19 on eu-2", "pulled alpine:3.19 on eu-3")
	h.typeText("1")
	nodePage := func(name string) string {
		h.typeText("/" + name)
		h.key(tcell.KeyEnter)
		h.typeText("i")
		s := h.wait(settle, "Node "+name+" ", "Images (")
		h.key(tcell.KeyEscape)
		h.key(tcell.KeyEscape) // the filter
		return between(s, "Images (", "╚")
	}
	if s := nodePage("eu-3"); !strings.Contains(s, "alpine:3.19") {
		t.Errorf("eu-3's page does not list the image it pulled:\n%s", s)
	}
	if s := nodePage("eu-1"); strings.Contains(s, "alpine:3.19") || !strings.Contains(s, "redis:7") {
		t.Errorf("eu-1's page lists the image, though eu-1 was not marked:\n%s", s)
	}
	h.typeText("4")
	h.wait(settle, "pulled alpine:3.19 on eu-2", "pulled alpine:3.19 on eu-3")

	h.typeText("1P")
	h.wait(settle, "pull onto")
	h.typeText("Not/A Ref")
	h.key(tcell.KeyEnter)
	h.wait(settle, `invalid image reference "Not/A Ref"`)
}

// TestALaunchWhoseImageIsMissingSaysItIsPulled: the preview says the
// node chosen lacks the image and pulls it first (and says nothing of the
// kind for an image the node has); the launch pulls it there, creates
// one container, and the events show the pull.
func TestALaunchWhoseImageIsMissingSaysItIsPulled(t *testing.T) {
	h := start(t, demoSource(t), 180, 45)
	h.wait(settle, "Nodes: 5/6 healthy")
	h.fillLaunch("alpine:3.19", "fresh", "", "1")
	s := h.wait(settle, "✓ fresh → ", "alpine:3.19 is not on ")
	node := strings.Fields(between(s, "✓ fresh → ", "\n"))[0]
	if !strings.Contains(s, "alpine:3.19 is not on "+node+": it is pulled there first") {
		t.Fatalf("the preview does not name %s as the node that pulls:\n%s", node, s)
	}
	h.key(tcell.KeyEnter)
	h.wait(settle, "launched 1 of 1: fresh", node+"/fresh")
	if n := countNamed(h.cluster, "fresh"); n != 1 {
		t.Fatalf("%d containers named fresh, want 1", n)
	}
	h.typeText("4")
	h.wait(settle, "pulled alpine:3.19 on "+node)

	// redis:7 pinned to eu-1, which has it: no pull announced.
	h.typeText("1")
	h.typeText("n")
	h.wait(settle, "Where it would go") // the kept values, the Image field focused
	for range 20 {
		h.key(tcell.KeyBackspace2)
	}
	h.typeText("redis:7")
	h.key(tcell.KeyTab)
	for range 20 {
		h.key(tcell.KeyBackspace2)
	}
	h.typeText("cached")
	for range tabsToLabels + 1 - tabsToName { // Constraints
		h.key(tcell.KeyTab)
	}
	h.typeText("node==eu-1")
	if s := h.wait(settle, "✓ cached → eu-1"); strings.Contains(s, "is not on") {
		t.Errorf("a launch of an image its nodes have says it is pulled:\n%s", s)
	}
}

// between is the text of s after from and before the next to.
func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	out, _, _ := strings.Cut(rest, to)
	return out
}
