package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"swarmdeck/backend"
	"swarmdeck/clusterfile"
	"swarmdeck/metrics"
	"swarmdeck/model"
	"swarmdeck/sched"
)

// manageConfig is a checked `swarmdeck manage` command line.
type manageConfig struct {
	source   *backend.Source
	opts     backend.Options
	headless bool
	logFile  string
	log      logOptions  // the global --log-level and --log-format
	hosts    []string    // where to serve the Docker API
	tls      *tls.Config // nil: plain TCP

	replication    bool
	advertise      string
	replicationTTL time.Duration

	metricsAddr string           // where to serve Prometheus metrics; empty: nowhere
	metricsURL  string           // where metrics are served, with the port the kernel chose
	noTerminal  bool             // manage fell back to headless: no terminal for the console
	metrics     *metrics.Metrics // made by runManager when metricsAddr is set
}

// manageFlags holds Swarm's manage flags, spelled as Swarm spelled them.
type manageFlags struct {
	strategy     string
	filters      []string
	failureRetry int
	refreshMin   time.Duration
	refreshMax   time.Duration
	refreshRetry int
	grace        time.Duration
	clusterOpts  []string
	cluster      string
	headless     bool
	logFile      string
	hosts        []string
	tls          bool
	tlsVerify    bool
	tlsCA        string
	tlsCert      string
	tlsKey       string

	replication    bool
	replicationTTL time.Duration
	advertise      string
	heartbeat      time.Duration
	discoveryOpts  []string
	stateFile      string
	metricsAddr    string
	rebalance      bool
}

func (f *manageFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.strategy, "strategy", "", "placement strategy: spread, binpack or random (default spread)")
	fs.StringArrayVarP(&f.filters, "filter", "f", nil, "filter to run, repeatable and in order (default: all seven)")
	fs.IntVar(&f.failureRetry, "engine-failure-retry", 3, "failed health probes in a row before a node is Unhealthy (user calls never count)")
	fs.DurationVar(&f.refreshMin, "engine-refresh-min-interval", 30*time.Second, "shortest time between two full refreshes of an engine")
	fs.DurationVar(&f.refreshMax, "engine-refresh-max-interval", 60*time.Second, "longest time between two full refreshes of an engine")
	fs.IntVar(&f.refreshRetry, "engine-refresh-retry", 3, "deprecated: use --engine-failure-retry")
	fs.DurationVar(&f.grace, "reschedule-grace", 0, "how long an Unhealthy node may come back before its containers move")
	fs.StringArrayVar(&f.clusterOpts, "cluster-opt", nil, "cluster option: swarm.overcommit=0.05")
	fs.StringVar(&f.cluster, "cluster", "", "a cluster file to simulate (same as the discovery sim://FILE)")
	fs.BoolVar(&f.headless, "headless", false, "run the manager without the console; events go to standard output")
	fs.StringVar(&f.logFile, "log-file", "", "write the manager's log here (default: swarmdeck/swarmdeck.log in the user's cache folder)")
	fs.StringArrayVarP(&f.hosts, "host", "H", nil, "serve the Docker API of the cluster here: tcp://127.0.0.1:3376 or unix:///path ($SWARM_HOST)")
	fs.BoolVar(&f.tls, "tls", false, "serve the API over TLS (--tlscert, --tlskey)")
	fs.BoolVar(&f.tlsVerify, "tlsverify", false, "serve the API over TLS and require client certificates signed by --tlscacert")
	fs.StringVar(&f.tlsCA, "tlscacert", "", "CA that signs client certificates")
	fs.StringVar(&f.tlsCert, "tlscert", "", "the endpoint's TLS certificate")
	fs.StringVar(&f.tlsKey, "tlskey", "", "the endpoint's TLS key")
	fs.BoolVar(&f.replication, "replication", false, "replicated managers: leader election through the discovery (consul://, etcd://, zk://)")
	fs.DurationVar(&f.replicationTTL, "replication-ttl", 20*time.Second, "how long a primary that stops answering keeps the lead")
	fs.StringVar(&f.advertise, "advertise", "", "this manager's API address as the others reach it, host:port ($SWARM_ADVERTISE)")
	fs.StringVar(&f.advertise, "addr", "", "same as --advertise")
	fs.DurationVar(&f.heartbeat, "heartbeat", 60*time.Second, "how often discovery is polled or retried")
	fs.StringArrayVar(&f.discoveryOpts, "discovery-opt", nil, "discovery option: kv.path=…, kv.cacertfile=…, kv.certfile=…, kv.keyfile=…")
	fs.BoolVar(&f.rebalance, "rebalance-on-recovery", false, "rebalance when a node comes back or joins (off by default)")
	fs.StringVar(&f.stateFile, "state-file", "", "where node availability (pause, drain) is kept without a KV discovery (default "+filepath.Join(filepath.Dir(backend.DefaultStatePath("")), "state-HASH.json")+", HASH from the discovery URL)")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on http://HOST:PORT/metrics (default: off); use 127.0.0.1:PORT")
}

// parseManage checks a manage command line with Swarm's validations and
// messages. Nothing is started.
func parseManage(args []string, stderr io.Writer) (*manageConfig, error) {
	var f manageFlags
	fs := pflag.NewFlagSet("manage", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: swarmdeck manage [flags] DISCOVERY\n\n"+
			"Manage a cluster: consul://host:port/prefix, etcd://host:port,…/prefix, zk://host:port,…/prefix,\n"+
			"token://[HOST/]TOKEN, file://PATH, nodes://host:port,… (or host:port,…), sim://FILE or sim://N.\n"+
			"$SWARM_DISCOVERY is used when DISCOVERY is left out.\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		return nil, globalFlagHint(err, "manage")
	}
	discovery := os.Getenv("SWARM_DISCOVERY")
	switch {
	case fs.NArg() == 1:
		discovery = fs.Arg(0)
	case fs.NArg() > 1:
		return nil, fmt.Errorf("one discovery only, got %q", fs.Args())
	}
	if f.cluster != "" {
		if discovery != "" {
			return nil, errors.New("--cluster and a discovery both name the cluster: give one")
		}
		discovery = "sim://" + f.cluster
	}
	if discovery == "" {
		return nil, errors.New("discovery required to manage a cluster. See 'swarmdeck manage --help'.")
	}
	if f.failureRetry <= 0 {
		return nil, errors.New("invalid failure retry count")
	}
	if f.refreshRetry != 3 {
		return nil, errors.New("--engine-refresh-retry is deprecated. Use --engine-failure-retry")
	}
	if f.refreshMin <= 0 {
		return nil, errors.New("min refresh interval should be a positive number")
	}
	if f.refreshMax < f.refreshMin {
		return nil, errors.New("max refresh interval cannot be less than min refresh interval")
	}
	if f.grace < 0 {
		return nil, errors.New("--reschedule-grace should not be a negative number")
	}
	if f.heartbeat < time.Second {
		return nil, errors.New("--heartbeat should be at least one second")
	}
	if f.advertise == "" {
		f.advertise = os.Getenv("SWARM_ADVERTISE")
	}
	if f.replication {
		if f.advertise == "" {
			return nil, errors.New("--advertise address must be provided when using --replication")
		}
		if f.replicationTTL <= 0 {
			return nil, errors.New("--replication-ttl should be a positive number")
		}
	}
	if f.advertise != "" {
		if err := checkAdvertise(f.advertise); err != nil {
			return nil, err
		}
	}
	kv, err := backend.ParseDiscoveryOpts(f.discoveryOpts)
	if err != nil {
		return nil, err
	}
	kv.Heartbeat = f.heartbeat
	if fs.Changed("metrics-addr") && f.metricsAddr == "" {
		return nil, errors.New("--metrics-addr is empty: give HOST:PORT, such as 127.0.0.1:9323, or leave the flag out (metrics are off by default)")
	}
	if f.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(f.metricsAddr); err != nil {
			return nil, fmt.Errorf("invalid --metrics-addr %q: want host:port, such as 127.0.0.1:9323", f.metricsAddr)
		}
	}
	cfg := &manageConfig{headless: f.headless, logFile: f.logFile, hosts: f.hosts,
		replication: f.replication, advertise: f.advertise, replicationTTL: f.replicationTTL, metricsAddr: f.metricsAddr}
	if len(cfg.hosts) == 0 && os.Getenv("SWARM_HOST") != "" {
		cfg.hosts = []string{os.Getenv("SWARM_HOST")}
	}
	if len(cfg.hosts) == 0 && f.headless {
		cfg.hosts = []string{defaultHeadlessHost}
	}
	for _, h := range cfg.hosts {
		if _, _, err := listenAddr(h); err != nil {
			return nil, err
		}
	}
	tlsCfg, err := serverTLS(f)
	if err != nil {
		return nil, err
	}
	cfg.tls = tlsCfg
	cfg.opts = backend.Options{FailureRetry: f.failureRetry, RefreshMin: f.refreshMin, RefreshMax: f.refreshMax, RescheduleGrace: f.grace}
	// Checked now, before discovery is opened; merged with the cluster
	// file's once it is.
	if _, err := mergeSched(nil, f.strategy, f.filters, fs.Changed("filter"), f.clusterOpts); err != nil {
		return nil, err
	}
	src, err := backend.OpenKV(discovery, engineTLS(), kv)
	if err != nil {
		return nil, err
	}
	if f.replication && src.Elector == nil {
		return nil, errors.New("Leader election is only supported with consul, etcd and zookeeper discovery.")
	}
	if f.replication && src.Registry != nil {
		// the lead is a session (Consul), a lease (etcd) or a session
		// timeout (ZooKeeper) of that TTL: outside the store's bounds the
		// election never succeeds, and nothing would say why
		scheme, _, _ := strings.Cut(discovery, "://")
		if min := src.Registry.ShortestTTL(); f.replicationTTL < min {
			return nil, fmt.Errorf("--replication-ttl %s is below the shortest TTL %s:// keeps (%s)", f.replicationTTL, scheme, min)
		}
		if max := src.Registry.LongestTTL(); f.replicationTTL > max {
			return nil, fmt.Errorf("--replication-ttl %s is above the longest TTL %s:// accepts (%s)", f.replicationTTL, scheme, max)
		}
	}
	if cfg.opts.Sched, err = mergeSched(src.File, f.strategy, f.filters, fs.Changed("filter"), f.clusterOpts); err != nil {
		return nil, err
	}
	cfg.opts.State = stateStore(src, discovery, f.stateFile)
	if st, ok := cfg.opts.State.(*backend.FileState); ok {
		// A state file that cannot be read would make every drained or
		// paused node take containers again: refuse to start instead.
		if _, err := st.Load(context.Background()); err != nil {
			return nil, fmt.Errorf("node availability cannot be read (fix the file, or move it away to start with every node active): %w", err)
		}
		if err := st.CheckWritable(); err != nil {
			return nil, fmt.Errorf("node availability could not be kept (choose another --state-file): %w", err)
		}
		if _, err := st.Removed(context.Background()); err != nil {
			return nil, fmt.Errorf("removal records cannot be read (fix the file, or move it away): %w", err)
		}
	}
	cfg.opts.RebalanceOnRecovery = f.rebalance
	cfg.source = src
	return cfg, nil
}

// stateStore is where node availability is kept: in the discovery's KV
// store when there is one (so replicated managers share it), else in a
// file beside the manager; a simulated cluster keeps it in memory unless
// a file is named.
func stateStore(src *backend.Source, discovery, file string) backend.StateStore {
	store, inStore := src.Registry.(backend.Store)
	switch {
	case inStore:
		return store.Availability()
	case file != "":
		return &backend.FileState{Path: file}
	case src.Simulated:
		return &backend.MemoryState{}
	}
	return &backend.FileState{Path: backend.DefaultStatePath(discovery)}
}

// mergeSched is the one place the scheduler's settings are merged, with
// one precedence: Swarm's defaults, then the cluster file (when there is
// one), then the command line (--strategy, --filter when given, each
// --cluster-opt). The strategy comes out resolved, never empty.
func mergeSched(file *clusterfile.File, strategy string, filters []string, filtersSet bool, clusterOpts []string) (sched.Config, error) {
	sc := sched.Config{Overcommit: model.DefaultOvercommit}
	if file != nil {
		sc = file.SchedConfig()
	}
	if strategy != "" {
		sc.Strategy = strategy
	}
	sc.Strategy = cmp.Or(sc.Strategy, sched.StrategySpread)
	if filtersSet {
		sc.Filters = filters
	}
	for _, o := range clusterOpts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "swarm.overcommit":
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return sc, fmt.Errorf("invalid --cluster-opt %s: want a number", o)
			}
			if sc.Overcommit, err = model.NewOvercommit(x); err != nil {
				return sc, err
			}
		default:
			return sc, fmt.Errorf("unsupported --cluster-opt %q (swarmdeck knows swarm.overcommit)", o)
		}
	}
	if _, err := sched.New(sc); err != nil {
		return sc, err
	}
	return sc, nil
}

// engineTLS reads DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as the docker
// CLI does, for every engine of the pool.
func engineTLS() *backend.TLS {
	if os.Getenv("DOCKER_TLS_VERIFY") == "" {
		return nil
	}
	dir := os.Getenv("DOCKER_CERT_PATH")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = home + "/.docker"
	}
	return backend.TLSFromCertPath(dir)
}

func manage(args []string, stdout, stderr io.Writer) int {
	return manageWith(logOptions{}, args, stdout, stderr, false)
}

// manageWith is manage with the global log options. `manage` without a
// terminal runs headless, as Swarm's manager did in a container started
// with docker run -d; the console forms (swarmdeck sim://N, swarmdeck
// --cluster FILE: consoleForm) need a terminal and say so, as a bare
// `swarmdeck` does.
func manageWith(lo logOptions, args []string, stdout, stderr io.Writer, consoleForm bool) int {
	prefix := "swarmdeck manage"
	if consoleForm {
		prefix = "swarmdeck"
	}
	cfg, err := parseManage(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prefix, err)
		return exitUsage
	}
	cfg.withLog(lo)
	if !cfg.headless {
		if err := consoleTerminal(stdout); err != nil {
			if consoleForm {
				fmt.Fprintf(stderr, "%s: %v\n", prefix, err)
				return exitRefused
			}
			cfg.headless, cfg.noTerminal = true, true
			if len(cfg.hosts) == 0 {
				cfg.hosts = []string{defaultHeadlessHost}
			}
		}
	}
	return runManager(cfg, stdout, stderr)
}

// withLog takes the global log flags; a --log-file before the command
// (swarmdeck --log-file X sim://…) counts unless manage named its own.
func (cfg *manageConfig) withLog(lo logOptions) {
	cfg.log = lo
	if cfg.logFile == "" {
		cfg.logFile = lo.file
	}
}

// defaultHeadlessHost is where a headless manager serves the Docker API
// when no -H is given: Swarm's default.
const defaultHeadlessHost = "tcp://127.0.0.1:2375"

// isTerminal reports whether w is a terminal the console can draw on.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// runManager runs the manager until SIGINT or SIGTERM.
func runManager(cfg *manageConfig, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger, closeLog, err := openLog(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck: %v\n", err)
		return exitUsage
	}
	defer closeLog()
	cfg.opts.Logger = logger
	if cfg.noTerminal {
		// As in a container started with docker run -d: Swarm's manager
		// had no console, and this one has no terminal to draw it on.
		logger.Info("no terminal for the console: running headless (--headless)")
	}
	if reg := cfg.source.Registry; reg != nil {
		// A store away at start is treated as one that goes away mid-run:
		// the manager starts and its watch keeps trying.
		check, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := reg.Check(check); err != nil {
			logger.Warn("cannot reach the discovery store; retrying", "err", err)
		}
		cancel()
	}
	if cfg.metricsAddr != "" {
		cfg.metrics = metrics.New()
		cfg.opts.Observer = cfg.metrics
	}
	cluster, err := backend.New(cfg.source, cfg.opts)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck: %v\n", err)
		return exitUsage
	}
	if cfg.replication {
		cluster.Replicated() // a replica until elected, before the API serves
	}
	// Listen before anything starts: a port in use is an error now, not
	// a half-started manager.
	stopMetrics, err := serveMetrics(ctx, cluster, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck: %v\n", err)
		return exitUsage
	}
	defer stopMetrics()
	stopAPI, err := serveAPI(ctx, cluster, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck: %v\n", err)
		return exitUsage
	}
	defer stopAPI()
	if cfg.replication {
		// The election owns the role. At shutdown it resigns, and the
		// manager waits for that before it stops serving, so a replica
		// takes over at once.
		elected := make(chan struct{})
		go func() {
			defer close(elected)
			if err := cfg.source.Elector.Election(ctx, cfg.advertise, cfg.replicationTTL, cluster.SetRole); err != nil {
				logger.Warn(err.Error())
			}
		}()
		defer func() { stop(); <-elected }()
	}
	if cfg.headless {
		return headless(ctx, cluster, cfg, stdout)
	}
	return console(ctx, cluster, stderr)
}

// openLog sends the manager's log to a file: never onto the console's
// screen. Headless, it goes to standard error unless a file is named,
// while the events keep their line format on standard output. The
// default file is swarmdeck.log in the user's cache folder
// (defaultLogPath); the log is created 0600.
func openLog(cfg *manageConfig, stderr io.Writer) (*slog.Logger, func(), error) {
	if cfg.headless && cfg.logFile == "" {
		return cfg.log.logger(stderr), func() {}, nil
	}
	path, flags := cfg.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND
	if path == "" {
		var err error
		if path, err = defaultLogPath(); err != nil {
			return nil, nil, err
		}
		// Never follow a link someone planted where the log goes.
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("log file: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("log file %s: not a regular file", path)
	}
	// A log left readable by others (an older swarmdeck, a copy) is made
	// private: it names every node and container.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("log file %s: %w", path, err)
	}
	return cfg.log.logger(f), func() { f.Close() }, nil
}

// defaultLogPath is swarmdeck/swarmdeck.log in the user's cache folder
// ($XDG_CACHE_HOME or ~/.cache), which it creates 0700: a private place,
// not a shared temp folder where another user could plant a link.
func defaultLogPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("log file: no cache folder (%v): name one with --log-file", err)
	}
	dir = filepath.Join(dir, "swarmdeck")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("log file: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { // a folder made before, 0755
		return "", fmt.Errorf("log file: %w", err)
	}
	return filepath.Join(dir, "swarmdeck.log"), nil
}

// headless prints every cluster event, one line each, until ctx ends.
func headless(ctx context.Context, cluster *backend.Cluster, cfg *manageConfig, stdout io.Writer) int {
	events, stop := cluster.Subscribe(1024)
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		cluster.Run(ctx)
	}()
	sim := ""
	if cluster.Source().Simulated {
		sim = " (SIMULATED)"
	}
	fmt.Fprintf(stdout, "swarmdeck managing %s%s: strategy %s, filters %s\n", cluster.Source().URL, sim,
		cluster.Scheduler().Strategy(), strings.Join(cluster.Scheduler().Filters(), ", "))
	for _, h := range cfg.hosts {
		fmt.Fprintf(stdout, "Docker API of the cluster on %s\n", h)
	}
	if cfg.metricsURL != "" {
		fmt.Fprintf(stdout, "Prometheus metrics on %s\n", cfg.metricsURL)
	}
	for {
		select {
		case e := <-events:
			fmt.Fprintln(stdout, formatEvent(e))
		case <-ctx.Done():
			<-done
			for { // the manager has stopped: print what it said last
				select {
				case e := <-events:
					fmt.Fprintln(stdout, formatEvent(e))
				default:
					return exitOK
				}
			}
		}
	}
}

// formatEvent is one event as a log line. The message is escaped: a
// name or an engine's error text cannot end the line or forge another.
func formatEvent(e model.Event) string {
	kind, msg := e.Kind.String(), model.Printable(e.Message)
	line := e.Time.Format("15:04:05.000") + " " + kind + " " + strings.TrimPrefix(msg, kind+" ") // not "placed placed web on eu-1"
	if e.Duration > 0 && !strings.Contains(e.Message, e.Duration.String()) {
		line += " (" + e.Duration.String() + ")"
	}
	return line
}
