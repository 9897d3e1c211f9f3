// Command swarmdeck turns a pool of Docker hosts into one cluster, as
// standalone Docker Swarm did, with the manager inside a terminal console.
//
//	swarmdeck                       the console on an embedded simulated cluster
//	swarmdeck place [flags] IMAGE   where containers would go, and why
//	swarmdeck manage DISCOVERY      the manager on a real pool
//	swarmdeck join / list           discovery agent and listing
//	swarmdeck create / token-server token:// discovery
//	swarmdeck version               the build: version, commit, date
package main

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"swarmdeck/internal/version"
)

//go:embed examples/demo.yaml
var demoCluster []byte

// Exit statuses shared by every command.
const (
	exitOK      = 0
	exitRefused = 1 // the cluster said no: no node fits, a name is taken…
	exitUsage   = 2 // bad flags, a bad cluster file, a malformed expression
	// exitUnreachable: the discovery store could not be reached (list), or
	// join ended without the store confirming its registration or
	// deregistration.
	exitUnreachable = 3
)

const usage = `swarmdeck turns a pool of Docker hosts into one cluster.

Usage:
  swarmdeck             the console on an embedded simulated cluster
  swarmdeck --cluster FILE | sim://N
                        the console on a simulated cluster of your own
  swarmdeck manage [flags] DISCOVERY
                        manage a cluster: nodes://host:port,… sim://FILE sim://N
  swarmdeck join --advertise host:port DISCOVERY
                        keep an engine registered in discovery: consul://host:port/prefix,
                        etcd://host:port,…/prefix, zk://host:port,…/prefix, token://[HOST/]TOKEN
  swarmdeck create [--discovery-host http://HOST:PORT]
                        print a new token for token:// discovery
  swarmdeck token-server -H host:port
                        serve token:// discovery (Docker Hub's service is gone)
  swarmdeck list DISCOVERY
                        the engines discovery finds, one per line
  swarmdeck node drain|pause|activate NAME --host MANAGER [--force]
                        take a node out of service, or bring it back
  swarmdeck rebalance --host MANAGER [--dry-run] [--max-moves N]
                        move containers to where the strategy wants them today
  swarmdeck place [--cluster FILE] [flags] IMAGE [COMMAND...]
                        show where containers would be placed, and why
  swarmdeck bench [--way sched,cluster,api] [--nodes N] [--containers N]
                        the C1M benchmark: throughput and memory
  swarmdeck version     the version, commit and build date
  swarmdeck help        this text

Global flags, before the command:
  --debug               log at debug level (same as --log-level debug)
  -l, --log-level LEVEL debug, info, warn or error (default info)
  --log-format FORMAT   text or json (default text)
  --log-file FILE       write the log here (default: swarmdeck/swarmdeck.log
                        in the user's cache folder)
  -v, --version         the version, commit and build date

Run 'swarmdeck COMMAND --help' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	g, args, err := parseGlobals(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "swarmdeck: %v\n\n%s", err, usage)
		return exitUsage
	case g.version:
		fmt.Fprintln(stdout, version.Get().Line())
		return exitOK
	}
	if g.cluster != "" {
		args = append([]string{"--cluster", g.cluster}, args...) // swarmdeck --cluster FILE: the console
		return manageWith(g.log, args, stdout, stderr, true)
	}
	if len(args) == 0 {
		return demoConsole(g.log, stdout, stderr)
	}
	if strings.Contains(args[0], "://") {
		return manageWith(g.log, args, stdout, stderr, true) // swarmdeck sim://100
	}
	switch args[0] {
	case "place":
		return place(args[1:], stdout, stderr)
	case "manage":
		return manageWith(g.log, args[1:], stdout, stderr, false)
	case "join":
		return joinWith(g.log, args[1:], stdout, stderr)
	case "list":
		return list(args[1:], stdout, stderr)
	case "bench":
		return bench(args[1:], stdout, stderr)
	case "node":
		return nodeCmd(args[1:], stdout, stderr)
	case "rebalance":
		return rebalanceCmd(args[1:], stdout, stderr)
	case "version":
		if len(args) > 1 {
			fmt.Fprintf(stderr, "swarmdeck version: takes no arguments, got %q\n", args[1:])
			return exitUsage
		}
		fmt.Fprint(stdout, version.Get().Long())
		return exitOK
	case "create":
		return create(args[1:], stdout, stderr)
	case "token-server":
		return tokenServer(args[1:], stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "swarmdeck: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// globals are the flags given before the command.
type globals struct {
	log     logOptions
	version bool
	cluster string // --cluster FILE: the console on a simulated cluster
}

// parseGlobals reads the flags before the command and returns the rest of
// the command line. A flag it does not know is an error here: it is never
// handed to a command.
func parseGlobals(args []string) (globals, []string, error) {
	var g globals
	fs := pflag.NewFlagSet("swarmdeck", pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints the error once, with the usage
	fs.SetInterspersed(false)
	debug := fs.Bool("debug", false, "log at debug level")
	level := fs.StringP("log-level", "l", "info", "debug, info, warn or error")
	format := fs.String("log-format", "text", "text or json")
	file := fs.String("log-file", "", "write the log here (default: swarmdeck/swarmdeck.log in the user's cache folder)")
	fs.BoolVarP(&g.version, "version", "v", false, "the version")
	fs.StringVar(&g.cluster, "cluster", "", "a cluster file to simulate")
	if err := fs.Parse(args); err != nil {
		return g, nil, err
	}
	lo, err := newLogOptions(*level, *format)
	if err != nil {
		return g, nil, err
	}
	if *debug {
		lo.level = slog.LevelDebug
	}
	lo.file = *file
	g.log = lo
	return g, fs.Args(), nil
}

// globalFlagHint adds, to a command's unknown-flag error about a global
// flag (swarmdeck manage --debug), that it goes before the command.
func globalFlagHint(err error, command string) error {
	var ne *pflag.NotExistError
	if !errors.As(err, &ne) || !globalFlag[ne.GetSpecifiedName()] {
		return err
	}
	dashes := "--"
	if len(ne.GetSpecifiedName()) == 1 {
		dashes = "-"
	}
	return fmt.Errorf("%w (a global flag: put it before the command, as in swarmdeck %s%s … %s …)", err, dashes, ne.GetSpecifiedName(), command)
}

// globalFlag names the flags parseGlobals reads.
var globalFlag = map[string]bool{"debug": true, "log-level": true, "l": true, "log-format": true}

// demoConsole opens the console on the embedded demo cluster.
func demoConsole(lo logOptions, stdout, stderr io.Writer) int {
	if err := consoleTerminal(stdout); err != nil {
		fmt.Fprintf(stderr, "swarmdeck: %v\n", err)
		return exitRefused
	}
	src, err := demoSource()
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck: %v\n", err)
		return exitUsage
	}
	cfg := &manageConfig{source: src, log: lo, logFile: lo.file}
	if cfg.opts.Sched, err = mergeSched(src.File, "", nil, false, nil); err != nil {
		fmt.Fprintf(stderr, "swarmdeck: %v\n", err)
		return exitUsage
	}
	return runManager(cfg, stdout, stderr)
}
