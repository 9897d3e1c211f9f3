package api

import (
	"bufio"
	"encoding/json"
	"fmt"
	timetypes "github.com/docker/docker/api/types/time"
	"maps"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"swarmdeck/internal/version"
	"swarmdeck/model"
)

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("OSType", runtime.GOOS)
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprint(w, "OK")
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	v := version.Get()
	writeJSON(w, http.StatusOK, map[string]any{
		"Version": v.Server(), "ApiVersion": APIVersion, "MinAPIVersion": "1.24", "GoVersion": v.Go,
		"Os": runtime.GOOS, "Arch": runtime.GOARCH, "KernelVersion": strings.TrimSpace(string(kernel)),
		"GitCommit": v.ShortCommit(), "BuildTime": v.Time, "Platform": map[string]string{"Name": "swarmdeck (Docker Swarm standalone API)"},
	})
}

// info answers `docker info` as Swarm did: the cluster's totals, and the
// nodes in SystemStatus, which the docker CLI prints line by line. Each
// node's lines and totals are encoded once per published view of it
// (infoCache), so a call costs a copy per node, and no call waits on the
// cluster's lock.
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	sch := s.c.Scheduler()
	o := sch.Overcommit()
	nodes := s.c.Nodes()
	role, primary := s.c.Role()
	status := [][2]string{{"Role", role}}
	if primary != "" {
		status = append(status, [2]string{"Primary", primary})
	}
	status = append(status,
		[2]string{"Strategy", sch.Strategy()},
		[2]string{"Filters", strings.Join(sch.Filters(), ", ")},
		[2]string{"Nodes", strconv.Itoa(len(nodes))})
	parts := s.infos.parts(nodes, o)
	var k model.Counts
	// A container waiting to be rescheduled is counted, as docker ps -a
	// lists it, on the node it left, with its reservation (that node, not
	// being healthy, lends it to no one). Such a node's part is made
	// afresh: the queue changes without the node's view.
	queued := s.c.Queued()
	waiting := map[string][]*model.Container{}
	for _, q := range queued {
		waiting[q.FromAddr] = append(waiting[q.FromAddr], q.Container)
	}
	k.Total = len(queued) // those whose node left the pool (as stopped: below); the others with their node
	for i, n := range nodes {
		if w := waiting[n.Addr]; len(w) > 0 {
			k.Total -= len(w)
			if w = notIn(n, w); len(w) > 0 {
				nv := *n
				nv.Containers = append(slices.Clip(n.Containers), w...)
				parts[i] = nodeInfo(&nv, o)
			}
		}
	}
	k.Stopped = k.Total
	var ncpu, images int
	var mem int64
	for _, p := range parts {
		k.Total, k.Running, k.Paused, k.Stopped = k.Total+p.k.Total, k.Running+p.k.Running, k.Paused+p.k.Paused, k.Stopped+p.k.Stopped
		ncpu, mem, images = ncpu+p.ncpu, mem+p.mem, images+p.images
	}
	host, _ := os.Hostname()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	head, err := json.Marshal(map[string]any{
		"ID": "swarmdeck", "Containers": k.Total, "ContainersRunning": k.Running, "ContainersPaused": k.Paused,
		"ContainersStopped": k.Stopped, "Images": images, "Driver": "", "DriverStatus": [][2]string{},
		"Plugins":     map[string]any{"Volume": []string{}, "Network": []string{}, "Authorization": nil, "Log": []string{}},
		"MemoryLimit": true, "SwapLimit": true, "CpuCfsPeriod": true, "CpuCfsQuota": true, "CPUShares": true, "CPUSet": true,
		"IPv4Forwarding": true, "BridgeNfIptables": true, "BridgeNfIp6tables": true, "Debug": false, "OomKillDisable": true,
		"NFd": 0, "NGoroutines": runtime.NumGoroutine(), "SystemTime": time.Now().Format(time.RFC3339Nano),
		"LoggingDriver": "", "CgroupDriver": "", "NEventsListener": 0, "KernelVersion": strings.TrimSpace(string(kernel)),
		"OperatingSystem": runtime.GOOS, "OSType": runtime.GOOS, "Architecture": runtime.GOARCH,
		"IndexServerAddress": "https://index.docker.io/v1/", "NCPU": ncpu, "MemTotal": mem, "DockerRootDir": "",
		"Name": host, "Labels": []string{}, "ExperimentalBuild": false, "ServerVersion": version.Get().Server(),
		"HttpProxy": os.Getenv("HTTP_PROXY"), "HttpsProxy": os.Getenv("HTTPS_PROXY"), "NoProxy": os.Getenv("NO_PROXY"),
		"Swarm": map[string]any{"LocalNodeState": "inactive"}, "SecurityOptions": []string{},
	})
	if err != nil {
		writeError(w, fmt.Errorf("encoding docker info: %w", err))
		return
	}
	// The object's keys, then SystemStatus: the cluster's lines and each
	// node's cached ones, written as they are.
	b := append(head[:len(head)-1:len(head)-1], `,"SystemStatus":[`...)
	for i, kv := range status {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPair(b, kv[0], kv[1])
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(b)
	for _, p := range parts {
		if _, err := bw.Write(p.status); err != nil {
			return // the client went away
		}
	}
	bw.WriteString("]}\n")
	bw.Flush()
}

// infoPart is one node's share of `docker info`: its SystemStatus lines,
// encoded (each preceded by a comma), and what it adds to the totals.
type infoPart struct {
	status       []byte
	k            model.Counts
	ncpu, images int
	mem          int64
	updated      [2]int // where in status the UpdatedAt value is (quoted)
	labels       string // the Labels line's value
}

// infoCache keeps each node's infoPart with the view it was made for: a
// view is immutable, so its part stays right until the node is rebuilt,
// and a view a refresh copied with only its Updated time moved on (about
// 200 a second on a quiet 10,000-node cluster) has its part made by
// writing the new time into a copy.
type infoCache struct {
	mu sync.Mutex
	o  model.Overcommit
	by map[string]infoEntry // by node address
}

type infoEntry struct {
	view *model.Node
	part *infoPart
}

// part returns view n's part, making it if it is not kept. mu is held.
func (c *infoCache) part(n *model.Node, o model.Overcommit) *infoPart {
	e, ok := c.by[n.Addr]
	switch {
	case ok && e.view == n:
		return e.part
	case ok && sameInfo(e.view, n):
		e.part = e.part.at(n)
	case ok && maps.Equal(e.view.Labels, n.Labels): // the usual change: a container came or went
		e.part = nodeInfoLabeled(n, o, e.part.labels)
	default:
		e.part = nodeInfo(n, o)
	}
	e.view = n
	c.by[n.Addr] = e
	return e.part
}

// parts returns the parts of nodes, in their order, making those of
// views not seen before.
func (c *infoCache) parts(nodes []*model.Node, o model.Overcommit) []*infoPart {
	out := make([]*infoPart, len(nodes))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep(nodes, o)
	for i, n := range nodes {
		out[i] = c.part(n, o)
	}
	return out
}

// warm makes the part of view n if it is not kept yet: the warmer does
// it, so that a call during a start does not encode thousands of nodes.
// The lock is held for one node.
func (c *infoCache) warm(n *model.Node, o model.Overcommit) {
	c.mu.Lock()
	if c.by != nil && c.o == o {
		c.part(n, o)
	}
	c.mu.Unlock()
}

// sameInfo says whether views a and b of a node have the same lines but
// for UpdatedAt: it compares what nodeInfo reads (the container list as
// one list, not merely an equal one).
func sameInfo(a, b *model.Node) bool {
	return a.Name == b.Name && a.Addr == b.Addr && a.ID == b.ID && a.Health == b.Health && a.Availability == b.Availability &&
		a.CPUs == b.CPUs && a.Memory == b.Memory && a.Error == b.Error && a.Version == b.Version &&
		len(a.Images) == len(b.Images) && sameList(a.Containers, b.Containers) && maps.Equal(a.Labels, b.Labels)
}

// at is p with n's UpdatedAt written in.
func (p *infoPart) at(n *model.Node) *infoPart {
	q := *p
	b := make([]byte, 0, len(p.status)+8)
	b = append(b, p.status[:p.updated[0]]...)
	b = appendJSONString(b, updatedAt(n))
	q.updated[1] = len(b)
	q.status = append(b, p.status[p.updated[1]:]...)
	return &q
}

// updatedAt is the node's UpdatedAt line's value.
func updatedAt(n *model.Node) string {
	if n.Updated.IsZero() {
		return ""
	}
	return n.Updated.UTC().Format(time.RFC3339)
}

// sweepFor is sweep with the lock taken.
func (c *infoCache) sweepFor(nodes []*model.Node, o model.Overcommit) {
	c.mu.Lock()
	c.sweep(nodes, o)
	c.mu.Unlock()
}

// sweep starts afresh when the overcommit changed (it changes every
// total), and drops the parts of nodes gone once there are more than a
// few. mu is held.
func (c *infoCache) sweep(nodes []*model.Node, o model.Overcommit) {
	if c.by != nil && c.o == o && len(c.by) <= len(nodes)+64 {
		return
	}
	old := c.by
	c.by = make(map[string]infoEntry, len(nodes))
	if c.o == o {
		for _, n := range nodes {
			if e, ok := old[n.Addr]; ok {
				c.by[n.Addr] = e
			}
		}
	}
	c.o = o
}

// The fixed keys of a node's SystemStatus lines, each encoded once with
// what goes before its value (they hold "└", which made every encoding
// check its UTF-8).
var (
	keyID           = infoKey("  └ ID")
	keyStatus       = infoKey("  └ Status")
	keyAvailability = infoKey("  └ Availability")
	keyContainers   = infoKey("  └ Containers")
	keyCPUs         = infoKey("  └ Reserved CPUs")
	keyMemory       = infoKey("  └ Reserved Memory")
	keyLabels       = infoKey("  └ Labels")
	keyError        = infoKey("  └ Error")
	keyUpdated      = infoKey("  └ UpdatedAt")
	keyVersion      = infoKey("  └ ServerVersion")
)

func infoKey(k string) string { return string(appendJSONString([]byte(",["), k)) + "," }

// nodeInfo encodes a node's lines of SystemStatus, as Swarm printed them.
func nodeInfo(n *model.Node, o model.Overcommit) *infoPart {
	return nodeInfoLabeled(n, o, labelList(n.Labels))
}

// nodeInfoLabeled is nodeInfo with the Labels line's value given (kept
// from the node's former lines: sorting and joining them was a fourth of
// the cost).
func nodeInfoLabeled(n *model.Node, o model.Overcommit, labels string) *infoPart {
	p := &infoPart{labels: labels}
	b := make([]byte, 0, 512)
	line := func(key, v string) {
		b = append(b, key...)
		b = appendJSONString(b, v)
		b = append(b, ']')
	}
	b = append(b, ',')
	b = appendPair(b, " "+n.Name, n.Addr)
	line(keyID, n.ID)
	line(keyStatus, n.Health.String())
	line(keyAvailability, n.Availability.String())
	nk := model.CountContainers(n.Containers)
	if n.Health == model.Healthy {
		line(keyContainers, fmt.Sprintf("%d (%d Running, %d Paused, %d Stopped)", nk.Total, nk.Running, nk.Paused, nk.Stopped))
		p.k = nk
		p.ncpu = int(n.TotalCPUs(o) / 1000)
		p.mem = n.TotalMemory(o)
		p.images = len(n.Images)
	} else {
		line(keyContainers, strconv.Itoa(nk.Total))
		// docker ps -a lists them (Host Down), plain docker ps does not:
		// counted as stopped, so that the totals add up
		p.k.Total, p.k.Stopped = nk.Total, nk.Total
	}
	line(keyCPUs, n.ReservedCPUsText(o))
	line(keyMemory, n.ReservedMemoryText(o))
	line(keyLabels, labels)
	if n.Error != "" {
		line(keyError, n.Error)
	}
	b = append(b, keyUpdated...)
	p.updated[0] = len(b)
	b = appendJSONString(b, updatedAt(n))
	p.updated[1] = len(b)
	b = append(b, ']')
	line(keyVersion, n.Version)
	p.status = slices.Clip(b)
	return p
}

// appendPair appends ["k","v"] in JSON.
func appendPair(b []byte, k, v string) []byte {
	b = append(b, '[')
	b = appendJSONString(b, k)
	b = append(b, ',')
	b = appendJSONString(b, v)
	return append(b, ']')
}

// appendJSONString appends s as a JSON string, as encoding/json writes
// it: valid UTF-8 other than control characters, quotes, backslashes,
// HTML's <, > and &, and U+2028/U+2029 is copied; a string with any of
// those goes through the encoder.
func appendJSONString(b []byte, s string) []byte {
	wide := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&':
			return appendEncoded(b, s)
		case c >= 0x80:
			wide = true
		}
	}
	if wide && (!utf8.ValidString(s) || strings.ContainsAny(s, "\u2028\u2029")) {
		return appendEncoded(b, s)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendEncoded(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

func labelList(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	sortStrings(parts)
	return strings.Join(parts, ", ")
}

// Limits of /events followers.
const (
	// MaxFollowers is how many /events streams the endpoint serves at
	// once; one more is answered 503.
	MaxFollowers = 1024
	// followerBuffer is how many events a follower may fall behind
	// before it is disconnected.
	followerBuffer = 256
	// followerWriteTimeout disconnects a follower whose connection takes
	// no bytes for this long (a client that does not read).
	followerWriteTimeout = 10 * time.Second
)

// tooBusy is a request the endpoint has no room for (HTTP 503).
type tooBusy struct{ msg string }

func (e *tooBusy) Error() string { return e.msg }

// eventTime reads since= or until= as Docker's daemon does (seconds with
// optional nanoseconds); "" is the zero time.
func eventTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	secs, nanos, err := timetypes.ParseTimestamps(v, -1)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: invalid %s %q: %v", errBadRequest, name, v, err)
	}
	return time.Unix(secs, nanos), nil
}

// events streams the cluster's events as Docker events, each with the
// node's attributes, until the client goes away or until= passes. A
// follower that does not keep up (buffer full, or its connection taking
// nothing for followerWriteTimeout) is disconnected.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if _, err := eventTime("since", q.Get("since")); err != nil {
		writeError(w, err)
		return
	}
	untilT, err := eventTime("until", q.Get("until"))
	if err != nil {
		writeError(w, err)
		return
	}
	if _, err := queryFilters(r); err != nil {
		writeError(w, err)
		return
	}
	if s.followers.Add(1) > s.follow.max {
		s.followers.Add(-1)
		writeError(w, &tooBusy{fmt.Sprintf("too many /events followers: swarmdeck serves at most %d at once", s.follow.max)})
		return
	}
	defer s.followers.Add(-1)
	sub, stop := s.c.Follow(s.follow.buffer)
	defer stop()
	var until <-chan time.Time
	if !untilT.IsZero() {
		t := time.NewTimer(time.Until(untilT))
		defer t.Stop()
		until = t.C
	}
	rc := http.NewResponseController(w)
	write := func(f func() error) error {
		_ = rc.SetWriteDeadline(time.Now().Add(s.follow.writeTimeout))
		if err := f(); err != nil {
			return err
		}
		return rc.Flush()
	}
	w.Header().Set("Content-Type", "application/json")
	if write(func() error { w.WriteHeader(http.StatusOK); return nil }) != nil {
		return
	}
	enc := json.NewEncoder(w)
	nodes := map[string]*model.Node{}
	for _, n := range s.c.Nodes() {
		nodes[n.Name] = n
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-until:
			return
		case e, ok := <-sub:
			if !ok {
				return // fell behind: dropped
			}
			if e.Kind == model.EventPlaced {
				continue // the manager's own word on a create (the console's): the engine's create event follows, and Docker clients count one per container
			}
			if nodes[e.Node] == nil {
				for _, n := range s.c.Nodes() {
					nodes[n.Name] = n
				}
			}
			if write(func() error { return enc.Encode(dockerEvent(e, nodes[e.Node])) }) != nil {
				return
			}
		}
	}
}

// dockerEvent is a cluster event in Docker's shape, with Swarm's node
// attributes.
func dockerEvent(e model.Event, n *model.Node) map[string]any {
	typ, id := "node", ""
	switch {
	case e.ContainerID != "" || e.Container != "":
		typ, id = "container", e.ContainerID
	case e.Image != "":
		typ, id = "image", e.Image
	}
	attrs := map[string]string{"message": e.Message}
	if e.Container != "" {
		attrs["name"] = e.Container
	}
	node := map[string]string{}
	if n != nil {
		attrs["node.name"], attrs["node.id"], attrs["node.addr"] = n.Name, n.ID, n.Addr
		attrs["node.ip"] = hostOf(n.Addr)
		node = map[string]string{"Name": n.Name, "Id": n.ID, "Addr": n.Addr, "Ip": hostOf(n.Addr)}
	}
	return map[string]any{
		"Type": typ, "Action": e.Action, "status": e.Action, "id": id, "from": "swarm node:" + e.Node,
		"Actor": map[string]any{"ID": id, "Attributes": attrs}, "scope": "local",
		"time": e.Time.Unix(), "timeNano": e.Time.UnixNano(), "node": node,
	}
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i > 0 && !strings.Contains(addr, "/") {
		return addr[:i]
	}
	return addr
}

// notIn is the waiting containers that the node's view does not list.
// The view and the queue are read one after the other, without a lock
// between them: a node evacuated in between still lists the containers
// it has just queued, and counting both would show it reserving more
// than it has (seen by the fault soak in a new primary's first docker
// info).
func notIn(n *model.Node, waiting []*model.Container) []*model.Container {
	return slices.DeleteFunc(slices.Clone(waiting), func(w *model.Container) bool {
		return slices.ContainsFunc(n.Containers, func(c *model.Container) bool { return c.ID == w.ID })
	})
}
