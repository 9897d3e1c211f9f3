package c1m

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
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

// TestAnInterruptStopsTheRunWithTheFiguresSoFar: a run whose context
// ends (Ctrl-C) stops creating at once, says it was interrupted and how
// far it got, and keeps the figures so far; it does not go on until the
// nodes are full (as it did: a simulated engine's create does not look
// at the context).
func TestAnInterruptStopsTheRunWithTheFiguresSoFar(t *testing.T) {
	opts := Options{Nodes: 20, Containers: 1000000, Clients: 4, Way: WayCluster}
	full, err := Run(context.Background(), opts)
	if err == nil || errors.Is(err, ErrInterrupted) || full.Placed == 0 {
		t.Fatalf("filling 20 nodes: %d placed, %v; want the no-resources refusal after some", full.Placed, err)
	}
	for _, way := range []string{WayCluster, WayAPI} {
		t.Run(way, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			opts.Way = way
			res, err := Run(ctx, opts)
			if !errors.Is(err, ErrInterrupted) {
				t.Fatalf("err %v, want it interrupted", err)
			}
			if res.Placed >= full.Placed || !strings.Contains(err.Error(), fmt.Sprintf("after %d of 1000000", res.Placed)) && res.Placed > 0 {
				t.Fatalf("%d placed (the nodes hold %d), %v: want the containers placed until the interrupt, named", res.Placed, full.Placed, err)
			}
		})
	}
}

// TestAnInterruptEndsAStart: Ctrl-C while a start's engines connect ends
// the start way at once, saying it was interrupted (it hung for ever: the
// manager's end was read twice, outside trial t5scale finding 8); a
// context already ended does too.
func TestAnInterruptEndsAStart(t *testing.T) {
	for _, after := range []time.Duration{0, 50 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), after)
		ended := make(chan error, 1)
		go func() { _, err := Start(ctx, 3000, 30, nil); ended <- err }()
		select {
		case err := <-ended:
			if !errors.Is(err, ErrInterrupted) && !strings.Contains(fmt.Sprint(err), "the manager stopped") {
				t.Errorf("interrupted after %s: %v; want it said interrupted", after, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("a start interrupted after %s has not ended 60 s later", after)
		}
		cancel()
	}
}
