package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// checkAdvertise is Swarm's check of --advertise.
func checkAdvertise(a string) error {
	host, port, err := net.SplitHostPort(a)
	p, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
		return errors.New("--advertise should be of the form ip:port or hostname:port")
	}
	return nil
}

// join keeps one engine registered in discovery, as `swarm join` did,
// until SIGINT or SIGTERM; then it deregisters.
func join(args []string, stdout, stderr io.Writer) int {
	return joinWith(logOptions{}, args, stdout, stderr)
}

// joinWith is join with the global log options: its log goes to standard
// error as structured records (--log-format text or json). Standard output
// keeps two terse lines for scripts: "registering ADDR in DISCOVERY…" when
// it starts and "deregistered ADDR" when discovery confirmed the removal.
func joinWith(lo logOptions, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("join", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	advertise := fs.String("advertise", "", "the engine's address, host:port ($SWARM_ADVERTISE)")
	fs.StringVar(advertise, "addr", "", "same as --advertise")
	name := fs.String("name", "", "a name for the node (default: the engine's own)")
	heartbeat := fs.Duration("heartbeat", 60*time.Second, "how often the registration is renewed")
	ttl := fs.Duration("ttl", 180*time.Second, "how long a registration that is not renewed lasts")
	delay := fs.Duration("delay", 0, "wait a random time up to this before registering")
	opts := fs.StringArray("discovery-opt", nil, "discovery option: kv.path=…, kv.cacertfile=…, kv.certfile=…, kv.keyfile=…")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: swarmdeck join --advertise host:port [flags] DISCOVERY\n\nDISCOVERY: consul://host:port/prefix, etcd://host:port,…/prefix, zk://host:port,…/prefix or token://[HOST/]TOKEN\n\nFlags:\n%s", fs.FlagUsages())
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "swarmdeck join: "+format+"\n", a...)
		return exitUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return fail("%v", globalFlagHint(err, "join"))
	}
	if *advertise == "" {
		*advertise = os.Getenv("SWARM_ADVERTISE")
	}
	switch {
	case *advertise == "":
		return fail("missing mandatory --advertise flag")
	case checkAdvertise(*advertise) != nil:
		return fail("%v", checkAdvertise(*advertise))
	case *heartbeat < time.Second:
		return fail("--heartbeat should be at least one second")
	case *ttl <= *heartbeat:
		return fail("--ttl must be strictly superior to the heartbeat value")
	case *delay < 0:
		return fail("--delay should not be a negative number")
	case *name != "" && model.CheckNodeName(*name) != nil:
		return fail("--name: %v", model.CheckNodeName(*name))
	}
	discovery, src, err := openDiscovery(fs, *opts, "join")
	if err != nil {
		return fail("%v", err)
	}
	if src.Registry == nil {
		return fail("join needs a key-value or token discovery (consul://, etcd://, zk://, token://): %s is not one", discovery)
	}
	scheme, _, _ := strings.Cut(discovery, "://")
	if min := src.Registry.ShortestTTL(); *ttl < min {
		return fail("--ttl %s is below the shortest TTL %s:// keeps (%s)", *ttl, scheme, min)
	}
	if max := src.Registry.LongestTTL(); *ttl > max {
		return fail("--ttl %s is above the longest TTL %s:// accepts (%s)", *ttl, scheme, max)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := lo.logger(stderr).With("kind", "join", "addr", *advertise, "discovery", discovery)
	check, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := src.Registry.Check(check); err != nil {
		// As when the store goes away mid-run: keep trying.
		log.Warn("cannot reach the discovery store; retrying", "event", "unreachable", "error", err.Error())
	}
	fmt.Fprintf(stdout, "registering %s in %s every %s (TTL %s)\n", *advertise, discovery, *heartbeat, *ttl)
	log.Info("registering the engine in discovery", "event", "register", "heartbeat", *heartbeat, "ttl", *ttl)
	err = src.Registry.Register(ctx, *advertise, *name, *heartbeat, *ttl, *delay, func(err error) {
		if err == nil {
			log.Info("registered again after failures", "event", "registered_again")
			return
		}
		log.Warn("cannot renew the registration (retrying)", "event", "register_failed", "error", err.Error())
	})
	switch {
	case errors.Is(err, backend.ErrNeverRegistered):
		log.Warn("stopped before any registration was accepted: nothing was registered", "event", "leave", "error", err.Error())
		return exitUnreachable
	case errors.Is(err, backend.ErrNoDeregistration):
		log.Info(fmt.Sprintf("the engine stays in discovery until its TTL (%s) runs out", *ttl), "event", "leave", "error", err.Error())
		return exitOK
	case err != nil:
		log.Error(fmt.Sprintf("%v; the registration ends when its TTL (%s) runs out", err, *ttl), "event", "deregister_failed", "error", err.Error())
		return exitUnreachable
	}
	fmt.Fprintf(stdout, "deregistered %s\n", *advertise)
	log.Info("deregistered the engine", "event", "deregister")
	return exitOK
}

// openDiscovery reads the discovery argument (or $SWARM_DISCOVERY) and
// the --discovery-opt settings of a join or list command line.
func openDiscovery(fs *pflag.FlagSet, opts []string, command string) (string, *backend.Source, error) {
	discovery := os.Getenv("SWARM_DISCOVERY")
	if fs.NArg() == 1 {
		discovery = fs.Arg(0)
	}
	if discovery == "" {
		return "", nil, fmt.Errorf("discovery required to %s a cluster. See 'swarmdeck %s --help'.", command, command)
	}
	kv, err := backend.ParseDiscoveryOpts(opts)
	if err != nil {
		return "", nil, err
	}
	src, err := backend.OpenKV(discovery, nil, kv)
	return discovery, src, err
}

// list prints the engines a discovery finds, one host:port per line.
func list(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("list", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for discovery")
	opts := fs.StringArray("discovery-opt", nil, "discovery option: kv.path=…")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: swarmdeck list [flags] DISCOVERY\n\nPrints the engines a discovery finds, one host:port a line.\n\nFlags:\n%s", fs.FlagUsages())
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "swarmdeck list: "+format+"\n", a...)
		return exitUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return fail("%v", err)
	}
	if *timeout <= 0 {
		return fail("--timeout should be a positive number")
	}
	discovery, src, err := openDiscovery(fs, *opts, "list")
	if err != nil {
		return fail("%v", err)
	}
	lister, ok := src.Discovery.(backend.Lister)
	if !ok {
		return fail("%s cannot be listed", discovery)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	entries, err := lister.List(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck list: %v\n", err)
		return exitUnreachable
	}
	for _, e := range entries {
		fmt.Fprintln(stdout, e.Addr)
	}
	return exitOK
}
