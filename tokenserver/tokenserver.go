// Package tokenserver serves the protocol of Docker Hub's hosted
// discovery (token://), shut down in 2019, so the talk's token-based
// clusters run without it:
//
//	POST /v1/clusters                      a new cluster: its token, as text
//	POST /v1/clusters/TOKEN?ttl=SECONDS    register the body (host:port) for SECONDS
//	GET  /v1/clusters/TOKEN                the live entries, a JSON array of strings
//
// The same paths without /v1 are served too (token://HOST/TOKEN asks
// HOST/clusters/TOKEN). Entries expire after their TTL. The state is
// kept in a file, written on every change (a change that cannot be
// written is undone and answered 500), so a restart keeps the clusters.
// A server keeps at most MaxClusters clusters of MaxEntries entries.
package tokenserver

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"swarmdeck/model"
)

// MaxTTL is the longest TTL an entry may ask for.
const MaxTTL = 24 * time.Hour

// The caps of one server: past them a new cluster is refused with 429,
// a new entry of a full cluster with 429 too (renewing one is fine).
const (
	MaxClusters = 10000
	MaxEntries  = 10000 // per cluster
)

var tokenRule = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)

// Server is a token discovery service whose state lives in one file.
type Server struct {
	mu       sync.Mutex
	path     string
	clusters map[string]map[string]time.Time // token → entry → expiry
	now      func() time.Time
	// maxClusters and maxEntries are MaxClusters and MaxEntries (tests
	// lower them).
	maxClusters, maxEntries int
}

// Open loads the state at path (a missing file is an empty service). Its
// folder must be writable: every change is written there.
func Open(path string) (*Server, error) {
	s := &Server{path: path, clusters: map[string]map[string]time.Time{}, now: time.Now,
		maxClusters: MaxClusters, maxEntries: MaxEntries}
	probe, err := os.CreateTemp(filepath.Dir(path), ".tokens-*")
	if err != nil {
		return nil, fmt.Errorf("token server state %s: its folder is not writable: %w", path, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("token server state: %w", err)
	}
	if err := json.Unmarshal(data, &s.clusters); err != nil {
		return nil, fmt.Errorf("token server state %s is not JSON clusters: %w", path, err)
	}
	for t, c := range s.clusters {
		if c == nil {
			s.clusters[t] = map[string]time.Time{}
		}
	}
	return s, nil
}

// save writes the state: a new file renamed over the old one.
func (s *Server) save() error {
	data, err := json.Marshal(s.clusters)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".tokens-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

// live is a cluster's unexpired entries, sorted.
func (s *Server) live(token string) []string {
	now := s.now()
	out := []string{}
	for e, exp := range s.clusters[token] {
		if now.Before(exp) {
			out = append(out, e)
		}
	}
	sort.Strings(out)
	return out
}

// prune drops expired entries of a cluster.
func (s *Server) prune(token string) {
	now := s.now()
	for e, exp := range s.clusters[token] {
		if !now.Before(exp) {
			delete(s.clusters[token], e)
		}
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v1"), "/")
	switch {
	case p == "clusters" && r.Method == http.MethodPost:
		s.create(w)
	case strings.HasPrefix(p, "clusters/"):
		token := strings.TrimPrefix(p, "clusters/")
		if !tokenRule.MatchString(token) {
			http.Error(w, fmt.Sprintf("invalid token %q: 1 to 64 letters and digits", token), http.StatusBadRequest)
			return
		}
		switch r.Method {
		case http.MethodGet:
			s.mu.Lock()
			entries := s.live(token)
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(entries)
		case http.MethodPost:
			s.register(w, r, token)
		default:
			http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
		}
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) create(w http.ResponseWriter) {
	b := make([]byte, 16)
	rand.Read(b)
	token := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.clusters) >= s.maxClusters {
		http.Error(w, fmt.Sprintf("cannot make a new cluster: this server keeps at most %d", s.maxClusters), http.StatusTooManyRequests)
		return
	}
	s.clusters[token] = map[string]time.Time{}
	if err := s.save(); err != nil {
		delete(s.clusters, token) // nothing is served that is not kept
		http.Error(w, "cannot keep the new cluster: "+err.Error(), http.StatusInternalServerError)
		return
	}
	io.WriteString(w, token)
}

func (s *Server) register(w http.ResponseWriter, r *http.Request, token string) {
	secs, err := strconv.ParseInt(r.URL.Query().Get("ttl"), 10, 64)
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > MaxTTL {
		http.Error(w, fmt.Sprintf("invalid ttl %q: want whole seconds from 1 to %d", r.URL.Query().Get("ttl"), int64(MaxTTL/time.Second)), http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1024))
	entry := strings.TrimSpace(string(body))
	if err == nil {
		err = checkEntry(entry)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cluster, created := s.clusters[token], false
	if cluster == nil {
		if len(s.clusters) >= s.maxClusters {
			http.Error(w, fmt.Sprintf("cannot keep cluster %s: this server keeps at most %d clusters", token, s.maxClusters), http.StatusTooManyRequests)
			return
		}
		cluster, created = map[string]time.Time{}, true // a token made by `swarmdeck create` without a server
		s.clusters[token] = cluster
	}
	s.prune(token)
	prev, had := cluster[entry]
	if !had && len(cluster) >= s.maxEntries {
		http.Error(w, fmt.Sprintf("cannot register %q: cluster %s holds %d entries, the most this server keeps", entry, token, s.maxEntries), http.StatusTooManyRequests)
		return
	}
	cluster[entry] = s.now().Add(time.Duration(secs) * time.Second)
	if err := s.save(); err != nil {
		// Undo: nothing is served that is not kept.
		switch {
		case created:
			delete(s.clusters, token)
		case had:
			cluster[entry] = prev
		default:
			delete(cluster, entry)
		}
		http.Error(w, "cannot keep the entry: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// checkEntry accepts host:port, optionally named name=host:port with a
// hostname-like name.
func checkEntry(e string) error {
	_, addr, err := model.SplitEntry(e)
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(addr)
	p, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
		return fmt.Errorf("invalid entry %q: want host:port or name=host:port", model.Printable(e))
	}
	return nil
}
