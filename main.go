// Command swarmdeck turns a pool of Docker hosts into one cluster, as
// standalone Docker Swarm did, with the manager inside a terminal console.
//
//	swarmdeck                       the console on an embedded simulated cluster
//	swarmdeck place [flags] IMAGE   where containers would go, and why
//	swarmdeck manage DISCOVERY      the manager on a real pool
//	swarmdeck join / list           discovery agent and listing
package main

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"
)

//go:embed examples/demo.yaml
var demoCluster []byte

// Exit statuses shared by every command.
const (
	exitOK      = 0
	exitRefused = 1 // the cluster said no: no node fits, a name is taken…
	exitUsage   = 2 // bad flags, a bad cluster file, a malformed expression
)

const usage = `swarmdeck turns a pool of Docker hosts into one cluster.

Usage:
  swarmdeck             the console on an embedded simulated cluster
  swarmdeck --cluster FILE | sim://N
                        the console on a simulated cluster of your own
  swarmdeck manage [flags] DISCOVERY
                        manage a cluster: nodes://host:port,… sim://FILE sim://N
  swarmdeck join --advertise host:port consul://host:port/prefix
                        keep an engine registered in discovery
  swarmdeck list DISCOVERY
                        the engines discovery finds, one per line
  swarmdeck node drain|pause|activate NAME --host MANAGER [--force]
                        take a node out of service, or bring it back
  swarmdeck place [--cluster FILE] [flags] IMAGE [COMMAND...]
                        show where containers would be placed, and why
  swarmdeck bench [--way sched,cluster,api] [--nodes N] [--containers N]
                        the C1M benchmark: throughput and memory
  swarmdeck help        this text

Run 'swarmdeck COMMAND --help' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return demoConsole(stdout, stderr)
	}
	if strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" || strings.Contains(args[0], "://") {
		return manage(args, stdout, stderr) // swarmdeck --cluster FILE, swarmdeck sim://100
	}
	switch args[0] {
	case "place":
		return place(args[1:], stdout, stderr)
	case "manage":
		return manage(args[1:], stdout, stderr)
	case "join":
		return join(args[1:], stdout, stderr)
	case "list":
		return list(args[1:], stdout, stderr)
	case "bench":
		return bench(args[1:], stdout, stderr)
	case "node":
		return nodeCmd(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "swarmdeck: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// demoConsole opens the console on the embedded demo cluster.
func demoConsole(stdout, stderr io.Writer) int {
	src, err := demoSource()
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck: %v\n", err)
		return exitUsage
	}
	cfg := &manageConfig{source: src}
	fc := src.File.SchedConfig()
	cfg.opts.Sched = fc
	return runManager(cfg, stdout, stderr)
}
