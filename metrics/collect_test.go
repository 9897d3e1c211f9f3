package metrics

import (
	"context"
	"testing"
	"time"

	"swarmdeck/backend"
	"swarmdeck/model"
	"swarmdeck/sched"
)

// TestGaugesFollowTheClusterAndItsRole runs a manager on a simulated
// pool (with manage's default 5% overcommit) as a replica and checks the gauges read at scrape time, and the
// leadership metrics through the role changes of an election.
func TestGaugesFollowTheClusterAndItsRole(t *testing.T) {
	nodes := []*model.Node{
		{Name: "a", ID: "ID-a", Addr: "a:2375", CPUs: 4, Memory: 8 << 30, Health: model.Healthy},
		{Name: "b", ID: "ID-b", Addr: "b:2375", CPUs: 2, Memory: 4 << 30, Health: model.Healthy},
	}
	m := New()
	c, err := backend.New(backend.SimSource("test", nodes), backend.Options{Observer: m, Sched: sched.Config{Overcommit: model.DefaultOvercommit}})
	if err != nil {
		t.Fatal(err)
	}
	c.Replicated()
	m.Watch(c)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(5 * time.Second); gauge(t, m, "swarmdeck_nodes", "healthy") != 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the two simulated nodes never became healthy")
		}
	}
	for _, g := range []struct {
		name, label string
		want        float64
	}{
		{"swarmdeck_leader", "", 0},
		{"swarmdeck_nodes", "unhealthy", 0},
		{"swarmdeck_cpus", "total", 6}, // 4 and 2: 5% overcommit rounds down on whole CPUs
		{"swarmdeck_memory_bytes", "total", float64((8<<30)*105/100 + (4<<30)*105/100)},
		{"swarmdeck_memory_bytes", "reserved", 0},
		{"swarmdeck_reschedule_queue_containers", "", 0},
	} {
		if got := gauge(t, m, g.name, g.label); got != g.want {
			t.Errorf("%s{%s} = %v, want %v", g.name, g.label, got, g.want)
		}
	}

	c.SetRole(true, "me:3376")
	c.SetRole(true, "me:3376") // the same outcome again: no change
	if gauge(t, m, "swarmdeck_leader", "") != 1 || gauge(t, m, "swarmdeck_leadership_changes_total", "") != 1 {
		t.Errorf("after winning the election: leader %v, changes %v", gauge(t, m, "swarmdeck_leader", ""), gauge(t, m, "swarmdeck_leadership_changes_total", ""))
	}
	if _, err := c.Create(ctx, model.Config{Name: "web", Image: "busybox", Memory: 64 << 20, Labels: map[string]string{}}); err != nil {
		t.Fatal(err)
	}
	if got := gauge(t, m, "swarmdeck_memory_bytes", "reserved"); got != 64<<20 {
		t.Errorf("reserved memory after a 64 MiB create: %v", got)
	}
	if got := gauge(t, m, "swarmdeck_placements_total", ""); got != 1 {
		t.Errorf("placements after one create: %v", got)
	}
	c.SetRole(false, "other:3376")
	if gauge(t, m, "swarmdeck_leader", "") != 0 || gauge(t, m, "swarmdeck_leadership_changes_total", "") != 2 {
		t.Errorf("after losing the lead: leader %v, changes %v", gauge(t, m, "swarmdeck_leader", ""), gauge(t, m, "swarmdeck_leadership_changes_total", ""))
	}
}

// gauge gathers the metrics and returns one series: the metric name and,
// when given, the value of its only label.
func gauge(t *testing.T, m *Metrics, name, label string) float64 {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			if label != "" && (len(s.GetLabel()) != 1 || s.GetLabel()[0].GetValue() != label) {
				continue
			}
			if s.GetGauge() != nil {
				return s.GetGauge().GetValue()
			}
			return s.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s{%s}", name, label)
	return 0
}
