package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"swarmdeck/backend"
	"swarmdeck/clusterfile"
	"swarmdeck/ui"
)

// consoleMemoryLimit is the console's soft memory limit when GOMEMLIMIT
// is not set: the garbage collector works harder near it rather than let
// the heap double (1,000 nodes and 30,000 containers live in about 100 MiB).
const consoleMemoryLimit = 160 << 20

// console runs the manager and the terminal console over it until the
// operator quits or ctx ends; the manager stops with the console.
func console(ctx context.Context, cluster *backend.Cluster, stderr io.Writer) int {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(consoleMemoryLimit)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		cluster.Run(ctx)
	}()
	err := ui.New(cluster).Run(ctx)
	cancel()
	<-done
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck: the console failed: %v\n", err)
		return exitRefused
	}
	return exitOK
}

// demoSource is the embedded simulated cluster a bare `swarmdeck` opens.
func demoSource() (*backend.Source, error) {
	f, err := clusterfile.Parse("examples/demo.yaml (embedded)", demoCluster)
	if err != nil {
		return nil, err
	}
	src := backend.SimSource("sim://demo", f.Nodes)
	src.File = f
	return src, nil
}
