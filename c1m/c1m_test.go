package c1m

import (
	"context"
	"strings"
	"testing"
)

// TestEveryWayPlacesEveryContainer runs the benchmark small, each way:
// every container is created (an error anywhere fails the run) and the
// figures are filled in.
func TestEveryWayPlacesEveryContainer(t *testing.T) {
	for _, tc := range []struct {
		way     string
		startup bool
	}{
		{WaySched, false},
		{WayCluster, true},
		{WayAPI, true},
	} {
		t.Run(tc.way, func(t *testing.T) {
			res, err := Run(context.Background(), Options{Nodes: 50, Containers: 600, Clients: 4, Way: tc.way})
			if err != nil {
				t.Fatal(err)
			}
			if res.Placed != 600 || res.Elapsed <= 0 || res.HeapBytes == 0 || (res.Startup > 0) != tc.startup {
				t.Fatalf("%+v: want 600 placed, a duration, a heap size, and a start time only for the manager", res)
			}
			if !strings.Contains(res.String(), "50 nodes: 600 containers in") {
				t.Fatalf("report %q", res)
			}
		})
	}
}

func TestRunRefusesNonsense(t *testing.T) {
	for _, o := range []Options{{Nodes: 0, Containers: 1, Way: WaySched}, {Nodes: 1, Containers: 0, Way: WaySched}, {Nodes: 1, Containers: 1, Way: "carrier-pigeon"}} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Fatalf("%+v: no error", o)
		}
	}
}

// TestFullClusterIsAnError: more containers than the nodes hold ends the
// run with the scheduler's refusal, not a hang.
func TestFullClusterIsAnError(t *testing.T) {
	for _, way := range []string{WaySched, WayCluster} {
		_, err := Run(context.Background(), Options{Nodes: 1, Containers: 5000, Clients: 2, Way: way})
		if err == nil || !strings.Contains(err.Error(), "no resources available to schedule container") {
			t.Fatalf("%s: %v; want Swarm's no-resources refusal", way, err)
		}
	}
}
