package backend

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path"
	"strings"
	"time"

	consul "github.com/hashicorp/consul/api"
)

// KVOptions are the --discovery-opt settings of a key-value discovery.
type KVOptions struct {
	Path              string // kv.path: where nodes register (default docker/swarm/nodes)
	CA, Cert, Key     string // kv.cacertfile, kv.certfile, kv.keyfile
	Heartbeat         time.Duration
	leaderKeyOverride string
}

// DefaultKVPath is Swarm's kv.path.
const DefaultKVPath = "docker/swarm/nodes"

// ParseDiscoveryOpts reads --discovery-opt key=value settings.
func ParseDiscoveryOpts(opts []string) (KVOptions, error) {
	o := KVOptions{Path: DefaultKVPath}
	for _, kv := range opts {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return o, fmt.Errorf("invalid --discovery-opt %q: want key=value", kv)
		}
		switch k {
		case "kv.path":
			o.Path = strings.Trim(v, "/")
		case "kv.cacertfile":
			o.CA = v
		case "kv.certfile":
			o.Cert = v
		case "kv.keyfile":
			o.Key = v
		default:
			return o, fmt.Errorf("unsupported --discovery-opt %q (swarmdeck knows kv.path, kv.cacertfile, kv.certfile, kv.keyfile)", k)
		}
	}
	if (o.CA != "" || o.Cert != "" || o.Key != "") && (o.CA == "" || o.Cert == "" || o.Key == "") {
		return o, errors.New("KV TLS needs all three of kv.cacertfile, kv.certfile and kv.keyfile")
	}
	return o, nil
}

// Consul is a consul://host:port/prefix discovery: Swarm's key layout,
// read with blocking queries.
type Consul struct {
	URL    string
	client *consul.Client
	prefix string
	opts   KVOptions
}

// NewConsul reads a consul:// URL. It does not contact Consul.
func NewConsul(rawURL string, opts KVOptions) (*Consul, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "consul" || u.Host == "" {
		return nil, fmt.Errorf("invalid discovery %q: want consul://host:port/prefix", rawURL)
	}
	if opts.Path == "" {
		opts.Path = DefaultKVPath
	}
	cfg := consul.DefaultConfig()
	cfg.Address = u.Host
	if opts.CA != "" {
		cfg.Scheme = "https"
		cfg.TLSConfig = consul.TLSConfig{CAFile: opts.CA, CertFile: opts.Cert, KeyFile: opts.Key}
	}
	cl, err := consul.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery %s: %w", rawURL, err)
	}
	return &Consul{URL: rawURL, client: cl, prefix: strings.Trim(u.Path, "/"), opts: opts}, nil
}

// Check asks Consul whether it is there and has a leader.
func (c *Consul) Check(ctx context.Context) error {
	q, _, cancel := consulCall(ctx, consulCallTimeout)
	defer cancel()
	if _, _, err := c.client.KV().Get(c.nodesKey(), q); err != nil {
		return fmt.Errorf("cannot reach Consul at %s: %w", c.URL, err)
	}
	return nil
}

func (c *Consul) nodesKey() string  { return path.Join(c.prefix, c.opts.Path) + "/" }
func (c *Consul) leaderKey() string { return path.Join(c.prefix, "docker/swarm/leader") }

// entries reads registrations: the value is host:port, or name=host:port.
func entries(pairs consul.KVPairs) []Entry {
	out := []Entry{}
	for _, p := range pairs {
		if e, ok := entryOf(string(p.Value)); ok {
			out = append(out, e)
		}
	}
	return out
}

// List reads the registered engines once.
func (c *Consul) List(ctx context.Context) ([]Entry, error) {
	q, _, cancel := consulCall(ctx, consulCallTimeout)
	defer cancel()
	q.RequireConsistent = true
	pairs, _, err := c.client.KV().List(c.nodesKey(), q)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Consul at %s: %w", c.URL, err)
	}
	return entries(pairs), nil
}

// Watch implements Discovery with blocking queries: it sends the whole set
// of entries each time Consul's index moves, and an error once per spell
// of unavailability (the manager keeps its view meanwhile).
func (c *Consul) Watch(ctx context.Context) (<-chan []Entry, <-chan error) {
	out, errs := make(chan []Entry, 1), make(chan error, 1)
	go func() {
		var index uint64
		failing := false
		for ctx.Err() == nil {
			// Consistent: a Consul just restarted answers default reads
			// before it has read its state back, with no node at all.
			q, _, cancel := consulCall(ctx, time.Minute+consulCallTimeout)
			q.WaitIndex, q.WaitTime, q.RequireConsistent = index, time.Minute, true
			pairs, meta, err := c.client.KV().List(c.nodesKey(), q)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if !failing {
					failing = true
					replace(errs, fmt.Errorf("Consul at %s does not answer (%v): keeping the current view", c.URL, err))
				}
				index = 0
				sleep(ctx, time.Second)
				continue
			}
			if failing || meta.LastIndex != index {
				failing = false
				replace(out, entries(pairs))
			}
			index = meta.LastIndex
		}
	}()
	return out, errs
}

// replace sends v, dropping an older value nobody took yet.
func replace[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
			select {
			case <-ch:
			default:
			}
		}
	}
}

// MinTTL is the shortest session TTL Consul accepts.
const MinTTL = 10 * time.Second

// Register keeps addr registered (as name=addr when name is set) under
// Swarm's key with a TTL, renewed every heartbeat, until ctx ends; then
// it deregisters, and returns nil only if it did. Registration problems
// are reported to report and retried every heartbeat. Every Consul call
// has a timeout, and the ones in flight end with ctx, so a Consul that
// hangs never keeps Register from returning for more than a few seconds.
func (c *Consul) Register(ctx context.Context, addr, name string, heartbeat, ttl, delay time.Duration, report func(error)) error {
	if delay > 0 {
		sleep(ctx, time.Duration(rand.Int64N(int64(delay))))
	}
	key := c.nodesKey() + addr
	value := addr
	if name != "" {
		value = name + "=" + addr
	}
	sessions, kv := c.client.Session(), c.client.KV()
	// Reads are consistent: a Consul that has just restarted answers
	// default reads before it has read its state back (no key, no
	// session), and consistent ones only after.
	session, prev := "", ""
	register := func() error {
		consistent, w, cancel := consulCall(ctx, consulCallTimeout)
		defer cancel()
		consistent.RequireConsistent = true
		if session != "" {
			entry, _, err := sessions.Renew(session, w)
			if err != nil {
				// Consul is away: it keeps the session (and the key the
				// session holds) across a restart, so renew that one when
				// Consul answers. A new session could not take the key
				// until the old one expired, and then the key goes.
				return fmt.Errorf("cannot renew the registration of %s in Consul at %s: %w", addr, c.URL, err)
			}
			if entry == nil {
				prev, session = session, "" // Consul says it expired: register anew
			}
		}
		if session == "" {
			// TTL only: no node check whose flap in a Consul restart
			// would end the session.
			id, _, err := sessions.CreateNoChecks(&consul.SessionEntry{Name: "swarmdeck-join " + addr, TTL: ttl.String(),
				Behavior: consul.SessionBehaviorDelete, LockDelay: time.Millisecond}, w)
			if err != nil {
				return fmt.Errorf("cannot register %s in Consul at %s: %w", addr, c.URL, err)
			}
			session = id
		}
		// A key deleted under a live session comes back at the next
		// heartbeat; one still held is left alone (a write would wake
		// every manager watching the nodes).
		pair, _, err := kv.Get(key, consistent)
		if err != nil {
			return fmt.Errorf("cannot register %s in Consul at %s: %w", addr, c.URL, err)
		}
		if pair != nil && pair.Session == session {
			return nil
		}
		if pair != nil && pair.Session != "" && pair.Session == prev {
			// The session Consul said had expired holds the key after all
			// (it answered before reading its state back): take it back.
			if entry, _, err := sessions.Renew(prev, w); err == nil && entry != nil {
				sessions.Destroy(session, w)
				session, prev = prev, ""
				return nil
			}
		}
		ok, _, err := kv.Acquire(&consul.KVPair{Key: key, Value: []byte(value), Session: session}, w)
		if err == nil && !ok {
			err = errors.New("the key is held by another session")
		}
		if err != nil {
			return fmt.Errorf("cannot register %s in Consul at %s: %w", addr, c.URL, err)
		}
		return nil
	}
	r, registered := &renewals{report: report}, false
	for ctx.Err() == nil {
		err := register()
		registered = registered || err == nil
		r.done(ctx, err)
		sleep(ctx, heartbeat)
	}
	// Deregister within deregisterTimeout, whatever Consul does: join
	// stops within 5 s of SIGTERM even while Consul hangs.
	q, w, cancel := consulCall(context.WithoutCancel(ctx), deregisterTimeout)
	defer cancel()
	if !registered && session != "" {
		// A stop can cut off the answer to an acquire Consul applied:
		// whether the key is this session's says if it was registered.
		if pair, _, err := kv.Get(key, q); err == nil && pair != nil && pair.Session == session {
			registered = true
		} else {
			sessions.Destroy(session, w) // ends any key it took, never another's
		}
	}
	if !registered {
		return ErrNeverRegistered
	}
	if session != "" {
		if _, err := sessions.Destroy(session, w); err != nil { // its behaviour deletes the key
			return fmt.Errorf("cannot deregister %s from Consul at %s: %w", addr, c.URL, err)
		}
	}
	if _, err := kv.Delete(key, w); err != nil {
		return fmt.Errorf("cannot deregister %s from Consul at %s: %w", addr, c.URL, err)
	}
	return nil
}

// deregisterTimeout bounds the whole deregistration at the end of a join.
const deregisterTimeout = 3 * time.Second
