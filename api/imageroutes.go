package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/docker/docker/pkg/jsonmessage"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// noSuchImage is Docker's 404 for an image no healthy node has.
func noSuchImage(name string) error {
	return &model.NotFoundError{Kind: "image", Ref: name}
}

// notFoundText is a 404 (errdefs' not-found class) in words of its own.
type notFoundText struct{ msg string }

func (e *notFoundText) Error() string { return e.msg }

// NotFound marks the error as errdefs' not-found class.
func (e *notFoundText) NotFound() {}

// proxiedEngine is the engine of a node, to pass a request through to.
func (s *Server) proxiedEngine(n *model.Node) (backend.Proxied, error) {
	for view, eng := range s.c.Engines() {
		if view.Addr == n.Addr {
			if p, ok := eng.(backend.Proxied); ok {
				return p, nil
			}
			return nil, errNotProxied
		}
	}
	return nil, fmt.Errorf("%w: node %s is not healthy", backend.ErrNotFound, n.Name)
}

// imageSubroute splits /images/{name}/{action}: a name may hold slashes
// (127.0.0.1:5000/team/app:v1).
func imageSubroute(r *http.Request) (name, action string) {
	rest := r.PathValue("rest")
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return rest, ""
	}
	return rest[:i], rest[i+1:]
}

// getImageRoute serves GET /images/{name}/json, /history and /get from
// the first node (by name) that has the image, as Swarm did.
func (s *Server) getImageRoute(w http.ResponseWriter, r *http.Request) {
	name, action := imageSubroute(r)
	switch action {
	case "json", "history":
		s.proxyImage(w, r, name, false, action)
	case "get":
		s.proxyImage(w, r, name, true, action)
	default:
		writeError(w, &notServed{r.Method + " " + r.URL.Path})
	}
}

// postImageRoute serves POST /images/{name}/tag (on every node that has
// the image) and /push (from the first node that has it).
func (s *Server) postImageRoute(w http.ResponseWriter, r *http.Request) {
	name, action := imageSubroute(r)
	switch action {
	case "tag":
		s.tagImage(w, r, name)
	case "push":
		ref, anyTag := name, true
		if tag := r.URL.Query().Get("tag"); tag != "" {
			ref, anyTag = name+":"+tag, false
		}
		s.proxyImage(w, r, ref, anyTag, action)
	default:
		writeError(w, &notServed{r.Method + " " + r.URL.Path})
	}
}

// proxyImage passes a request about one image to the first node that has
// it (the push's X-Registry-Auth with it); the engine's answer streams
// back as it comes.
func (s *Server) proxyImage(w http.ResponseWriter, r *http.Request, ref string, anyTag bool, action string) {
	holders := s.c.ImageHolders(ref, anyTag)
	if len(holders) == 0 {
		writeError(w, noSuchImage(ref))
		return
	}
	p, err := s.proxiedEngine(holders[0])
	if err != nil {
		writeError(w, err)
		return
	}
	r, done := s.whileHealthy(r, holders[0].Addr)
	defer done()
	name, _ := imageSubroute(r)
	proxy(w, r, p, "/images/"+name+"/"+action, nil)
}

// tagImage tags the image on every healthy node that has it, as Swarm
// did; a node that refuses is named. Docker answers 201.
func (s *Server) tagImage(w http.ResponseWriter, r *http.Request, name string) {
	holders := s.c.ImageHolders(name, false)
	if len(holders) == 0 {
		writeError(w, noSuchImage(name))
		return
	}
	var errs backend.NodeErrors
	for _, n := range holders {
		p, err := s.proxiedEngine(n)
		if err == nil {
			_, err = engineCall(r, p, http.MethodPost, "/images/"+name+"/tag", nil, nil)
		}
		if err != nil {
			errs = append(errs, backend.NodeError{Node: n.Name, Err: err})
		}
		s.c.RefreshImages(r.Context(), n.Addr)
	}
	if len(errs) > 0 {
		writeError(w, errs)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// saveImages is GET /images/get?names=…: docker save of several images,
// from a node that has all of them (Swarm's rule: a name without a tag
// matches any tag of its repository).
func (s *Server) saveImages(w http.ResponseWriter, r *http.Request) {
	names := r.URL.Query()["names"]
	if len(names) == 0 {
		writeError(w, fmt.Errorf("%w: docker save needs at least one image (names=)", errBadRequest))
		return
	}
	for _, n := range s.c.Nodes() {
		if n.Health != model.Healthy {
			continue
		}
		all := true
		for _, name := range names {
			if !slices.ContainsFunc(n.Images, func(im model.Image) bool { return backend.ImageMatches(im, name, true) }) {
				all = false
				break
			}
		}
		if !all {
			continue
		}
		p, err := s.proxiedEngine(n)
		if err != nil {
			writeError(w, err)
			return
		}
		r, done := s.whileHealthy(r, n.Addr)
		defer done()
		proxy(w, r, p, "/images/get", nil)
		return
	}
	writeError(w, &notFoundText{fmt.Sprintf("Unable to find an engine containing all images: %s", names)})
}

// loadImages is docker load through the cluster: the archive goes to
// every healthy node at once, and each engine's answer streams back,
// every line tagged with its node.
func (s *Server) loadImages(w http.ResponseWriter, r *http.Request) {
	s.onEveryEngine(w, r, "/images/load", "load images", true)
}

// onEveryEngine passes a request to every healthy node at once: its
// body, when it has one, is read once and copied to each engine as it
// comes. Each engine's JSON messages stream back tagged with the node. A
// node that fails is named in the error that ends the stream; the others'
// work stands. When every node refuses before any message, the answer is
// their error with its status.
func (s *Server) onEveryEngine(w http.ResponseWriter, r *http.Request, path, what string, withBody bool) {
	type target struct {
		n *model.Node
		p backend.Proxied
	}
	var targets []target
	for n, eng := range s.c.Engines() {
		if p, ok := eng.(backend.Proxied); ok {
			targets = append(targets, target{n, p})
		}
	}
	if len(targets) == 0 {
		writeError(w, fmt.Errorf("%w: no healthy node to %s on", backend.ErrNotFound, what))
		return
	}
	slices.SortFunc(targets, func(a, b target) int { return strings.Compare(a.n.Name, b.n.Name) })
	pw := newProgressWriter(w)
	writers := make([]*io.PipeWriter, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		var body io.Reader
		if withBody {
			pr, pipeW := io.Pipe()
			writers[i], body = pipeW, pr
			defer pr.CloseWithError(errors.New("the request ended"))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := streamOn(r, t.p, path, body, func(m jsonmessage.JSONMessage) { pw.send(tagLoad(t.n.Name, m)) })
			if pr, ok := body.(*io.PipeReader); ok {
				pr.CloseWithError(fmt.Errorf("%s stopped reading: %v", t.n.Name, err)) // the copy below moves on without it
			}
			errs[i] = err
			s.c.RefreshImages(r.Context(), t.n.Addr)
		}()
	}
	// An engine that stops reading is dropped from the copy (its own
	// answer says why); only the client's body failing fails them all.
	var copyErr error
	if withBody {
		body := &readErr{r: r.Body}
		io.Copy(fanOut(writers), body)
		copyErr = body.err
		for _, pwr := range writers {
			pwr.CloseWithError(copyErr)
		}
	}
	wg.Wait()
	var failed backend.NodeErrors
	for i, err := range errs {
		if err != nil {
			failed = append(failed, backend.NodeError{Node: targets[i].n.Name, Err: err})
		}
	}
	switch {
	case copyErr != nil:
		pw.fail(fmt.Errorf("%w: reading the request body to %s: %v", errBadRequest, what, copyErr))
	case len(failed) == len(targets) && !pw.begun():
		pw.fail(failed)
	case len(failed) > 0:
		pw.fail(fmt.Errorf("%s failed on %d of %d nodes: %w", what, len(failed), len(targets), failed))
	default:
		pw.mu.Lock()
		if !pw.started {
			w.WriteHeader(http.StatusOK)
		}
		pw.mu.Unlock()
	}
}

// streamOn sends r (with body, when not nil) to one engine's path and
// passes on each JSON message of its answer.
func streamOn(r *http.Request, p backend.Proxied, path string, body io.Reader, each func(jsonmessage.JSONMessage)) error {
	out := outgoing(r, p, path)
	if body != nil {
		out.Body, out.ContentLength = io.NopCloser(body), -1
		out.Header.Del("Content-Length")
	} else {
		out.Body, out.ContentLength = http.NoBody, 0
	}
	resp, err := p.HTTPClient().Do(out)
	if err != nil {
		return engineError(r, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		var m struct{ Message string }
		if json.Unmarshal(b, &m) != nil || m.Message == "" {
			m.Message = strings.TrimSpace(string(b))
		}
		return &backend.EngineError{Code: resp.StatusCode, Message: m.Message}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m jsonmessage.JSONMessage
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if m.Error != nil {
			return &backend.EngineError{Code: http.StatusInternalServerError, Message: m.Error.Message}
		}
		each(m)
	}
	return sc.Err()
}

// tagLoad puts the node's name on a load message: its stream text
// ("Loaded image: x") or its id.
func tagLoad(node string, m jsonmessage.JSONMessage) jsonmessage.JSONMessage {
	if m.Stream != "" {
		m.Stream = node + ": " + m.Stream
		return m
	}
	return tagNode(node, m)
}

// readErr remembers the error a reader failed with (EOF is none).
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// fanOut writes to every writer that still reads; one that stopped (its
// engine failed) is dropped, the others go on. It fails only when none
// is left.
type fanOutWriter struct{ ws []*io.PipeWriter }

func fanOut(ws []*io.PipeWriter) io.Writer { return &fanOutWriter{ws: slices.Clone(ws)} }

func (f *fanOutWriter) Write(b []byte) (int, error) {
	live := f.ws[:0]
	var last error
	for _, w := range f.ws {
		if _, err := w.Write(b); err != nil {
			last = err
			continue
		}
		live = append(live, w)
	}
	f.ws = live
	if len(live) == 0 {
		return 0, fmt.Errorf("no engine reads the archive any more: %w", last)
	}
	return len(b), nil
}

// build is docker build through the cluster, as Swarm ran it: build args
// that are placement expressions (--build-arg constraint:node==node-1,
// affinity:image==…) choose the node with the scheduler and are taken
// out of the build args; the build then runs on that one node, its output
// streamed back, and the node's images are read again.
func (s *Server) build(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	args := map[string]*string{}
	if b := q.Get("buildargs"); b != "" {
		if err := json.Unmarshal([]byte(b), &args); err != nil {
			writeError(w, fmt.Errorf("%w: buildargs is not a JSON object of strings: %v", errBadRequest, err))
			return
		}
	}
	var exprs []string
	for k, v := range args {
		if !strings.HasPrefix(k, "constraint:") && !strings.HasPrefix(k, "affinity:") {
			continue
		}
		kv := k
		if v != nil {
			kv += "=" + *v
		}
		exprs = append(exprs, kv)
		delete(args, k)
	}
	slices.Sort(exprs)
	b, _ := json.Marshal(args)
	q.Set("buildargs", string(b))
	var cpus model.MilliCPU
	if v := q.Get("cpushares"); v != "" { // Swarm's meaning: a number of CPUs
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > model.MaxCPUs {
			writeError(w, fmt.Errorf("%w: cpushares %q is not a number of CPUs", errBadRequest, v))
			return
		}
		cpus = model.MilliCPU(n * 1000)
	}
	var memory int64
	if v := q.Get("memory"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, fmt.Errorf("%w: memory %q is not a number of bytes", errBadRequest, v))
			return
		}
		memory = n
	}
	n, err := s.c.PlaceBuild(exprs, cpus, memory)
	if err != nil {
		writeError(w, err)
		return
	}
	p, err := s.proxiedEngine(n)
	if err != nil {
		writeError(w, err)
		return
	}
	r.URL.RawQuery = q.Encode()
	r, done := s.whileHealthy(r, n.Addr)
	defer done()
	proxy(w, r, p, "/build", nil)
	s.c.RefreshImages(r.Context(), n.Addr)
}

// streamsBody reports the routes whose request body is an archive passed
// on as it comes (a build context, images to load or import, files into
// a container), not read whole: the body limit does not apply to them.
func streamsBody(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost:
		return r.URL.Path == "/build" || r.URL.Path == "/images/load" || r.URL.Path == "/images/create"
	case http.MethodPut:
		return strings.HasSuffix(r.URL.Path, "/archive")
	}
	return false
}

// commit is docker commit through the cluster: the container's engine
// makes the image (container= is the container's ID there), and that
// node's images are read again.
func (s *Server) commit(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("container")
	if ref == "" {
		writeError(w, fmt.Errorf("%w: docker commit needs a container (container=)", errBadRequest))
		return
	}
	ct, n, p, err := s.locate(ref)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	q.Set("container", ct.ID)
	r.URL.RawQuery = q.Encode()
	r, done := s.whileHealthy(r, n.Addr)
	defer done()
	proxy(w, r, p, "/commit", func() { s.c.RefreshImages(r.Context(), n.Addr) })
}

// anyEngine passes a request that any engine answers alike (docker
// login's credential check, docker search) to the first healthy node, as
// Swarm passed it to a random one.
func (s *Server) anyEngine(w http.ResponseWriter, r *http.Request) {
	nodes := s.c.Nodes()
	for _, n := range nodes {
		if n.Health != model.Healthy {
			continue
		}
		p, err := s.proxiedEngine(n)
		if err != nil {
			continue
		}
		r, done := s.whileHealthy(r, n.Addr)
		defer done()
		proxy(w, r, p, r.URL.Path, nil)
		return
	}
	writeError(w, fmt.Errorf("%w: no healthy node to answer %s", backend.ErrNotFound, r.URL.Path))
}
