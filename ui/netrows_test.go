package ui

import (
	"slices"
	"testing"

	"swarmdeck/model"
)

// TestNetworkRowsNameAsDockerNetworkLs: the networks view names networks
// as `docker network ls` through the manager does: a cluster-wide
// (overlay) network once and bare, a network every healthy node has once
// and bare, any other node/name.
func TestNetworkRowsNameAsDockerNetworkLs(t *testing.T) {
	n1 := &model.Node{Name: "ov-1", Addr: "a1", Health: model.Healthy}
	n2 := &model.Node{Name: "ov-2", Addr: "a2", Health: model.Healthy}
	st := &state{nodes: []*model.Node{n1, n2}, byAddr: map[string]*model.Node{"a1": n1, "a2": n2}}
	for _, tt := range []struct {
		name string
		nets []model.Network
		want []string
	}{
		{"an overlay network once, bare",
			[]model.Network{{ID: "o", Name: "dev-www", Driver: "overlay", Scope: "global", Containers: []string{"c1", "c2"}}},
			[]string{"dev-www"}},
		{"a bridge every node has, bare",
			[]model.Network{{ID: "b1", Name: "bridge", Node: "a1", Driver: "bridge", Scope: "local"}, {ID: "b2", Name: "bridge", Node: "a2", Driver: "bridge", Scope: "local"}},
			[]string{"bridge"}},
		{"a network of one node, node/name",
			[]model.Network{{ID: "x", Name: "backend", Node: "a2", Driver: "bridge", Scope: "local"}},
			[]string{"ov-2/backend"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range networkRows(tt.nets, st) {
				got = append(got, r.cell(0).text)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("rows %q; want %q", got, tt.want)
			}
		})
	}
}
