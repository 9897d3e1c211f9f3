package backend

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"

	"swarmdeck/model"
)

// onlyAID is the ID of onlya:1, which only a has.
var onlyAID = "sha256:" + strings.Repeat("a2", 32)

// failingPulls is an engine whose registry lacks every image.
type failingPulls struct{ Engine }

func (failingPulls) Pull(context.Context, string, image.PullOptions, func(jsonmessage.JSONMessage)) error {
	return &EngineError{Code: http.StatusNotFound, Message: "manifest unknown"}
}

// imagesCluster is a manager over a (busybox and onlya:1) and b (no image
// at all), b's pulls failing when failB is set.
func imagesCluster(t *testing.T, failB bool) *Cluster {
	a := simNode("a", 4, 8<<30, nil, running("web", false))
	a.Images = []model.Image{{ID: "sha256:" + strings.Repeat("a1", 32), RepoTags: []string{"busybox:latest"}},
		{ID: onlyAID, RepoTags: []string{"onlya:1"}}}
	b := simNode("b", 4, 8<<30, nil)
	src := SimSource("images", []*model.Node{a, b})
	sim := src.NewEngine
	src.NewEngine = func(e Entry) (Engine, error) {
		eng, err := sim(e)
		if failB && e.Addr == "b:2375" {
			return failingPulls{eng}, err
		}
		return eng, err
	}
	c := startSim(t, src, Options{})
	waitFor(t, 2*time.Second, "nodes healthy", allHealthy(c, 2))
	return c
}

func has(n *model.Node, ref string) bool {
	return slices.ContainsFunc(n.Images, func(im model.Image) bool { return ImageMatches(im, ref, false) })
}

// TestACreateOfAMissingImagePullsItOnTheChosenNode: the node the
// constraint chooses lacks the image: it pulls it (the steps are image
// events), then one container is created there; the other node does not
// pull.
func TestACreateOfAMissingImagePullsItOnTheChosenNode(t *testing.T) {
	c := imagesCluster(t, false)
	evs, stop := c.Subscribe(64)
	defer stop()
	ct, err := c.Create(context.Background(), model.Config{Name: "fresh", Image: "alpine:3.19", Env: []string{"constraint:node==b"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Node(ct.Node); n.Name != "b" || !has(n, "alpine:3.19") {
		t.Fatalf("fresh is on %s, which has the image: %v", n.Name, has(n, "alpine:3.19"))
	}
	if has(c.Node("a:2375"), "alpine:3.19") {
		t.Error("a pulled the image too")
	}
	var actions []string
	for len(actions) == 0 || actions[len(actions)-1] != "create" {
		e := <-evs
		if e.Kind == model.EventImage && e.Node == "b" && e.Image == "alpine:3.19" || e.Kind == model.EventPlaced {
			actions = append(actions, e.Action)
		}
	}
	if actions[0] != "pull" || !slices.Contains(actions, "pulled") {
		t.Errorf("events %v; want the pull's steps before the create", actions)
	}
	if got := c.Containers(); len(got) != 2 {
		t.Errorf("%d containers, want web and fresh", len(got))
	}
}

// TestACreateWhosePullFailsLeavesNothingBehind: b's registry lacks the
// image. Pinned to b, the create fails with the engine's words and the
// pull's, classified not found, and leaves no container and no
// reservation; unpinned, Swarm's retry places it on a, which has it.
func TestACreateWhosePullFailsLeavesNothingBehind(t *testing.T) {
	c := imagesCluster(t, true)
	_, err := c.Create(context.Background(), model.Config{Name: "nowhere", Image: "onlya:1", CPUs: 2000, Env: []string{"constraint:node==b"}})
	if err == nil || !strings.Contains(err.Error(), "No such image: onlya:1") || !strings.Contains(err.Error(), "pulling it on b failed: manifest unknown") {
		t.Fatalf("create pinned to b: %v", err)
	}
	if !cerrdefs.IsNotFound(err) || !errors.Is(err, ErrNoImage) {
		t.Errorf("the error is not classified as not found / no image: %v", err)
	}
	if _, _, err := c.Inspect("nowhere"); !IsNotFound(err) {
		t.Errorf("a refused create left a container: %v", err)
	}
	if b := c.Node("b:2375"); len(b.Containers) != 0 {
		t.Errorf("b keeps %d containers after the refusal", len(b.Containers))
	} else if cpus, _ := b.Reserved(); cpus != 0 {
		t.Errorf("b keeps %d reserved millicpus after the refusal", cpus)
	}
	ct, err := c.Create(context.Background(), model.Config{Name: "retried", Image: "onlya:1"})
	if err != nil {
		t.Fatalf("unpinned, the retry should place it on a: %v", err)
	}
	if n := c.Node(ct.Node); n.Name != "a" {
		t.Errorf("retried is on %s, want a (the only node with the image)", n.Name)
	}
	failed := 0
	for _, e := range c.RecentEvents() {
		if e.Action == "pull_failed" && e.Node == "b" && e.Image == "onlya:1" {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d failed pulls on b; want 2: the pinned create's, and the unpinned one's before its retry", failed)
	}
}

// TestACreateByImageIDGoesWhereTheImageIs: an image ID is nothing to
// pull: the create is placed again where the image is.
func TestACreateByImageIDGoesWhereTheImageIs(t *testing.T) {
	c := imagesCluster(t, false)
	for _, ref := range []string{onlyAID} { // the affinity matches IDs as the engine reports them (sched)
		ct, err := c.Create(context.Background(), model.Config{Image: ref})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if n := c.Node(ct.Node); n.Name != "a" {
			t.Errorf("the container of %s is on %s, want a", ref, n.Name)
		}
	}
	for _, e := range c.RecentEvents() {
		if e.Kind == model.EventImage {
			t.Errorf("an image ID was pulled: %s", e.Message)
		}
	}
}
