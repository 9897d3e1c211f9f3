package backend

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"swarmdeck/clusterfile"
	"swarmdeck/model"
)

// Entry is one engine that discovery found.
type Entry struct {
	Addr string // host:port, or unix:///path/docker.sock; the node's key
	Name string // the operator's name for it; empty: the engine's own name
}

// Discovery finds the engines of the pool.
type Discovery interface {
	// Watch sends the whole set of entries, again each time it changes,
	// until ctx ends. Errors are sent without ending the watch.
	Watch(ctx context.Context) (<-chan []Entry, <-chan error)
}

// Source is a discovery and the way to reach what it finds.
type Source struct {
	URL       string
	Discovery Discovery
	// NewEngine makes the Engine for an entry.
	NewEngine func(Entry) (Engine, error)
	// Simulated is set for sim:// clusters; Sim then finds their engines
	// for fault drills.
	Simulated bool
	sims      map[string]*SimEngine
	// Settings a cluster file asked for (sim:// FILE); nil otherwise.
	File *clusterfile.File
	// Registry is set for a discovery that engines join: consul://,
	// etcd://, zk:// and token://.
	Registry Registry
	// Elector is set for a discovery that elects a leader among
	// replicated managers: consul://, etcd:// and zk://.
	Elector Elector
}

// Lister is a discovery that can be read once (swarmdeck list).
type Lister interface {
	List(ctx context.Context) ([]Entry, error)
}

// Sim returns the simulated engine at addr, or nil.
func (s *Source) Sim(addr string) *SimEngine { return s.sims[addr] }

// Open reads a discovery URL: nodes://a:2375,b:2375 (or bare a:2375,b),
// with one [from:to] range per entry and name=addr to name a node;
// sim://FILE for a cluster file's simulated engines, sim://N for N
// generated ones (sim://N?containers=K puts K containers on each).
// tls, when set, is used for every Docker engine.
func Open(url string, tls *TLS) (*Source, error) {
	return OpenKV(url, tls, KVOptions{})
}

// OpenKV is Open with the settings of a key-value discovery
// (consul://host:port/prefix, etcd://a1,a2/prefix, zk://a1,a2/prefix),
// of token://[HOST/]TOKEN and of file://path.
func OpenKV(url string, tls *TLS, kv KVOptions) (*Source, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		scheme, rest = "nodes", url
	}
	docker := func(e Entry) (Engine, error) { return NewDockerEngine(e.Addr, tls) }
	switch scheme {
	case "consul", "etcd", "zk":
		store, err := openStore(scheme, url, kv)
		if err != nil {
			return nil, err
		}
		return &Source{URL: url, Discovery: store, NewEngine: docker, Registry: store, Elector: store}, nil
	case "token":
		t, err := NewToken(url, kv)
		if err != nil {
			return nil, err
		}
		return &Source{URL: url, Discovery: t, NewEngine: docker, Registry: t}, nil
	case "file":
		if rest == "" {
			return nil, fmt.Errorf("discovery %q names no file", url)
		}
		return &Source{URL: url, Discovery: &File{Path: rest, Every: kv.Heartbeat}, NewEngine: docker}, nil
	case "nodes":
		entries, err := ParseNodes(rest)
		if err != nil {
			return nil, err
		}
		return &Source{URL: url, Discovery: static(entries), NewEngine: func(e Entry) (Engine, error) {
			return NewDockerEngine(e.Addr, tls)
		}}, nil
	case "sim":
		return openSim(url, rest)
	case "":
		return nil, fmt.Errorf("discovery %q has no scheme before ://", url)
	default:
		return nil, fmt.Errorf("discovery %q: unsupported scheme %s (use consul://, etcd://, zk://, token://, file://, nodes://, sim://, or a list of host:port)", url, scheme)
	}
}

// SimSource makes a simulated cluster of the given nodes.
func SimSource(name string, nodes []*model.Node) *Source {
	s := &Source{URL: name, Simulated: true, sims: map[string]*SimEngine{}}
	var entries []Entry
	for _, n := range nodes {
		s.sims[n.Addr] = NewSimEngine(n)
		entries = append(entries, Entry{Addr: n.Addr, Name: n.Name})
	}
	s.Discovery = static(entries)
	s.NewEngine = func(e Entry) (Engine, error) {
		if eng, ok := s.sims[e.Addr]; ok {
			return eng, nil
		}
		return nil, fmt.Errorf("no simulated engine at %s", e.Addr)
	}
	return s
}

// Limits of a generated simulated cluster (sim://N?containers=K): what
// this manager builds in a few seconds and a few hundred MB.
const (
	MaxSimNodes             = 20000
	MaxSimContainersPerNode = 1000
	MaxSimContainers        = 500000
)

func openSim(url, rest string) (*Source, error) {
	spec, query, _ := strings.Cut(rest, "?")
	if n, err := strconv.Atoi(spec); err == nil {
		if n < 1 || n > MaxSimNodes {
			return nil, fmt.Errorf("discovery %q: a simulated cluster has 1 to %d nodes", url, MaxSimNodes)
		}
		per := 0
		if query != "" {
			k, v, _ := strings.Cut(query, "=")
			if k != "containers" {
				return nil, fmt.Errorf("discovery %q: the only option is containers=K (containers per node)", url)
			}
			if per, err = strconv.Atoi(v); err != nil || per < 0 {
				return nil, fmt.Errorf("discovery %q: containers=%s: want a whole number of containers per node, 0 to %d",
					url, v, MaxSimContainersPerNode)
			}
		}
		if per > MaxSimContainersPerNode || n*per > MaxSimContainers {
			return nil, fmt.Errorf("discovery %q: a simulated cluster has at most %d containers per node and %d in all (asked %d×%d)",
				url, MaxSimContainersPerNode, MaxSimContainers, n, per)
		}
		return SimSource(url, GenerateNodes(n, per)), nil
	}
	if spec == "" {
		return nil, fmt.Errorf("discovery %q: want sim://FILE or sim://N", url)
	}
	f, err := clusterfile.Load(spec)
	if err != nil {
		return nil, err
	}
	s := SimSource(url, f.Nodes)
	s.File = f
	return s, nil
}

type static []Entry

// List implements Lister.
func (s static) List(context.Context) ([]Entry, error) { return s, nil }

func (s static) Watch(ctx context.Context) (<-chan []Entry, <-chan error) {
	ch := make(chan []Entry, 1)
	ch <- s
	return ch, make(chan error)
}

var (
	rangeRule = regexp.MustCompile(`\[(\d+):(\d+)\]`)
)

// ParseNodes reads a static list: comma-separated host:port entries, each
// with at most one numeric range [from:to] anywhere in it, and optionally
// a name: node-1=10.0.0.1:2375.
func ParseNodes(list string) ([]Entry, error) {
	var out []Entry
	seen := map[string]bool{}
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		name, addr, err := model.SplitEntry(raw)
		if err != nil {
			return nil, err
		}
		entry := Entry{Name: name, Addr: addr}
		addrs, err := expand(entry.Addr)
		if err == nil && entry.Name != "" && len(addrs) > 1 {
			err = fmt.Errorf("the named entry %q holds a range: name each node on its own", raw)
		}
		for _, a := range addrs {
			if err == nil {
				err = checkAddr(a)
			}
			if err == nil && seen[a] {
				err = fmt.Errorf("address %s is listed twice", a)
			}
			seen[a] = true
			out = append(out, Entry{Addr: a, Name: entry.Name})
		}
		if err != nil {
			return nil, fmt.Errorf("%v, please check you are using the correct discovery (missing token:// ?)", err)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("discovery %q lists no engine", list)
	}
	return out, nil
}

// expand turns one [from:to] range into its addresses, as Swarm's
// generator did.
func expand(pattern string) ([]string, error) {
	locs := rangeRule.FindAllStringSubmatchIndex(pattern, -1)
	if len(locs) == 0 {
		return []string{pattern}, nil
	}
	if len(locs) > 1 {
		return nil, fmt.Errorf("%q holds more than one range", pattern)
	}
	l := locs[0]
	from, _ := strconv.Atoi(pattern[l[2]:l[3]])
	to, _ := strconv.Atoi(pattern[l[4]:l[5]])
	if from > to {
		return nil, fmt.Errorf("invalid range in %q: %d is above %d", pattern, from, to)
	}
	if to-from > 65535 {
		return nil, fmt.Errorf("range in %q is too long", pattern)
	}
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, pattern[:l[0]]+strconv.Itoa(i)+pattern[l[1]:])
	}
	return out, nil
}

func checkAddr(a string) error {
	if strings.HasPrefix(a, "unix://") {
		if len(a) == len("unix://") {
			return fmt.Errorf("%q names no socket", a)
		}
		return nil
	}
	a = strings.TrimPrefix(a, "tcp://")
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("invalid address %q: want host:port", a)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || host == "" {
		return fmt.Errorf("invalid address %q: want host:port with a port from 1 to 65535", a)
	}
	return nil
}

// GenerateNodes makes n varied simulated nodes in three zones, with
// perNode containers each, for demos and scale tests. The same n and
// perNode always give the same cluster. The containers' reservations fit
// their node (without overcommit): once a node's CPUs or memory are
// taken, the containers after reserve none of it, as `docker run`
// without --cpus or -m does.
func GenerateNodes(n, perNode int) []*model.Node {
	zones := []string{"eu", "us", "ap"}
	sizes := []struct {
		cpus int
		mem  int64
	}{{4, 8 << 30}, {8, 16 << 30}, {16, 32 << 30}, {2, 4 << 30}, {32, 128 << 30}}
	images := []string{"nginx:1.25", "redis:7", "postgres:16", "busybox:latest"}
	nodes := make([]*model.Node, n)
	created := time.Now()                // set here, so a simulated engine shares the containers instead of copying them to set it
	var labelSets [][2]map[string]string // by app: with the reschedule policy, without; shared by the containers
	onFailure := &model.Rules{Reschedule: []string{"on-node-failure"}}
	for i := range nodes {
		sz := sizes[i%len(sizes)]
		nd := &model.Node{
			Name: fmt.Sprintf("node-%d", i+1), Addr: fmt.Sprintf("sim-%d:2375", i+1), CPUs: sz.cpus, Memory: sz.mem,
			Health: model.Healthy, Version: "20.10.24-sim",
			Labels: map[string]string{"zone": zones[i%3], "disk": []string{"ssd", "hdd"}[i/3%2],
				model.LabelStorageDriver: "overlay2", model.LabelOSType: "linux", model.LabelKernelVersion: "6.1.0-sim",
				model.LabelOperatingSystem: "Debian GNU/Linux 12 (bookworm)"},
		}
		nd.ID = fmt.Sprintf("SIM%05d:%s", i+1, strings.Repeat("X", 4))
		// Every node has the pool's images (one ID each, as pulled from
		// one registry), so a create needs no pull.
		for k, im := range images {
			nd.Images = append(nd.Images, model.Image{ID: fmt.Sprintf("sha256:%064x", k+1), RepoTags: []string{im}})
		}
		freeCPUs, freeMem := model.CPUs(nd.CPUs), nd.Memory
		if labelSets == nil {
			labelSets = make([][2]map[string]string, 10)
			for k := range labelSets {
				app := fmt.Sprintf("app-%d", k)
				labelSets[k] = [2]map[string]string{{"app": app, model.LabelReschedulePolicies: `["on-node-failure"]`}, {"app": app}}
			}
		}
		for j := range perNode {
			im := images[j%len(images)]
			cpus, mem := model.MilliCPU(100*(j%4+1)), int64(64<<20)*int64(j%4+1)
			if cpus > freeCPUs {
				cpus = 0
			}
			if mem > freeMem {
				mem = 0
			}
			freeCPUs, freeMem = freeCPUs-cpus, freeMem-mem
			c := &model.Container{
				Config: model.Config{Name: fmt.Sprintf("app-%d-%d", i+1, j+1), Image: im, NetworkMode: "bridge",
					CPUs: cpus, Memory: mem, Labels: labelSets[j%10][min(j%3, 1)]},
				ID: fmt.Sprintf("%016x%016x%032x", i+1, j+1, 0), Node: nd.Addr, State: model.Running, Created: created,
			}
			// The swarm ID is the record's, not in its labels (Docker's
			// shape adds it): containers with the same labels share a map.
			c.SwarmID = fmt.Sprintf("%032x%032x", i+1, j+1)
			if j%3 == 0 {
				c.Rules = onFailure // shared: records never change
			}
			nd.Containers = append(nd.Containers, c)
		}
		nodes[i] = nd
	}
	return nodes
}
