package backend

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/jsonmessage"

	"swarmdeck/model"
)

// SimEngine is an in-process Docker engine: its containers "run" without
// processes. It answers like a real engine, and takes faults on demand:
// Crash makes every call fail as a refused connection does (kill -9 of a
// dockerd), Hang makes every call wait until its context ends or Heal is
// called (kill -STOP, or a partition).
type SimEngine struct {
	addr string

	mu         sync.Mutex
	info       EngineInfo
	containers map[string]*model.Container // by ID
	names      map[string]string           // container name (no slash) → ID; built at the first create or lookup by name (nameIndex)
	refs       map[string]bool             // image references already found valid
	present    map[string]bool             // image references already found among images (which only grow)
	images     []model.Image
	networks   map[string]model.Network // by ID
	subs       map[*simSub]struct{}
	changes    uint64          // bumped whenever containers or networks change
	nets       []model.Network // what Networks answered last, while netsAt == changes
	netsAt     uint64
	fault      simFault
	healed     chan struct{} // closed by Heal while hung
	now        func() time.Time
}

type simFault int

const (
	simOK simFault = iota
	simDown
	simHung
)

// simSub is one event stream. Its channel is small: events that find it
// full wait in backlog (grown only then, and dropped once drained) and a
// goroutine, started only while there is a backlog, feeds them in order.
// A stream more than simEventBuffer events behind breaks, as a real
// engine's does. 10,000 idle streams cost a few MiB instead of a
// 256-event channel each (184 MiB).
type simSub struct {
	ch      chan EngineEvent
	err     chan error
	done    <-chan struct{} // the stream's context ended
	backlog []EngineEvent   // oldest first; s.mu
	pumping bool            // a goroutine feeds backlog into ch; s.mu
	closed  bool            // its context ended: feed nothing more; s.mu
}

// Sizes of a simulated event stream: the channel, and the events it may
// fall behind in all before it breaks.
const (
	simEventChan   = 4
	simEventBuffer = 256
)

// NewSimEngine makes a simulated engine from a node description (a
// cluster file's node). Its containers start as the node lists them; a
// node described as unhealthy starts crashed, one described as pending
// starts hung.
func NewSimEngine(n *model.Node) *SimEngine {
	s := &SimEngine{
		addr:       n.Addr,
		info:       EngineInfo{ID: n.ID, Name: n.Name, Version: n.Version, CPUs: n.CPUs, Memory: n.Memory, Labels: maps.Clone(n.Labels)},
		containers: map[string]*model.Container{}, refs: map[string]bool{}, present: map[string]bool{}, networks: map[string]model.Network{},
		subs: map[*simSub]struct{}{}, now: time.Now,
	}
	if s.info.Version == "" {
		s.info.Version = "20.10.24-sim"
	}
	s.images = slices.Clone(n.Images)
	for _, c := range n.Containers {
		if c.Node != n.Addr || c.Created.IsZero() {
			cp := *c
			cp.Node = n.Addr
			if cp.Created.IsZero() {
				cp.Created = s.now()
			}
			c = &cp
		}
		// A description with nothing to fill in is shared, not copied
		// (GenerateNodes' 300,000 containers were 134 MiB of copies): the
		// caller must not change it afterwards, as with NewSnapshot.
		s.containers[c.ID] = c
	}
	switch n.Health {
	case model.Unhealthy:
		s.fault = simDown
	case model.Pending:
		s.fault, s.healed = simHung, make(chan struct{})
	}
	for _, name := range []string{"bridge", "host", "none"} {
		id := newID()
		driver := name
		if name == "none" {
			driver = "null"
		}
		s.networks[id] = model.Network{ID: id, Name: name, Node: n.Addr, Driver: driver, Scope: "local"}
	}
	return s
}

// Crash makes the engine refuse every call, as a dead dockerd does. Open
// event streams break. Its containers stay as they were, as a killed
// dockerd's keep running under their shims.
func (s *SimEngine) Crash() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.heal()
	s.fault = simDown
	for sub := range s.subs {
		sub.err <- ErrEngineDown
		delete(s.subs, sub)
	}
}

// Hang makes the engine answer nothing until Heal, as a stopped (SIGSTOP)
// or partitioned dockerd does. Event streams go silent.
func (s *SimEngine) Hang() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault != simHung {
		s.fault = simHung
		s.healed = make(chan struct{})
	}
}

// Heal ends a fault: the engine answers again, containers as they were.
func (s *SimEngine) Heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.heal()
}

func (s *SimEngine) heal() {
	if s.fault == simHung {
		close(s.healed)
	}
	s.fault = simOK
}

// Fault says what fault the engine is under: "", "down" or "hung".
func (s *SimEngine) Fault() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return [...]string{"", "down", "hung"}[s.fault]
}

// enter waits out a hang and fails a killed engine. It returns with s.mu
// held on success.
func (s *SimEngine) enter(ctx context.Context) error {
	for {
		s.mu.Lock()
		switch s.fault {
		case simOK:
			return nil
		case simDown:
			s.mu.Unlock()
			return ErrEngineDown
		}
		healed := s.healed
		s.mu.Unlock()
		select {
		case <-healed:
		case <-ctx.Done():
			return fmt.Errorf("engine %s: %w", s.addr, ctx.Err())
		}
	}
}

// Addr implements Engine.
func (s *SimEngine) Addr() string { return s.addr }

// Close implements Engine.
func (s *SimEngine) Close() error { return nil }

// Ping implements Engine.
func (s *SimEngine) Ping(ctx context.Context) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

// PingNow answers a ping without waiting, as the manager's heartbeat
// wheel asks: answered is false when the engine hangs (a ping would wait).
func (s *SimEngine) PingNow() (answered bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.fault {
	case simDown:
		return true, ErrEngineDown
	case simHung:
		return false, nil
	}
	return true, nil
}

// Info implements Engine.
func (s *SimEngine) Info(ctx context.Context) (EngineInfo, error) {
	if err := s.enter(ctx); err != nil {
		return EngineInfo{}, err
	}
	defer s.mu.Unlock()
	info := s.info
	info.Labels = maps.Clone(s.info.Labels)
	return info, nil
}

// Containers implements Engine.
func (s *SimEngine) Containers(ctx context.Context) ([]*model.Container, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	// Containers are replaced, never changed, once stored: readers share them.
	out := make([]*model.Container, 0, len(s.containers))
	for _, c := range s.containers {
		out = append(out, c)
	}
	return out, nil
}

// Inspect implements Engine.
func (s *SimEngine) Inspect(ctx context.Context, id string) (*model.Container, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return s.lookup(id)
}

// nameIndex is the engine's containers by name, built when first needed:
// 10,000 engines that are only listed (a manager's start) keep none
// (12 MiB for 300,000 containers). s.mu is held.
func (s *SimEngine) nameIndex() map[string]string {
	if s.names == nil {
		s.names = make(map[string]string, len(s.containers))
		for id, c := range s.containers {
			s.names[strings.TrimPrefix(c.Name, "/")] = id
		}
	}
	return s.names
}

// lookup finds a container by ID, ID prefix or name; s.mu is held.
func (s *SimEngine) lookup(id string) (*model.Container, error) {
	if c, ok := s.containers[id]; ok {
		return c, nil
	}
	if cid, ok := s.nameIndex()[strings.TrimPrefix(id, "/")]; ok {
		return s.containers[cid], nil
	}
	for _, c := range s.containers {
		if c.Name == strings.TrimPrefix(id, "/") || (len(id) >= 4 && strings.HasPrefix(c.ID, id)) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// Images implements Engine.
func (s *SimEngine) Images(ctx context.Context) ([]model.Image, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return slices.Clone(s.images), nil
}

// Networks implements Engine. The networks' container lists are shared
// by every answer until a container or a network changes: read them,
// never change them (a periodic refresh of an unchanged engine then costs
// no scan).
func (s *SimEngine) Networks(ctx context.Context) ([]model.Network, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if s.nets != nil && s.netsAt == s.changes {
		return slices.Clone(s.nets), nil
	}
	out := slices.Collect(maps.Values(s.networks))
	slices.SortFunc(out, func(a, b model.Network) int { return strings.Compare(a.Name, b.Name) })
	// As dockerd: a network lists the running containers attached to it.
	for i := range out {
		out[i].Containers = nil
		for _, c := range s.containers {
			mode := c.NetworkMode
			if mode == "" || mode == "default" {
				mode = "bridge"
			}
			if c.State == model.Running && (mode == out[i].Name || mode == out[i].ID) {
				out[i].Containers = append(out[i].Containers, c.ID)
			}
		}
		slices.Sort(out[i].Containers)
	}
	s.nets, s.netsAt = out, s.changes
	return slices.Clone(out), nil
}

// Events implements Engine.
func (s *SimEngine) Events(ctx context.Context) (<-chan EngineEvent, <-chan error) {
	sub := &simSub{ch: make(chan EngineEvent, simEventChan), err: make(chan error, 1), done: ctx.Done()}
	if err := s.enter(ctx); err != nil {
		sub.err <- err
		return sub.ch, sub.err
	}
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		s.unsubscribe(sub)
		s.mu.Unlock()
	}()
	return sub.ch, sub.err
}

// unsubscribe ends a stream whose reader is gone; s.mu is held.
func (s *SimEngine) unsubscribe(sub *simSub) {
	delete(s.subs, sub)
	sub.closed, sub.backlog = true, nil
}

// emit sends an event to every stream; s.mu is held. A stream that does
// not keep up loses the event and is told so by a break, as a real
// engine's would be.
func (s *SimEngine) emit(action, id string) {
	ev := EngineEvent{Type: "container", Action: action, ID: id, Time: s.now()}
	for sub := range s.subs {
		if len(sub.backlog) == 0 {
			select {
			case sub.ch <- ev:
				continue
			default:
			}
		}
		if len(sub.backlog) >= simEventBuffer-simEventChan {
			sub.err <- fmt.Errorf("event stream of %s fell behind", s.addr)
			delete(s.subs, sub) // what it holds is still delivered, as a channel's was
			continue
		}
		sub.backlog = append(sub.backlog, ev)
		if !sub.pumping {
			sub.pumping = true
			go s.pump(sub)
		}
	}
}

// pump feeds a stream's backlog into its channel, in order, and ends when
// the backlog is empty or the stream ends. An event leaves the backlog
// only once sent, so emit never overtakes it.
func (s *SimEngine) pump(sub *simSub) {
	for {
		s.mu.Lock()
		if sub.closed || len(sub.backlog) == 0 {
			sub.pumping, sub.backlog = false, nil
			s.mu.Unlock()
			return
		}
		ev := sub.backlog[0]
		s.mu.Unlock()
		select {
		case sub.ch <- ev:
		case <-sub.done:
		}
		s.mu.Lock()
		if !sub.closed && len(sub.backlog) > 0 {
			sub.backlog[0] = EngineEvent{}
			sub.backlog = sub.backlog[1:]
		}
		s.mu.Unlock()
	}
}

// Create implements Engine.
func (s *SimEngine) Create(ctx context.Context, spec CreateSpec) (string, error) {
	if err := s.enter(ctx); err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	cfg := spec.Config
	if err := model.CheckName(cfg.Name); err != nil {
		return "", err // as dockerd refuses it
	}
	if !s.refs[cfg.Image] {
		if _, err := reference.ParseAnyReference(cfg.Image); err != nil {
			return "", &model.InvalidError{Msg: err.Error()} // dockerd's words: invalid reference format…
		}
		s.refs[cfg.Image] = true
	}
	if !s.present[cfg.Image] {
		if !slices.ContainsFunc(s.images, func(im model.Image) bool { return ImageMatches(im, cfg.Image, false) }) {
			// As dockerd: the manager pulls it, then creates again.
			return "", &noImage{&EngineError{Code: http.StatusNotFound, Message: "No such image: " + cfg.Image}}
		}
		s.present[cfg.Image] = true // matching parses every tag: once per reference, not per create
	}
	cfg.Name = strings.TrimPrefix(cfg.Name, "/")
	id := newID()
	if cfg.Name == "" {
		cfg.Name = "sim_" + id[:8]
	}
	if other, ok := s.nameIndex()[cfg.Name]; ok {
		return "", fmt.Errorf("Conflict. The container name \"/%s\" is already in use by container %q", cfg.Name, other)
	}
	// The labels are the caller's: the manager makes a map for each
	// create and never changes it afterwards, so it is shared, not copied
	// (a million containers' worth of copies was 300 MiB).
	c := &model.Container{Config: cfg, ID: id, Node: s.addr, State: model.Created, Created: s.now()}
	c.SwarmID = cmp.Or(spec.SwarmID, c.Labels[model.LabelSwarmID])
	readRules(c)
	if spec.NanoCPUs > 0 {
		c.CPUs = model.MilliCPU(spec.NanoCPUs / 1e6)
	} else {
		c.CPUs = model.CPUsForShares(spec.CPUShares, s.info.CPUs)
	}
	s.containers[id] = c
	s.changes++
	s.names[cfg.Name] = id
	s.emit("create", id)
	return id, nil
}

// setState moves a container to a state and emits the event.
func (s *SimEngine) setState(ctx context.Context, id string, st model.State, action string) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	c, err := s.lookup(id)
	if err != nil {
		return err
	}
	cp := *c
	cp.State = st
	run := cp.RunInfo() // a copy: the old record's Run stays as it was
	if st == model.Running {
		run.Started = s.now()
	} else {
		run.Finished = s.now()
	}
	cp.SetRun(run)
	s.containers[c.ID] = &cp
	s.changes++
	s.emit(action, c.ID)
	return nil
}

// Start implements Engine.
func (s *SimEngine) Start(ctx context.Context, id string) error {
	return s.setState(ctx, id, model.Running, "start")
}

// Stop implements Engine.
func (s *SimEngine) Stop(ctx context.Context, id string, _ time.Duration) error {
	return s.setState(ctx, id, model.Exited, "die")
}

// Restart implements Engine.
func (s *SimEngine) Restart(ctx context.Context, id string, _ time.Duration) error {
	return s.setState(ctx, id, model.Running, "restart")
}

// Kill implements Engine (the container, not the engine).
func (s *SimEngine) Kill(ctx context.Context, id string) error {
	return s.setState(ctx, id, model.Exited, "die")
}

// Remove implements Engine.
func (s *SimEngine) Remove(ctx context.Context, id string, force bool) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	c, err := s.lookup(id)
	if err != nil {
		return err
	}
	if c.State == model.Running && !force {
		return fmt.Errorf("You cannot remove a running container %s. Stop the container before attempting removal or force remove", c.ID)
	}
	delete(s.containers, c.ID)
	s.changes++
	if s.names != nil {
		delete(s.names, strings.TrimPrefix(c.Name, "/"))
	}
	s.emit("destroy", c.ID)
	return nil
}

// Logs implements Engine: a simulated container says what it is.
func (s *SimEngine) Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	c, err := s.Inspect(ctx, id)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("simulated container %s (%s) on %s: no process runs here\n", c.Name, c.Image, s.addr)
	pr, pw := io.Pipe()
	go func() {
		_, err := io.WriteString(pw, text)
		if err == nil && follow {
			<-ctx.Done()
		}
		pw.Close()
	}()
	return pr, nil
}

// CreateNetwork implements Engine.
func (s *SimEngine) CreateNetwork(ctx context.Context, name string, opts network.CreateOptions) (string, error) {
	driver := opts.Driver
	if err := s.enter(ctx); err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	for _, n := range s.networks {
		if n.Name == name {
			return "", fmt.Errorf("network with name %s already exists", name)
		}
	}
	if driver == "" {
		driver = "bridge"
	}
	id := newID()
	s.networks[id] = model.Network{ID: id, Name: name, Node: s.addr, Driver: driver, Scope: "local"}
	s.changes++
	return id, nil
}

// RemoveNetwork implements Engine.
func (s *SimEngine) RemoveNetwork(ctx context.Context, id string) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for k, n := range s.networks {
		if n.ID == id || n.Name == id {
			delete(s.networks, k)
			s.changes++
			return nil
		}
	}
	return fmt.Errorf("network %s not found", id)
}

// newID is a random 64-hex-digit ID, as Docker and Swarm make them.
func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Pull implements Engine: the simulated registry has every image, one
// layer each, and the same ID on every node (derived from the
// reference). A hung or crashed engine fails the pull as a real one would.
func (s *SimEngine) Pull(ctx context.Context, ref string, opts image.PullOptions, progress func(jsonmessage.JSONMessage)) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return &model.InvalidError{Msg: err.Error()}
	}
	named = reference.TagNameOnly(named)
	tag := reference.FamiliarString(named)
	sum := sha256.Sum256([]byte(named.String()))
	id, layer := "sha256:"+hex.EncodeToString(sum[:]), hex.EncodeToString(sum[4:10])
	if err := s.enter(ctx); err != nil {
		return err
	}
	have := slices.ContainsFunc(s.images, func(im model.Image) bool { return im.ID == id })
	if !have {
		s.images = append(s.images, model.Image{ID: id, RepoTags: []string{tag}, Created: s.now().Unix(), Size: 1 << 20})
	}
	s.mu.Unlock()
	steps := []jsonmessage.JSONMessage{{ID: named.(reference.Tagged).Tag(), Status: "Pulling from " + reference.FamiliarName(named)}}
	if have {
		steps = append(steps, jsonmessage.JSONMessage{Status: "Status: Image is up to date for " + tag})
	} else {
		steps = append(steps,
			jsonmessage.JSONMessage{ID: layer, Status: "Pulling fs layer"},
			jsonmessage.JSONMessage{ID: layer, Status: "Download complete"},
			jsonmessage.JSONMessage{ID: layer, Status: "Pull complete"},
			jsonmessage.JSONMessage{Status: "Digest: " + id},
			jsonmessage.JSONMessage{Status: "Status: Downloaded newer image for " + tag})
	}
	for _, m := range steps {
		progress(m)
	}
	return nil
}
