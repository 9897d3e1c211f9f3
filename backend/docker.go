package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// TLS says how to reach engines over TLS, as the docker CLI does with
// DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: a folder with ca.pem, cert.pem
// and key.pem, or the three files named one by one.
type TLS struct {
	CA, Cert, Key string
}

// TLSFromCertPath is the TLS of a DOCKER_CERT_PATH folder.
func TLSFromCertPath(dir string) *TLS {
	return &TLS{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
}

// DockerEngine is a real Docker engine reached through the Docker SDK,
// with API version negotiation (it settles on 1.41 with dockerd 20.10).
type DockerEngine struct {
	addr string
	cli  *client.Client
	tls  bool
	cpus atomic.Int64 // the engine's CPUs, to read CPU shares back as CPUs
}

// NewDockerEngine connects lazily to the engine at addr: "host:port"
// (TCP), "tcp://host:port" or "unix:///path/docker.sock". tls may be nil;
// it applies to TCP engines only.
func NewDockerEngine(addr string, tls *TLS) (*DockerEngine, error) {
	host := addr
	if !strings.Contains(addr, "://") {
		host = "tcp://" + addr
	}
	opts := []client.Opt{client.WithHost(host), client.WithAPIVersionNegotiation()}
	if strings.HasPrefix(host, "unix://") {
		tls = nil // a local socket carries no TLS
	}
	if tls != nil {
		opts = append(opts, client.WithTLSClientConfig(tls.CA, tls.Cert, tls.Key))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("engine %s: %w", addr, err)
	}
	return &DockerEngine{addr: addr, cli: cli, tls: tls != nil}, nil
}

// Addr implements Engine.
func (d *DockerEngine) Addr() string { return d.addr }

// Close implements Engine.
func (d *DockerEngine) Close() error { return d.cli.Close() }

// Ping implements Engine.
func (d *DockerEngine) Ping(ctx context.Context) error {
	_, err := d.cli.Ping(ctx)
	return err
}

// Info implements Engine: `docker info` and `docker version`, with
// Swarm's label rules: built-in labels win over user labels, a user label
// named node is dropped, and a label without "=" fails the engine.
func (d *DockerEngine) Info(ctx context.Context) (EngineInfo, error) {
	info, err := d.cli.Info(ctx)
	if err != nil {
		return EngineInfo{}, err
	}
	if info.NCPU == 0 || info.MemTotal == 0 {
		return EngineInfo{}, fmt.Errorf("cannot get resources for this engine, make sure %s is a Docker Engine, not a Swarm manager", d.addr)
	}
	ei := EngineInfo{ID: info.ID, Name: info.Name, Version: info.ServerVersion, CPUs: info.NCPU, Memory: info.MemTotal}
	builtin := map[string]string{
		model.LabelStorageDriver: info.Driver, model.LabelKernelVersion: info.KernelVersion,
		model.LabelOperatingSystem: info.OperatingSystem, model.LabelOSType: info.OSType,
	}
	ei.Labels, ei.Warning, err = engineLabels(ei.ID, d.addr, info.Labels, builtin)
	if err != nil {
		return EngineInfo{}, err
	}
	d.cpus.Store(int64(info.NCPU))
	return ei, nil
}

// engineLabels merges user labels ("k=v") with the built-ins as Swarm
// 1.2.4+ did.
func engineLabels(id, addr string, user []string, builtin map[string]string) (map[string]string, string, error) {
	labels := map[string]string{}
	var warnings []string
	for _, l := range user {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, "", fmt.Errorf("Engine (ID: %s, Addr: %s) contains an invalid label (%s) not formatted as \"key=value\".", id, addr, l)
		}
		switch {
		case k == "node":
			warnings = append(warnings, "engine label node="+v+" is ignored: node is the node itself")
		case builtin[k] != "":
			warnings = append(warnings, "engine label "+k+" cannot override the built-in "+k+"="+builtin[k])
		default:
			labels[k] = v
		}
	}
	for k, v := range builtin {
		if v != "" {
			labels[k] = v
		}
	}
	return labels, strings.Join(warnings, "; "), nil
}

// Containers implements Engine: the list, then an inspect of each.
func (d *DockerEngine) Containers(ctx context.Context) ([]*model.Container, error) {
	list, err := d.cli.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	out := make([]*model.Container, 0, len(list))
	for _, s := range list {
		c, err := d.Inspect(ctx, s.ID)
		if errors.Is(err, ErrNotFound) {
			continue // removed in between
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Inspect implements Engine.
func (d *DockerEngine) Inspect(ctx context.Context, id string) (*model.Container, error) {
	in, err := d.cli.ContainerInspect(ctx, id)
	if cerrdefs.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	return fromInspect(in, d.addr, int(d.cpus.Load())), nil
}

// fromInspect is the one place Docker's container type becomes the model's.
func fromInspect(in container.InspectResponse, addr string, nodeCPUs int) *model.Container {
	c := &model.Container{ID: in.ID, Node: addr}
	if in.ContainerJSONBase == nil || in.Config == nil {
		return c
	}
	c.Name = strings.TrimPrefix(in.Name, "/")
	c.Image = in.Config.Image
	c.Cmd = in.Config.Cmd
	c.Env = in.Config.Env
	c.Labels = in.Config.Labels
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	c.SwarmID = c.Labels[model.LabelSwarmID]
	for p := range in.Config.ExposedPorts {
		c.Expose = append(c.Expose, string(p))
	}
	sort.Strings(c.Expose)
	if in.State != nil {
		c.State, _ = model.ParseState(in.State.Status)
		var run model.Run
		run.Started, _ = time.Parse(time.RFC3339Nano, in.State.StartedAt)
		run.Finished, _ = time.Parse(time.RFC3339Nano, in.State.FinishedAt)
		run.ExitCode = in.State.ExitCode
		c.SetRun(run)
	}
	c.Created, _ = time.Parse(time.RFC3339Nano, in.Created)
	if hc := in.HostConfig; hc != nil {
		c.NetworkMode = string(hc.NetworkMode)
		if c.NetworkMode == "default" {
			c.NetworkMode = "bridge"
		}
		c.Memory = hc.Memory
		if hc.NanoCPUs > 0 {
			c.CPUs = model.MilliCPU(hc.NanoCPUs / 1e6)
		} else {
			c.CPUs = model.CPUsForShares(hc.CPUShares, nodeCPUs)
		}
		c.VolumesFrom = hc.VolumesFrom
		c.Links = hc.Links
		c.Ports = bindings(hc.PortBindings)
	}
	if in.NetworkSettings != nil {
		for _, b := range bindings(in.NetworkSettings.Ports) {
			if !containsBinding(c.Ports, b) {
				c.Ports = append(c.Ports, b) // dynamically assigned host ports
			}
		}
		run := c.RunInfo()
		run.Endpoints = endpoints(in.ID, in.NetworkSettings.Networks)
		c.SetRun(run)
	}
	readRules(c)
	c.Raw = recreateBody(in)
	return c
}

// endpoints are a container's network attachments, by network name; the
// alias Docker adds itself (the short ID) is not the user's.
func endpoints(id string, nets map[string]*network.EndpointSettings) []model.Endpoint {
	var out []model.Endpoint
	for name, es := range nets {
		if es == nil {
			continue
		}
		ep := model.Endpoint{Network: name, NetworkID: es.NetworkID, IPv4: es.IPAddress}
		if es.IPAMConfig != nil {
			ep.AskedIPv4 = es.IPAMConfig.IPv4Address
		}
		for _, a := range es.Aliases {
			if a != model.ShortID(id) {
				ep.Aliases = append(ep.Aliases, a)
			}
		}
		out = append(out, ep)
	}
	slices.SortFunc(out, func(a, b model.Endpoint) int { return strings.Compare(a.Network, b.Network) })
	return out
}

// recreateBody is the create body that makes this container again,
// elsewhere: its Config and HostConfig as the engine reports them, as
// Swarm recreated a rescheduled container from the same config. Docker's
// default hostname (the short ID) does not travel.
func recreateBody(in container.InspectResponse) []byte {
	cfg := *in.Config
	if cfg.Hostname == model.ShortID(in.ID) {
		cfg.Hostname = ""
	}
	b, err := json.Marshal(container.CreateRequest{Config: &cfg, HostConfig: in.HostConfig})
	if err != nil {
		return nil
	}
	return b
}

// readRules fills a container's placement rules from its labels, where
// the manager keeps them (so a new manager reads them back).
func readRules(c *model.Container) {
	if !hasAnyLabel(c.Labels, model.LabelConstraints, model.LabelAffinities, model.LabelWhitelists, model.LabelReschedulePolicies) {
		c.Rules = nil // the usual container: no copy of its labels to find none
		return
	}
	_, rules := sched.ExtractExpressions(model.Config{Labels: c.Labels})
	c.SetRules(model.Rules{Constraints: rules[0], Affinities: rules[1], Whitelists: rules[2], Reschedule: rules[3]})
}

func bindings(pm nat.PortMap) []model.PortBinding {
	var out []model.PortBinding
	for p, bs := range pm {
		for _, b := range bs {
			out = append(out, model.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort, ContainerPort: p.Port(), Proto: p.Proto()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func containsBinding(bs []model.PortBinding, b model.PortBinding) bool {
	for _, x := range bs {
		if x.HostPort == b.HostPort && x.ContainerPort == b.ContainerPort && x.Proto == b.Proto {
			return true
		}
	}
	return false
}

// Images implements Engine.
func (d *DockerEngine) Images(ctx context.Context) ([]model.Image, error) {
	list, err := d.cli.ImageList(ctx, image.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]model.Image, len(list))
	for i, im := range list {
		out[i] = model.Image{ID: im.ID, RepoTags: im.RepoTags, RepoDigests: im.RepoDigests, Created: im.Created, Size: im.Size, Labels: im.Labels}
	}
	return out, nil
}

// Networks implements Engine.
func (d *DockerEngine) Networks(ctx context.Context) ([]model.Network, error) {
	list, err := d.cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]model.Network, len(list))
	for i, n := range list {
		out[i] = model.Network{ID: n.ID, Name: n.Name, Node: d.addr, Driver: n.Driver, Scope: n.Scope}
		if len(n.IPAM.Config) > 0 {
			out[i].Subnet = n.IPAM.Config[0].Subnet
		}
		// The list leaves the containers out (API 1.28 and up): inspect
		// each network for them, running ones, as a simulated engine lists.
		ins, err := d.cli.NetworkInspect(ctx, n.ID, network.InspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			continue // removed since the list
		case err != nil:
			return nil, err
		}
		for id := range ins.Containers {
			out[i].Containers = append(out[i].Containers, id)
		}
		slices.Sort(out[i].Containers)
	}
	return out, nil
}

// Events implements Engine.
func (d *DockerEngine) Events(ctx context.Context) (<-chan EngineEvent, <-chan error) {
	// Replayed from a second back: the request reaches the engine after
	// the caller's next calls may have, and nothing between is lost.
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	msgs, errs := d.cli.Events(ctx, events.ListOptions{Since: since})
	out := make(chan EngineEvent, 64)
	outErr := make(chan error, 1)
	go func() {
		defer close(out)
		for {
			select {
			case m := <-msgs:
				ev := EngineEvent{Type: string(m.Type), Action: string(m.Action), ID: m.Actor.ID, Time: time.Unix(0, m.TimeNano),
					Container: m.Actor.Attributes["container"]}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			case err := <-errs:
				if err == nil {
					err = io.EOF
				}
				outErr <- err
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, outErr
}

// Create implements Engine.
func (d *DockerEngine) Create(ctx context.Context, spec CreateSpec) (string, error) {
	cfg := spec.Config
	exposed := nat.PortSet{}
	for _, p := range cfg.Expose {
		exposed[nat.Port(p)] = struct{}{}
	}
	pm := nat.PortMap{}
	for _, b := range cfg.Ports {
		p := nat.Port(b.ContainerPort + "/" + b.Proto)
		exposed[p] = struct{}{}
		pm[p] = append(pm[p], nat.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort})
	}
	var req container.CreateRequest
	if cfg.Raw != nil {
		if err := json.Unmarshal(cfg.Raw, &req); err != nil {
			return "", fmt.Errorf("the create request: %w", err)
		}
	}
	if req.Config == nil {
		req.Config = &container.Config{}
	}
	if req.HostConfig == nil {
		req.HostConfig = &container.HostConfig{}
	}
	// What the manager decided wins: the image, command, env without the
	// placement rules, labels with them, ports, network and reservations.
	c, hc := req.Config, req.HostConfig
	labels := (&model.Container{Config: cfg, SwarmID: spec.SwarmID}).DockerLabels()
	c.Image, c.Env, c.Labels, c.ExposedPorts = cfg.Image, cfg.Env, labels, exposed
	if len(cfg.Cmd) > 0 || cfg.Raw == nil {
		c.Cmd = cfg.Cmd
	}
	hc.NetworkMode, hc.PortBindings, hc.VolumesFrom, hc.Links = container.NetworkMode(cfg.NetworkMode), pm, cfg.VolumesFrom, cfg.Links
	hc.Memory, hc.CPUShares, hc.NanoCPUs = cfg.Memory, spec.CPUShares, spec.NanoCPUs
	resp, err := d.cli.ContainerCreate(ctx, c, hc, req.NetworkingConfig, nil, cfg.Name)
	if cerrdefs.IsNotFound(err) && d.lacks(ctx, func(ctx context.Context) error { _, err := d.cli.ImageInspect(ctx, cfg.Image); return err }) {
		return "", &noImage{daemonError(err)}
	}
	if err != nil {
		return "", err
	}
	return resp.ID, nil
}

// Start implements Engine.
func (d *DockerEngine) Start(ctx context.Context, id string) error {
	return d.notFound(id, d.cli.ContainerStart(ctx, id, container.StartOptions{}))
}

// Stop implements Engine.
func (d *DockerEngine) Stop(ctx context.Context, id string, timeout time.Duration) error {
	secs := int(timeout.Seconds())
	return d.notFound(id, d.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}))
}

// Restart implements Engine.
func (d *DockerEngine) Restart(ctx context.Context, id string, timeout time.Duration) error {
	secs := int(timeout.Seconds())
	return d.notFound(id, d.cli.ContainerRestart(ctx, id, container.StopOptions{Timeout: &secs}))
}

// Kill implements Engine.
func (d *DockerEngine) Kill(ctx context.Context, id string) error {
	return d.notFound(id, d.cli.ContainerKill(ctx, id, "KILL"))
}

// Remove implements Engine.
func (d *DockerEngine) Remove(ctx context.Context, id string, force bool) error {
	return d.notFound(id, d.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: force, RemoveVolumes: force}))
}

// notFound turns the engine's 404 for a container that is not there into
// ErrNotFound. A 404 about something else (a network that does not
// exist…) keeps the engine's own words: the container is looked up again
// to tell which it was.
func (d *DockerEngine) notFound(id string, err error) error {
	if cerrdefs.IsNotFound(err) && d.lacks(context.Background(), func(ctx context.Context) error { _, err := d.cli.ContainerInspect(ctx, id); return err }) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return err
}

// lacks reports whether an inspect says the engine does not have the
// thing (a 404), within callTimeout.
func (d *DockerEngine) lacks(ctx context.Context, inspect func(context.Context) error) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	return cerrdefs.IsNotFound(inspect(ctx))
}

// HTTPClient is the client that reaches the engine, for proxying.
func (d *DockerEngine) HTTPClient() *http.Client { return d.cli.HTTPClient() }

// BaseURL is the engine's API root as the HTTP client addresses it.
func (d *DockerEngine) BaseURL() string {
	host := d.cli.DaemonHost()
	scheme := "http"
	if d.tls {
		scheme = "https"
	}
	if h, ok := strings.CutPrefix(host, "tcp://"); ok {
		return scheme + "://" + h
	}
	return scheme + "://docker" // a unix socket: the transport dials it
}

// Dial opens a raw connection to the engine, for hijacked streams (attach,
// exec).
func (d *DockerEngine) Dial(ctx context.Context) (net.Conn, error) { return d.cli.Dialer()(ctx) }

// Logs implements Engine: stdout and stderr as plain text, demultiplexed
// unless the container has a TTY.
func (d *DockerEngine) Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	in, err := d.cli.ContainerInspect(ctx, id)
	if err != nil {
		return nil, d.notFound(id, err)
	}
	rc, err := d.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow})
	if err != nil {
		return nil, d.notFound(id, err)
	}
	if in.Config != nil && in.Config.Tty {
		return rc, nil
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		rc.Close()
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// CreateNetwork implements Engine.
func (d *DockerEngine) CreateNetwork(ctx context.Context, name string, opts network.CreateOptions) (string, error) {
	resp, err := d.cli.NetworkCreate(ctx, name, opts)
	if err != nil {
		return "", daemonError(err) // the engine's words, once: the caller names the node
	}
	return resp.ID, nil
}

// ConnectNetwork implements Networker.
func (d *DockerEngine) ConnectNetwork(ctx context.Context, netID, containerID string, ep model.Endpoint) error {
	return d.cli.NetworkConnect(ctx, netID, containerID, endpointSettings(ep))
}

// DisconnectNetwork implements Networker.
func (d *DockerEngine) DisconnectNetwork(ctx context.Context, netID, ctr string, force bool) error {
	err := d.cli.NetworkDisconnect(ctx, netID, ctr, force)
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return err
}

// NetworkScope implements Networker.
func (d *DockerEngine) NetworkScope(ctx context.Context, netID string) (string, error) {
	nw, err := d.cli.NetworkInspect(ctx, netID, network.InspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return nw.Scope, err
}

// endpointSettings asks Docker for an attachment like ep: its aliases and
// the address its user asked for.
func endpointSettings(ep model.Endpoint) *network.EndpointSettings {
	es := &network.EndpointSettings{Aliases: ep.Aliases}
	if ep.AskedIPv4 != "" {
		es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ep.AskedIPv4}
	}
	return es
}

// RemoveNetwork implements Engine.
func (d *DockerEngine) RemoveNetwork(ctx context.Context, id string) error {
	if err := d.cli.NetworkRemove(ctx, id); err != nil {
		return daemonError(err) // the engine's words, once: the caller names the node
	}
	return nil
}
