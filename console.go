package main

import (
	"context"
	"fmt"
	"io"

	"swarmdeck/backend"
)

// console runs the terminal console over the cluster until the operator
// quits or ctx ends.
func console(ctx context.Context, cluster *backend.Cluster, stderr io.Writer) int {
	fmt.Fprintln(stderr, "swarmdeck: the console is not built yet; use --headless")
	return exitUsage
}
