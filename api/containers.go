package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	units "github.com/docker/go-units"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// createBody is a Docker create body decoded into the model's config,
// with Swarm's meaning of CpuShares (a number of CPUs): all of it but the
// name, and the resources to check (config checks both as Docker does).
// The body itself rides along (Raw) so the engine gets everything else
// it says.
type createBody struct {
	cfg   model.Config // Raw is the body
	res   model.Resources
	hasHC bool // the body has a HostConfig: its resources are checked
}

// decodeCreate decodes a create body. The result keeps body as its Raw.
func decodeCreate(body []byte) (*createBody, error) {
	var req container.CreateRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%w: the create request is not JSON: %v", errBadRequest, err)
	}
	if req.Config == nil || req.Image == "" {
		return nil, fmt.Errorf("%w: the create request names no image", errBadRequest)
	}
	d := &createBody{cfg: model.Config{Image: req.Image, Cmd: req.Cmd, Env: req.Env,
		Labels: req.Labels, NetworkMode: "bridge", Raw: body}}
	cfg := &d.cfg
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	for p := range req.ExposedPorts {
		cfg.Expose = append(cfg.Expose, string(p))
	}
	sort.Strings(cfg.Expose)
	if hc := req.HostConfig; hc != nil {
		d.hasHC = true
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
		d.res = resourcesOf(hc.Resources)
		cfg.VolumesFrom, cfg.Links, cfg.Memory = hc.VolumesFrom, hc.Links, hc.Memory
	}
	return d, nil
}

// config is the body's config for a container of that name, checked. Its
// slices and labels map are the body's, shared by every container made
// from it: the manager copies them before it changes them (as a
// placement does to add the swarm ID label).
func (d *createBody) config(name string, maxCPUs int) (model.Config, error) {
	if err := model.CheckName(name); err != nil {
		return model.Config{}, err
	}
	cfg := d.cfg
	cfg.Name = strings.TrimPrefix(name, "/")
	if d.hasHC {
		if err := d.res.Check(maxCPUs, false); err != nil {
			return model.Config{}, err
		}
		cfg.CPUs = d.res.CPUs()
	}
	return cfg, nil
}

// createBodies remembers create bodies already decoded, by their bytes.
// A scale-out sends one body thousands of times (the name is in the
// query), and decoding Docker's CreateRequest is most of what the
// endpoint itself spends on a create: a body seen before is not decoded
// again. Every container created from it also shares one copy of the
// body as its recreate body (Config.Raw) instead of keeping its own.
type createBodies struct {
	mu sync.Mutex
	by map[string]*createBody
}

// Bounds of the bodies remembered: past maxBodies the table starts
// afresh; a body over maxBodyKept is not kept.
const (
	maxBodies   = 256
	maxBodyKept = 64 << 10
)

// decode is decodeCreate, remembered. body is not kept (a copy is).
func (cb *createBodies) decode(body []byte) (*createBody, error) {
	cb.mu.Lock()
	d := cb.by[string(body)]
	cb.mu.Unlock()
	if d != nil {
		return d, nil
	}
	d, err := decodeCreate(slices.Clone(body)) // its own size: io.ReadAll's buffer is larger
	if err != nil || len(body) > maxBodyKept {
		return d, err
	}
	cb.mu.Lock()
	if cb.by == nil || len(cb.by) >= maxBodies {
		cb.by = make(map[string]*createBody, 16)
	}
	cb.by[string(d.cfg.Raw)] = d
	cb.mu.Unlock()
	return d, nil
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
	d, err := s.bodies.decode(body)
	if err != nil {
		writeError(w, err)
		return
	}
	cfg, err := d.config(r.URL.Query().Get("name"), s.maxCPUs())
	if err != nil {
		writeError(w, err)
		return
	}
	warnings := ignoredExprLabels(cfg.Labels)
	ct, err := s.c.CreateWarn(backend.WithRegistryAuth(r.Context(), r.Header.Get("X-Registry-Auth")), cfg, &warnings)
	if err != nil {
		writeError(w, err)
		return
	}
	// {"Id":…,"Warnings":[…]} as encoding/json writes the map.
	b := append(make([]byte, 0, 128), `{"Id":`...)
	b = appendJSONString(b, ct.ID)
	b = append(b, `,"Warnings":[`...)
	for i, wn := range warnings {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, wn)
	}
	b = append(b, "]}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(b)
}

// exprLabels are the labels Swarm reads as JSON arrays of expressions or
// policies, in the order their warnings are given.
var exprLabels = [...]string{model.LabelConstraints, model.LabelAffinities, model.LabelWhitelists, model.LabelReschedulePolicies}

// ignoredExprLabels warns of each of those labels whose value is not a
// JSON array of strings: Swarm ignores such a label without an error (and
// so does the manager), so that a typo would otherwise place the
// container with no constraint and say nothing; the create's answer
// carries the warnings, which docker run prints.
func ignoredExprLabels(labels map[string]string) []string {
	out := []string{}
	for _, k := range exprLabels {
		v, ok := labels[k]
		if !ok {
			continue
		}
		var l []string
		if json.Unmarshal([]byte(v), &l) != nil {
			out = append(out, fmt.Sprintf(`label %s=%q is not a JSON array of strings and is ignored, as Swarm ignored it: write it as '["EXPR",…]', or give -e %s:EXPR`,
				k, v, exprPrefix(k)))
		}
	}
	return out
}

// exprPrefix is the environment prefix that carries the same list as
// label k.
func exprPrefix(k string) string {
	switch k {
	case model.LabelAffinities:
		return "affinity"
	case model.LabelWhitelists:
		return "whitelist"
	case model.LabelReschedulePolicies:
		return "reschedule"
	}
	return "constraint"
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
	swarmID         string            // written as the swarm ID label's value (Labels lack it, or hold another): see entrySummary
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
		Networks psNetworks `json:"Networks"`
	}
)

// psNetworks are a container's networks in `docker ps`, by name, from
// the endpoints its engine last reported (what the manager keeps of
// them: the network's ID, the address, the aliases and the address asked
// for). None is {}, as dockerd writes it.
type psNetworks map[string]*network.EndpointSettings

// MarshalJSON writes no networks as {}.
func (m psNetworks) MarshalJSON() ([]byte, error) {
	if len(m) == 0 {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]*network.EndpointSettings(m))
}

// networksOf is c's psNetworks; nil when it has none.
func networksOf(c *model.Container) psNetworks {
	if len(c.Endpoints()) == 0 {
		return nil
	}
	m := make(psNetworks, len(c.Endpoints()))
	for _, ep := range c.Endpoints() {
		es := &network.EndpointSettings{NetworkID: ep.NetworkID, IPAddress: ep.IPv4, Aliases: ep.Aliases}
		if ep.AskedIPv4 != "" {
			es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ep.AskedIPv4}
		}
		m[ep.Network] = es
	}
	return m
}

// listContainers is `docker ps`: names as node/name, Host Down for
// containers of an unhealthy node and for those waiting to be rescheduled
// (shown with -a), Swarm's node= filter. Each container's JSON is encoded
// once (psCache) and only its Status is made per call; the response is
// streamed, holding no lock while the client reads.
func (s *Server) listContainers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := queryFilters(r)
	if err == nil {
		err = checkPsFilters(f)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	all := boolParam(r, "all") || q.Get("limit") != "" || q.Get("before") != "" || f.Contains("status") // any status filter shows all, as dockerd
	now := time.Now()
	nodes := s.c.Nodes()
	total := 0
	for _, n := range nodes {
		total += len(n.Containers)
	}
	out := make([]psItem, 0, min(total, 1<<20))
	filtered := f.Len() > 0 // matches reads four keys: 300,000 times for nothing without filters
	var upSince statusMemo
	s.ps.mu.Lock()
	onDown := map[string]bool{} // listed under a down node: not again as waiting (notIn)
	if s.ps.by == nil {
		s.ps.by = make(map[*model.Container]*psTemplate, total) // the first call fills it: no growth on the way
	}
	for _, n := range nodes {
		if n.Health == model.Pending {
			continue
		}
		down := n.Health != model.Healthy
		if down {
			for _, c := range n.Containers {
				onDown[c.ID] = true
			}
		}
		if f.Contains("node") && !f.ExactMatch("node", n.Name) {
			continue
		}
		var encs *psNodeEntries
		if !down {
			encs = s.ps.node(n)
		}
		for i, c := range n.Containers {
			if c.ID == "" || (!all && (down || c.State != model.Running)) || filtered && !matches(f, c, down) {
				continue
			}
			if down { // rare: not cached, its State is hostDown
				out = append(out, psItem{created: c.Created.Unix(), t: encodeSummary(summarize(c, n, true, now)), status: statusText(c, true, now)})
				continue
			}
			if encs.t[i] == nil {
				encs.t[i] = s.ps.get(c, n)
			}
			out = append(out, psItem{created: c.Created.Unix(), t: encs.t[i], c: c, node: n, status: upSince.text(c, now)})
		}
	}
	s.ps.sweep(nodes, total)
	s.ps.mu.Unlock()
	if all {
		for _, q := range s.c.Queued() {
			if onDown[q.Container.ID] || f.Contains("node") && !f.ExactMatch("node", q.From) || !matches(f, q.Container, true) {
				continue
			}
			sm := summarizeWaiting(q, now)
			out = append(out, psItem{created: sm.Created, t: encodeSummary(sm), status: sm.Status})
		}
	}
	slices.SortStableFunc(out, func(a, b psItem) int { return cmp.Compare(b.created, a.created) })
	if limit, err := strconv.Atoi(q.Get("limit")); err == nil && limit > 0 && limit < len(out) {
		out = out[:limit]
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	writeItems(w, out)
}

// sortedKeys appends m's keys to keys in the order encoding/json writes
// them (byte order).
func sortedKeys(keys []string, m map[string]string) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func summarize(c *model.Container, n *model.Node, down bool, now time.Time) summary {
	sm := summaryOf(c, n, down)
	sm.Labels, sm.Status = c.DockerLabels(), statusText(c, down, now)
	return sm
}

// entrySummary is summarize for a `docker ps` template of a container of
// a healthy node: without the Status (a hole), and with the swarm ID
// label left to appendSummary to write in, not put into a copy of the
// container's labels (that copy was a third of a cold entry's cost).
func entrySummary(c *model.Container, n *model.Node) summary {
	sm := summaryOf(c, n, false)
	sm.Labels = c.Labels
	if c.SwarmID != "" && c.Labels[model.LabelSwarmID] != c.SwarmID {
		sm.swarmID = c.SwarmID
	}
	return sm
}

// summaryOf is c's summary but for its labels and Status.
func summaryOf(c *model.Container, n *model.Node, down bool) summary {
	sm := summary{ID: c.ID, Names: []string{"/" + n.Name + "/" + c.Name}, Image: c.Image, Command: strings.Join(c.Cmd, " "),
		Created: c.Created.Unix(), State: stateText(c, down),
		HostConfig: summaryHostConfig{NetworkMode: c.NetworkMode}, Mounts: []struct{}{}, Ports: []portJSON{},
		NetworkSettings: summaryNetworks{Networks: networksOf(c)}}
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
		// One line: a Swarm refusal lists its conditions on lines of
		// their own, which would break docker ps --format. The full
		// reason is in inspect's State.Error.
		st += ": " + strings.Join(strings.Fields(q.Reason), " ")
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
		if c.Finished().IsZero() {
			return fmt.Sprintf("Exited (%d)", c.ExitCode())
		}
		return fmt.Sprintf("Exited (%d) %s ago", c.ExitCode(), units.HumanDuration(now.Sub(c.Finished())))
	}
	return "Created"
}

// statusMemo is statusText for one call's containers of healthy nodes:
// containers started at the same instant share their "Up …" text, made
// once (300,000 containers made 300,000 of them per docker ps). It keeps
// at most statusMemoSize texts.
type statusMemo map[int64]string

const statusMemoSize = 4096

func (m *statusMemo) text(c *model.Container, now time.Time) string {
	if c.State != model.Running {
		return statusText(c, false, now)
	}
	at := startedOr(c).UnixNano()
	if t, ok := (*m)[at]; ok {
		return t
	}
	t := statusText(c, false, now)
	if *m == nil {
		*m = statusMemo{}
	}
	if len(*m) < statusMemoSize {
		(*m)[at] = t
	}
	return t
}

func startedOr(c *model.Container) time.Time {
	if c.Started().IsZero() {
		return c.Created
	}
	return c.Started()
}

// matches applies ps filters other than node=: each value of a key must
// match (name and id as substrings and prefixes, label as key or
// key=value), and status as one of its values.
// psFilters are the ps filters the cluster applies; any other key is
// refused, as dockerd refuses one it does not know, rather than ignored.
var psFilters = map[string]bool{"name": true, "id": true, "label": true, "status": true, "node": true, "network": true}

// psStatuses are the status values dockerd accepts.
var psStatuses = map[string]bool{"created": true, "restarting": true, "running": true, "removing": true,
	"paused": true, "exited": true, "dead": true}

// checkPsFilters refuses an unknown filter or status with dockerd's words.
func checkPsFilters(f filters.Args) error {
	for _, k := range f.Keys() {
		if !psFilters[k] {
			return fmt.Errorf("%w: Invalid filter '%s'", errBadRequest, model.Printable(k))
		}
	}
	for _, v := range f.Get("status") {
		if !psStatuses[v] {
			return fmt.Errorf("%w: Invalid filter 'status=%s'", errBadRequest, model.Printable(v))
		}
	}
	return nil
}

func matches(f filters.Args, c *model.Container, down bool) bool {
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
		got, ok := c.Label(k)
		if !ok || (hasV && got != v) {
			return false
		}
	}
	if f.Contains("status") && !f.ExactMatch("status", stateText(c, down)) {
		return false
	}
	if nets := f.Get("network"); len(nets) > 0 && !onNetwork(c, nets) {
		return false
	}
	return true
}

// onNetwork is dockerd's network= filter: c is on one of the networks
// named, by name or by a prefix of the network's ID.
func onNetwork(c *model.Container, nets []string) bool {
	for _, v := range nets {
		for _, ep := range c.Endpoints() {
			if ep.Network == v || strings.HasPrefix(ep.NetworkID, v) {
				return true
			}
		}
	}
	return false
}

// inspectContainer is the engine's inspect, with Swarm's Node object.
func (s *Server) inspectContainer(w http.ResponseWriter, r *http.Request) {
	ct, n, eng, err := s.c.Locate(r.PathValue("name"))
	if wait, ok := backend.IsWaiting(err); ok {
		writeJSON(w, http.StatusOK, waitingDoc(wait))
		return
	}
	if err != nil {
		// A container of a down node without the policy: its last known
		// state, as for a waiting one.
		if ct, n, _ := s.c.Inspect(r.PathValue("name")); ct != nil && n.Health != model.Healthy {
			writeJSON(w, http.StatusOK, lastKnownDoc(ct, "Host Down: its node "+n.Name+" is "+n.Health.String()+"; this is its last known state", n.Name, n.Addr))
			return
		}
		writeError(w, err)
		return
	}
	node := map[string]any{"ID": n.ID, "IP": hostOf(n.Addr), "Addr": n.Addr, "Name": n.Name, "Cpus": n.CPUs, "Memory": n.Memory, "Labels": n.Labels}
	var doc map[string]any
	if p, ok := eng.(backend.Proxied); ok {
		r, done := s.whileHealthy(r, n.Addr)
		defer done()
		resp, err := get(r, p, "/containers/"+ct.ID+"/json")
		if err != nil {
			writeError(w, engineError(r, err))
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

// hostDown is the State, in ps and inspect, of a container whose node
// is down (waiting to be rescheduled or not): Docker's "dead", with
// Running false, so clients and `ps --filter status=running` never take
// it for running; its Status says Host Down and why.
const hostDown = "dead"

// stateText is c's State as ps and inspect say it; down: its node is.
func stateText(c *model.Container, down bool) string {
	if down {
		return hostDown
	}
	return c.State.String()
}

// modelDoc is an inspect document made from the manager's model, for a
// container no engine can be asked about.
func modelDoc(ct *model.Container) map[string]any {
	var doc map[string]any
	b, _ := json.Marshal(ct)
	json.Unmarshal(b, &doc)
	doc["Id"], doc["Name"] = ct.ID, "/"+ct.Name
	doc["State"] = map[string]any{"Status": ct.State.String(), "Running": ct.State == model.Running}
	doc["Config"] = map[string]any{"Image": ct.Image, "Cmd": ct.Cmd, "Env": ct.Env, "Labels": ct.DockerLabels()}
	return doc
}

// waitingDoc is inspect's answer for a container waiting to be
// rescheduled, by ID or by name alike: its last known config and state,
// the failed node, and the reason in State.Error.
func waitingDoc(w *backend.WaitingError) map[string]any {
	ct := w.Container
	return lastKnownDoc(ct, w.Error(), w.From, w.FromAddr)
}

// lastKnownDoc is inspect's answer for a container whose node is down:
// its last known config and state, the node, and why in State.Error.
func lastKnownDoc(ct *model.Container, why, node, addr string) map[string]any {
	doc := modelDoc(ct)
	// The engine's own Config and HostConfig as last read (a create body).
	var raw map[string]json.RawMessage
	if json.Unmarshal(ct.Raw, &raw) == nil && raw != nil {
		doc["HostConfig"] = raw["HostConfig"]
		delete(raw, "HostConfig")
		delete(raw, "NetworkingConfig")
		doc["Config"] = raw
	}
	doc["State"] = map[string]any{"Status": hostDown, "Running": false, "Dead": true, "Error": why,
		"StartedAt": ct.Started().Format(time.RFC3339Nano), "FinishedAt": ct.Finished().Format(time.RFC3339Nano)}
	doc["Node"] = map[string]any{"Name": node, "Addr": addr, "IP": hostOf(addr)}
	return doc
}

func (s *Server) startContainer(w http.ResponseWriter, r *http.Request) {
	s.act(w, s.c.Start(r.Context(), r.PathValue("name")))
}

// stopContainer answers 304 for a container that is not running, as
// the engine does.
func (s *Server) stopContainer(w http.ResponseWriter, r *http.Request) {
	t, err := timeout(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if ct, _, _, err := s.c.Locate(r.PathValue("name")); err == nil && (ct.State == model.Exited || ct.State == model.Created) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.act(w, s.c.Stop(r.Context(), r.PathValue("name"), t))
}

func (s *Server) restartContainer(w http.ResponseWriter, r *http.Request) {
	t, err := timeout(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.act(w, s.c.Restart(r.Context(), r.PathValue("name"), t))
}

func (s *Server) removeContainer(w http.ResponseWriter, r *http.Request) {
	s.act(w, s.c.Remove(r.Context(), r.PathValue("name"), boolParam(r, "force")))
}

// timeout is a stop's or restart's t= (10 s when absent or negative);
// one that is not a whole number is a bad request.
func timeout(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("t")
	if v == "" {
		return 10 * time.Second, nil
	}
	t, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%w: t=%q is not a whole number of seconds", errBadRequest, v)
	}
	if t < 0 {
		return 10 * time.Second, nil
	}
	return time.Duration(t) * time.Second, nil
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
	release, err := s.c.ReserveName(name) // held until the engine renamed it and the manager re-read it
	if err != nil {
		writeError(w, err)
		return
	}
	defer release()
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
