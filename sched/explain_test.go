package sched_test

import (
	"errors"
	"strings"
	"testing"

	"swarmdeck/model"
	"swarmdeck/sched"
)

func reasons(rep sched.NodeReport) []string {
	var out []string
	for _, r := range rep.Reasons {
		out = append(out, r.String())
	}
	return out
}

func TestExplainListsEveryBlockerOfEveryNode(t *testing.T) {
	nodes := []*model.Node{
		node("eu-1", labels("zone", "eu"), memory(2*gib), with(ctr("web", ports("80:80"), res(0, 1*gib)))),
		node("eu-2", labels("zone", "eu"), with(ctr("x", res(0, 1*gib)))),
		node("us-1", labels("zone", "us"), health(model.Unhealthy), failures(3)),
		node("us-2", labels("zone", "us"), health(model.Pending)),
	}
	s := scheduler(t, sched.Config{})
	p, err := s.Explain(sched.NewSnapshot(nodes), request(t, env("constraint:zone==eu"), publish("80:80"), want(0, 2*gib)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Node.Name != "eu-2" || len(p.Ranked) != 1 {
		t.Fatalf("placed on %s, ranked %d; want eu-2 alone", p.Node.Name, len(p.Ranked))
	}
	want := map[string][]string{
		"eu-1": {"port 80 (Bridge mode): host port 80 is taken by web", "memory: needs 2 GiB, 1 GiB of 2 GiB free"},
		"eu-2": nil,
		"us-1": {"health: node is Unhealthy (3 failures in a row)", "constraint zone==eu: node has zone=us"},
		"us-2": {"pending: node is Pending, not yet schedulable"},
	}
	if len(p.Nodes) != 4 {
		t.Fatalf("%d reports; want 4", len(p.Nodes))
	}
	for _, rep := range p.Nodes {
		got := reasons(rep)
		if strings.Join(got, "|") != strings.Join(want[rep.Node.Name], "|") {
			t.Errorf("%s: reasons %q\nwant %q", rep.Node.Name, got, want[rep.Node.Name])
		}
	}
	kept := p.Nodes[1]
	if !kept.Kept || kept.Rank != 1 || kept.Score.Memory != 37 || kept.Score.CPU != 100 || kept.Score.Health != 100 {
		t.Errorf("eu-2 report %+v; want kept at rank 1, memory (1+2)/8 GiB = 37%%, cpu 100 (none asked), health 100", kept)
	}
	if kept.Score.Weight != kept.Score.CPU+kept.Score.Memory-10*kept.Score.Health {
		t.Errorf("eu-2 weight %d is not cpu %d + memory %d - 10×health %d", kept.Score.Weight, kept.Score.CPU, kept.Score.Memory, kept.Score.Health)
	}
}

func TestExplainedRefusalSummarizesBlockers(t *testing.T) {
	nodes := []*model.Node{
		node("eu-1", labels("zone", "eu"), memory(1*gib)),
		node("us-1", labels("zone", "us")),
		node("us-2", labels("zone", "us")),
		node("ap-1", labels("zone", "ap"), health(model.Unhealthy)),
		node("eu-2", labels("zone", "eu"), memory(1*gib)),
	}
	s := scheduler(t, sched.Config{})
	_, err := s.Explain(sched.NewSnapshot(nodes), request(t, env("constraint:zone==eu"), want(0, 2*gib)))
	var pe *sched.PlacementError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v; want a *PlacementError", err)
	}
	if pe.Error() != "no resources available to schedule container" {
		t.Errorf("Error() = %q; want Swarm's text alone", pe.Error())
	}
	const summary = "0/5 nodes are available: 3 constraint zone==eu; 2 memory exhausted; 1 unhealthy"
	if pe.Summary != summary {
		t.Errorf("Summary = %q\nwant %q", pe.Summary, summary)
	}
	if len(pe.Nodes) != 5 {
		t.Errorf("%d node reports; want 5", len(pe.Nodes))
	}
}

func TestExplainSaysANodeIsDrainingOrPaused(t *testing.T) {
	nodes := []*model.Node{node("a", avail(model.Drain)), node("b", avail(model.Pause)), node("c", memory(1*gib))}
	_, err := scheduler(t, sched.Config{}).Explain(sched.NewSnapshot(nodes), request(t, want(0, 2*gib)))
	var pe *sched.PlacementError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v; want a *PlacementError", err)
	}
	const summary = "0/3 nodes are available: 1 node is draining; 1 node is paused; 1 memory exhausted"
	if pe.Summary != summary {
		t.Errorf("Summary = %q\nwant %q", pe.Summary, summary)
	}
	if got := reasons(pe.Nodes[0]); strings.Join(got, "|") != "availability: node is draining" {
		t.Errorf("a: reasons %q; want availability: node is draining", got)
	}
	if got := reasons(pe.Nodes[1]); strings.Join(got, "|") != "availability: node is paused" {
		t.Errorf("b: reasons %q; want availability: node is paused", got)
	}
}

func TestPlaceWithoutExplainGivesNoReports(t *testing.T) {
	s := scheduler(t, sched.Config{})
	_, err := s.Place(sched.NewSnapshot([]*model.Node{node("a", memory(1*gib))}), request(t, want(0, 2*gib)))
	var pe *sched.PlacementError
	if !errors.As(err, &pe) || pe.Nodes != nil || pe.Summary != "" {
		t.Fatalf("got %#v; want a bare PlacementError", err)
	}
}

func TestRankedListsKeptNodesBestFirst(t *testing.T) {
	nodes := []*model.Node{
		node("a", with(ctr("x1"), ctr("x2"))), node("b"), node("c", with(ctr("y"))), node("d", labels("zone", "no")),
	}
	p, err := scheduler(t, sched.Config{}).Rank(sched.NewSnapshot(nodes), request(t, env("constraint:zone!=no")))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range p.Ranked {
		got = append(got, n.Name)
	}
	if strings.Join(got, ",") != "b,c,a" || p.Node.Name != "b" {
		t.Fatalf("ranked %v, chose %s; want b,c,a and b", got, p.Node.Name)
	}
}
