package backend

import (
	"fmt"
	"testing"

	"swarmdeck/model"
)

// lookupCluster is a manager's records of 10,000 nodes × 30 containers,
// without engines: what a lookup by ID or by name reads.
func lookupCluster(b *testing.B) (*Cluster, []string) {
	c, err := New(SimSource("lookup", nil), Options{})
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range 10000 {
		addr := fmt.Sprintf("10.0.%d.%d:2375", i/250, i%250)
		n := &node{entry: Entry{Addr: addr, Name: fmt.Sprintf("node-%d", i)}, health: model.Healthy,
			containers: map[string]*model.Container{}, readAt: map[string]uint64{}}
		c.nodes[addr] = n
		for j := range 30 {
			ct := &model.Container{Config: model.Config{Name: fmt.Sprintf("c-%d-%d", i, j)}, ID: fmt.Sprintf("%064x", i*30+j), Node: addr, State: model.Running}
			c.putContainer(n, ct)
			ids = append(ids, ct.ID)
		}
		c.rebuild(n)
	}
	return c, ids
}

// BenchmarkLocateByID10000Nodes is what every docker start, stop or
// inspect by full ID (the console's launch, a create's caller) costs in
// the manager before it calls the engine: finding the container.
func BenchmarkLocateByID10000Nodes(b *testing.B) {
	c, ids := lookupCluster(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if ct, _, _, err := c.Locate(ids[(i*7919)%len(ids)]); ct == nil || err != nil {
			b.Fatal("not found", err)
		}
	}
}

// BenchmarkGlobalNamed10000Nodes is the check every start, stop, kill or
// rm by name makes first: is the name a global container's?
func BenchmarkGlobalNamed10000Nodes(b *testing.B) {
	c, _ := lookupCluster(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if gid := c.globalNamed(fmt.Sprintf("c-%d-%d", i%10000, i%30)); gid != "" {
			b.Fatal("a global name:", gid)
		}
	}
}
