package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	units "github.com/docker/go-units"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// configFrom reads a Docker create body into the model's config, with
// Swarm's meaning of CpuShares (a number of CPUs); the body itself rides
// along so the engine gets everything else it says. The name and the
// resources are checked as Docker checks them, against a cluster whose
// largest node has maxCPUs CPUs.
func configFrom(body []byte, name string, maxCPUs int) (model.Config, error) {
	var req container.CreateRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return model.Config{}, fmt.Errorf("%w: the create request is not JSON: %v", errBadRequest, err)
	}
	if req.Config == nil || req.Image == "" {
		return model.Config{}, fmt.Errorf("%w: the create request names no image", errBadRequest)
	}
	if err := model.CheckName(name); err != nil {
		return model.Config{}, err
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
		res := resourcesOf(hc.Resources)
		if err := res.Check(maxCPUs, false); err != nil {
			return model.Config{}, err
		}
		cfg.VolumesFrom, cfg.Links, cfg.Memory, cfg.CPUs = hc.VolumesFrom, hc.Links, hc.Memory, res.CPUs()
	}
	return cfg, nil
}

// resourcesOf takes the fields the manager checks and reserves.
func resourcesOf(r container.Resources) model.Resources {
	return model.Resources{CPUShares: r.CPUShares, NanoCPUs: r.NanoCPUs, Memory: r.Memory,
		MemoryReservation: r.MemoryReservation, MemorySwap: r.MemorySwap}
}

func (s *Server) createContainer(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	cfg, err := configFrom(body, r.URL.Query().Get("name"), s.maxCPUs())
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
	HostConfig      summaryHostConfig `json:"HostConfig"`
	NetworkSettings summaryNetworks   `json:"NetworkSettings"`
	Mounts          []struct{}        `json:"Mounts"`
}

// The fixed parts of a summary are structs, not maps: the encoder writes
// them without sorting keys or boxing values (it was most of the cost of a
// large `docker ps`).
type (
	summaryHostConfig struct {
		NetworkMode string `json:"NetworkMode"`
	}
	summaryNetworks struct {
		Networks struct{} `json:"Networks"`
	}
)

// listContainers is `docker ps`: names as node/name, Host Down for
// containers of an unhealthy node and for those waiting to be rescheduled
// (shown with -a), Swarm's node= filter.
func (s *Server) listContainers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := queryFilters(r)
	if err != nil {
		writeError(w, err)
		return
	}
	all := boolParam(r, "all") || q.Get("limit") != "" || q.Get("before") != "" || (f.Contains("status") && f.ExactMatch("status", "exited"))
	now := time.Now()
	var out []summary
	for _, n := range s.c.Nodes() {
		if n.Health == model.Pending {
			continue
		}
		down := n.Health != model.Healthy
		if f.Contains("node") && !f.ExactMatch("node", n.Name) {
			continue
		}
		for _, c := range n.Containers {
			if c.ID == "" || (!all && (down || c.State != model.Running)) || !matches(f, c) {
				continue
			}
			out = append(out, summarize(c, n, down, now))
		}
	}
	if all {
		for _, q := range s.c.Queued() {
			if f.Contains("node") && !f.ExactMatch("node", q.From) || !matches(f, q.Container) {
				continue
			}
			out = append(out, summarizeWaiting(q, now))
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
		HostConfig: summaryHostConfig{NetworkMode: c.NetworkMode}, Mounts: []struct{}{}, Ports: []portJSON{}}
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

// summarizeWaiting is a container waiting to be rescheduled as `docker
// ps -a` shows it: under its failed node's name, with its last known
// state, and a status that says it waits and why.
func summarizeWaiting(q backend.Queued, now time.Time) summary {
	n := &model.Node{Name: q.From, Addr: q.FromAddr}
	sm := summarize(q.Container, n, true, now)
	sm.Status = waitingStatus(q)
	return sm
}

// waitingStatus is the Status of a container waiting to be rescheduled.
func waitingStatus(q backend.Queued) string {
	st := "Host Down, waiting to reschedule"
	if q.Reason != "" {
		st += ": " + q.Reason
	}
	return st
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

// matches applies ps filters other than node=: each value of a key must
// match (name and id as substrings and prefixes, label as key or
// key=value), and status as one of its values.
func matches(f filters.Args, c *model.Container) bool {
	for _, name := range f.Get("name") {
		if !strings.Contains(c.Name, strings.TrimPrefix(name, "/")) {
			return false
		}
	}
	for _, id := range f.Get("id") {
		if !strings.HasPrefix(c.ID, id) {
			return false
		}
	}
	for _, l := range f.Get("label") {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := c.Labels[k]
		if !ok || (hasV && got != v) {
			return false
		}
	}
	if f.Contains("status") && !f.ExactMatch("status", c.State.String()) {
		return false
	}
	return true
}

// inspectContainer is the engine's inspect, with Swarm's Node object.
func (s *Server) inspectContainer(w http.ResponseWriter, r *http.Request) {
	ct, n, eng, err := s.c.Locate(r.PathValue("name"))
	if wait, ok := backend.IsWaiting(err); ok {
		writeJSON(w, http.StatusOK, waitingDoc(wait))
		return
	}
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
		doc = modelDoc(ct)
	}
	doc["Node"] = node
	writeJSON(w, http.StatusOK, doc)
}

// modelDoc is an inspect document made from the manager's model, for a
// container no engine can be asked about.
func modelDoc(ct *model.Container) map[string]any {
	var doc map[string]any
	b, _ := json.Marshal(ct)
	json.Unmarshal(b, &doc)
	doc["Id"], doc["Name"] = ct.ID, "/"+ct.Name
	doc["State"] = map[string]any{"Status": ct.State.String(), "Running": ct.State == model.Running}
	doc["Config"] = map[string]any{"Image": ct.Image, "Cmd": ct.Cmd, "Env": ct.Env, "Labels": ct.Labels}
	return doc
}

// waitingDoc is inspect's answer for a container waiting to be
// rescheduled, by ID or by name alike: its last known config and state,
// the failed node, and the reason in State.Error.
func waitingDoc(w *backend.WaitingError) map[string]any {
	ct := w.Container
	doc := modelDoc(ct)
	// The engine's own Config and HostConfig as last read (a create body).
	var raw map[string]json.RawMessage
	if json.Unmarshal(ct.Raw, &raw) == nil && raw != nil {
		doc["HostConfig"] = raw["HostConfig"]
		delete(raw, "HostConfig")
		delete(raw, "NetworkingConfig")
		doc["Config"] = raw
	}
	doc["State"] = map[string]any{"Status": ct.State.String(), "Running": false, "Error": w.Error(),
		"StartedAt": ct.Started.Format(time.RFC3339Nano), "FinishedAt": ct.Finished.Format(time.RFC3339Nano)}
	doc["Node"] = map[string]any{"Name": w.From, "Addr": w.FromAddr, "IP": hostOf(w.FromAddr)}
	return doc
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
	if err := model.CheckName(name); err != nil {
		writeError(w, err)
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
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	var upd container.UpdateConfig
	if err := json.Unmarshal(body, &upd); err != nil {
		writeError(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	res := resourcesOf(upd.Resources)
	if err := res.Check(s.maxCPUs(), true); err != nil {
		writeError(w, err)
		return
	}
	cpus := model.MilliCPU(-1)
	if res.NanoCPUs > 0 || res.CPUShares > 0 {
		cpus = res.CPUs()
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
