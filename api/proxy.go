package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// errNotProxied is a route that needs an engine's own API, on an engine
// that has none (a simulated one).
var errNotProxied = errors.New("this request is passed to the container's engine, and a simulated engine has no Docker API")

// proxyContainer passes a request about one container to its engine, the
// container's reference replaced by its ID; streams (logs, attach) stream.
func (s *Server) proxyContainer(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("name")
	ct, n, p, err := s.locate(ref)
	if errors.Is(err, errNotProxied) && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/wait") {
		s.simWait(w, r, ref)
		return
	}
	if err != nil {
		writeError(w, err)
		return
	}
	path := strings.Replace(r.URL.Path, "/containers/"+ref+"/", "/containers/"+ct.ID+"/", 1)
	stream := r.Header.Get("Upgrade") != "" || strings.HasSuffix(path, "/attach")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// A rename, pause, exec… of a copy that is going is refused; one
		// under way holds a drain's move off the container until it
		// answers (an attach, which can last, only checks).
		if stream {
			err = s.c.MovingError(ct)
		} else {
			var release func()
			if release, err = s.c.HoldAgainstMoves(ct); err == nil {
				defer release()
			}
		}
		if err != nil {
			writeError(w, err)
			return
		}
	}
	r, done := s.whileHealthy(r, n.Addr)
	defer done()
	if stream {
		hijack(w, r, p, path)
		return
	}
	if r.Method == http.MethodGet && strings.HasSuffix(path, "/logs") {
		s.proxyLogs(w, r, p, path, ct, n)
		return
	}
	var after func()
	if r.Method == http.MethodPost && changes[path[strings.LastIndexByte(path, '/')+1:]] {
		// Read-your-writes: the manager re-reads the container once the
		// engine has answered, before the client gets the answer, so its
		// next ps or inspect shows the change.
		after = func() { s.c.Refresh(r.Context(), ct.ID) }
	}
	proxy(w, r, p, path, after)
	if after == nil && r.Method == http.MethodPost {
		s.c.Refresh(r.Context(), ct.ID) // wait, resize: the answer came as the container changed
	}
}

// simWait answers a wait for a container of a simulated engine as dockerd
// does: the headers at once, then {"StatusCode":N} once the condition
// holds — not-running (the default): it is not running; next-exit: it
// exits after the call; removed: it is gone — or nothing if the client
// leaves first. docker run asks it before the start, -d included, and
// printed "error waiting for container" when it failed.
func (s *Server) simWait(w http.ResponseWriter, r *http.Request, ref string) {
	cond := r.URL.Query().Get("condition")
	switch cond {
	case "", "not-running", "next-exit", "removed":
	default:
		writeError(w, &model.InvalidError{Msg: fmt.Sprintf("invalid condition: %q (not-running, next-exit or removed)", cond)})
		return
	}
	events, stop := s.c.Subscribe(64)
	defer stop()
	ct, _, _, err := s.c.Locate(ref)
	var down *backend.DownNodeError
	if err != nil && !errors.As(err, &down) {
		writeError(w, err)
		return
	}
	id, exit := ct.ID, ct.ExitCode()
	armed := cond != "next-exit" || ct.State == model.Running || ct.State == model.Paused // next-exit: once it has run
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	http.NewResponseController(w).Flush()
	tick := time.NewTicker(500 * time.Millisecond) // events can be dropped: look again now and then
	defer tick.Stop()
	for {
		ct, _, _, err := s.c.Locate(id)
		switch {
		case errors.Is(err, backend.ErrNotFound):
			fmt.Fprintf(w, "{\"StatusCode\":%d}\n", exit)
			return
		case ct == nil || errors.As(err, &down): // its node is down: wait
		case ct.State == model.Running || ct.State == model.Paused:
			armed = true
		case armed && cond != "removed":
			fmt.Fprintf(w, "{\"StatusCode\":%d}\n", ct.ExitCode())
			return
		}
		if ct != nil {
			exit = ct.ExitCode()
		}
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-events:
			if !ok {
				events = nil // dropped for falling behind: the ticker looks
			} else if e.ContainerID == id && e.Action == "die" {
				armed = true // a start and its exit may both come between two looks
			}
		case <-tick.C:
		}
	}
}

// changes are the proxied container calls that change the container and
// answer once the change is made.
var changes = map[string]bool{"kill": true, "pause": true, "unpause": true, "rename": true, "update": true}

// locate finds a container, its node, and its engine's API to pass a
// request through to.
func (s *Server) locate(ref string) (*model.Container, *model.Node, backend.Proxied, error) {
	ct, n, eng, err := s.c.Locate(ref)
	if err != nil {
		return nil, nil, nil, err
	}
	p, ok := eng.(backend.Proxied)
	if !ok {
		return nil, nil, nil, errNotProxied
	}
	return ct, n, p, nil
}

// whileHealthy is r bound to the health of the node at addr: the call
// ends, with backend.ErrNodeDown, when that node turns Unhealthy (a hung
// engine never holds a user's call past its flag).
func (s *Server) whileHealthy(r *http.Request, addr string) (*http.Request, context.CancelFunc) {
	ctx, cancel := s.c.WhileHealthy(r.Context(), addr)
	return r.WithContext(ctx), cancel
}

// engineError is err of a call passed to an engine, said as the node
// going down when that is why it ended, and naming the node (not the
// engine's address, which the client's error would otherwise show).
func engineError(r *http.Request, err error) error {
	engine := "the engine"
	if name := backend.CallNode(r.Context()); name != "" {
		engine = "the engine of " + name
	}
	if cause := backend.NodeDownCause(r.Context(), err); errors.Is(cause, backend.ErrNodeDown) {
		return fmt.Errorf("%s did not answer: %w", engine, backend.ErrNodeDown)
	}
	return fmt.Errorf("%s did not answer: %w", engine, err)
}

// createExec passes an exec create to the container's engine and
// remembers which engine owns the exec ID.
func (s *Server) createExec(w http.ResponseWriter, r *http.Request) {
	ct, n, p, err := s.locate(r.PathValue("name"))
	if err != nil {
		writeError(w, err)
		return
	}
	r, done := s.whileHealthy(r, n.Addr)
	defer done()
	out := outgoing(r, p, "/containers/"+ct.ID+"/exec")
	resp, err := p.HTTPClient().Do(out)
	if err != nil {
		writeError(w, engineError(r, err))
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var created struct {
		ID string `json:"Id"`
	}
	if json.Unmarshal(body, &created) == nil && created.ID != "" {
		s.mu.Lock()
		s.execs[created.ID] = execOwner{p, n.Addr}
		s.mu.Unlock()
	}
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}

// proxyExec passes exec start, resize and inspect to the owning engine.
func (s *Server) proxyExec(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	o, ok := s.execs[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		writeError(w, fmt.Errorf("%w: exec instance %s", backend.ErrNotFound, r.PathValue("id")))
		return
	}
	p := o.p
	r, done := s.whileHealthy(r, o.addr)
	defer done()
	if strings.HasSuffix(r.URL.Path, "/start") && r.Header.Get("Upgrade") != "" {
		hijack(w, r, p, r.URL.Path)
		return
	}
	proxy(w, r, p, r.URL.Path, nil)
}

// outgoing is r addressed to the engine at path, with the version prefix
// the endpoint speaks.
func outgoing(r *http.Request, p backend.Proxied, path string) *http.Request {
	base, _ := url.Parse(p.BaseURL())
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL = &url.URL{Scheme: base.Scheme, Host: base.Host, Path: "/v" + APIVersion + path, RawQuery: r.URL.RawQuery}
	out.Host = base.Host
	return out
}

// get asks the engine for path with r's context.
func get(r *http.Request, p backend.Proxied, path string) (*http.Response, error) {
	out := outgoing(r, p, path)
	out.Method, out.Body, out.ContentLength = http.MethodGet, http.NoBody, 0
	out.URL.RawQuery = ""
	return p.HTTPClient().Do(out)
}

// proxy streams the engine's answer back as it comes. after, when set,
// runs once the engine has answered with success, before the answer is
// passed on.
func proxy(w http.ResponseWriter, r *http.Request, p backend.Proxied, path string, after func()) {
	rp := &httputil.ReverseProxy{
		ModifyResponse: func(resp *http.Response) error {
			if after != nil && resp.StatusCode < 300 {
				after()
			}
			return nil
		},
		Rewrite: func(pr *httputil.ProxyRequest) {
			o := outgoing(pr.In, p, path)
			pr.Out.URL, pr.Out.Host = o.URL, o.Host
		},
		Transport:     p.HTTPClient().Transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, out *http.Request, err error) {
			writeError(w, engineError(out, err))
		},
	}
	rp.ServeHTTP(w, r)
}

// hijack passes a request that turns into a raw stream (attach, exec
// start) to the engine over a connection of its own, then copies bytes
// both ways until either side closes.
func hijack(w http.ResponseWriter, r *http.Request, p backend.Proxied, path string) {
	conn, err := p.Dial(r.Context())
	if err != nil {
		writeError(w, engineError(r, err))
		return
	}
	defer conn.Close()
	// The stream ends when the request's context does (its node turned
	// Unhealthy): closing the engine's side ends both copies below.
	defer context.AfterFunc(r.Context(), func() { conn.Close() })()
	out := outgoing(r, p, path)
	out.URL.Scheme, out.URL.Host = "", ""
	if err := out.Write(conn); err != nil {
		writeError(w, engineError(r, err))
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		writeError(w, errors.New("this connection cannot carry a stream"))
		return
	}
	client, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer client.Close()
	defer context.AfterFunc(r.Context(), func() { client.Close() })()
	go func() {
		if n := buf.Reader.Buffered(); n > 0 {
			b, _ := buf.Reader.Peek(n)
			conn.Write(bytes.Clone(b))
		}
		io.Copy(conn, client)
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}()
	io.Copy(client, conn)
}

// execOwner is the engine that made an exec, and its node's address.
type execOwner struct {
	p    backend.Proxied
	addr string
}

func passThrough(w http.ResponseWriter, resp *http.Response) {
	copyHeader(w.Header(), resp.Header)
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		for _, v := range vs {
			dst.Add(k, v)
		}
	}
}
