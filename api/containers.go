package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	units "github.com/docker/go-units"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// configFrom reads a Docker create body into the model's config, with
// Swarm's meaning of CpuShares (a number of CPUs); the body itself rides
// along so the engine gets everything else it says.
func configFrom(body []byte, name string) (model.Config, error) {
	var req container.CreateRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return model.Config{}, fmt.Errorf("%w: the create request is not JSON: %v", errBadRequest, err)
	}
	if req.Config == nil || req.Image == "" {
		return model.Config{}, fmt.Errorf("%w: the create request names no image", errBadRequest)
	}
	cfg := model.Config{Name: strings.TrimPrefix(name, "/"), Image: req.Image, Cmd: req.Cmd, Env: req.Env,
		Labels: req.Labels, NetworkMode: "bridge", Raw: body}
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	for p := range req.ExposedPorts {
		cfg.Expose = append(cfg.Expose, string(p))
	}
	sort.Strings(cfg.Expose)
	if hc := req.HostConfig; hc != nil {
		// "default" stays as the client sent it: its endpoint settings are
		// keyed by it, and the engine knows what it means.
		if m := string(hc.NetworkMode); m != "" {
			cfg.NetworkMode = m
		}
		for p, bs := range hc.PortBindings {
			for _, b := range bs {
				cfg.Ports = append(cfg.Ports, model.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort, ContainerPort: p.Port(), Proto: p.Proto()})
			}
		}
		cfg.VolumesFrom, cfg.Links, cfg.Memory = hc.VolumesFrom, hc.Links, hc.Memory
		switch {
		case hc.NanoCPUs > 0:
			cfg.CPUs = model.MilliCPU(hc.NanoCPUs / 1e6)
		case hc.CPUShares > 0:
			cfg.CPUs = model.CPUs(int(hc.CPUShares)) // Swarm: -c is a number of CPUs
		}
	}
	return cfg, nil
}

func (s *Server) createContainer(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		writeError(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	cfg, err := configFrom(body, r.URL.Query().Get("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	ct, err := s.c.Create(r.Context(), cfg)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"Id": ct.ID, "Warnings": []string{}})
}

// portJSON and summary are `docker ps`'s shapes.
type portJSON struct {
	IP          string `json:"IP,omitempty"`
	PrivatePort uint16 `json:"PrivatePort"`
	PublicPort  uint16 `json:"PublicPort,omitempty"`
	Type        string `json:"Type"`
}

type summary struct {
	ID              string            `json:"Id"`
	Names           []string          `json:"Names"`
	Image           string            `json:"Image"`
	ImageID         string            `json:"ImageID"`
	Command         string            `json:"Command"`
	Created         int64             `json:"Created"`
	Ports           []portJSON        `json:"Ports"`
	Labels          map[string]string `json:"Labels"`
	State           string            `json:"State"`
	Status          string            `json:"Status"`
	HostConfig      map[string]string `json:"HostConfig"`
	NetworkSettings map[string]any    `json:"NetworkSettings"`
	Mounts          []any             `json:"Mounts"`
}

// listContainers is `docker ps`: names as node/name, Host Down for
// containers of an unhealthy node (shown with -a), Swarm's node= filter.
func (s *Server) listContainers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := parseFilters(q.Get("filters"))
	if err != nil {
		writeError(w, err)
		return
	}
	all := boolParam(r, "all") || q.Get("limit") != "" || q.Get("before") != "" || slices.Contains(f["status"], "exited")
	now := time.Now()
	var out []summary
	for _, n := range s.c.Nodes() {
		if n.Health == model.Pending {
			continue
		}
		down := n.Health != model.Healthy
		if len(f["node"]) > 0 && !slices.Contains(f["node"], n.Name) {
			continue
		}
		for _, c := range n.Containers {
			if c.ID == "" || (!all && (down || c.State != model.Running)) || !matches(f, c) {
				continue
			}
			out = append(out, summarize(c, n, down, now))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created > out[j].Created })
	if limit, err := strconv.Atoi(q.Get("limit")); err == nil && limit > 0 && limit < len(out) {
		out = out[:limit]
	}
	if out == nil {
		out = []summary{}
	}
	writeJSON(w, http.StatusOK, out)
}

func summarize(c *model.Container, n *model.Node, down bool, now time.Time) summary {
	sm := summary{ID: c.ID, Names: []string{"/" + n.Name + "/" + c.Name}, Image: c.Image, Command: strings.Join(c.Cmd, " "),
		Created: c.Created.Unix(), Labels: c.Labels, State: c.State.String(), Status: statusText(c, down, now),
		HostConfig: map[string]string{"NetworkMode": c.NetworkMode}, NetworkSettings: map[string]any{"Networks": map[string]any{}},
		Mounts: []any{}, Ports: []portJSON{}}
	ip := hostOf(n.Addr)
	for _, p := range c.Ports {
		cp, _ := strconv.Atoi(p.ContainerPort)
		hp, _ := strconv.Atoi(p.HostPort)
		host := p.HostIP
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = ip
		}
		pj := portJSON{PrivatePort: uint16(cp), Type: p.Proto}
		if p.HostPort != "" {
			pj.IP, pj.PublicPort = host, uint16(hp)
		}
		sm.Ports = append(sm.Ports, pj)
	}
	return sm
}

// statusText is docker's Status column, or Host Down.
func statusText(c *model.Container, down bool, now time.Time) string {
	switch {
	case down:
		return "Host Down"
	case c.State == model.Running:
		return "Up " + units.HumanDuration(now.Sub(startedOr(c)))
	case c.State == model.Paused:
		return "Up " + units.HumanDuration(now.Sub(startedOr(c))) + " (Paused)"
	case c.State == model.Exited:
		if c.Finished.IsZero() {
			return fmt.Sprintf("Exited (%d)", c.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s ago", c.ExitCode, units.HumanDuration(now.Sub(c.Finished)))
	}
	return "Created"
}

func startedOr(c *model.Container) time.Time {
	if c.Started.IsZero() {
		return c.Created
	}
	return c.Started
}

// parseFilters reads Docker's filters: {"k":["v"]} or the older {"k":{"v":true}}.
func parseFilters(s string) (map[string][]string, error) {
	out := map[string][]string{}
	if s == "" {
		return out, nil
	}
	var lists map[string][]string
	if json.Unmarshal([]byte(s), &lists) == nil {
		return lists, nil
	}
	var sets map[string]map[string]bool
	if err := json.Unmarshal([]byte(s), &sets); err != nil {
		return nil, fmt.Errorf("%w: invalid filters %q", errBadRequest, s)
	}
	for k, vs := range sets {
		for v := range vs {
			out[k] = append(out[k], v)
		}
	}
	return out, nil
}

// matches applies ps filters other than node=.
func matches(f map[string][]string, c *model.Container) bool {
	for _, name := range f["name"] {
		if !strings.Contains(c.Name, strings.TrimPrefix(name, "/")) {
			return false
		}
	}
	for _, id := range f["id"] {
		if !strings.HasPrefix(c.ID, id) {
			return false
		}
	}
	for _, l := range f["label"] {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := c.Labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	if st := f["status"]; len(st) > 0 && !slices.Contains(st, c.State.String()) {
		return false
	}
	return true
}

// inspectContainer is the engine's inspect, with Swarm's Node object.
func (s *Server) inspectContainer(w http.ResponseWriter, r *http.Request) {
	ct, n, eng, err := s.c.Locate(r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	node := map[string]any{"ID": n.ID, "IP": hostOf(n.Addr), "Addr": n.Addr, "Name": n.Name, "Cpus": n.CPUs, "Memory": n.Memory, "Labels": n.Labels}
	var doc map[string]any
	if p, ok := eng.(backend.Proxied); ok {
		resp, err := get(r, p, "/containers/"+ct.ID+"/json")
		if err != nil {
			writeError(w, err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			passThrough(w, resp)
			return
		}
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			writeError(w, err)
			return
		}
	} else {
		b, _ := json.Marshal(ct)
		json.Unmarshal(b, &doc)
		doc["Id"], doc["Name"] = ct.ID, "/"+ct.Name
		doc["State"] = map[string]any{"Status": ct.State.String(), "Running": ct.State == model.Running}
		doc["Config"] = map[string]any{"Image": ct.Image, "Cmd": ct.Cmd, "Env": ct.Env, "Labels": ct.Labels}
	}
	doc["Node"] = node
	writeJSON(w, http.StatusOK, doc)
}

func (s *Server) startContainer(w http.ResponseWriter, r *http.Request) {
	s.act(w, s.c.Start(r.Context(), r.PathValue("name")))
}

func (s *Server) stopContainer(w http.ResponseWriter, r *http.Request) {
	s.act(w, s.c.Stop(r.Context(), r.PathValue("name"), timeout(r)))
}

func (s *Server) restartContainer(w http.ResponseWriter, r *http.Request) {
	s.act(w, s.c.Restart(r.Context(), r.PathValue("name"), timeout(r)))
}

func (s *Server) removeContainer(w http.ResponseWriter, r *http.Request) {
	s.act(w, s.c.Remove(r.Context(), r.PathValue("name"), boolParam(r, "force")))
}

func timeout(r *http.Request) time.Duration {
	if t, err := strconv.Atoi(r.URL.Query().Get("t")); err == nil && t >= 0 {
		return time.Duration(t) * time.Second
	}
	return 10 * time.Second
}

func (s *Server) act(w http.ResponseWriter, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// renameContainer checks the new name across the cluster, then renames
// on the engine.
func (s *Server) renameContainer(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Query().Get("name"), "/")
	if name == "" {
		writeError(w, fmt.Errorf("%w: rename needs a name", errBadRequest))
		return
	}
	if s.c.NameInUse(name) {
		writeError(w, model.NameConflict(name))
		return
	}
	s.proxyContainer(w, r)
}

// updateContainer checks new CPU or memory reservations against the
// node before the engine sees them.
func (s *Server) updateContainer(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, err)
		return
	}
	var upd container.UpdateConfig
	if err := json.Unmarshal(body, &upd); err != nil {
		writeError(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	cpus := model.MilliCPU(-1)
	switch {
	case upd.NanoCPUs > 0:
		cpus = model.MilliCPU(upd.NanoCPUs / 1e6)
	case upd.CPUShares > 0:
		cpus = model.CPUs(int(upd.CPUShares))
	}
	mem := int64(-1)
	if upd.Memory > 0 {
		mem = upd.Memory
	}
	if err := s.c.CheckUpdate(r.PathValue("name"), cpus, mem); err != nil {
		writeError(w, err)
		return
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	r.ContentLength = int64(len(body))
	s.proxyContainer(w, r)
}
