package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"

	"swarmdeck/model"
)

// rawInspector is an engine that gives a container's inspect document in
// its own words. Real engines do; simulated ones are described from the
// model instead.
type rawInspector interface {
	InspectRaw(ctx context.Context, id string) ([]byte, error)
}

// InspectRaw implements rawInspector: the engine's document, unchanged.
func (d *DockerEngine) InspectRaw(ctx context.Context, id string) ([]byte, error) {
	_, raw, err := d.cli.ContainerInspectWithRaw(ctx, id, false)
	if err != nil {
		return nil, err
	}
	return raw, nil
}

// InspectDocument is what `docker inspect` shows of a container, indented:
// the engine's own document for a real engine, the same shape built from
// what the manager knows for a simulated one; Swarm's Node object is
// added last, as Swarm does. It calls the engine: never on a UI goroutine.
func (c *Cluster) InspectDocument(ctx context.Context, ref string) ([]byte, error) {
	ct, n, eng, err := c.Locate(ref)
	if err != nil {
		return nil, err
	}
	var raw []byte
	if ri, ok := eng.(rawInspector); ok {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		raw, err = ri.InspectRaw(cctx, ct.ID)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("inspect %s on %s: %w", describe(ct), n.Name, err)
		}
	} else if raw, err = json.Marshal(DockerInspect(ct)); err != nil {
		return nil, err
	}
	node, err := json.Marshal(map[string]any{"ID": n.ID, "IP": hostOf(n.Addr), "Addr": n.Addr, "Name": n.Name,
		"Cpus": n.CPUs, "Memory": n.Memory, "Labels": n.Labels})
	if err != nil {
		return nil, err
	}
	// Keep the engine's field order: add Node before the closing brace.
	raw = bytes.TrimRight(raw, " \n\r\t")
	if len(raw) < 2 || raw[len(raw)-1] != '}' {
		return nil, fmt.Errorf("inspect %s: the engine's answer is not a JSON object", describe(ct))
	}
	doc := append(append(append(raw[:len(raw)-1:len(raw)-1], `,"Node":`...), node...), '}')
	var out bytes.Buffer
	if err := json.Indent(&out, doc, "", "    "); err != nil {
		return nil, fmt.Errorf("inspect %s: %w", describe(ct), err)
	}
	return out.Bytes(), nil
}

// hostOf is the host part of an address.
func hostOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i]
		}
	}
	return addr
}

// DockerInspect is a container as Docker's inspect describes it, built
// from the model: the shape of a real engine's document, for engines that
// have none (simulated ones).
func DockerInspect(ct *model.Container) container.InspectResponse {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "0001-01-01T00:00:00Z"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	exposed := nat.PortSet{}
	for _, p := range ct.Expose {
		exposed[nat.Port(p)] = struct{}{}
	}
	pm := nat.PortMap{}
	for _, b := range ct.Ports {
		p := nat.Port(b.ContainerPort + "/" + b.Proto)
		exposed[p] = struct{}{}
		pm[p] = append(pm[p], nat.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort})
	}
	path, args := "", []string{}
	if len(ct.Cmd) > 0 {
		path, args = ct.Cmd[0], ct.Cmd[1:]
	}
	st := ct.State.String()
	hc := &container.HostConfig{NetworkMode: container.NetworkMode(ct.NetworkMode), PortBindings: pm,
		VolumesFrom: ct.VolumesFrom, Links: ct.Links}
	hc.Memory, hc.NanoCPUs = ct.Memory, int64(ct.CPUs)*1e6
	labels := ct.DockerLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	return container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			ID: ct.ID, Created: ts(ct.Created), Path: path, Args: args, Image: ct.Image, Name: "/" + ct.Name,
			State: &container.State{Status: container.ContainerState(st), Running: ct.State == model.Running,
				Paused: ct.State == model.Paused, ExitCode: ct.ExitCode(), StartedAt: ts(ct.Started()), FinishedAt: ts(ct.Finished())},
			HostConfig: hc, Driver: "overlay2", Platform: "linux",
		},
		Config: &container.Config{Image: ct.Image, Cmd: ct.Cmd, Env: ct.Env, Labels: labels, ExposedPorts: exposed,
			Hostname: model.ShortID(ct.ID)},
		NetworkSettings: &container.NetworkSettings{NetworkSettingsBase: container.NetworkSettingsBase{Ports: pm}},
		Mounts:          []container.MountPoint{},
	}
}
