package sched_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// world is a randomized cluster held twice: one snapshot answers from its
// indexes, the other scans every node (the reference). Both see the same
// changes, so every placement must choose the same node.
type world struct {
	t       *testing.T
	rng     *rand.Rand
	nodes   []*model.Node // current nodes; a node's Containers is kept current
	fast    *sched.Snapshot
	slow    *sched.Snapshot
	nextID  int
	indexed int // placements answered while the fast snapshot held indexes
	placed  int // placements that found a node
}

var (
	diffZones  = []string{"eu-west", "eu-north", "us-east"}
	diffImages = []string{"redis:7", "nginx:1.25", "postgres:16"}
)

func (w *world) newNode() *model.Node {
	w.nextID++
	// Names collide on purpose (natural order then falls back to address)
	// and mix digit runs, so ties and the natural order are exercised.
	n := &model.Node{Name: fmt.Sprintf("node-%d", w.rng.IntN(40)), ID: fmt.Sprintf("ID%d", w.nextID),
		Addr: fmt.Sprintf("10.0.%d.%d:2375", w.nextID/250, w.nextID%250), CPUs: 1 + w.rng.IntN(4),
		Memory: int64(1+w.rng.IntN(4)) << 30, Health: model.Healthy, Labels: map[string]string{}}
	w.relabel(n)
	return n
}

// relabel draws a node's labels, images and health.
func (w *world) relabel(n *model.Node) {
	n.Labels = map[string]string{"zone": diffZones[w.rng.IntN(len(diffZones))]}
	if w.rng.IntN(2) == 0 {
		n.Labels["disk"] = "ssd"
	}
	if w.rng.IntN(5) == 0 {
		n.Labels["containerslots"] = fmt.Sprint(1 + w.rng.IntN(6))
	}
	if w.rng.IntN(40) == 0 {
		n.Labels[fmt.Sprintf("rare%d", w.rng.IntN(3))] = "yes" // a label key no node had
	}
	n.Images = nil
	for _, im := range diffImages {
		if w.rng.IntN(2) == 0 {
			n.Images = append(n.Images, model.Image{ID: "sha256:" + im, RepoTags: []string{im}})
		}
	}
	n.Health, n.Failures = model.Healthy, 0
	switch w.rng.IntN(12) {
	case 0:
		n.Health = model.Unhealthy
	case 1:
		n.Health = model.Pending
	case 2, 3:
		n.Failures = 1 + w.rng.IntN(2)
	}
}

// setNode replaces node i by a changed copy, in the world and both snapshots.
func (w *world) setNode(i int, change func(*model.Node)) {
	cp := *w.nodes[i]
	cp.Containers = slices.Clone(cp.Containers)
	change(&cp)
	w.nodes[i] = &cp
	w.fast.SetNode(&cp)
	w.slow.SetNode(&cp)
}

// swapOne replaces node i by a copy with one container taken out, one
// put in, or both, as the manager publishes a create or a remove: the
// fast snapshot takes it through SwapContainer, the slow one through
// SetNode. A stale previous node must be refused.
func (w *world) swapOne(i int) {
	prev := w.nodes[i]
	cp := *prev
	cp.Containers = slices.Clone(prev.Containers)
	var went, came *model.Container
	if len(cp.Containers) > 0 && w.rng.IntN(2) == 0 {
		j := w.rng.IntN(len(cp.Containers))
		went = cp.Containers[j]
		cp.Containers = slices.Delete(cp.Containers, j, j+1)
	}
	if went == nil || w.rng.IntN(2) == 0 {
		w.nextID++
		came = &model.Container{Config: model.Config{Name: fmt.Sprintf("web-%d", w.rng.IntN(6)), CPUs: 250, Memory: 128 * mib,
			Labels: map[string]string{"app": "web"}, Ports: []model.PortBinding{{HostIP: "127.0.0.1", HostPort: "9000", ContainerPort: "90", Proto: "tcp"}}},
			ID: fmt.Sprintf("%064x", w.nextID), Node: cp.Addr, State: model.Running}
		cp.Containers = slices.Insert(cp.Containers, w.rng.IntN(len(cp.Containers)+1), came)
	}
	if w.fast.SwapContainer(&cp, &cp, went, came) {
		w.t.Fatalf("SwapContainer on %s took a node the snapshot does not hold as the previous one", cp.Addr)
	}
	w.nodes[i] = &cp
	held := w.fast.Node(cp.Addr) // prev, or an older model when ChangeContainer left it behind
	switch w.rng.IntN(3) {
	case 0:
		if !w.fast.SwapContainer(held, &cp, went, came) {
			w.t.Fatalf("SwapContainer on %s refused", cp.Addr)
		}
	default:
		// As the manager does: the change alone, the node's model given
		// to the snapshot later (SetNode), or not before the next change.
		at := slices.Index(cp.Containers, came)
		if came != nil && w.fast.ChangeContainer(cp.Addr, went, came, len(cp.Containers)) {
			w.t.Fatalf("ChangeContainer on %s took a position past the end", cp.Addr)
		}
		if !w.fast.ChangeContainer(cp.Addr, went, came, at) {
			w.t.Fatalf("ChangeContainer on %s refused", cp.Addr)
		}
		if w.rng.IntN(2) == 0 {
			w.fast.SetNode(&cp)
		}
	}
	w.slow.SetNode(&cp)
}

var diffRequests = [][]runOpt{
	nil,
	{want(500, 256*mib)},
	{want(model.CPUs(2), 2*gib)},
	{want(250, 512*mib), env("constraint:zone==eu*")},
	{env("constraint:zone==~us-east", "constraint:disk==ssd")},
	{env("constraint:node!=node-3")},
	{env("affinity:image==redis*")},
	{env("affinity:image==~postgres:16"), want(100, 128*mib)},
	{env("affinity:container!=web-*")},
	{env("affinity:container==db-*")},
	{env("affinity:container==~db-*")},
	{env("affinity:container==db-2")},
	{env(fmt.Sprintf("affinity:container==%064x", 30))}, // an ID a rebuilt node's container gets
	{env(fmt.Sprintf("affinity:container!=%064x", 25))},
	{env("affinity:app==web")},
	{env("affinity:app!=db")},
	{publish("8080:80")},
	{publish("127.0.0.1:9000:90")},
	{netHost("80/tcp")},
	{link("db-1")},
	{env("whitelist:node==node-1|node-2|node-5|node-7")},
	{env("constraint:rare1==yes")},
}

var diffConfigs = []sched.Config{
	{Strategy: "spread", Overcommit: model.DefaultOvercommit},
	{Strategy: "binpack", Overcommit: model.DefaultOvercommit},
	{Strategy: "random", Overcommit: model.DefaultOvercommit},
	{Strategy: "spread", Filters: []string{"health", "constraint", "port"}},
	{Strategy: "binpack", FailureRetry: 2},
}

func (w *world) place(schs []*sched.Scheduler) {
	ci, ri := w.rng.IntN(len(schs)), w.rng.IntN(len(diffRequests))
	r := request(w.t, diffRequests[ri]...)
	r.Seed = w.rng.Uint64()
	if sched.IndexedShapes(w.fast) > 0 {
		w.indexed++
	}
	pf, errf := schs[ci].Place(w.fast, r)
	ps, errs := schs[ci].Place(w.slow, r)
	what := fmt.Sprintf("config %d, request %d", ci, ri)
	if (errf == nil) != (errs == nil) || (errf != nil && errf.Error() != errs.Error()) {
		w.t.Fatalf("%s: indexed error %v, scan error %v", what, errf, errs)
	}
	// And a snapshot built afresh from the nodes as they are now: the
	// incremental upkeep of both must match it.
	pn, errn := schs[ci].Place(sched.NewSnapshot(w.nodes), r)
	if (errn == nil) != (errs == nil) || (errn != nil && errn.Error() != errs.Error()) || (errn == nil && pn.Node != ps.Node) {
		w.t.Fatalf("%s: a fresh snapshot placed %s, the kept one %s", what, where(pn, errn), where(ps, errs))
	}
	if errf != nil {
		var pe *sched.PlacementError
		if !errors.As(errf, &pe) {
			w.t.Fatalf("%s: %v is not a placement error", what, errf)
		}
		return
	}
	if pf.Node.Addr != ps.Node.Addr || pf.Soft != ps.Soft { // by address: ChangeContainer leaves the fast one an older model of the node
		w.t.Fatalf("%s: indexed chose %s at %s (soft %t), scan chose %s at %s (soft %t)",
			what, pf.Node.Name, pf.Node.Addr, pf.Soft, ps.Node.Name, ps.Node.Addr, ps.Soft)
	}
	w.placed++
	// Run it there, as the manager would: it now holds its reservation,
	// name, labels and ports.
	kinds := []string{"web", "db", "cache"}
	c := &model.Container{Config: r.Config, ID: fmt.Sprintf("%064x", w.rng.Uint64()), Node: pf.Node.Addr, State: model.Running}
	c.Name = fmt.Sprintf("%s-%d", kinds[w.rng.IntN(3)], w.rng.IntN(6))
	c.Labels = map[string]string{"app": kinds[w.rng.IntN(3)]}
	i := slices.IndexFunc(w.nodes, func(n *model.Node) bool { return n.Addr == pf.Node.Addr })
	w.nodes[i].Containers = append(w.nodes[i].Containers, c)
	if !w.fast.AddContainer(c.Node, c) || !w.slow.AddContainer(c.Node, c) {
		w.t.Fatalf("adding %s on %s refused", c.Name, c.Node)
	}
}

func (w *world) step(schs []*sched.Scheduler) {
	i := w.rng.IntN(len(w.nodes))
	switch k := w.rng.IntN(100); {
	case k < 60:
		w.place(schs)
	case k < 80: // a container goes
		n := w.nodes[i]
		if len(n.Containers) == 0 {
			return
		}
		j := w.rng.IntN(len(n.Containers))
		c := n.Containers[j]
		n.Containers = slices.Delete(n.Containers, j, j+1)
		if !w.fast.RemoveContainer(n.Addr, c) || !w.slow.RemoveContainer(n.Addr, c) {
			w.t.Fatalf("removing %s from %s refused", c.Name, n.Addr)
		}
	case k < 81: // the manager's create or remove: one container in or out, swapped directly
		w.swapOne(i)
	case k < 83: // the manager rebuilds a node: one container went, one came
		w.setNode(i, func(n *model.Node) {
			if len(n.Containers) > 0 {
				j := w.rng.IntN(len(n.Containers))
				n.Containers = slices.Delete(n.Containers, j, j+1)
			}
			w.nextID++
			n.Containers = slices.Insert(n.Containers, w.rng.IntN(len(n.Containers)+1), &model.Container{
				Config: model.Config{Name: fmt.Sprintf("db-%d", w.rng.IntN(6)), CPUs: 100, Memory: 64 * mib,
					Labels: map[string]string{"app": "db"}, Ports: []model.PortBinding{{HostPort: "8080", ContainerPort: "80", Proto: "tcp"}}},
				ID: fmt.Sprintf("%064x", w.nextID), Node: n.Addr, State: model.Running})
		})
	case k < 86: // a node fails or recovers
		w.setNode(i, func(n *model.Node) {
			n.Failures = w.rng.IntN(4)
			n.Health = []model.Health{model.Healthy, model.Unhealthy, model.Healthy}[w.rng.IntN(3)]
		})
	case k < 90: // labels, images or health change
		w.setNode(i, w.relabel)
	case k < 92: // renamed
		w.setNode(i, func(n *model.Node) { n.Name = fmt.Sprintf("node-%d", w.rng.IntN(40)) })
	case k < 96: // a node joins
		n := w.newNode()
		w.nodes = append(w.nodes, n)
		w.fast.SetNode(n)
		w.slow.SetNode(n)
	default: // a node leaves
		if len(w.nodes) > 1 {
			addr := w.nodes[i].Addr
			w.nodes = slices.Delete(w.nodes, i, i+1)
			w.fast.RemoveNode(addr)
			w.slow.RemoveNode(addr)
		}
	}
}

// TestIndexedPlacementMatchesScan drives randomized clusters through
// thousands of placements, container arrivals and departures, node
// failures, relabels, renames, joins and departures, and requires the
// indexed path to choose exactly the node (or the error) a scan of every
// node chooses, for spread, binpack and random.
func TestIndexedPlacementMatchesScan(t *testing.T) {
	for _, tc := range []struct {
		seed  uint64
		nodes int
		steps int
	}{
		{1, 5, 3000},
		{2, 30, 4000},
		{3, 80, 4000},
		{4, 200, 2000},
	} {
		t.Run(fmt.Sprintf("seed %d, %d nodes", tc.seed, tc.nodes), func(t *testing.T) {
			w := &world{t: t, rng: rand.New(rand.NewPCG(tc.seed, 7))}
			for range tc.nodes {
				w.nodes = append(w.nodes, w.newNode())
			}
			w.fast, w.slow = sched.NewSnapshot(w.nodes), sched.NewSnapshot(w.nodes)
			sched.ScanOnly(w.slow)
			var schs []*sched.Scheduler
			for _, cfg := range diffConfigs {
				schs = append(schs, scheduler(t, cfg))
			}
			for range tc.steps {
				w.step(schs)
			}
			if w.indexed < tc.steps/4 || w.placed < tc.steps/5 {
				t.Fatalf("%d of %d steps placed from an index, %d found a node: the indexed path was barely exercised",
					w.indexed, tc.steps, w.placed)
			}
			t.Logf("%d placements with indexes, %d found a node", w.indexed, w.placed)
		})
	}
}

func where(p *sched.Placement, err error) string {
	if err != nil {
		return "nowhere: " + err.Error()
	}
	return p.Node.Name + " at " + p.Node.Addr
}
