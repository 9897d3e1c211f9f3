// Command soak runs a fault soak of swarmdeck on the real engines and
// Consul of the test bed and checks it (scripts/soak.sh runs it):
//
//	soak run [flags]        run, write the history, check it; exit 1 on a violation
//	soak check HISTORY      check a saved history again
//
// The bed comes from the environment scripts/testbed.sh and
// scripts/consul.sh write: SWARMDECK_TESTBED_NODES, SWARMDECK_TESTBED_DIR,
// SWARMDECK_CONSUL, SWARMDECK_CONSUL_DIR.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"swarmdeck/internal/soak"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: soak run [flags] | soak check HISTORY")
		return 2
	}
	switch args[0] {
	case "check":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: soak check HISTORY")
			return 2
		}
		return check(args[1], stdout, stderr)
	case "run":
		return soakRun(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "soak: unknown command %q: want run or check\n", args[0])
	return 2
}

func soakRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("soak run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := soak.Config{
		BedDir:    os.Getenv("SWARMDECK_TESTBED_DIR"),
		Consul:    os.Getenv("SWARMDECK_CONSUL"),
		ConsulDir: os.Getenv("SWARMDECK_CONSUL_DIR"),
	}
	fs.DurationVar(&cfg.Duration, "duration", 2*time.Minute, "how long the load and the faults last")
	fs.IntVar(&cfg.Managers, "managers", 2, "managers: 1, or 2 replicated (--replication)")
	fs.IntVar(&cfg.Workers, "workers", 4, "load workers")
	fs.IntVar(&cfg.Live, "live", 16, "containers the load keeps, about")
	faults := fs.String("faults", strings.Join(soak.AllFaults, ","), "fault kinds to inject, comma-separated")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "random seed (printed, to run the same choices again)")
	fs.StringVar(&cfg.WorkDir, "dir", "", "folder for the history and the logs (default: a new temporary folder)")
	fs.StringVar(&cfg.Bin, "bin", "", "the swarmdeck binary (required)")
	fs.StringVar(&cfg.Scripts, "scripts", "scripts", "the project's scripts folder (testbed.sh, consul.sh)")
	fs.BoolVar(&cfg.Keep, "keep", false, "leave the soak's containers on the engines")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.Seed = *seed
	if *faults != "" {
		cfg.Faults = strings.Split(*faults, ",")
	}
	nodes := os.Getenv("SWARMDECK_TESTBED_NODES")
	switch {
	case nodes == "" || cfg.BedDir == "":
		fmt.Fprintln(stderr, "soak: SWARMDECK_TESTBED_NODES and SWARMDECK_TESTBED_DIR are not set: start the bed (scripts/soak.sh does)")
		return 2
	case cfg.Consul == "" || cfg.ConsulDir == "":
		fmt.Fprintln(stderr, "soak: SWARMDECK_CONSUL and SWARMDECK_CONSUL_DIR are not set: start Consul (scripts/soak.sh does)")
		return 2
	case cfg.Bin == "":
		fmt.Fprintln(stderr, "soak: --bin names the swarmdeck binary to run")
		return 2
	}
	cfg.Engines = strings.Split(nodes, ",")
	if cfg.WorkDir == "" {
		d, err := os.MkdirTemp("", "swarmdeck-soak-")
		if err != nil {
			fmt.Fprintf(stderr, "soak: %v\n", err)
			return 2
		}
		cfg.WorkDir = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "soak: %s on %d engines, %d managers, seed %d; history and logs in %s\n",
		cfg.Duration, len(cfg.Engines), cfg.Managers, cfg.Seed, cfg.WorkDir)
	path, err := soak.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "soak: %v (history so far: %s)\n", err, path)
		return 2
	}
	return check(path, stdout, stderr)
}

// check reads a history, prints the report and exits 1 on a violation.
func check(path string, stdout, stderr io.Writer) int {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "soak: %v\n", err)
		return 2
	}
	defer f.Close()
	recs, err := soak.ReadHistory(f)
	if err != nil {
		fmt.Fprintf(stderr, "soak: %s: %v\n", path, err)
		return 2
	}
	rep := soak.Check(recs)
	rep.Print(stdout, recs)
	fmt.Fprintf(stdout, "history: %s\n", path)
	if len(rep.Violations) > 0 {
		return 1
	}
	return 0
}
