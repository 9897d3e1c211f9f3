package backend

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"swarmdeck/model"
)

// Registry is a discovery that engines join (swarmdeck join) and that can
// be read once (swarmdeck list): the key-value stores and token://.
//
// The stores differ only in how they keep Swarm's layout. In one place:
//
//	                 consul://                 etcd://                      zk://                          token://
//	node key         P/docker/swarm/nodes/A    /P/docker/swarm/nodes/A      /P/docker/swarm/nodes/A        entry A of cluster TOKEN
//	join's TTL       session (TTL ≥ 10 s,      lease of --ttl, renewed      ephemeral node of a session    POST ?ttl= every heartbeat;
//	                 halved), renewed every    every heartbeat              of --ttl (the server bounds    the server forgets it after
//	                 heartbeat                                              it: 2–60 s with scripts/zk.sh) the TTL
//	manager watch    blocking queries          a watch on the prefix        a child watch on the folder    GET every --heartbeat (polling:
//	                                                                                                       the protocol has no watch)
//	store away       the query fails           a probe every second fails   the session is disconnected    the GET fails
//	leader election  a Consul lock on          the election API on          the lock recipe: ephemeral     not supported (as in Swarm)
//	                 P/docker/swarm/leader     /P/docker/swarm/leader/…     sequential /P/docker/swarm/
//	                 (value: the address)      (value: the address)         leader/lock-N (value: address)
//	kv.* TLS         yes                       yes                          no (ZooKeeper speaks plain TCP) no (https as Swarm did)
//
// P is the URL's path (it may be empty), A the engine's host:port; the
// value is A, or NAME=A for a named node.
type Registry interface {
	Discovery
	Lister
	// Check says whether the store answers.
	Check(ctx context.Context) error
	// Register keeps addr registered (as name=addr when name is set) with
	// a TTL, renewed every heartbeat, until ctx ends; then it deregisters,
	// and returns nil only if it did (ErrNoDeregistration for token://).
	// The first registration waits a random time up to delay. Problems go
	// to report and are retried every heartbeat; report(nil) says a
	// registration succeeded again after problems.
	Register(ctx context.Context, addr, name string, heartbeat, ttl, delay time.Duration, report func(error)) error
	// ShortestTTL is the shortest registration TTL the store keeps.
	ShortestTTL() time.Duration
	// LongestTTL is the longest registration TTL the store accepts.
	LongestTTL() time.Duration
}

// Elector runs the leader election of replicated managers
// (manage --replication) on <prefix>/docker/swarm/leader. The caller's
// goroutine owns the role: onChange gets every change of role and of
// leader, in order, from it alone, and must return quickly. A primary
// that cannot renew its hold steps down before the store can give the
// lead to another manager. When ctx ends, Election tells onChange it is
// no longer primary, resigns (so a replica takes over at once) and
// returns what went wrong resigning, if anything.
type Elector interface {
	Election(ctx context.Context, advertise string, ttl time.Duration, onChange func(primary bool, leader string)) error
}

// ErrNoDeregistration is what Register returns for token://: the hosted
// protocol has no delete, so the entry stays until its TTL runs out.
var ErrNoDeregistration = errors.New("the token protocol has no deregistration")

// roles calls onChange when the role or the leader changes.
type roles struct {
	onChange func(primary bool, leader string)
	told     *role
}

func (r *roles) set(primary bool, leader string) {
	now := role{primary, leader}
	if r.told != nil && *r.told == now {
		return
	}
	r.told = &now
	r.onChange(primary, leader)
}

func (r *roles) primary() bool { return r.told != nil && r.told.primary }

// Store is a key-value discovery: consul://, etcd:// or zk://.
type Store interface {
	Registry
	Elector
	// Availability keeps the operators' node availabilities in the store,
	// under <prefix>/swarmdeck/availability, for every manager.
	Availability() StateStore
}

// openStore makes the store of a key-value discovery URL.
func openStore(scheme, url string, kv KVOptions) (Store, error) {
	switch scheme {
	case "etcd":
		return NewEtcd(url, kv)
	case "zk":
		return NewZooKeeper(url, kv)
	default:
		return NewConsul(url, kv)
	}
}

// ShortestTTL implements Registry: Consul refuses sessions under 10 s.
func (c *Consul) ShortestTTL() time.Duration { return MinTTL }

// LongestTTL implements Registry: Consul refuses sessions over 24 h.
func (c *Consul) LongestTTL() time.Duration { return 24 * time.Hour }

// LongestTTL implements Registry: etcd refuses leases over 9e9 s
// (MaxLeaseTTL).
func (e *Etcd) LongestTTL() time.Duration { return 9e9 * time.Second }

// LongestTTL implements Registry: a ZooKeeper session timeout travels as
// 32-bit milliseconds (the server then bounds it by its own
// minSessionTimeout and maxSessionTimeout, and the client follows).
func (z *ZooKeeper) LongestTTL() time.Duration { return math.MaxInt32 * time.Millisecond }

// LongestTTL implements Registry: the hosted service and swarmdeck's
// token server keep an entry at most a day (ttl=86400).
func (t *Token) LongestTTL() time.Duration { return 24 * time.Hour }

// storeURL reads scheme://a1,a2/prefix into its endpoints and prefix.
func storeURL(rawURL, scheme, defaultPort string) (endpoints []string, prefix string, err error) {
	rest, ok := strings.CutPrefix(rawURL, scheme+"://")
	hosts, path, _ := strings.Cut(rest, "/")
	if !ok || hosts == "" {
		return nil, "", fmt.Errorf("invalid discovery %q: want %s://host:port[,host:port…]/prefix", rawURL, scheme)
	}
	for _, h := range strings.Split(hosts, ",") {
		if h == "" {
			return nil, "", fmt.Errorf("invalid discovery %q: an empty address in %q", rawURL, hosts)
		}
		if !strings.Contains(h, ":") {
			h += ":" + defaultPort
		}
		if err := checkAddr(h); err != nil {
			return nil, "", fmt.Errorf("invalid discovery %q: %v", rawURL, err)
		}
		endpoints = append(endpoints, h)
	}
	return endpoints, strings.Trim(path, "/"), nil
}

// storeKey is a store's absolute key: "/" + the non-empty parts joined.
func storeKey(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p = strings.Trim(p, "/"); p != "" {
			keep = append(keep, p)
		}
	}
	return "/" + strings.Join(keep, "/")
}

// entryOf reads one registration value: host:port, or name=host:port;
// a value with an invalid name is no entry.
func entryOf(value string) (Entry, bool) {
	v := strings.TrimSpace(value)
	if v == "" {
		return Entry{}, false
	}
	name, addr, err := model.SplitEntry(v)
	if err != nil {
		return Entry{}, false // a bad name: no node that never connects
	}
	return Entry{Name: name, Addr: addr}, true
}

// registration is the value a join writes.
func registration(addr, name string) string {
	if name != "" {
		return name + "=" + addr
	}
	return addr
}

// waitDelay sleeps a random time in [0, delay) before a first registration.
func waitDelay(ctx context.Context, delay time.Duration) bool {
	if delay <= 0 {
		return ctx.Err() == nil
	}
	return sleep(ctx, randDuration(delay))
}

// downOnce reports a store's unavailability once per spell.
type downOnce struct {
	errs    chan error
	failing bool
}

func (d *downOnce) fail(err error) {
	if !d.failing {
		d.failing = true
		replace(d.errs, err)
	}
}

// recovered says whether the store was failing, and clears it.
func (d *downOnce) recovered() bool {
	was := d.failing
	d.failing = false
	return was
}

func randDuration(d time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(d))) }

// renewals passes a Register's failures to report, and nil once when a
// registration succeeds after failures.
type renewals struct {
	report  func(error)
	failing bool
}

func (r *renewals) done(ctx context.Context, err error) {
	switch {
	case ctx.Err() != nil:
	case err != nil:
		r.failing = true
		r.report(err)
	case r.failing:
		r.failing = false
		r.report(nil)
	}
}

// ErrNeverRegistered is what Register returns when it ends before any
// registration was accepted: nothing stays in the store.
var ErrNeverRegistered = errors.New("the engine was never registered")
