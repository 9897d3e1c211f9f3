package api

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs/pkg/errhttp"

	"swarmdeck/backend"
	"swarmdeck/internal/version"
	"swarmdeck/model"
	"swarmdeck/sched"
)

// APIVersion is the Docker API version the endpoint speaks; engines from
// Docker 20.10 on speak it too, so requests pass through unchanged.
const APIVersion = version.APIVersion

// Server is the Docker-compatible endpoint of one cluster.
type Server struct {
	c   *backend.Cluster
	mux *http.ServeMux

	mu    sync.Mutex
	execs map[string]execOwner // exec ID → the engine that made it

	forward *http.Transport // how a replica reaches the primary
	scheme  string          // http, or https when the managers serve TLS

	followers atomic.Int64 // open /events streams
	follow    followLimits

	infos  infoCache    // docker info's lines, per node view
	ps     psCache      // docker ps's containers, encoded
	bodies createBodies // create bodies already decoded
}

// followLimits bound /events followers (MaxFollowers and the rest by
// default; tests make them small).
type followLimits struct {
	max          int64
	buffer       int
	writeTimeout time.Duration
}

// ForwardOverTLS makes a replica reach the primary over TLS with this
// client configuration (the managers' own certificate and CA), as the
// managers serve each other's API over TLS.
func (s *Server) ForwardOverTLS(c *tls.Config) {
	s.forward = &http.Transport{TLSClientConfig: c, ForceAttemptHTTP2: false}
	s.scheme = "https"
}

// New makes the endpoint for a cluster. Run Warm beside it (manage does)
// so that docker ps and docker info find their encodings made.
func New(c *backend.Cluster) *Server {
	s := &Server{c: c, mux: http.NewServeMux(), execs: map[string]execOwner{}, scheme: "http",
		follow: followLimits{max: MaxFollowers, buffer: followerBuffer, writeTimeout: followerWriteTimeout}}
	s.routes()
	return s
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /_ping", s.ping)
	m.HandleFunc("HEAD /_ping", s.ping)
	m.HandleFunc("GET /version", s.version)
	m.HandleFunc("GET /info", s.info)
	m.HandleFunc("GET /events", s.events)

	m.HandleFunc("GET /containers/json", s.listContainers)
	m.HandleFunc("POST /containers/create", s.createContainer)
	m.HandleFunc("GET /containers/{name}/json", s.inspectContainer)
	m.HandleFunc("POST /containers/{name}/start", s.startContainer)
	m.HandleFunc("POST /containers/{name}/stop", s.stopContainer)
	m.HandleFunc("POST /containers/{name}/restart", s.restartContainer)
	m.HandleFunc("DELETE /containers/{name}", s.removeContainer)
	m.HandleFunc("POST /containers/{name}/rename", s.renameContainer)
	m.HandleFunc("POST /containers/{name}/update", s.updateContainer)
	for _, p := range []string{"kill", "pause", "unpause", "wait", "resize"} {
		m.HandleFunc("POST /containers/{name}/"+p, s.proxyContainer)
	}
	for _, p := range []string{"logs", "top", "stats", "changes", "export", "archive"} {
		m.HandleFunc("GET /containers/{name}/"+p, s.proxyContainer)
	}
	m.HandleFunc("POST /containers/{name}/attach", s.proxyContainer)
	m.HandleFunc("POST /containers/{name}/exec", s.createExec)
	m.HandleFunc("POST /exec/{id}/start", s.proxyExec)
	m.HandleFunc("POST /exec/{id}/resize", s.proxyExec)
	m.HandleFunc("GET /exec/{id}/json", s.proxyExec)

	m.HandleFunc("GET /networks", s.listNetworks)
	m.HandleFunc("GET /networks/{id}", s.inspectNetwork)
	m.HandleFunc("POST /networks/create", s.createNetwork)
	m.HandleFunc("DELETE /networks/{id}", s.removeNetwork)
	m.HandleFunc("POST /networks/{id}/connect", s.connectNetwork)
	m.HandleFunc("POST /networks/{id}/disconnect", s.connectNetwork)

	m.HandleFunc("GET /images/json", s.listImages)
	m.HandleFunc("POST /images/create", s.pullImage)
	m.HandleFunc("POST /images/load", s.loadImages)
	m.HandleFunc("GET /images/get", s.saveImages)
	m.HandleFunc("GET /images/{rest...}", s.getImageRoute)
	m.HandleFunc("POST /images/{rest...}", s.postImageRoute)
	m.HandleFunc("POST /build", s.build)
	m.HandleFunc("POST /commit", s.commit)
	m.HandleFunc("POST /auth", s.anyEngine)
	m.HandleFunc("GET /images/search", s.anyEngine)
	m.HandleFunc("PUT /containers/{name}/archive", s.proxyContainer)
	m.HandleFunc("HEAD /containers/{name}/archive", s.proxyContainer)
	m.HandleFunc("DELETE /images/{name...}", s.removeImage)
	m.HandleFunc("GET /volumes", s.listVolumes)
	m.HandleFunc("POST /volumes/create", s.createVolume)
	m.HandleFunc("GET /volumes/{name...}", s.inspectVolume)
	m.HandleFunc("DELETE /volumes/{name...}", s.removeVolume)

	s.swarmdeckRoutes()

	m.HandleFunc("GET /images/viz", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Not supported in clustering mode.", http.StatusNotImplemented)
	})
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		r.Pattern = RouteUnmatched
		writeError(w, &notServed{r.Method + " " + r.URL.Path})
	})
}

// Routes of requests no route template serves, as the metrics label them.
const (
	RouteUnmatched = "unmatched" // no route: the 404 of an unknown path, a wrong method
	RouteForwarded = "forwarded" // a replica passed the request to the primary
)

// versionPrefix is the length of path's /vX.Y prefix (`^/v[0-9]+\.[0-9]+`),
// 0 when it has none; what follows it is the slash. A regexp did this for
// every request.
func versionPrefix(path string) int {
	if len(path) < 2 || path[0] != '/' || path[1] != 'v' {
		return 0
	}
	i := 2
	digits := func() bool {
		start := i
		for i < len(path) && path[i] >= '0' && path[i] <= '9' {
			i++
		}
		return i > start
	}
	if !digits() || i >= len(path) || path[i] != '.' {
		return 0
	}
	i++
	if !digits() || i >= len(path) || path[i] != '/' {
		return 0
	}
	return i
}

// Docker's headers on every answer, canonical keys set directly (Set
// canonicalized "API-Version" into a new string per request).
var (
	apiVersionValue   = []string{APIVersion}
	experimentalValue = []string{"false"}
	serverValue       = []string{"swarmdeck"}
)

// ServeHTTP strips the /vX.Y prefix, stamps Docker's headers and routes;
// a replica passes all but /_ping, /info and /debug to the primary.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if role, primary := s.c.Role(); role == "replica" && !answeredByReplica(r.URL.Path) {
		switch {
		case primary != "":
			r.Pattern = RouteForwarded // for metrics: no route of this manager served it
			s.toPrimary(w, r, primary)
			return
		case !isRead(r):
			writeError(w, &noPrimary{r.Method + " " + r.URL.Path})
			return
		}
		// no primary: a read is answered from this manager's own view
	}
	if n := versionPrefix(r.URL.Path); n > 0 {
		r.URL.Path = r.URL.Path[n:]
		r.URL.RawPath = ""
	}
	foldName(r)
	if r.Body != nil && !streamsBody(r) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	h := w.Header()
	h["Api-Version"], h["Docker-Experimental"], h["Server"] = apiVersionValue, experimentalValue, serverValue
	s.mux.ServeHTTP(w, r)
}

// containerActions are the last segments of /containers/{name}/… routes.
var containerActions = map[string]bool{
	"json": true, "start": true, "stop": true, "restart": true, "kill": true, "pause": true, "unpause": true,
	"wait": true, "resize": true, "rename": true, "update": true, "logs": true, "top": true, "stats": true,
	"changes": true, "export": true, "archive": true, "attach": true, "exec": true,
}

// foldName lets a container be named node/name in a path, as Swarm's
// router did: the name becomes one escaped segment, and PathValue gives
// it back whole.
func foldName(r *http.Request) {
	for _, kind := range []struct {
		prefix  string
		actions map[string]bool
	}{{"/containers/", containerActions}, {"/networks/", networkActions}} {
		rest, ok := strings.CutPrefix(r.URL.Path, kind.prefix)
		if !ok || !strings.Contains(rest, "/") {
			continue
		}
		name, action := rest, ""
		if i := strings.LastIndexByte(rest, '/'); kind.actions[rest[i+1:]] {
			name, action = rest[:i], rest[i:]
		}
		if strings.Contains(name, "/") {
			r.URL.RawPath = kind.prefix + url.PathEscape(name) + action
		}
		return
	}
}

// networkActions are the last segments of /networks/{id}/… routes.
var networkActions = map[string]bool{"connect": true, "disconnect": true}

// answeredByReplica are the paths a replica answers itself, as Swarm's did.
func answeredByReplica(p string) bool {
	return strings.HasSuffix(p, "/_ping") || strings.HasSuffix(p, "/info") || strings.HasSuffix(p, "/debug")
}

// isRead says whether a request only reads (GET or HEAD) and streams
// nothing that needs the primary: such a request is answered by a
// replica from its own view while no primary is elected.
func isRead(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

// noPrimary is a write that reached a replica while no primary manager
// is elected (the discovery store is unreachable or frozen).
type noPrimary struct{ route string }

func (e *noPrimary) Error() string {
	return "no primary manager is elected (the discovery store is unreachable or has not answered): " + e.route + " cannot be served until one is; reads are served from this manager's view"
}

// toPrimary passes a request to the primary.
func (s *Server) toPrimary(w http.ResponseWriter, r *http.Request, primary string) {
	target := &url.URL{Scheme: s.scheme, Host: primary}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = primary
		},
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			writeError(w, fmt.Errorf("Unable to reach primary cluster manager (%v): %s", err, primary))
		},
	}
	if s.forward != nil { // a nil *http.Transport in the interface would not mean "the default"
		rp.Transport = s.forward
	}
	rp.ServeHTTP(w, r)
}

type notServed struct{ route string }

func (e *notServed) Error() string {
	return "swarmdeck does not serve " + e.route + ": it is not part of the API of a standalone Swarm cluster"
}

// status maps an error to Docker's status code. It is the only place
// that does.
func status(err error) int {
	var ns *notServed
	var tl *tooLarge
	var tb *tooBusy
	var np *noPrimary
	var inv *model.InvalidError
	var nf *model.NotFoundError
	var fb *model.ForbiddenError
	switch {
	case errors.As(err, &ns):
		return http.StatusNotFound
	case errors.As(err, &tl):
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &tb), errors.As(err, &np):
		return http.StatusServiceUnavailable
	case sched.IsInvalid(err), errors.Is(err, errBadRequest), errors.As(err, &inv):
		return http.StatusBadRequest
	case model.IsConflict(err):
		return http.StatusConflict
	case errors.As(err, &nf):
		return http.StatusNotFound
	case errors.As(err, &fb):
		return http.StatusForbidden
	case backend.IsNotFound(err):
		return http.StatusNotFound
	}
	// An engine's own error keeps its class (errdefs); placement refusals
	// and everything else are a 500, as in Swarm.
	return errhttp.ToHTTP(err)
}

var errBadRequest = errors.New("bad request")

// writeError answers with Docker's error shape, {"message": …}.
func writeError(w http.ResponseWriter, err error) {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "no such "); ok {
		msg = "No such " + rest
	}
	writeJSON(w, status(err), map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// boolParam reads a Docker boolean query parameter (1, true, True).
func boolParam(r *http.Request, name string) bool {
	v := r.URL.Query().Get(name)
	return v == "1" || strings.EqualFold(v, "true")
}
