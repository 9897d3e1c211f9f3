package backend

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// TestMain makes every test of the package check each view published
// without a rebuild (showChange) against a rebuild; benchmarks measure
// without the check.
func TestMain(m *testing.M) {
	flag.Parse()
	checkViews = flag.Lookup("test.bench").Value.String() == ""
	os.Exit(m.Run())
}

// TestCreatesAndRemovesShowAsARebuildWould creates and removes containers
// from many goroutines at once, named and unnamed, some refused, and
// requires that most views were published without a rebuild, that every
// one of them listed what a rebuild would (showChange panics otherwise),
// and that at the end each node's view, its reservations and the names in
// use are what its engine holds.
func TestCreatesAndRemovesShowAsARebuildWould(t *testing.T) {
	var nodes []*model.Node
	for i := range 4 {
		nodes = append(nodes, simNode(fmt.Sprintf("node-%d", i), 64, 256<<30, nil, running(fmt.Sprintf("old-%d", i), false)))
	}
	src := SimSource("views", nodes)
	c := startSim(t, src, fast())
	waitFor(t, 10*time.Second, "every node healthy", allHealthy(c, len(nodes)))
	direct := directViews.Load()

	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var made []string
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				cfg := model.Config{Image: "busybox", NetworkMode: "bridge", CPUs: 100, Memory: 32 << 20, Labels: map[string]string{"app": "web"}}
				if i%3 == 0 {
					cfg.Name = fmt.Sprintf("web-%d-%d", g, i)
				}
				if i%7 == 0 {
					cfg.Name = "old-1" // taken: refused, nothing left behind
				}
				ct, err := c.Create(ctx, cfg)
				if err != nil {
					if !model.IsConflict(err) {
						t.Errorf("create %d/%d: %v", g, i, err)
					}
					continue
				}
				// Readers see it as soon as the create returns, though its
				// node's view is published only when they ask.
				if !inViews(c, ct.ID) {
					t.Errorf("create %d/%d: %.12s is not in the views right after its create returned", g, i, ct.ID)
				}
				if i%4 == 1 {
					if err := c.Remove(ctx, ct.ID, true); err != nil {
						t.Errorf("remove %s: %v", ct.ID, err)
					}
					if inViews(c, ct.ID) {
						t.Errorf("create %d/%d: %.12s is still in the views after its removal returned", g, i, ct.ID)
					}
					continue
				}
				mu.Lock()
				made = append(made, ct.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	n := directViews.Load() - direct
	t.Logf("%d containers made, %d views published without a rebuild", len(made), n)
	if n < int64(len(made)) {
		t.Errorf("%d views of %d creates were published without a rebuild: the direct path was barely taken", n, len(made))
	}
	waitFor(t, 10*time.Second, "every created container in the views", func() bool { return len(c.Containers()) == len(made)+len(nodes) })
	// Every read gave its ticket back (a ticket kept for ever would keep
	// every later read's ticket too).
	waitFor(t, 10*time.Second, "no read under way on any node", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, n := range c.nodes {
			if len(n.flying) > 0 {
				return false
			}
		}
		return true
	})
	for _, v := range c.Nodes() {
		engine, err := src.Sim(v.Addr).Containers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, ct := range engine {
			want = append(want, ct.ID)
		}
		for _, ct := range v.Containers {
			got = append(got, ct.ID)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			t.Errorf("%s lists %d containers, its engine holds %d", v.Name, len(got), len(want))
		}
		if !slices.IsSortedFunc(v.Containers, byNameAndID) {
			t.Errorf("%s lists its containers out of order", v.Name)
		}
		c.mu.Lock()
		used := c.snap.Node(v.Addr)
		c.mu.Unlock()
		if used != v {
			t.Errorf("the scheduler's node %s is not the published view", v.Name)
		}
	}
	// The kept snapshot places as one built afresh from the views.
	fresh := sched.NewSnapshot(c.Nodes())
	for _, mem := range []int64{32 << 20, 40 << 30, 200 << 30} {
		req, err := sched.NewRequest(model.Config{Image: "busybox", Memory: mem, Labels: map[string]string{}})
		if err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		kept, kerr := c.sch.Place(c.snap, req)
		c.mu.Unlock()
		want, werr := c.sch.Place(fresh, req)
		if fmt.Sprint(kerr) != fmt.Sprint(werr) || (kerr == nil && kept.Node.Addr != want.Node.Addr) {
			t.Errorf("%d MiB: the kept snapshot places on %v (%v), a fresh one on %v (%v)", mem>>20, kept, kerr, want, werr)
		}
	}
	for _, id := range made {
		ct, _, err := c.Inspect(id)
		if err != nil {
			t.Fatalf("inspect %s: %v", id, err)
		}
		if !c.NameInUse(ct.Name) {
			t.Errorf("%s is not in use", ct.Name)
		}
	}
}

// TestInspectDocumentShowsTheSwarmIDLabel: a container created through
// the manager keeps its swarm ID out of its labels map, and the inspect
// document (the console's inspect page, swarmdeck inspect) still shows it
// among the labels, as Docker's would.
func TestInspectDocumentShowsTheSwarmIDLabel(t *testing.T) {
	c := startSim(t, SimSource("inspect", []*model.Node{simNode("node-1", 4, 8<<30, nil)}), fast())
	waitFor(t, 10*time.Second, "the node healthy", allHealthy(c, 1))
	ct, err := c.Create(context.Background(), model.Config{Name: "web", Image: "busybox", Labels: map[string]string{"team": "blue"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ct.Labels[model.LabelSwarmID]; ok || len(ct.SwarmID) != 64 {
		t.Fatalf("the record's labels are %v and its swarm ID %q: want the ID in SwarmID alone", ct.Labels, ct.SwarmID)
	}
	doc, err := c.InspectDocument(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		Config struct{ Labels map[string]string }
	}
	if err := json.Unmarshal(doc, &in); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"team": "blue", model.LabelSwarmID: ct.SwarmID}
	if fmt.Sprint(in.Config.Labels) != fmt.Sprint(want) {
		t.Errorf("inspect shows labels %v, want %v", in.Config.Labels, want)
	}
	// Without labels of its own, the record keeps no map at all.
	bare, err := c.Create(context.Background(), model.Config{Name: "bare", Image: "busybox", Labels: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if bare.Labels != nil {
		t.Errorf("a container without labels keeps the map %v", bare.Labels)
	}
	if doc, err = c.InspectDocument(context.Background(), "bare"); err != nil {
		t.Fatal(err)
	}
	var bin struct {
		Config struct{ Labels map[string]string }
	}
	if err := json.Unmarshal(doc, &bin); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint(map[string]string{model.LabelSwarmID: bare.SwarmID}); fmt.Sprint(bin.Config.Labels) != want {
		t.Errorf("inspect of a container without labels shows %v, want %v", bin.Config.Labels, want)
	}
}

// inViews reports whether a node's view (Nodes, as docker ps and the
// console read them) lists the container with this ID.
func inViews(c *Cluster, id string) bool {
	for _, v := range c.Nodes() {
		if slices.ContainsFunc(v.Containers, func(ct *model.Container) bool { return ct.ID == id }) {
			return true
		}
	}
	return false
}

// TestChangedViewsWaitingForAReaderDoNotPileUp: a change lists its node
// as waiting to be published; with nobody reading (a manager placing a
// million containers without a console), a node listed again after each
// rebuild must not make that list grow without end.
func TestChangedViewsWaitingForAReaderDoNotPileUp(t *testing.T) {
	src := SimSource("pile", []*model.Node{simNode("a", 64, 256<<30, nil)})
	c := startSim(t, src, fast())
	waitFor(t, 10*time.Second, "the node healthy", allHealthy(c, 1))
	for i := range 500 {
		if _, err := c.Create(context.Background(), model.Config{Image: "busybox", NetworkMode: "bridge", Labels: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		for _, n := range c.nodes {
			c.rebuild(n) // as a refresh or a health change does
		}
		stale := len(c.stale)
		c.mu.Unlock()
		if stale > 2+64+1 {
			t.Fatalf("after %d creates, each followed by a rebuild, %d nodes wait to be published on a cluster of 1", i+1, stale)
		}
	}
}
