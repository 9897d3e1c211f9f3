package backend

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/docker/go-connections/tlsconfig"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// Etcd is an etcd://a1,a2/prefix discovery on etcd's v3 API (servers 3.4
// and later): registrations are keys on a lease, the manager watches the
// prefix, and replicated managers use etcd's election API.
type Etcd struct {
	URL       string
	client    *clientv3.Client
	prefix    string
	opts      KVOptions
	probe     time.Duration // how often a watching manager checks that etcd answers
	callLimit time.Duration // the longest single request
}

// NewEtcd reads an etcd:// URL. It does not contact etcd (the client
// connects in the background).
func NewEtcd(rawURL string, opts KVOptions) (*Etcd, error) {
	endpoints, prefix, err := storeURL(rawURL, "etcd", "2379")
	if err != nil {
		return nil, err
	}
	if opts.Path == "" {
		opts.Path = DefaultKVPath
	}
	var tlsCfg *tls.Config
	if opts.CA != "" {
		tlsCfg, err = tlsconfig.Client(tlsconfig.Options{CAFile: opts.CA, CertFile: opts.Cert, KeyFile: opts.Key})
		if err != nil {
			return nil, fmt.Errorf("discovery %s: kv TLS: %w", rawURL, err)
		}
	}
	scheme := "http://"
	if tlsCfg != nil {
		scheme = "https://"
	}
	for i, e := range endpoints {
		endpoints[i] = scheme + e
	}
	cl, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tlsCfg, DialTimeout: 5 * time.Second,
		DialKeepAliveTime: 5 * time.Second, DialKeepAliveTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("discovery %s: %w", rawURL, err)
	}
	return &Etcd{URL: rawURL, client: cl, prefix: prefix, opts: opts, probe: time.Second, callLimit: 5 * time.Second}, nil
}

func (e *Etcd) nodesKey() string  { return storeKey(e.prefix, e.opts.Path) + "/" }
func (e *Etcd) leaderKey() string { return storeKey(e.prefix, "docker/swarm/leader") }

// call bounds one request.
func (e *Etcd) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.callLimit)
}

func (e *Etcd) unreachable(err error) error {
	return fmt.Errorf("cannot reach etcd at %s: %w", e.URL, err)
}

// Check asks etcd for the nodes folder.
func (e *Etcd) Check(ctx context.Context) error {
	ctx, cancel := e.call(ctx)
	defer cancel()
	if _, err := e.client.Get(ctx, e.nodesKey(), clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil {
		return e.unreachable(err)
	}
	return nil
}

// ShortestTTL implements Registry: etcd raises shorter leases to about 2 s.
func (e *Etcd) ShortestTTL() time.Duration { return 2 * time.Second }

// list reads the entries and the revision they were read at.
func (e *Etcd) list(ctx context.Context) (map[string]string, int64, error) {
	ctx, cancel := e.call(ctx)
	defer cancel()
	resp, err := e.client.Get(ctx, e.nodesKey(), clientv3.WithPrefix())
	if err != nil {
		return nil, 0, e.unreachable(err)
	}
	kvs := map[string]string{}
	for _, kv := range resp.Kvs {
		kvs[string(kv.Key)] = string(kv.Value)
	}
	return kvs, resp.Header.Revision, nil
}

// List reads the registered engines once.
func (e *Etcd) List(ctx context.Context) ([]Entry, error) {
	kvs, _, err := e.list(ctx)
	if err != nil {
		return nil, err
	}
	return entriesOf(kvs), nil
}

// entriesOf is the entries of key → value registrations, in key order.
func entriesOf(kvs map[string]string) []Entry {
	keys := make([]string, 0, len(kvs))
	for k := range kvs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []Entry{}
	for _, k := range keys {
		if en, ok := entryOf(kvs[k]); ok {
			out = append(out, en)
		}
	}
	return out
}

// Watch implements Discovery with an etcd watch on the nodes prefix. etcd's
// client retries a broken connection silently, so a probe every second
// tells when etcd stops answering; the view is kept meanwhile, and read
// again when it answers.
func (e *Etcd) Watch(ctx context.Context) (<-chan []Entry, <-chan error) {
	out, errs := make(chan []Entry, 1), make(chan error, 1)
	down := &downOnce{errs: errs}
	go func() {
		for ctx.Err() == nil {
			kvs, rev, err := e.list(ctx)
			if err != nil {
				if ctx.Err() == nil {
					down.fail(fmt.Errorf("etcd at %s does not answer (%v): keeping the current view", e.URL, err))
				}
				sleep(ctx, time.Second)
				continue
			}
			down.recovered()
			replace(out, entriesOf(kvs))
			if err := e.follow(ctx, kvs, rev, out); err != nil && ctx.Err() == nil {
				down.fail(fmt.Errorf("etcd at %s does not answer (%v): keeping the current view", e.URL, err))
			}
		}
	}()
	return out, errs
}

// follow applies watch events after rev to kvs and sends each new set,
// until the watch breaks or a probe fails.
func (e *Etcd) follow(ctx context.Context, kvs map[string]string, rev int64, out chan []Entry) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	events := e.client.Watch(wctx, e.nodesKey(), clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	probe := time.NewTicker(e.probe)
	defer probe.Stop()
	for {
		select {
		case resp, ok := <-events:
			if !ok {
				return errors.New("the watch ended")
			}
			if err := resp.Err(); err != nil {
				return err
			}
			for _, ev := range resp.Events {
				if ev.Type == clientv3.EventTypeDelete {
					delete(kvs, string(ev.Kv.Key))
				} else {
					kvs[string(ev.Kv.Key)] = string(ev.Kv.Value)
				}
			}
			if len(resp.Events) > 0 {
				replace(out, entriesOf(kvs))
			}
		case <-probe.C:
			if err := e.Check(ctx); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// Register implements Registry with a lease of ttl, kept alive once every
// heartbeat; a lease that expired meanwhile is granted and written again.
// At the end the lease is revoked, which deletes the key.
func (e *Etcd) Register(ctx context.Context, addr, name string, heartbeat, ttl, delay time.Duration, report func(error)) error {
	if !waitDelay(ctx, delay) {
		return nil
	}
	key, value := e.nodesKey()+addr, registration(addr, name)
	var lease clientv3.LeaseID
	register := func() error {
		ctx, cancel := e.call(ctx)
		defer cancel()
		if lease != 0 {
			_, err := e.client.KeepAliveOnce(ctx, lease)
			if err == nil {
				return nil
			}
			if !errors.Is(err, rpctypes.ErrLeaseNotFound) {
				// etcd is away: the lease (and the key) may well live on.
				return fmt.Errorf("cannot renew the registration of %s in etcd at %s: %w", addr, e.URL, err)
			}
			lease = 0 // expired: the key went with it
		}
		grant, err := e.client.Grant(ctx, seconds(ttl))
		if err != nil {
			return fmt.Errorf("cannot register %s in etcd at %s: %w", addr, e.URL, err)
		}
		if _, err := e.client.Put(ctx, key, value, clientv3.WithLease(grant.ID)); err != nil {
			e.client.Revoke(ctx, grant.ID)
			return fmt.Errorf("cannot register %s in etcd at %s: %w", addr, e.URL, err)
		}
		lease = grant.ID
		return nil
	}
	r, registered := &renewals{report: report}, false
	for {
		err := register()
		registered = registered || err == nil
		r.done(ctx, err)
		if !sleep(ctx, heartbeat) {
			break
		}
	}
	if !registered {
		return ErrNeverRegistered
	}
	if lease == 0 {
		return nil // it expired: the key is gone
	}
	rctx, cancel := e.call(context.Background())
	defer cancel()
	if _, err := e.client.Revoke(rctx, lease); err != nil {
		return fmt.Errorf("cannot deregister %s from etcd at %s: %w", addr, e.URL, err)
	}
	return nil
}

// seconds is d in whole seconds, rounded up: etcd's TTLs.
func seconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// Election implements Elector with etcd's election API: each manager
// campaigns with a key under the leader prefix on a session lease of
// ttl, and the oldest key leads; the others observe it. A replica takes
// over once the lease of a primary that died expires, within ttl. A
// primary whose lease has not been renewed for half the ttl steps down
// and campaigns again, before etcd can expire the lease and let another
// lead; a replica then forgets the primary (it no longer sees it).
func (e *Etcd) Election(ctx context.Context, advertise string, ttl time.Duration, onChange func(primary bool, leader string)) error {
	r := &roles{onChange: onChange}
	var err error
	for ctx.Err() == nil {
		if err = e.term(ctx, advertise, ttl, r); err != nil && ctx.Err() == nil {
			sleep(ctx, time.Second)
		}
	}
	if r.primary() {
		r.set(false, "")
	}
	if ctx.Err() != nil {
		return err // the resignation's, if any
	}
	return nil
}

// term is one session: campaign and observe until the session is lost
// or ctx ends; at the end it resigns. Every onChange happens here.
func (e *Etcd) term(ctx context.Context, advertise string, ttl time.Duration, r *roles) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	session, err := concurrency.NewSession(e.client, concurrency.WithTTL(int(seconds(ttl))), concurrency.WithContext(sctx))
	if err != nil {
		return err
	}
	defer session.Close()
	renewals, err := e.client.KeepAlive(sctx, session.Lease())
	if err != nil {
		return err
	}
	renewed := time.Now()
	election := concurrency.NewElection(session, e.leaderKey())
	won := make(chan error, 1)
	go func() { won <- election.Campaign(sctx, advertise) }()
	leaders := election.Observe(sctx)
	check := time.NewTicker(ttl / 10)
	defer check.Stop()
	for {
		select {
		case resp, ok := <-renewals:
			if !ok {
				r.set(false, "") // the lease is gone
				return errors.New("the election lease ended")
			}
			if resp != nil {
				renewed = time.Now()
			}
		case err := <-won:
			if err != nil {
				return err
			}
			r.set(true, advertise)
		case resp, ok := <-leaders:
			if !ok {
				return errors.New("the leader watch ended")
			}
			if len(resp.Kvs) > 0 && !r.primary() && string(resp.Kvs[0].Value) != advertise {
				r.set(false, string(resp.Kvs[0].Value))
			}
		case <-check.C:
			if time.Since(renewed) >= ttl/2 {
				// A primary steps down; a replica forgets the primary it
				// can no longer watch, so both managers say "none".
				r.set(false, "")
				return errors.New("the election lease was not renewed for half its TTL")
			}
		case <-ctx.Done():
			if !r.primary() {
				return nil
			}
			r.set(false, "")
			rctx, cancel := e.call(context.Background())
			defer cancel()
			if err := election.Resign(rctx); err != nil {
				return fmt.Errorf("resigning from the election: %w", err)
			}
			return nil
		}
	}
}
