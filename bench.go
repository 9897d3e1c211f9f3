package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"swarmdeck/c1m"
)

// wayStart is the bench way that measures a manager's start.
const wayStart = "start"

// bench runs the C1M benchmark: `swarmdeck bench --way sched,cluster,api`.
// The largest benchmark: a million nodes, ten million containers (placed
// or, with --per-node, on the nodes at start), 1,024 clients.
const (
	benchMaxNodes      = 1_000_000
	benchMaxContainers = 10_000_000
	benchMaxClients    = 1024
)

func bench(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := c1m.Options{}
	var ways []string
	var perNode int
	var heapProfile, cpuProfile string
	fs.IntVar(&opts.Nodes, "nodes", 10000, "simulated nodes to generate")
	fs.IntVar(&opts.Containers, "containers", 1000000, "containers to place")
	fs.IntVar(&opts.Clients, "clients", 16, "concurrent creators (cluster and api ways)")
	fs.StringSliceVar(&ways, "way", []string{c1m.WaySched}, "sched (the scheduler alone), cluster (the manager on simulated engines), api (HTTP, --clients clients), "+
		"start (a manager start on --nodes nodes with --per-node containers: time until visible, docker info/ps, memory); comma-separated")
	fs.IntVar(&perNode, "per-node", 30, "containers on each node before a start (way start)")
	fs.StringVar(&cpuProfile, "cpu-profile", "", "write a CPU profile (go tool pprof) of the whole run to this file")
	fs.StringVar(&heapProfile, "heap-profile", "", "write a heap profile (go tool pprof) to this file once the manager is up (way start) or every container is placed (the other ways; one way per run)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: swarmdeck bench [flags]\n\n"+
			"The C1M benchmark: places --containers containers onto --nodes generated\n"+
			"nodes and prints throughput and memory. Run one way per process for a\n"+
			"clean peak RSS (scripts/c1m.sh does).\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "swarmdeck bench: %v (see 'swarmdeck bench --help')\n", err)
		return exitUsage
	}
	known := []string{c1m.WaySched, c1m.WayCluster, c1m.WayAPI, wayStart}
	if len(ways) == 0 {
		fmt.Fprintf(stderr, "swarmdeck bench: --way is empty: want one or more of %s\n", strings.Join(known, ", "))
		return exitUsage
	}
	for _, w := range ways {
		if !slices.Contains(known, w) {
			fmt.Fprintf(stderr, "swarmdeck bench: --way %q: want %s\n", w, strings.Join(known, ", "))
			return exitUsage
		}
	}
	// Each flag within what it means and what this process's memory holds
	// (about 1 KiB a container and a node): beyond that it would run out
	// of memory, not measure. --per-node counts only for a start.
	for _, b := range []struct {
		flag          string
		got, min, max int
		used          bool
	}{
		{"--nodes", opts.Nodes, 1, benchMaxNodes, true},
		{"--containers", opts.Containers, 1, benchMaxContainers, true},
		{"--clients", opts.Clients, 1, benchMaxClients, true},
		{"--per-node", perNode, 0, benchMaxContainers / max(opts.Nodes, 1), slices.Contains(ways, wayStart)},
	} {
		switch {
		case !b.used:
		case b.got < b.min:
			fmt.Fprintf(stderr, "swarmdeck bench: %s %d: want at least %d\n", b.flag, b.got, b.min)
			return exitUsage
		case b.got > b.max:
			fmt.Fprintf(stderr, "swarmdeck bench: %s %d is more than this benchmark handles (at most %d)\n", b.flag, b.got, b.max)
			return exitUsage
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err == nil {
			defer f.Close()
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "swarmdeck bench: --cpu-profile: %v\n", err)
			return exitRefused
		}
		defer pprof.StopCPUProfile()
	}
	for _, w := range ways {
		var heap io.Writer // each way's heap profile, when asked for
		if heapProfile != "" {
			f, err := os.Create(heapProfile)
			if err != nil {
				fmt.Fprintf(stderr, "swarmdeck bench: %v\n", err)
				return exitRefused
			}
			defer f.Close()
			heap = f
		}
		if w == wayStart {
			res, err := c1m.Start(ctx, opts.Nodes, perNode, heap)
			if err != nil {
				fmt.Fprintf(stderr, "swarmdeck bench: %s: %v\n", w, err)
				return exitRefused
			}
			fmt.Fprintln(stdout, res)
			continue
		}
		opts.Way, opts.HeapProfile = w, heap
		res, err := c1m.Run(ctx, opts)
		if errors.Is(err, c1m.ErrInterrupted) && res.Placed > 0 {
			fmt.Fprintln(stdout, res) // what was placed until then
		}
		if err != nil {
			fmt.Fprintf(stderr, "swarmdeck bench: %s: %v\n", w, err)
			return exitRefused
		}
		fmt.Fprintln(stdout, res)
	}
	return exitOK
}
