package backend

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"swarmdeck/model"
)

// NodesAndQueued reads the nodes and the queue at one moment: while a
// killed node's containers are queued and placed elsewhere, and creates
// on the other nodes leave views to publish when read, every container
// is counted once, on a node or as waiting, and the read never waits for
// itself.
func TestNodesAndQueuedCountEachContainerOnce(t *testing.T) {
	var moving []*model.Container
	for i := range 6 {
		moving = append(moving, running(fmt.Sprintf("mv-%d", i), true))
	}
	src := SimSource("sim://sight", []*model.Node{
		simNode("a", 4, 4<<30, nil, moving...),
		simNode("b", 4, 4<<30, nil),
		simNode("c", 4, 4<<30, nil),
	})
	c := startSim(t, src, fast())
	waitFor(t, 5*time.Second, "three healthy nodes", allHealthy(c, 3))
	var wg sync.WaitGroup
	ctx, stop := context.WithCancel(context.Background())
	defer func() { stop(); wg.Wait() }()
	wg.Add(1)
	go func() { // creates on the other nodes: views left stale until read
		defer wg.Done()
		for i := 0; ctx.Err() == nil && i < 200; i++ {
			c.Create(ctx, model.Config{Name: fmt.Sprintf("filler-%d", i), Image: "busybox", Env: []string{"constraint:node!=a"}})
		}
	}()
	src.Sim("a:2375").Crash()
	deadline := time.Now().Add(20 * time.Second)
	for moved := false; !moved; {
		nodes, queued := c.NodesAndQueued()
		seen := map[string]int{}
		for _, n := range nodes {
			for _, ct := range n.Containers {
				if n.Health == model.Healthy || n.Addr == "a:2375" {
					seen[ct.SwarmID]++
				}
			}
		}
		for _, q := range queued {
			seen[q.Container.SwarmID]++
		}
		elsewhere := 0
		for _, m := range moving {
			if seen[m.SwarmID] > 1 {
				t.Fatalf("%s is counted %d times: %d queued", m.Name, seen[m.SwarmID], len(queued))
			}
			if seen[m.SwarmID] == 0 {
				t.Fatalf("%s is counted nowhere: %d queued", m.Name, len(queued))
			}
		}
		for _, n := range nodes {
			if n.Addr != "a:2375" {
				for _, ct := range n.Containers {
					for _, m := range moving {
						if ct.SwarmID == m.SwarmID {
							elsewhere++
						}
					}
				}
			}
		}
		moved = elsewhere == len(moving)
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s %d of %d moved", elsewhere, len(moving))
		}
	}
}
