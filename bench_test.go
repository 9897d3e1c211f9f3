package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestBenchCommand(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		code    int
		wantOut string // a regexp
		wantErr string
	}{
		{name: "the scheduler alone, small", args: []string{"--nodes", "20", "--containers", "300"},
			wantOut: `^sched   20 nodes: 300 containers in [0-9.]+ s \([0-9]+/s; [0-9.]+ s of CPU\), live heap .*\n$`},
		{name: "two ways, one line each", args: []string{"--nodes", "5", "--containers", "20", "--way", "sched,cluster"},
			wantOut: `^sched .*\ncluster 5 nodes: 20 containers in .*, manager start [0-9.]+ s, .*\n$`},
		{name: "a manager start", args: []string{"--way", "start", "--nodes", "20", "--per-node", "3"},
			wantOut: `^start   20 nodes, 60 containers: all visible in [0-9.]+ s \(CPU [0-9.]+ s\); GET /info while starting: .*GET /containers/json\?all=1 [0-9.]+ ms .*per container.*\n$`},
		{name: "an unknown way", args: []string{"--way", "postal"}, code: 2,
			wantErr: "swarmdeck bench: --way \"postal\": want sched, cluster, api, start\n"},
		{name: "no ways", args: []string{"--way", ""}, code: 2,
			wantErr: "swarmdeck bench: --way is empty: want one or more of sched, cluster, api, start\n"},
		{name: "no containers", args: []string{"--containers", "0"}, code: 2,
			wantErr: "swarmdeck bench: --containers 0: want at least 1\n"},
		{name: "no nodes", args: []string{"--nodes", "0"}, code: 2,
			wantErr: "swarmdeck bench: --nodes 0: want at least 1\n"},
		{name: "negative containers", args: []string{"--containers", "-5"}, code: 2,
			wantErr: "swarmdeck bench: --containers -5: want at least 1\n"},
		{name: "no clients", args: []string{"--clients", "0"}, code: 2,
			wantErr: "swarmdeck bench: --clients 0: want at least 1\n"},
		{name: "fewer than no containers per node", args: []string{"--way", "start", "--per-node", "-1"}, code: 2,
			wantErr: "swarmdeck bench: --per-node -1: want at least 0\n"},
		{name: "--per-node is a start's only", args: []string{"--nodes", "200000", "--containers", "1", "--per-node", "-1"},
			wantOut: `^sched   200000 nodes: 1 containers in .*\n$`},
		{name: "more nodes than memory holds", args: []string{"--nodes", "1000000000000"}, code: 2,
			wantErr: "swarmdeck bench: --nodes 1000000000000 is more than this benchmark handles (at most 1000000)\n"},
		{name: "more containers than memory holds", args: []string{"--containers", "1000000000000"}, code: 2,
			wantErr: "swarmdeck bench: --containers 1000000000000 is more than this benchmark handles (at most 10000000)\n"},
		{name: "more containers at start than memory holds", args: []string{"--way", "start", "--nodes", "100000", "--per-node", "200"}, code: 2,
			wantErr: "swarmdeck bench: --per-node 200 is more than this benchmark handles (at most 100)\n"},
		{name: "more than the nodes hold", args: []string{"--nodes", "1", "--containers", "5000"}, code: 1,
			wantErr: "swarmdeck bench: sched: placement 404: no resources available to schedule container\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"bench"}, tt.args...), &out, &errb)
			if code != tt.code || errb.String() != tt.wantErr || !regexp.MustCompile(tt.wantOut).MatchString(out.String()) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout like %q, stderr %q", code, out.String(), errb.String(), tt.code, tt.wantOut, tt.wantErr)
			}
		})
	}
}

// TestBenchHeapProfileOfAPlacingWay: --heap-profile also works for the
// ways that place (it used to be the start's only), and writes a profile
// go tool pprof reads (gzip-compressed protobuf).
func TestBenchHeapProfileOfAPlacingWay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heap.out")
	var out, errb bytes.Buffer
	if code := run([]string{"bench", "--way", "cluster", "--nodes", "5", "--containers", "20", "--heap-profile", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("heap profile: %d bytes, %v; want a gzip-compressed profile", len(b), err)
	}
}
