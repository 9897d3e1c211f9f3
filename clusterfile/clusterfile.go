package clusterfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-connections/nat"
	"go.yaml.in/yaml/v3"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// File is a loaded cluster file.
type File struct {
	Path       string
	Strategy   string           // empty: spread
	Filters    []string         // nil: the default chain
	Overcommit model.Overcommit // percent
	Nodes      []*model.Node
}

// SchedConfig is the scheduler configuration the file asks for.
func (f *File) SchedConfig() sched.Config {
	return sched.Config{Strategy: f.Strategy, Filters: f.Filters, Overcommit: f.Overcommit}
}

// Error is a problem in a cluster file, at a line when one is known.
type Error struct {
	Path string
	Line int
	Msg  string

	typed bool // the decoder's type error: the document's syntax was read
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// at is a YAML value with the line it stands on.
type at[T any] struct {
	V    T
	Line int
	Set  bool
}

func (a *at[T]) UnmarshalYAML(n *yaml.Node) error {
	a.Line, a.Set = n.Line, true
	// A scalar read as a string without an explicit tag is its text, as
	// the decoder makes it; taking it here spares a decoder per value.
	if p, ok := any(&a.V).(*string); ok && n.Kind == yaml.ScalarNode && n.Style&yaml.TaggedStyle == 0 && n.Tag != "!!binary" {
		*p = n.Value
		return nil
	}
	return n.Decode(&a.V)
}

type rawFile struct {
	Strategy   at[string]   `yaml:"strategy"`
	Filters    at[[]string] `yaml:"filters"`
	Overcommit at[float64]  `yaml:"overcommit"`
	Nodes      []rawNode    `yaml:"nodes"`
}

type rawNode struct {
	Name       at[string]            `yaml:"name"`
	ID         at[string]            `yaml:"id"`
	Addr       at[string]            `yaml:"addr"`
	CPUs       at[float64]           `yaml:"cpus"` // float, so that 2.5 is refused rather than truncated
	Memory     at[string]            `yaml:"memory"`
	Labels     at[map[string]string] `yaml:"labels"`
	Health     at[string]            `yaml:"health"`
	Failures   at[float64]           `yaml:"failures"`
	Version    at[string]            `yaml:"version"`
	Images     at[[]string]          `yaml:"images"`
	Containers []rawContainer        `yaml:"containers"`
}

type rawContainer struct {
	Name    at[string]            `yaml:"name"`
	ID      at[string]            `yaml:"id"`
	Image   at[string]            `yaml:"image"`
	State   at[string]            `yaml:"state"`
	CPUs    at[string]            `yaml:"cpus"`
	Memory  at[string]            `yaml:"memory"`
	Labels  at[map[string]string] `yaml:"labels"`
	Env     at[[]string]          `yaml:"env"`
	Command at[[]string]          `yaml:"command"`
	Ports   at[[]string]          `yaml:"ports"`
	Network at[string]            `yaml:"network"`
	Expose  at[[]string]          `yaml:"expose"`
}

// Limits of one cluster file: past them it is refused with a clear error
// rather than held in memory.
const (
	MaxFileSize   = 64 << 20
	MaxNodes      = 100000
	MaxContainers = 1000000
)

// Load reads and checks the cluster file at path.
func Load(path string) (*File, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > MaxFileSize {
		return nil, tooBig(path, fi.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Path: path, Msg: "cannot read the cluster file: " + errors.Unwrap(err).Error()}
	}
	return Parse(path, data)
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// typeNames turns the decoder's Go type names into the file's words.
var typeNames = strings.NewReplacer(
	"in type clusterfile.rawFile", "at the top level (keys: strategy, filters, overcommit, nodes)",
	"in type clusterfile.rawNode", "in a node (keys: name, id, addr, cpus, memory, labels, health, failures, version, images, containers)",
	"in type clusterfile.rawContainer", "in a container (keys: name, id, image, state, cpus, memory, labels, env, command, ports, network, expose)",
)

func tooBig(path string, size int64) error {
	return &Error{Path: path, Msg: fmt.Sprintf("the file is %d MiB: a cluster file holds at most %d MiB", size>>20, MaxFileSize>>20)}
}

// Parse checks a cluster file's contents; path only names it in errors.
func Parse(path string, data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, tooBig(path, int64(len(data)))
	}
	if sp, ok := splitFile(data); ok {
		if f, err, done := parseStream(path, data, sp); done {
			return f, err
		}
	}
	return parseWhole(path, data)
}

// decodeDoc decodes the one YAML document of data strictly (unknown keys
// refused) into raw; lines in errors are shifted by base.
func decodeDoc(path string, data []byte, raw *rawFile) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(raw); err != nil {
		if errors.Is(err, io.EOF) {
			return &Error{Path: path, Msg: "the file is empty: a cluster file lists its nodes under nodes:"}
		}
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			// The parser names where the list began, not the line that
			// broke it; a key out of line with its item's is the usual
			// cause, and is found by its indentation.
			if line, ind, item, keys := misindented(data); line > 0 {
				return &Error{Path: path, Line: line, Msg: fmt.Sprintf("this line is indented %d spaces, but the keys of the item on line %d are indented %d: keys of one item line up", ind, item, keys)}
			}
		}
		return yamlError(path, data, err, 0)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		line := next.Line
		if err != nil {
			line = 0
		}
		return &Error{Path: path, Line: line, Msg: "a second YAML document (after ---): a cluster file is one document"}
	}
	return nil
}

// parseWhole decodes the whole document at once: the way for files that
// are not in the block layout splitNodes reads.
func parseWhole(path string, data []byte) (*File, error) {
	var raw rawFile
	if err := decodeDoc(path, data, &raw); err != nil {
		return nil, err
	}
	if len(raw.Nodes) > MaxNodes {
		return nil, tooMany(path, len(raw.Nodes))
	}
	containers := 0
	for _, n := range raw.Nodes {
		containers += len(n.Containers)
	}
	if containers > MaxContainers {
		return nil, tooManyContainers(path)
	}
	p := newParser(path, len(raw.Nodes), containers)
	f, err := p.settings(&raw, len(raw.Nodes))
	if err != nil {
		return nil, err
	}
	f.Nodes = make([]*model.Node, 0, len(raw.Nodes))
	for i := range raw.Nodes {
		n, err := p.node(&raw.Nodes[i], i)
		if err != nil {
			return nil, err
		}
		f.Nodes = append(f.Nodes, n)
	}
	return f, nil
}

// parseStream decodes the settings from the header, then the nodes' items
// a group at a time (itemGroup). done is false when the file must be decoded whole: a syntax
// error, which a construct left open across items (a flow collection or a
// quoted string spanning lines, an alias of an anchor in another node) can
// cause, is worded from the whole document. Items are decoded on a
// goroutine of their own, a few nodes ahead of the checks, which stay in
// file order: the first error in the file wins.
func parseStream(path string, data []byte, sp split) (f *File, err error, done bool) {
	items := sp.items
	var raw rawFile
	if err := decodeDoc(path, sp.header, &raw); err != nil {
		var fe *Error
		if !errors.As(err, &fe) || !fe.typed {
			return nil, nil, false
		}
		// A type error in the settings is the file's only if the items
		// read as items: a quoted string or flow collection left open in
		// the last item would have swallowed the lines the header holds.
		return nil, err, itemsReadOnTheirOwn(data, sp)
	}
	if raw.Nodes != nil {
		return nil, nil, false // more entries of nodes: than the items found
	}
	if len(items) > MaxNodes {
		return nil, tooMany(path, len(items)), true
	}
	p := newParser(path, len(items), min(sp.entries, MaxContainers))
	if f, err = p.settings(&raw, len(items)); err != nil {
		return nil, err, true
	}
	type decoded struct {
		rs  []rawNode
		err error // a type error, lines already moved
		own bool  // false: the items cannot be read on their own
	}
	out := make(chan decoded, 4)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(out)
		// Items are decoded a group at a time, which costs one decoder
		// per group rather than per node.
		for g := 0; g < len(items); g += itemGroup {
			group := items[g:min(g+itemGroup, len(items))]
			first := group[0]
			d := decoded{own: true}
			var te *yaml.TypeError
			switch err := decodeItems(groupText(data, sp, group), &d.rs); {
			case len(d.rs) != len(group):
				d.own = false // the text is not one item per item found
			case errors.As(err, &te):
				d.err = yamlError(path, data, err, first.line-1)
			case err != nil:
				d.own = false
			default:
				for i := range d.rs {
					d.rs[i].shift(first.line - 1)
				}
			}
			select {
			case out <- d:
			case <-stop:
				return
			}
			if d.err != nil || !d.own {
				return
			}
		}
	}()
	f.Nodes = make([]*model.Node, 0, len(items))
	containers := 0
	for d := range out {
		switch {
		case !d.own:
			return nil, nil, false
		case d.err != nil:
			return nil, d.err, true
		}
		for i := range d.rs {
			r := &d.rs[i]
			if containers += len(r.Containers); containers > MaxContainers {
				return nil, tooManyContainers(path), true
			}
			n, err := p.node(r, len(f.Nodes))
			if err != nil {
				return nil, err, true
			}
			f.Nodes = append(f.Nodes, n)
		}
	}
	return f, nil, true
}

// itemGroup is how many nodes' items are decoded together.
const itemGroup = 64

// groupText is the text of a group of items: for JSON, the elements and
// the commas between them bracketed into a flow sequence on the same lines.
func groupText(data []byte, sp split, group []item) []byte {
	text := data[group[0].start:group[len(group)-1].end]
	if sp.flow {
		return slices.Concat([]byte("["), text, []byte("]"))
	}
	return text
}

// decodeItems decodes a group's text strictly into rs.
func decodeItems(text []byte, rs *[]rawNode) error {
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	return dec.Decode(rs)
}

// itemsReadOnTheirOwn reports whether every group of items decodes as
// that many items, without a syntax error: whether the cut was where the
// YAML parser would have cut.
func itemsReadOnTheirOwn(data []byte, sp split) bool {
	var te *yaml.TypeError
	for g := 0; g < len(sp.items); g += itemGroup {
		group := sp.items[g:min(g+itemGroup, len(sp.items))]
		var rs []rawNode
		if err := decodeItems(groupText(data, sp, group), &rs); (err != nil && !errors.As(err, &te)) || len(rs) != len(group) {
			return false
		}
	}
	return true
}

func tooMany(path string, nodes int) error {
	return &Error{Path: path, Msg: fmt.Sprintf("%d nodes: a cluster file lists at most %d", nodes, MaxNodes)}
}

func tooManyContainers(path string) error {
	return &Error{Path: path, Msg: fmt.Sprintf("more than %d containers: a cluster file lists at most %d", MaxContainers, MaxContainers)}
}

func (a *at[T]) shift(d int) {
	if a.Set {
		a.Line += d
	}
}

// shift moves every line of r by d: an item decoded on its own counts its
// lines from 1.
func (r *rawNode) shift(d int) {
	if d == 0 {
		return
	}
	r.Name.shift(d)
	r.ID.shift(d)
	r.Addr.shift(d)
	r.CPUs.shift(d)
	r.Memory.shift(d)
	r.Labels.shift(d)
	r.Health.shift(d)
	r.Failures.shift(d)
	r.Version.shift(d)
	r.Images.shift(d)
	for i := range r.Containers {
		c := &r.Containers[i]
		c.Name.shift(d)
		c.ID.shift(d)
		c.Image.shift(d)
		c.State.shift(d)
		c.CPUs.shift(d)
		c.Memory.shift(d)
		c.Labels.shift(d)
		c.Env.shift(d)
		c.Command.shift(d)
		c.Ports.shift(d)
		c.Network.shift(d)
		c.Expose.shift(d)
	}
}

// yamlError turns the decoder's error into the file's words, its line
// moved by base. A value of the wrong type is named by its key, read from
// that line of file (the decoder says only "cannot unmarshal !!str `lots`
// into float64").
func yamlError(path string, file []byte, err error, base int) error {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	typed := errors.As(err, &te)
	if typed {
		msgs = te.Errors
	}
	first := strings.TrimPrefix(msgs[0], "yaml: ")
	if m := yamlLine.FindStringSubmatch(first); m != nil {
		line, _ := strconv.Atoi(m[1])
		msg := typeNames.Replace(m[2])
		if key := keyOnLine(file, line+base); typed && key != "" && strings.HasPrefix(msg, "cannot unmarshal") {
			msg = key + ": " + msg
		}
		return &Error{Path: path, Line: line + base, Msg: msg, typed: typed}
	}
	return &Error{Path: path, Msg: typeNames.Replace(first), typed: typed}
}

// yamlKey is a block mapping's key at the start of a line ("  cpus: x",
// "- name: a").
var yamlKey = regexp.MustCompile(`^\s*(?:-\s+)?([A-Za-z_][A-Za-z0-9_-]*)\s*:(?:\s|$)`)

// keyOnLine is the key that line n (from 1) of file begins with, or "".
func keyOnLine(file []byte, n int) string {
	for i := 1; i < n && len(file) > 0; i++ {
		_, file, _ = bytes.Cut(file, []byte("\n"))
	}
	line, _, _ := bytes.Cut(file, []byte("\n"))
	if m := yamlKey.FindSubmatch(line); m != nil {
		return string(m[1])
	}
	return ""
}

type parser struct {
	path      string
	names     map[string]int // container name → line
	addrs     map[string]int // node address → line
	nodeNames map[string]int // node name → line
	ids       map[string]int // container ID → line
	over      model.Overcommit
}

func (p *parser) errf(line int, format string, args ...any) error {
	return &Error{Path: p.path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// newParser sizes its maps for the nodes and containers expected.
func newParser(path string, nodes, containers int) *parser {
	return &parser{path: path, names: make(map[string]int, containers), addrs: make(map[string]int, nodes),
		nodeNames: make(map[string]int, nodes), ids: make(map[string]int, containers)}
}

// settings checks the file's scheduler settings; nodes is how many nodes
// the file lists.
func (p *parser) settings(raw *rawFile, nodes int) (*File, error) {
	f := &File{Path: p.path, Strategy: raw.Strategy.V, Overcommit: model.DefaultOvercommit}
	if raw.Filters.Set {
		f.Filters = raw.Filters.V
		if f.Filters == nil {
			f.Filters = []string{}
		}
	}
	if raw.Overcommit.Set {
		o, err := model.NewOvercommit(raw.Overcommit.V)
		if err != nil {
			return nil, p.errf(raw.Overcommit.Line, "overcommit: %v", err)
		}
		f.Overcommit = o
	}
	p.over = f.Overcommit
	if _, err := sched.New(f.SchedConfig()); err != nil {
		line := raw.Strategy.Line
		if strings.HasPrefix(err.Error(), "filter") {
			line = raw.Filters.Line
		}
		return nil, p.errf(line, "%v", err)
	}
	if nodes == 0 {
		return nil, &Error{Path: p.path, Msg: "no nodes: a cluster file lists at least one node under nodes:"}
	}
	return f, nil
}

func (p *parser) node(r *rawNode, i int) (*model.Node, error) {
	line := r.Name.Line
	if !r.Name.Set || strings.TrimSpace(r.Name.V) == "" {
		return nil, p.errf(firstLine(r.Name.Line, r.CPUs.Line, r.Memory.Line), "node %d has no name", i+1)
	}
	if err := model.CheckNodeName(r.Name.V); err != nil {
		return nil, p.errf(line, "node %d: %v", i+1, err)
	}
	n := &model.Node{Name: r.Name.V, ID: r.ID.V, Addr: r.Addr.V, Version: r.Version.V, Health: model.Healthy}
	if n.ID == "" {
		n.ID = n.Name
	}
	if n.Addr == "" {
		n.Addr = n.Name
	}
	if prev, dup := p.nodeNames[n.Name]; dup {
		return nil, p.errf(line, "node name %s is already the name of the node on line %d: node names are unique", n.Name, prev)
	}
	p.nodeNames[n.Name] = line
	if prev, dup := p.addrs[n.Addr]; dup {
		return nil, p.errf(firstLine(r.Addr.Line, line), "node %s: address %s is already the address of the node on line %d", n.Name, n.Addr, prev)
	}
	p.addrs[n.Addr] = line
	if !r.CPUs.Set || !whole(r.CPUs.V) || r.CPUs.V <= 0 || r.CPUs.V > model.MaxCPUs {
		return nil, p.errf(firstLine(r.CPUs.Line, line), "node %s: cpus must be a whole number from 1 to %d", n.Name, model.MaxCPUs)
	}
	n.CPUs = int(r.CPUs.V)
	if !r.Memory.Set {
		return nil, p.errf(line, "node %s: memory is missing (bytes or a size such as 8GiB)", n.Name)
	}
	mem, err := model.ParseBytes(r.Memory.V)
	if err != nil || mem == 0 {
		return nil, p.errf(r.Memory.Line, "node %s: memory: %s", n.Name, orZero(err))
	}
	n.Memory = mem
	n.Labels = map[string]string{}
	for k, v := range r.Labels.V {
		if k == "node" {
			return nil, p.errf(r.Labels.Line, "node %s: label node is reserved: constraint:node== matches the node's name and ID", n.Name)
		}
		n.Labels[k] = v
	}
	if r.Health.Set {
		h, err := model.ParseHealth(r.Health.V)
		if err != nil || h == model.Disconnected {
			return nil, p.errf(r.Health.Line, "node %s: health %q: want healthy, unhealthy or pending", n.Name, r.Health.V)
		}
		n.Health = h
	}
	if r.Failures.V < 0 || !whole(r.Failures.V) {
		return nil, p.errf(r.Failures.Line, "node %s: failures must be a whole number, 0 or more", n.Name)
	}
	n.Failures = int(r.Failures.V)
	for _, ref := range r.Images.V {
		n.Images = addImage(n.Images, ref)
	}
	for j := range r.Containers {
		c, err := p.container(&r.Containers[j], n)
		if err != nil {
			return nil, err
		}
		n.Images = addImage(n.Images, c.Image)
		n.Containers = append(n.Containers, c)
		if cpus, mem := n.Reserved(); cpus > n.TotalCPUs(p.over) || mem > n.TotalMemory(p.over) {
			rc := &r.Containers[j]
			return nil, p.errf(firstLine(rc.Name.Line, rc.Image.Line, rc.State.Line),
				"container %s on node %s: the node's containers would reserve %s CPUs and %s, more than its %s CPUs and %s (with %d%% overcommit)",
				orUnnamed(c.Name), n.Name, cpus, model.FormatBytes(mem), n.TotalCPUs(p.over), model.FormatBytes(n.TotalMemory(p.over)), int64(p.over))
		}
	}
	return n, nil
}

func (p *parser) container(r *rawContainer, n *model.Node) (*model.Container, error) {
	line := firstLine(r.Name.Line, r.Image.Line, r.State.Line)
	name := strings.TrimPrefix(r.Name.V, "/")
	if !r.Image.Set || r.Image.V == "" {
		return nil, p.errf(line, "container %s on node %s has no image", orUnnamed(name), n.Name)
	}
	cfg := model.Config{
		Name:        name,
		Image:       r.Image.V,
		Cmd:         r.Command.V,
		Env:         r.Env.V,
		Labels:      r.Labels.V,
		NetworkMode: r.Network.V,
	}
	if cfg.NetworkMode == "" {
		cfg.NetworkMode = "bridge"
	}
	if err := model.CheckName(name); err != nil {
		return nil, p.errf(line, "container %s: %v", name, err)
	}
	if name != "" {
		if prev, dup := p.names[name]; dup {
			return nil, p.errf(line, "container name %s is already used on line %d: names are unique in the cluster", name, prev)
		}
		p.names[name] = line
	}
	var err error
	if r.CPUs.Set {
		if cfg.CPUs, err = model.ParseCPUs(r.CPUs.V, 0); err != nil {
			return nil, p.errf(r.CPUs.Line, "container %s: cpus: %v", orUnnamed(name), err)
		}
	}
	if r.Memory.Set {
		if cfg.Memory, err = model.ParseBytes(r.Memory.V); err != nil {
			return nil, p.errf(r.Memory.Line, "container %s: memory: %v", orUnnamed(name), err)
		}
	}
	if cfg.Ports, err = ParsePorts(r.Ports.V); err != nil {
		return nil, p.errf(r.Ports.Line, "container %s: ports: %v", orUnnamed(name), err)
	}
	if cfg.Expose, err = ParseExpose(r.Expose.V); err != nil {
		return nil, p.errf(r.Expose.Line, "container %s: expose: %v", orUnnamed(name), err)
	}
	req, err := sched.NewRequest(cfg)
	if err != nil {
		return nil, p.errf(firstLine(r.Labels.Line, r.Env.Line, line), "container %s: %v", orUnnamed(name), err)
	}
	c := &model.Container{Config: req.Config, Node: n.Addr, State: model.Running}
	if r.State.Set {
		if c.State, err = model.ParseState(r.State.V); err != nil {
			return nil, p.errf(r.State.Line, "container %s: %v", orUnnamed(name), err)
		}
	}
	c.ID = r.ID.V
	if c.ID == "" {
		c.ID = hash(n.Addr + "/" + name + "/" + strconv.Itoa(len(n.Containers)))
	}
	if prev, dup := p.ids[c.ID]; dup {
		return nil, p.errf(firstLine(r.ID.Line, line), "container id %s is already used on line %d: container ids are unique in the cluster", c.ID, prev)
	}
	p.ids[c.ID] = firstLine(r.ID.Line, line)
	c.SwarmID = c.Labels[model.LabelSwarmID]
	if c.SwarmID == "" {
		c.SwarmID = hash("swarm/" + c.ID)
		c.Labels[model.LabelSwarmID] = c.SwarmID
	}
	rules := model.Rules{Constraints: exprStrings(req.Constraints), Affinities: exprStrings(req.Affinities), Whitelists: exprStrings(req.Whitelists)}
	if req.Reschedule != "" {
		rules.Reschedule = []string{req.Reschedule}
	}
	c.SetRules(rules)
	return c, nil
}

// ParsePorts reads port bindings in `docker run -p` syntax:
// "80:80", "127.0.0.1:53:53/udp", "8080-8081:80-81", "80".
func ParsePorts(specs []string) ([]model.PortBinding, error) {
	var out []model.PortBinding
	for _, s := range specs {
		ms, err := nat.ParsePortSpec(s)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", s, err)
		}
		for _, m := range ms {
			out = append(out, model.PortBinding{HostIP: m.Binding.HostIP, HostPort: m.Binding.HostPort,
				ContainerPort: m.Port.Port(), Proto: m.Port.Proto()})
		}
	}
	return out, nil
}

// ParseExpose reads exposed ports as `docker run --expose` does, giving
// "80/tcp" for "80"; ranges expand.
func ParseExpose(specs []string) ([]string, error) {
	var out []string
	for _, s := range specs {
		proto, port := nat.SplitProtoPort(s)
		lo, hi, err := nat.ParsePortRangeToInt(port)
		if err != nil || lo == 0 {
			return nil, fmt.Errorf("invalid port %q: want a port such as 80 or 80/udp", s)
		}
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return nil, fmt.Errorf("invalid protocol in %q: want tcp, udp or sctp", s)
		}
		for p := lo; p <= hi; p++ {
			out = append(out, strconv.Itoa(p)+"/"+proto)
		}
	}
	return out, nil
}

func exprStrings(es []*sched.Expr) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Raw
	}
	return out
}

func addImage(ims []model.Image, ref string) []model.Image {
	tag := ref
	if i := strings.LastIndexByte(ref, ':'); i <= strings.LastIndexByte(ref, '/') {
		tag = ref + ":latest"
	}
	for _, im := range ims {
		for _, t := range im.RepoTags {
			if t == tag {
				return ims
			}
		}
	}
	return append(ims, model.Image{ID: "sha256:" + hash("image/"+tag), RepoTags: []string{tag}})
}

// hash makes a stable 64-hex-digit ID from s, so a file always yields the
// same IDs.
func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// whole reports whether f is an integer a node count can hold.
func whole(f float64) bool { return f == math.Trunc(f) && math.Abs(f) < 1<<31 }

func firstLine(lines ...int) int {
	for _, l := range lines {
		if l > 0 {
			return l
		}
	}
	return 0
}

func orZero(err error) string {
	if err != nil {
		return err.Error()
	}
	return "must be above 0"
}

func orUnnamed(name string) string {
	if name == "" {
		return "(unnamed)"
	}
	return name
}
