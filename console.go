package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"swarmdeck/backend"
	"swarmdeck/clusterfile"
	"swarmdeck/internal/memlimit"
	"swarmdeck/ui"
)

// consoleMemoryLimit is the floor of the console's soft memory limit when
// GOMEMLIMIT is not set: the limit is twice the live heap, re-read every
// few seconds, never below this (1,000 nodes and 30,000 containers live in
// about 100 MiB). The collector works harder near it rather than let the
// heap double, and a large cluster is not held under a small fixed limit.
const consoleMemoryLimit = 160 << 20

// console runs the manager and the terminal console over it until the
// operator quits or ctx ends; the manager stops with the console.
func console(ctx context.Context, cluster *backend.Cluster, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if os.Getenv("GOMEMLIMIT") == "" {
		go memlimit.Track(ctx, consoleMemoryLimit, 2, 5*time.Second)
	}
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

// errNoTerminal is why the console cannot start: no terminal to draw on
// (docker run without -t, a pipe, no controlling tty) or no $TERM.
var errNoTerminal = errors.New("the console needs a terminal (use docker run -it, or manage --headless)")

// consoleTerminal checks, before anything starts, what the console needs
// to draw: standard output on a terminal, a controlling terminal
// (/dev/tty, where the console reads keys and draws) and $TERM naming it.
func consoleTerminal(stdout io.Writer) error {
	if !isTerminal(stdout) || os.Getenv("TERM") == "" {
		return errNoTerminal
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return errNoTerminal
	}
	defer tty.Close()
	if !term.IsTerminal(int(tty.Fd())) {
		return errNoTerminal
	}
	return nil
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
