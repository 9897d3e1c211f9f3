package backend

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// TestTheIDIndexAnswersAsAScanWould drives a cluster's records through
// thousands of random changes — creates, re-reads that replace a record,
// renames, removals, full listings (a refresh) that keep some records,
// drop others and bring new ones, nodes that join and leave, and engines
// listed at two addresses (the same containers on two nodes) — and after
// each one requires the cluster-wide indexes to agree with a scan of
// every node: a full ID finds a record with that ID (nil when none has
// it), and a bare name is a global container's exactly when the old scan
// of every container said so, with the same copies.
func TestTheIDIndexAnswersAsAScanWould(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 14))
			c := &Cluster{nodes: map[string]*node{}, swarmIDs: map[string]int{}, globals: map[*model.Container]bool{}}
			addNode := func(i int) *node {
				addr := fmt.Sprintf("n%d:2375", i)
				name := fmt.Sprintf("node-%d", i)
				n := &node{entry: Entry{Addr: addr, Name: name}, containers: map[string]*model.Container{}, readAt: map[string]uint64{}}
				n.shown.Store(&name)
				c.nodes[addr] = n
				return n
			}
			for i := range 6 {
				addNode(i)
			}
			nextNode := 6
			var ids []string // every ID ever used, so that lookups also miss
			names := []string{"web", "db", "/web", "cache", "glob", "/glob", "x"}
			newContainer := func(n *node) *model.Container {
				ct := &model.Container{ID: newID(), Node: n.entry.Addr, Config: model.Config{Name: names[rng.IntN(len(names))] + fmt.Sprint(rng.IntN(3))}}
				if rng.IntN(3) == 0 { // a global copy: its name is shared on purpose
					ct.Name = names[4+rng.IntN(2)]
					ct.Labels = map[string]string{sched.LabelMode: sched.ModeGlobal, LabelGlobalID: fmt.Sprint("g", rng.IntN(2))}
				}
				ids = append(ids, ct.ID)
				return ct
			}
			pick := func() *node {
				addrs := slices.Sorted(func(yield func(string) bool) {
					for a := range c.nodes {
						if !yield(a) {
							return
						}
					}
				})
				if len(addrs) == 0 {
					nextNode++
					return addNode(nextNode - 1)
				}
				return c.nodes[addrs[rng.IntN(len(addrs))]]
			}
			anyRecord := func(n *node) *model.Container {
				if len(n.sorted) == 0 {
					return nil
				}
				return n.sorted[rng.IntN(len(n.sorted))]
			}
			for step := range 3000 {
				n := pick()
				what := ""
				switch r := rng.IntN(100); {
				case r < 35:
					what = "create"
					c.putContainer(n, newContainer(n))
				case r < 50:
					what = "re-read"
					if ct := anyRecord(n); ct != nil {
						cp := *ct
						cp.State = model.Running
						c.putContainer(n, &cp)
					}
				case r < 55:
					what = "rename"
					if ct := anyRecord(n); ct != nil {
						cp := *ct
						cp.Name = names[rng.IntN(len(names))]
						c.putContainer(n, &cp)
					}
				case r < 75:
					what = "remove"
					if ct := anyRecord(n); ct != nil {
						c.dropContainer(n, ct.ID)
					}
				case r < 85:
					what = "refresh"
					var cs []*model.Container
					for _, ct := range n.sorted {
						if rng.IntN(4) > 0 {
							cs = append(cs, ct)
						}
					}
					for range rng.IntN(3) {
						cs = append(cs, newContainer(n))
					}
					c.setContainers(n, cs)
				case r < 90:
					what = "an engine listed twice"
					if o := pick(); o != n { // n reads o's containers: the same IDs, records of its own
						var cs []*model.Container
						for _, ct := range o.sorted {
							cp := *ct
							cp.Node = n.entry.Addr
							cs = append(cs, &cp)
						}
						c.setContainers(n, cs)
					}
				case r < 95:
					what = "node leaves"
					c.setContainers(n, nil)
					delete(c.nodes, n.entry.Addr)
				default:
					what = "node joins"
					addNode(nextNode)
					nextNode++
				}
				if p := c.indexProblem(); p != "" {
					t.Fatalf("step %d (%s): %s", step, what, p)
				}
				look := slices.Clone(ids[max(0, len(ids)-20):]) // the latest, and some older ones
				for range 5 {
					if len(ids) > 0 {
						look = append(look, ids[rng.IntN(len(ids))])
					}
				}
				for _, id := range append(look, "nothing") {
					got, want := c.byIDLocked(id, nil), scanByID(c, id)
					if (got == nil) != (want == nil) || got != nil && got.ID != id {
						t.Fatalf("step %d (%s): %.12s found %v; a scan finds %v", step, what, id, got != nil, want != nil)
					}
				}
				for _, ref := range append(names, "nothing", "") {
					gid, copies := c.globalNamedLocked(ref)
					wgid, wcopies := scanGlobalNamed(c, ref)
					byID := func(a, b *model.Container) int { return strings.Compare(a.ID, b.ID) }
					slices.SortFunc(copies, byID) // copies on one node come in no set order
					slices.SortFunc(wcopies, byID)
					if gid != wgid || !slices.Equal(copies, wcopies) {
						t.Fatalf("step %d (%s): %q is global %q with %d copies; the scan says %q with %d", step, what, ref, gid, len(copies), wgid, len(wcopies))
					}
				}
			}
		})
	}
}

// scanByID is the old byIDLocked: every node's map.
func scanByID(c *Cluster, id string) *model.Container {
	for _, n := range c.nodes {
		if ct := n.containers[id]; ct != nil {
			return ct
		}
	}
	return nil
}

// scanGlobalNamed is the old globalNamedLocked: every container read,
// without the name index.
func scanGlobalNamed(c *Cluster, ref string) (string, []*model.Container) {
	saved := c.globalNames
	c.globalNames = map[string]int{strings.TrimPrefix(ref, "/"): 1}
	defer func() { c.globalNames = saved }()
	return c.globalNamedLocked(ref)
}
