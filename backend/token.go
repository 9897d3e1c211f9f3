package backend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// HostedDiscovery is Docker Hub's token service, where token://TOKEN
// points, as in Swarm. It was shut down on 2019-06-19.
const HostedDiscovery = "https://discovery.hub.docker.com/v1"

// Token is a token://TOKEN or token://HOST/TOKEN discovery: the hosted
// service's protocol. join POSTs its address to /clusters/TOKEN?ttl=N
// every heartbeat; the manager GETs the list every heartbeat (the
// protocol has no watch). HOST is spoken to in https, as Swarm did; a
// server that answers in plain HTTP (swarmdeck token-server without TLS)
// is then spoken to in http.
type Token struct {
	URL    string
	token  string
	hosted bool
	every  time.Duration
	client *http.Client

	mu   sync.Mutex
	base string // https://HOST, http://HOST, or HostedDiscovery
}

// NewToken reads a token:// URL. It does not contact the service.
func NewToken(rawURL string, opts KVOptions) (*Token, error) {
	rest := strings.TrimPrefix(rawURL, "token://")
	t := &Token{URL: rawURL, every: opts.Heartbeat, client: &http.Client{Timeout: 10 * time.Second}}
	if t.every <= 0 {
		t.every = 60 * time.Second
	}
	if host, token, ok := cutLast(rest, "/"); ok {
		t.base, t.token = "https://"+host, token
		if host == "" {
			return nil, fmt.Errorf("invalid discovery %q: want token://TOKEN or token://HOST/TOKEN", rawURL)
		}
	} else {
		t.base, t.token, t.hosted = HostedDiscovery, rest, true
	}
	if !validToken(t.token) {
		return nil, fmt.Errorf("invalid discovery %q: the token %q is not 1 to 64 letters and digits", rawURL, t.token)
	}
	return t, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return "", s, false
}

func validToken(t string) bool {
	if len(t) == 0 || len(t) > 64 {
		return false
	}
	for _, r := range t {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// NewTokenString makes a token as the hosted service did: 32 hex digits.
func NewTokenString() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// CreateToken asks a token server (http://HOST:PORT) for a new cluster
// token, as `swarm create` asked the hosted service.
func CreateToken(ctx context.Context, host string) (string, error) {
	host = strings.TrimRight(host, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, host+"/v1/clusters", nil)
	if err != nil {
		return "", fmt.Errorf("invalid --discovery-host %q: %w", host, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("cannot reach the token server at %s: %w", host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	token := strings.TrimSpace(string(body))
	if err != nil || resp.StatusCode != http.StatusOK || !validToken(token) {
		return "", fmt.Errorf("the token server at %s did not make a cluster (HTTP %d %q)", host, resp.StatusCode, token)
	}
	return token, nil
}

// do sends one request to the service, falling back from https to http
// once for a server that answers in plain HTTP.
func (t *Token) do(ctx context.Context, method, query string, body string) (*http.Response, error) {
	t.mu.Lock()
	base := t.base
	t.mu.Unlock()
	send := func(base string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+"/clusters/"+t.token+query, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		return t.client.Do(req)
	}
	resp, err := send(base)
	if errors.Is(err, http.ErrSchemeMismatch) && strings.HasPrefix(base, "https://") {
		base = "http://" + strings.TrimPrefix(base, "https://")
		if resp, err = send(base); err == nil {
			t.mu.Lock()
			t.base = base
			t.mu.Unlock()
		}
	}
	if err != nil {
		return nil, t.unreachable(err)
	}
	return resp, nil
}

// unreachable explains a failure; for the hosted service, that it is gone.
func (t *Token) unreachable(err error) error {
	if t.hosted {
		return fmt.Errorf("cannot reach the hosted discovery service at %s (%v): it was shut down on 2019-06-19; "+
			"run a token server of your own with `swarmdeck token-server -H 127.0.0.1:7200` and use token://127.0.0.1:7200/%s", HostedDiscovery, err, t.token)
	}
	return fmt.Errorf("cannot reach the token service of %s: %w", t.URL, err)
}

// Check implements Registry.
func (t *Token) Check(ctx context.Context) error {
	_, err := t.List(ctx)
	return err
}

// ShortestTTL implements Registry: the protocol counts in seconds.
func (t *Token) ShortestTTL() time.Duration { return time.Second }

// List reads the cluster's entries once.
func (t *Token) List(ctx context.Context) ([]Entry, error) {
	resp, err := t.do(ctx, http.MethodGet, "", "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the token service of %s answered HTTP %d", t.URL, resp.StatusCode)
	}
	var addrs []string
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&addrs); err != nil {
		return nil, fmt.Errorf("the token service of %s sent a list that is not JSON strings: %w", t.URL, err)
	}
	out := []Entry{}
	for _, a := range addrs {
		if e, ok := entryOf(a); ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// Watch implements Discovery by reading the list every heartbeat and
// sending it when it changed.
func (t *Token) Watch(ctx context.Context) (<-chan []Entry, <-chan error) {
	out, errs := make(chan []Entry, 1), make(chan error, 1)
	down := &downOnce{errs: errs}
	go func() {
		var last []Entry
		for {
			entries, err := t.List(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				down.fail(fmt.Errorf("%v: keeping the current view", err))
			case err == nil:
				if down.recovered() || last == nil || !slices.Equal(entries, last) {
					last = entries
					replace(out, entries)
				}
			}
			if !sleep(ctx, t.every) {
				return
			}
		}
	}()
	return out, errs
}

// Register implements Registry: POST every heartbeat with ?ttl= in
// seconds. The protocol has no deregistration: the entry expires, and
// Register returns ErrNoDeregistration.
func (t *Token) Register(ctx context.Context, addr, name string, heartbeat, ttl, delay time.Duration, report func(error)) error {
	if !waitDelay(ctx, delay) {
		return nil
	}
	query := fmt.Sprintf("?ttl=%d", int64((ttl+time.Second-1)/time.Second))
	r, registered := &renewals{report: report}, false
	for {
		resp, err := t.do(ctx, http.MethodPost, query, registration(addr, name))
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				err = fmt.Errorf("the token service of %s refused to register %s: HTTP %d: %s", t.URL, addr, resp.StatusCode, strings.TrimSpace(string(body)))
			}
		}
		registered = registered || err == nil
		r.done(ctx, err)
		if !sleep(ctx, heartbeat) {
			if !registered {
				return ErrNeverRegistered
			}
			return ErrNoDeregistration
		}
	}
}
