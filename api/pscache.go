package api

import (
	"context"
	"encoding/binary"
	"io"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"swarmdeck/model"
)

// psItem is one container of a `docker ps` answer: its template, and
// what fills the template's holes.
type psItem struct {
	created int64
	t       *psTemplate
	c       *model.Container // nil when t has no hole but the Status
	node    *model.Node
	status  string
}

// A psTemplate is a container's `docker ps` entry in JSON with holes for
// what is the container's own: its ID, its name and its node's, its
// creation time, its swarm ID label, and the Status (the only part that
// depends on the clock). Everything else (image, command, the other
// labels, ports, state, network mode) is the same for many containers,
// so a template is shared by every container it fits: a 300,000-container
// cache holds a few hundred templates, not 300,000 encodings.
//
// A value is a hole only when its JSON form is the value between quotes
// (nothing to escape); otherwise it is written into the template.
type psTemplate struct {
	// The node's address and name, when the entry holds them: a port's
	// IP, or a node name written in (one with characters to escape).
	addr, name     string
	byAddr, byName bool
	b              []byte // the entry without its holes
	at             []psCut
}

// fits says whether t is right for a container on n.
func (t *psTemplate) fits(n *model.Node) bool {
	if t.byName {
		return t.name == n.Name && (!t.byAddr || t.addr == n.Addr)
	}
	return (!t.byAddr || t.addr == n.Addr) && plain(n.Name) // a hole only takes a name with nothing to escape
}

// psCut is where a hole goes in a template's bytes.
type psCut struct {
	pos  uint32
	hole psHole
}

type psHole uint8

const (
	holeID      psHole = iota // the container's ID
	holeNode                  // its node's name (in Names)
	holeName                  // its name (in Names)
	holeCreated               // its creation time, Unix seconds
	holeSwarmID               // the value of its com.docker.swarm.id label (its SwarmID)
	holeStatus                // the Status, made per call
)

// appendEntry writes the entry of c on node n with the given Status.
func (t *psTemplate) appendEntry(b []byte, c *model.Container, n *model.Node, status string) []byte {
	prev := 0
	for _, h := range t.at {
		b = append(b, t.b[prev:h.pos]...)
		prev = int(h.pos)
		switch h.hole {
		case holeID:
			b = append(b, c.ID...)
		case holeNode:
			b = append(b, n.Name...)
		case holeName:
			b = append(b, c.Name...)
		case holeCreated:
			b = strconv.AppendInt(b, c.Created.Unix(), 10)
		case holeSwarmID:
			b = append(b, c.SwarmID...)
		case holeStatus:
			b = appendJSONString(b, status)
		}
	}
	return append(b, t.b[prev:]...)
}

// holes records where an encoding left values out. With no container
// (c nil) only the Status is left out.
type holes struct {
	c     *model.Container
	n     *model.Node
	at    []psCut
	dep   bool // a port's IP is written in
	named bool // the node's name is a hole
}

func (h *holes) mark(b []byte, k psHole) {
	h.at = append(h.at, psCut{pos: uint32(len(b)), hole: k})
}

// names says whether names is exactly summarize's ["/node/name"] of h's
// container, with nothing to escape in either part.
func (h *holes) names(names []string) bool {
	if h.c == nil || len(names) != 1 || !plain(h.n.Name) || !plain(h.c.Name) {
		return false
	}
	s, nn := names[0], h.n.Name
	return len(s) == len(nn)+len(h.c.Name)+2 && s[0] == '/' && s[1:1+len(nn)] == nn && s[1+len(nn)] == '/' && s[2+len(nn):] == h.c.Name
}

// plain says whether s is written in JSON as itself between quotes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// psCache keeps each container's template by the container's record:
// records are replaced, never changed, when a container changes, so an
// entry stays right while its node keeps its address (a renamed node is
// a hole). The templates of a node's published view are also kept side
// by side, by the node's address, so a call looks up nodes, not
// containers, and a view a refresh copied with only its Updated time moved
// on keeps its node's entries. A warmer (Warm)
// fills the cache as views are published, so that even the first call
// after a start is a copy.
type psCache struct {
	mu     sync.Mutex
	by     map[*model.Container]*psTemplate
	byNode map[string]*psNodeEntries // by the node's address
	shared map[string]*psTemplate    // templates by their bytes and holes
	made   int                       // containers encoded (a test reads it)
}

// psNodeEntries are the templates of a view's containers, aligned with
// its Containers; full once every one is there.
type psNodeEntries struct {
	view *model.Node
	t    []*psTemplate
	full bool
}

// maxShared bounds the templates kept for sharing; past it the table
// starts afresh (the entries keep theirs).
const maxShared = 4096

// node returns the entries of n's containers, filled as they are needed.
// mu is held.
func (pc *psCache) node(n *model.Node) *psNodeEntries {
	e := pc.byNode[n.Addr]
	switch {
	case e != nil && e.view == n:
	case e != nil && sameEntries(e.view, n):
		e.view = n
	default:
		if pc.byNode == nil {
			pc.byNode = map[string]*psNodeEntries{}
		}
		t := make([]*psTemplate, len(n.Containers))
		if e != nil && e.view.Name == n.Name && e.view.Addr == n.Addr {
			kept(t, n.Containers, e.t, e.view.Containers)
		}
		e = &psNodeEntries{view: n, t: t}
		pc.byNode[n.Addr] = e
	}
	return e
}

// kept copies into t, aligned with cs, the templates was (aligned with
// the node's former list old) has for the same records: a create or a
// remove changes a node's list by one record, so it is a walk of both
// lists, not a lookup per container. What it cannot align stays nil.
func kept(t []*psTemplate, cs []*model.Container, was []*psTemplate, old []*model.Container) {
	i := 0
	for j, c := range cs {
		switch {
		case i < len(old) && old[i] == c:
		case i+1 < len(old) && old[i+1] == c: // old[i] went
			i++
		default:
			continue // came, or more changed
		}
		t[j] = was[i]
		i++
	}
}

// sameEntries says whether views a and b of a node have the same
// `docker ps` entries: the same containers (one list: a refresh that
// found nothing new copies the view with its list) on a node of the same
// name and address, which is all of the node a template holds.
func sameEntries(a, b *model.Node) bool {
	return a.Name == b.Name && a.Addr == b.Addr && sameList(a.Containers, b.Containers)
}

// sameList says whether a and b are one list (not merely equal ones).
func sameList[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// fill makes every entry of a healthy node's view. mu is held.
func (pc *psCache) fill(n *model.Node) {
	e := pc.node(n)
	if e.full {
		return
	}
	for i, c := range n.Containers {
		if e.t[i] == nil && c.ID != "" {
			e.t[i] = pc.get(c, n)
		}
	}
	e.full = true
}

// get returns c's template on n, making it if c is new. mu is held.
func (pc *psCache) get(c *model.Container, n *model.Node) *psTemplate {
	if t := pc.by[c]; t != nil && t.fits(n) {
		return t
	}
	if pc.by == nil {
		pc.by = map[*model.Container]*psTemplate{}
	}
	pc.made++
	sm := entrySummary(c, n)
	var cuts [8]psCut // an entry has at most 6 holes: no allocation for them
	h := &holes{c: c, n: n, at: cuts[:0]}
	scratch := summaryScratch.Get().(*[]byte)
	b := appendSummary((*scratch)[:0], &sm, h)
	// The key: the bytes, the holes, and the address the ports used.
	// Escaped JSON never holds a NUL byte, so the parts cannot run into
	// each other.
	k := append(b, 0)
	for _, cut := range h.at {
		k = binary.LittleEndian.AppendUint32(k, cut.pos)
		k = append(k, byte(cut.hole))
	}
	tmpl := psTemplate{byAddr: h.dep, byName: !h.named}
	k = append(k, 0, boolByte(tmpl.byAddr), boolByte(tmpl.byName))
	if tmpl.byAddr {
		tmpl.addr = n.Addr
		k = append(k, n.Addr...)
	}
	k = append(k, 0)
	if tmpl.byName {
		tmpl.name = n.Name
		k = append(k, n.Name...)
	}
	t := pc.shared[string(k)]
	if t == nil {
		tmpl.b, tmpl.at = slices.Clone(b), slices.Clone(h.at)
		t = &tmpl
		if pc.shared == nil || len(pc.shared) >= maxShared {
			pc.shared = make(map[string]*psTemplate, 64)
		}
		pc.shared[string(k)] = t
	}
	*scratch = k
	summaryScratch.Put(scratch)
	pc.by[c] = t
	return t
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// sweep drops the entries of nodes gone, and those of containers gone or
// replaced once they outnumber the live ones (the nodes' containers). mu
// is held.
func (pc *psCache) sweep(nodes []*model.Node, live int) {
	if len(pc.byNode) > len(nodes)+64 { // nodes gone
		keep := make(map[string]*psNodeEntries, len(nodes))
		for _, n := range nodes {
			if e, ok := pc.byNode[n.Addr]; ok {
				keep[n.Addr] = e
			}
		}
		pc.byNode = keep
	}
	if len(pc.by) <= 2*live+1024 {
		return
	}
	keep := make(map[*model.Container]*psTemplate, live)
	for _, n := range nodes {
		for _, c := range n.Containers {
			if t := pc.by[c]; t != nil {
				keep[c] = t
			}
		}
	}
	pc.by = keep
}

// How the warmer paces itself: a pass every warmBusy (a pass reads every
// view; at 25 ms the passes were a third of the warmer's CPU in a launch
// through the API, and a node that changes again between passes is warmed
// once) while many views
// change (1 % or more of them since the last pass: a start, a launch),
// else at most every warmIdle, and only once the cluster's Changes moved
// (a refresh that found nothing new does not move it: a quiet
// 10,000-node cluster copies about 200 views a second with a new refresh
// time, which neither cache needs warmed); within a pass at most
// warmSlice of work before a warmRest sleep, so that it takes at most
// about a third of one core. It sleeps rather than yields: a goroutine
// that yields stays runnable and queues ahead of the start's own work
// (at 10,000 nodes that made the start three times longer).
const (
	warmBusy  = 100 * time.Millisecond
	warmIdle  = time.Second
	warmSlice = 2 * time.Millisecond
	warmRest  = 2 * time.Millisecond
)

// Warm fills the `docker ps` cache (and docker info's) in the background
// as the cluster's views are published, until ctx ends, so that no call
// (the first after a start included) encodes containers itself, and a
// `docker info` during a start does not encode thousands of nodes. A
// pass visits only views it has not seen, and takes each cache's lock
// one node at a time: a request waits for at most one node's containers.
func (s *Server) Warm(ctx context.Context) {
	var (
		changes uint64
		infoAt  time.Time // the last pass that warmed docker info's lines
		behind  bool      // docker info's lines were left for a later pass
	)
	seen := map[string]warmed{} // by node address
	for {
		wait := warmIdle
		if ch := s.c.Changes(); ch != changes || behind {
			changes = ch
			withInfo := time.Since(infoAt) >= warmIdle
			var busy bool
			busy, behind = s.warm(ctx, seen, withInfo)
			if withInfo {
				infoAt = time.Now()
			}
			if busy {
				wait = warmBusy
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// warmed is what the warmer last warmed of a node: the views its `docker
// ps` entries and its `docker info` lines were made for.
type warmed struct{ ps, info *model.Node }

// warm fills the `docker ps` cache for the cluster's views that are not
// in seen (by address, what was warmed before), and the `docker info`
// cache too with withInfo or while nodes are Pending (a start, when
// docker info is asked most); it notes what it did in seen, and reports
// whether many views were new (1 % or more: the cluster is busy) and
// whether info lines were left behind. Outside a start, info lines are
// made at most once a second: a launch changes most views between two
// passes, and making each node's lines at every pass was a third of the
// warmer's CPU in a launch through the API.
//
// It warms during a start too, as engines connect: the containers a
// node's refresh read show in its Pending view, and its Healthy view a
// moment later lists the same records, so by the time the last engine is
// connected there is little left for the first `docker ps`. (It once
// waited while 1 % or more of the nodes were Pending, so a cluster with
// that many engines that never answer was never warmed.)
func (s *Server) warm(ctx context.Context, seen map[string]warmed, withInfo bool) (busy, behind bool) {
	nodes := s.c.Views() // in no order: Nodes sorts, at every pass while a manager starts
	live, fresh, stale := 0, 0, 0
	for _, n := range nodes {
		live += len(n.Containers)
		w := seen[n.Addr]
		if w.ps != n {
			fresh++
		}
		if w.info != n {
			stale++
		}
		if n.Health == model.Pending {
			withInfo = true
		}
	}
	if fresh == 0 && (stale == 0 || !withInfo) {
		return false, stale > 0
	}
	if len(seen) > len(nodes) { // nodes gone
		here := make(map[string]bool, len(nodes))
		for _, n := range nodes {
			here[n.Addr] = true
		}
		maps.DeleteFunc(seen, func(addr string, _ warmed) bool { return !here[addr] })
	}
	o := s.c.Scheduler().Overcommit()
	s.infos.sweepFor(nodes, o)
	s.ps.mu.Lock()
	s.ps.sweep(nodes, live)
	if s.ps.by == nil {
		s.ps.by = make(map[*model.Container]*psTemplate, live)
	}
	s.ps.mu.Unlock()
	slice := time.Now()
	for _, n := range nodes {
		w := seen[n.Addr]
		ps, info := w.ps != n, withInfo && w.info != n
		if !ps && !info {
			continue
		}
		if time.Since(slice) > warmSlice {
			select {
			case <-ctx.Done():
				return true, true
			case <-time.After(warmRest):
			}
			slice = time.Now()
		}
		if info {
			s.infos.warm(n, o)
			w.info = n
		}
		if ps && (n.Health == model.Healthy || n.Health == model.Pending) { // a down node's containers are not cached
			s.ps.mu.Lock()
			s.ps.fill(n)
			s.ps.mu.Unlock()
		}
		w.ps = n
		seen[n.Addr] = w
	}
	return fresh*100 >= len(nodes), !withInfo && stale > 0
}

// writeItems streams a `docker ps` answer in 64 KiB writes; false when
// the client went away.
func writeItems(w io.Writer, out []psItem) bool {
	const chunk = 64 << 10
	b := make([]byte, 0, chunk+4096)
	b = append(b, '[')
	for i, it := range out {
		if i > 0 {
			b = append(b, ',')
		}
		b = it.t.appendEntry(b, it.c, it.node, it.status)
		if len(b) >= chunk {
			if _, err := w.Write(b); err != nil {
				return false
			}
			b = b[:0]
		}
	}
	b = append(b, "]\n"...)
	_, err := w.Write(b)
	return err == nil
}

// encodeSummary encodes sm as a template of its own, with the Status as
// its only hole (a container of a down node, or waiting: not cached).
func encodeSummary(sm summary) *psTemplate {
	h := &holes{}
	scratch := summaryScratch.Get().(*[]byte)
	b := appendSummary((*scratch)[:0], &sm, h)
	t := &psTemplate{b: slices.Clone(b), at: h.at} // its own size
	*scratch = b
	summaryScratch.Put(scratch)
	return t
}

var summaryScratch = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendSummary writes sm as encoding/json writes the summary struct
// (same fields, order, escaping and sorted label keys;
// TestSummaryEncodingIsEncodingJSONs holds it to it), leaving out the
// Status and, when h has a container, that container's own values (see
// psTemplate), and recording where in h.
func appendSummary(b []byte, sm *summary, h *holes) []byte {
	c := h.c
	b = append(b, `{"Id":`...)
	if c != nil && sm.ID == c.ID && plain(c.ID) {
		b = append(b, '"')
		h.mark(b, holeID)
		b = append(b, '"')
	} else {
		b = appendJSONString(b, sm.ID)
	}
	b = append(b, `,"Names":`...)
	switch {
	case sm.Names == nil:
		b = append(b, "null"...)
	case h.names(sm.Names):
		h.named = true
		b = append(b, `["/`...)
		h.mark(b, holeNode)
		b = append(b, '/')
		h.mark(b, holeName)
		b = append(b, `"]`...)
	default:
		b = append(b, '[')
		for i, n := range sm.Names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, n)
		}
		b = append(b, ']')
	}
	b = append(b, `,"Image":`...)
	b = appendJSONString(b, sm.Image)
	b = append(b, `,"ImageID":`...)
	b = appendJSONString(b, sm.ImageID)
	b = append(b, `,"Command":`...)
	b = appendJSONString(b, sm.Command)
	b = append(b, `,"Created":`...)
	if c != nil && sm.Created == c.Created.Unix() {
		h.mark(b, holeCreated)
	} else {
		b = strconv.AppendInt(b, sm.Created, 10)
	}
	b = append(b, `,"Ports":`...)
	if sm.Ports == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, p := range sm.Ports {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			if p.IP != "" {
				b = append(b, `"IP":`...)
				b = appendJSONString(b, p.IP)
				b = append(b, ',')
				h.dep = true // the node's address, or one the user gave: kept by address either way
			}
			b = append(b, `"PrivatePort":`...)
			b = strconv.AppendUint(b, uint64(p.PrivatePort), 10)
			if p.PublicPort != 0 {
				b = append(b, `,"PublicPort":`...)
				b = strconv.AppendUint(b, uint64(p.PublicPort), 10)
			}
			b = append(b, `,"Type":`...)
			b = appendJSONString(b, p.Type)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"Labels":`...)
	if sm.Labels == nil && sm.swarmID == "" {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		var buf [16]string
		keys := sortedKeys(buf[:0], sm.Labels)
		if _, ok := sm.Labels[model.LabelSwarmID]; sm.swarmID != "" && !ok {
			i, _ := slices.BinarySearch(keys, model.LabelSwarmID)
			keys = slices.Insert(keys, i, model.LabelSwarmID)
		}
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			v := sm.Labels[k]
			if k == model.LabelSwarmID && sm.swarmID != "" {
				v = sm.swarmID
			}
			if c != nil && k == model.LabelSwarmID && v == c.SwarmID && plain(v) {
				b = append(b, '"')
				h.mark(b, holeSwarmID)
				b = append(b, '"')
			} else {
				b = appendJSONString(b, v)
			}
		}
		b = append(b, '}')
	}
	b = append(b, `,"State":`...)
	b = appendJSONString(b, sm.State)
	b = append(b, `,"Status":`...)
	h.mark(b, holeStatus)
	b = append(b, `,"HostConfig":{"NetworkMode":`...)
	b = appendJSONString(b, sm.HostConfig.NetworkMode)
	b = append(b, `},"NetworkSettings":{"Networks":`...)
	if nets := sm.NetworkSettings.Networks; len(nets) > 0 {
		j, _ := nets.MarshalJSON() // rare beside the rest: encoding/json's own
		b = append(b, j...)
	} else {
		b = append(b, "{}"...)
	}
	b = append(b, `},"Mounts":`...)
	if sm.Mounts == nil {
		return append(b, "null}"...)
	}
	b = append(b, '[')
	for i := range sm.Mounts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "{}"...)
	}
	return append(b, "]}"...)
}
