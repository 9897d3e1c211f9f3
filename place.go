package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"swarmdeck/clusterfile"
	"swarmdeck/model"
	"swarmdeck/sched"
)

// placeFlags are `docker run`'s placement flags, spelled as docker spells
// them, plus the dry run's own.
type placeFlags struct {
	cluster     string
	name        string
	env         []string
	labels      []string
	cpuShares   int64
	cpus        nanoCPUsValue
	memory      bytesValue
	publish     []string
	expose      []string
	network     string
	volumesFrom []string
	links       []string
	strategy    string
	filters     []string
	count       int
	explain     bool
	format      string
}

func (f *placeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.cluster, "cluster", "", "cluster file (default: the embedded demo cluster)")
	fs.StringVar(&f.name, "name", "", "container name; with --count N the containers are NAME-1…NAME-N")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "environment variable; constraint:, affinity:, whitelist: and reschedule: entries are placement rules")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "container label KEY=VALUE")
	fs.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPUs to reserve, a whole number (Swarm's meaning of -c)")
	fs.Var(&f.cpus, "cpus", "CPUs to reserve, fractions allowed; wins over -c")
	fs.VarP(&f.memory, "memory", "m", "memory to reserve (512m, 2g)")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a port: [IP:]HOST:CONTAINER[/PROTO]")
	fs.StringArrayVar(&f.expose, "expose", nil, "expose a port or range")
	fs.StringVar(&f.network, "network", "bridge", "network mode: bridge, host, none, container:NAME or a network name")
	fs.StringVar(&f.network, "net", "bridge", "same as --network")
	fs.StringArrayVar(&f.volumesFrom, "volumes-from", nil, "mount volumes from a container (placed with it)")
	fs.StringArrayVar(&f.links, "link", nil, "link to a container (placed with it)")
	fs.StringVar(&f.strategy, "strategy", "", "spread, binpack or random (default: the cluster file's, else spread)")
	fs.StringArrayVar(&f.filters, "filter", nil, "a filter to run, repeatable and in order; replaces the default chain")
	fs.IntVar(&f.count, "count", 1, fmt.Sprintf("place N containers one after the other, each seeing those before it (at most %d)", maxCount))
	fs.BoolVar(&f.explain, "explain", false, "say for every node why it was kept or rejected")
	fs.StringVar(&f.format, "format", "text", "output format: text or json")
}

// maxCount is the most containers one `place --count` may place: a
// million (C1M). Text output streams and keeps nothing per placement, so
// the bound is about typos, not memory.
const maxCount = 1000000

// nanoCPUsValue is --cpus, read as the docker CLI reads it.
type nanoCPUsValue int64

func (v *nanoCPUsValue) Set(s string) error {
	n, err := model.ParseNanoCPUs(s)
	*v = nanoCPUsValue(n)
	return err
}
func (v *nanoCPUsValue) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *nanoCPUsValue) Type() string   { return "decimal" }

// bytesValue is -m, read as the docker CLI reads it.
type bytesValue int64

func (v *bytesValue) Set(s string) error {
	n, err := model.ParseBytes(s)
	*v = bytesValue(n)
	return err
}
func (v *bytesValue) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *bytesValue) Type() string   { return "bytes" }

// config turns the flags into the config a `docker run` would send, its
// resources checked as the daemon checks them against the largest node
// (maxCPUs CPUs).
func (f *placeFlags) config(image string, cmd []string, maxCPUs int) (model.Config, error) {
	cfg := model.Config{
		Name: f.name, Image: image, Cmd: cmd, Env: f.env, Labels: map[string]string{},
		NetworkMode: f.network, VolumesFrom: f.volumesFrom, Links: f.links,
	}
	if err := model.CheckName(f.name); err != nil {
		return cfg, err
	}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return cfg, fmt.Errorf("invalid label %q: want KEY=VALUE", l)
		}
		cfg.Labels[k] = v
	}
	res := model.Resources{CPUShares: f.cpuShares, NanoCPUs: int64(f.cpus), Memory: int64(f.memory)}
	for _, one := range []struct {
		flag string
		res  model.Resources
	}{
		{"--cpu-shares", model.Resources{CPUShares: res.CPUShares}},
		{"--cpus", model.Resources{NanoCPUs: res.NanoCPUs}},
		{"--memory", model.Resources{Memory: res.Memory}},
	} {
		if err := one.res.Check(maxCPUs, false); err != nil {
			return cfg, fmt.Errorf("%s: %w", one.flag, err) // Docker's words, after the flag they are about
		}
	}
	if err := res.Check(maxCPUs, false); err != nil {
		return cfg, err
	}
	cfg.CPUs, cfg.Memory = res.CPUs(), res.Memory
	var err error
	if cfg.Ports, err = clusterfile.ParsePorts(f.publish); err != nil {
		return cfg, fmt.Errorf("--publish: %v", err)
	}
	if cfg.Expose, err = clusterfile.ParseExpose(f.expose); err != nil {
		return cfg, fmt.Errorf("--expose: %v", err)
	}
	// docker run exposes the container side of every published port.
	for _, p := range cfg.Ports {
		if e := p.ContainerPort + "/" + p.Proto; !contains(cfg.Expose, e) {
			cfg.Expose = append(cfg.Expose, e)
		}
	}
	return cfg, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// placed is one container's result, as --format json prints it.
type placed struct {
	Name   string        `json:"name"`
	Node   string        `json:"node"`
	Ranked []string      `json:"ranked,omitempty"`
	Soft   *bool         `json:"soft,omitempty"`
	Nodes  []explainNode `json:"nodes,omitempty"`
	asked  model.Config  // what was requested, to word the scores
}

// percent shows a score part, or that the request asked for none of it
// (Swarm then scores it 100).
func percent(what string, v int64, asked bool) string {
	if !asked {
		return what + " -"
	}
	return fmt.Sprintf("%s %d%%", what, v)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

type explainNode struct {
	Node    string         `json:"node"`
	Kept    bool           `json:"kept"`
	Rank    int            `json:"rank,omitempty"`
	Score   *sched.Score   `json:"score,omitempty"`
	Reasons []sched.Reason `json:"reasons,omitempty"`
}

func place(args []string, stdout, stderr io.Writer) int {
	var f placeFlags
	fs := pflag.NewFlagSet("place", pflag.ContinueOnError)
	fs.SetInterspersed(false)
	fs.SetOutput(stderr)
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: swarmdeck place [--cluster FILE] [flags] IMAGE [COMMAND...]\n\n"+
			"A dry run of docker run against a cluster: prints the node each container\n"+
			"would land on. Exit 0 placed, 1 refused, 2 bad usage or input.\n\nFlags:\n%s", fs.FlagUsages())
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "swarmdeck place: "+format+"\n", a...)
		return exitUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return usageErr("%v (see 'swarmdeck place --help')", err)
	}
	if fs.NArg() == 0 {
		return usageErr("an image is required: swarmdeck place [flags] IMAGE [COMMAND...]")
	}
	if f.count < 1 || f.count > maxCount {
		return usageErr("--count %d: want 1 to %d containers", f.count, maxCount)
	}
	if f.format != "text" && f.format != "json" {
		return usageErr("--format %q: want text or json", f.format)
	}
	cf, err := loadCluster(f.cluster)
	if err != nil {
		return usageErr("%v", err)
	}
	scfg, err := mergeSched(cf, f.strategy, f.filters, fs.Changed("filter"), nil)
	if err != nil {
		return usageErr("%v", err)
	}
	s, err := sched.New(scfg)
	if err != nil {
		return usageErr("%v", err)
	}
	maxCPUs := 0
	for _, n := range cf.Nodes {
		maxCPUs = max(maxCPUs, n.CPUs)
	}
	base, err := f.config(fs.Arg(0), fs.Args()[1:], maxCPUs)
	if err != nil {
		return usageErr("%v", err)
	}
	snap := sched.NewSnapshot(cf.Nodes)
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	var js *jsonArray
	if f.format == "json" {
		js = &jsonArray{w: out}
		defer js.close()
	}
	// Without --explain only the chosen node is printed (the best-node
	// path, nothing kept per placement), but for one placement in JSON,
	// whose "ranked" lists every node that passed: with --count, a ranking
	// per placement would repeat every node's name each time.
	rank := f.explain || js != nil && f.count == 1
	for i := 1; i <= f.count; i++ {
		cfg := base
		if f.name != "" && f.count > 1 {
			cfg.Name = f.name + "-" + strconv.Itoa(i)
		}
		req, err := sched.NewRequest(cfg)
		if err != nil {
			return usageErr("%v", err)
		}
		req.Seed = uint64(i)
		if snap.NameInUse(cfg.Name) {
			out.Flush()
			fmt.Fprintln(stderr, model.NameConflict(cfg.Name))
			return exitRefused
		}
		var p *sched.Placement
		switch {
		case f.explain:
			p, err = s.Explain(snap, req)
		case rank:
			p, err = s.Rank(snap, req)
		default:
			p, err = s.Place(snap, req)
		}
		if err != nil {
			out.Flush()
			fmt.Fprintln(stderr, err)
			var pe *sched.PlacementError
			if f.explain && errors.As(err, &pe) {
				fmt.Fprintln(stderr, pe.Summary)
				if f.format == "text" {
					printReports(stderr, pe.Nodes)
				}
			}
			return exitRefused
		}
		switch {
		case js != nil:
			js.add(result(cfg.Name, cfg, p, f.explain))
		case f.explain:
			printText(out, result(cfg.Name, cfg, p, f.explain), f.explain)
		default:
			fmt.Fprintln(out, model.Printable(p.Node.Name))
		}
		c := &model.Container{Config: req.Config, Node: p.Node.Addr, State: model.Running}
		snap.AddContainer(p.Node.Addr, c)
	}
	return exitOK
}

func loadCluster(path string) (*clusterfile.File, error) {
	if path == "" {
		return clusterfile.Parse("examples/demo.yaml (embedded)", demoCluster)
	}
	return clusterfile.Load(path)
}

func result(name string, cfg model.Config, p *sched.Placement, explain bool) placed {
	r := placed{Name: name, Node: p.Node.Name, asked: cfg}
	for _, n := range p.Ranked {
		r.Ranked = append(r.Ranked, n.Name)
	}
	if explain {
		soft := p.Soft
		r.Soft = &soft
		for _, rep := range p.Nodes {
			en := explainNode{Node: rep.Node.Name, Kept: rep.Kept, Rank: rep.Rank, Reasons: rep.Reasons}
			if rep.Kept {
				sc := rep.Score
				en.Score = &sc
			}
			r.Nodes = append(r.Nodes, en)
		}
	}
	return r
}

// jsonArray streams every placement made as one indented JSON array, the
// bytes json.MarshalIndent would write for the whole slice.
type jsonArray struct {
	w *bufio.Writer
	n int
}

func (a *jsonArray) add(r placed) {
	b, _ := json.MarshalIndent(r, "  ", "  ")
	if a.n == 0 {
		a.w.WriteString("[\n  ")
	} else {
		a.w.WriteString(",\n  ")
	}
	a.n++
	a.w.Write(b)
}

func (a *jsonArray) close() {
	if a.n == 0 {
		a.w.WriteString("[]\n")
		return
	}
	a.w.WriteString("\n]\n")
}

// printText writes one placement as soon as it is made: the node's name,
// and with explain every node's verdict. Names are escaped: a terminal
// never gets a control character from them.
func printText(w io.Writer, r placed, explain bool) {
	fmt.Fprintln(w, model.Printable(r.Node))
	if !explain {
		return
	}
	name := model.Printable(r.Name)
	if name == "" {
		name = "(unnamed)"
	}
	soft := "soft expressions honoured"
	if r.Soft != nil && !*r.Soft {
		soft = "soft expressions dropped"
	}
	fmt.Fprintf(w, "  container %s → %s (%s)\n", name, model.Printable(r.Node), soft)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	kept := make([]explainNode, len(r.Ranked))
	for _, n := range r.Nodes {
		if n.Kept {
			kept[n.Rank-1] = n
		}
	}
	for _, n := range kept {
		fmt.Fprintf(tw, "  #%d\t%s\tweight %d\t%s\t%s\thealth %d\t%s\n", n.Rank, model.Printable(n.Node), n.Score.Weight,
			percent("cpu", n.Score.CPU, r.asked.CPUs > 0), percent("memory", n.Score.Memory, r.asked.Memory > 0),
			n.Score.Health, plural(n.Score.Containers, "container"))
	}
	for _, n := range r.Nodes {
		if !n.Kept {
			fmt.Fprintf(tw, "  ✗\t%s\t%s\n", model.Printable(n.Node), joinReasons(n.Reasons))
		}
	}
	tw.Flush()
}

func printReports(w io.Writer, reps []sched.NodeReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range reps {
		fmt.Fprintf(tw, "  ✗\t%s\t%s\n", model.Printable(r.Node.Name), joinReasons(r.Reasons))
	}
	tw.Flush()
}

func joinReasons(rs []sched.Reason) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, "; ")
}
