package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"

	"swarmdeck/backend"
)

// progressWriter streams Docker's JSON messages from several goroutines.
// The status line is written with the first message, so that a call that
// fails before any progress can still answer with an error status.
type progressWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	mu      sync.Mutex
	started bool
}

func newProgressWriter(w http.ResponseWriter) *progressWriter {
	return &progressWriter{w: w, rc: http.NewResponseController(w)}
}

// send writes one message and flushes it to the client.
func (p *progressWriter) send(m jsonmessage.JSONMessage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		p.w.Header().Set("Content-Type", "application/json")
		p.w.WriteHeader(http.StatusOK)
		p.started = true
	}
	b, _ := json.Marshal(m)
	p.w.Write(append(b, '\n'))
	p.rc.Flush()
}

// fail ends the stream with err: an error message when the stream has
// begun (the docker CLI prints it and exits 1), the error's status when
// it has not.
func (p *progressWriter) fail(err error) {
	p.mu.Lock()
	started := p.started
	p.mu.Unlock()
	if !started {
		writeError(p.w, err)
		return
	}
	p.send(jsonmessage.JSONMessage{Error: &jsonmessage.JSONError{Message: err.Error()}, ErrorMessage: err.Error()})
}

// tagNode puts the node's name on a message of its engine: "node-1: ID"
// for a layer's line, "node-1" for the pull's own lines, so the docker CLI
// keeps one line per node and layer.
func tagNode(node string, m jsonmessage.JSONMessage) jsonmessage.JSONMessage {
	if m.ID != "" {
		m.ID = node + ": " + m.ID
	} else {
		m.ID = node
	}
	return m
}

// pullRef is the reference a pull request names (fromImage with its tag
// or digest), checked as Docker checks it, and whether every tag of the
// repository is wanted (no tag at all, as `docker pull -a` asks).
func pullRef(r *http.Request) (string, bool, error) {
	q := r.URL.Query()
	ref := q.Get("fromImage")
	if ref == "" {
		return "", false, fmt.Errorf("%w: POST /images/create needs fromImage (a pull) or fromSrc (an import)", errBadRequest)
	}
	if tag := q.Get("tag"); tag != "" {
		// As dockerd: a tag given apart overrides one in the name.
		if named, err := reference.ParseNormalizedNamed(ref); err == nil {
			if _, tagged := named.(reference.Tagged); tagged {
				ref = reference.FamiliarName(named)
			}
		}
		if strings.Contains(tag, ":") { // a digest: algorithm:hex
			ref += "@" + tag
		} else {
			ref += ":" + tag
		}
	}
	named, err := backend.ParseRef(ref)
	if err != nil {
		return "", false, err
	}
	_, tagged := named.(reference.Tagged)
	_, digested := named.(reference.Digested)
	return ref, !tagged && !digested, nil
}

// pullImage is docker pull through the cluster: every healthy node (or
// those the swarmdeck-only node filter names) pulls at once, as Swarm's
// did. Each engine's progress streams as it comes, every line tagged with
// its node, between Swarm's own line for the node ("node-1: Pulling x...",
// then "... : downloaded" or the node's error). A node that fails says so
// on its line; the stream then ends with an error that names every node
// that failed, after the others' results. When every node refuses before
// any progress (an image the registry lacks, an unreachable registry) the
// answer is their error, with its status. X-Registry-Auth is passed to the
// engines as it came.
func (s *Server) pullImage(w http.ResponseWriter, r *http.Request) {
	if q := r.URL.Query(); q.Get("fromImage") == "" && q.Get("fromSrc") != "" {
		s.importImage(w, r)
		return
	}
	ref, all, err := pullRef(r)
	if err != nil {
		writeError(w, err)
		return
	}
	opts := image.PullOptions{All: all, RegistryAuth: r.Header.Get("X-Registry-Auth"), Platform: r.URL.Query().Get("platform")}
	var addrs []string
	for _, name := range r.URL.Query()["node"] {
		n := s.nodeNamed(name)
		if n == "" {
			writeError(w, fmt.Errorf("%w: node %s", backend.ErrNotFound, name))
			return
		}
		addrs = append(addrs, n)
	}
	pw := newProgressWriter(w)
	var mu sync.Mutex
	begun := map[string]bool{}
	line := func(node, status string) jsonmessage.JSONMessage {
		return jsonmessage.JSONMessage{ID: node, Status: fmt.Sprintf("Pulling %s...%s", ref, status)}
	}
	results, err := s.c.Pull(r.Context(), ref, opts, addrs, func(node string, m jsonmessage.JSONMessage) {
		mu.Lock()
		first := !begun[node]
		begun[node] = true
		mu.Unlock()
		if first {
			pw.send(line(node, ""))
		}
		pw.send(tagNode(node, m))
	})
	if err != nil {
		pw.fail(err)
		return
	}
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	slices.Sort(names)
	var failed backend.NodeErrors
	for _, n := range names {
		if e := results[n]; e != nil {
			failed = append(failed, backend.NodeError{Node: n, Err: e})
		}
	}
	if len(failed) == len(names) && !pw.begun() {
		pw.fail(failed) // every node refused at once: their error, with its status
		return
	}
	for _, n := range names {
		if e := results[n]; e != nil {
			pw.send(line(n, " : "+e.Error()))
		} else {
			pw.send(line(n, " : downloaded"))
		}
	}
	if len(failed) > 0 {
		pw.fail(fmt.Errorf("pulling %s failed on %d of %d nodes: %w", ref, len(failed), len(names), failed))
	}
}

// begun reports whether the stream has begun.
func (p *progressWriter) begun() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started
}

// nodeNamed is the address of the node with that name (or address), ""
// when there is none.
func (s *Server) nodeNamed(name string) string {
	for _, n := range s.c.Nodes() {
		if n.Name == name || n.Addr == name {
			return n.Addr
		}
	}
	return ""
}

// importImage is docker import through the cluster, as Swarm did it: on
// every healthy node, the archive (fromSrc=-, the request's body) copied
// to each engine as it comes, or a URL each engine fetches itself. The
// repository named must be a valid reference.
func (s *Server) importImage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if repo := q.Get("repo"); repo != "" {
		ref := repo
		if tag := q.Get("tag"); tag != "" {
			ref += ":" + tag
		}
		if _, err := backend.ParseRef(ref); err != nil {
			writeError(w, err)
			return
		}
	}
	s.onEveryEngine(w, r, "/images/create", "import "+q.Get("fromSrc"), q.Get("fromSrc") == "-")
}
