package model

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestFindNetworkAsDocker(t *testing.T) {
	nets := []Network{
		{ID: "aaaa11112222333344445555", Name: "bridge", Node: "n1:2375", Scope: "local"},
		{ID: "aaaa99998888777766665555", Name: "bridge", Node: "n2:2375", Scope: "local"},
		{ID: "bbbb11112222333344445555", Name: "web", Node: "n1:2375", Scope: "local"},
		{ID: "cccc11112222333344445555", Name: "over", Node: "n1:2375", Scope: "global"},
		{ID: "cccc11112222333344445555", Name: "over", Node: "n2:2375", Scope: "global"},
		{ID: "dddd11112222333344445555", Name: "aaaa", Node: "n2:2375", Scope: "local"},
	}
	nodeOf := func(addr string) (string, string) { return strings.TrimSuffix(addr, ":2375"), "ID-" + addr[:2] }
	for _, tt := range []struct {
		q, wantID, err string
	}{
		{q: "bbbb11112222333344445555", wantID: "bbbb11112222333344445555"},
		{q: "bbbb11112222", wantID: "bbbb11112222333344445555"},
		{q: "web", wantID: "bbbb11112222333344445555"},
		{q: "n1/web", wantID: "bbbb11112222333344445555"},
		{q: "ID-n1/web", wantID: "bbbb11112222333344445555"},
		{q: "/web", err: "No such network: /web"},
		{q: "n2/bridge", wantID: "aaaa99998888777766665555"},
		{q: "bridge", err: "network bridge is ambiguous (2 matches found based on name)"},
		{q: "over", wantID: "cccc11112222333344445555"}, // one network, however many nodes see it
		{q: "cc", wantID: "cccc11112222333344445555"},
		{q: "aaaa", wantID: "dddd11112222333344445555"}, // a name wins over an ID prefix
		{q: "aaaa1", wantID: "aaaa11112222333344445555"},
		{q: "aaa", err: "network aaa is ambiguous (2 matches found based on ID prefix)"},
		{q: "", err: "No such network: "},
		{q: "n1/", err: "No such network: n1/"},
		{q: "n3/web", err: "No such network: n3/web"},
		{q: "x\ny", err: `No such network: x\ny`},
	} {
		t.Run(tt.q, func(t *testing.T) {
			nw, err := FindNetwork(nets, tt.q, nodeOf)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("FindNetwork(%q) = %s, %v; want %q", tt.q, nw.ID, err, tt.err)
				}
				var nf *NotFoundError
				var ie *InvalidError
				if !errors.As(err, &nf) && !errors.As(err, &ie) {
					t.Fatalf("error %T is neither not-found nor invalid", err)
				}
				return
			}
			if err != nil || nw.ID != tt.wantID {
				t.Fatalf("FindNetwork(%q) = %s, %v; want %s", tt.q, nw.ID, err, tt.wantID)
			}
		})
	}
}

// TestMergeSharedListsAClusterWideNetworkOnce: Swarm's Networks().Uniq():
// a global or swarm network is one entry without a node, holding the
// containers of every node; local networks stay one per node.
func TestMergeSharedListsAClusterWideNetworkOnce(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []Network
		want []Network
	}{
		{"nothing", nil, []Network{}},
		{"local networks stay per node",
			[]Network{{ID: "b1", Name: "bridge", Node: "n1", Scope: "local"}, {ID: "b2", Name: "bridge", Node: "n2", Scope: "local"}},
			[]Network{{ID: "b1", Name: "bridge", Node: "n1", Scope: "local"}, {ID: "b2", Name: "bridge", Node: "n2", Scope: "local"}}},
		{"a global network once, with every node's containers",
			[]Network{
				{ID: "o", Name: "dev-www", Node: "n1", Scope: "global", Containers: []string{"c1"}},
				{ID: "b1", Name: "bridge", Node: "n1", Scope: "local", Containers: []string{"c9"}},
				{ID: "o", Name: "dev-www", Node: "n2", Scope: "global", Containers: []string{"c2", "c1"}},
				{ID: "s", Name: "swarmnet", Node: "n2", Scope: "swarm"},
			},
			[]Network{
				{ID: "o", Name: "dev-www", Scope: "global", Containers: []string{"c1", "c2"}},
				{ID: "b1", Name: "bridge", Node: "n1", Scope: "local", Containers: []string{"c9"}},
				{ID: "s", Name: "swarmnet", Scope: "swarm"},
			}},
		{"an empty scope is local",
			[]Network{{ID: "x", Name: "x", Node: "n1"}, {ID: "x", Name: "x", Node: "n2"}},
			[]Network{{ID: "x", Name: "x", Node: "n1"}, {ID: "x", Name: "x", Node: "n2"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			got := MergeShared(in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("MergeShared:\n got %+v\nwant %+v", got, tt.want)
			}
			if !reflect.DeepEqual(in, tt.in) {
				t.Fatalf("MergeShared changed its input: %+v", in)
			}
		})
	}
}
