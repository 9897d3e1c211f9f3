package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	consul "github.com/hashicorp/consul/api"
)

// consulCallTimeout bounds every Consul call that is not a blocking query;
// a blocking query gets its wait time and this more.
const consulCallTimeout = 5 * time.Second

// consulCall is a context for one Consul call: ctx's, within timeout.
func consulCall(ctx context.Context, timeout time.Duration) (*consul.QueryOptions, *consul.WriteOptions, context.CancelFunc) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	return (&consul.QueryOptions{}).WithContext(cctx), (&consul.WriteOptions{}).WithContext(cctx), cancel
}

// Election runs Swarm's leader election on <prefix>/docker/swarm/leader:
// a Consul lock (a key acquired by a session) whose value is this
// manager's advertised address. It runs until ctx ends, then resigns
// (tells onChange it is no longer primary, then releases the lock, so a
// replica takes over at once) and returns.
//
// One goroutine, the caller's, owns the role: it holds the session,
// watches the key, acquires it when it is free and calls onChange, in
// order, with every change of role or of leader. As Swarm did, the session
// gets half the TTL (Consul may keep a session up to twice its TTL), and
// no less than Consul's 10 s minimum, so a replica takes over within the
// TTL of a primary that died. A primary that cannot renew its session for
// the session's TTL steps down first, since Consul may then give the lock
// to another manager. Every Consul call has a context and a timeout, so a
// Consul that hangs never holds the loop, or the shutdown, longer than
// that.
//
// onChange must return quickly: the key is not watched while it runs.
//
// It returns what went wrong resigning, if anything (the lock then goes
// when the session expires).
func (c *Consul) Election(ctx context.Context, advertise string, ttl time.Duration, onChange func(primary bool, leader string)) error {
	e := &election{c: c, self: advertise, ttl: max(ttl/2, MinTTL), onChange: onChange}
	e.run(ctx)
	held := e.held
	if held { // stop acting as the primary before another manager can start
		e.held, e.leader = false, ""
		e.report()
	}
	return e.resign(held)
}

// role is what the election tells its caller.
type role struct {
	primary bool
	leader  string
}

type election struct {
	c        *Consul
	self     string
	ttl      time.Duration
	onChange func(primary bool, leader string)

	session  string    // ours; empty until created
	renewed  time.Time // the session's last successful renewal (or creation)
	held     bool      // the key is ours
	leader   string    // the primary's address as last read
	index    uint64    // of the key, for the blocking query
	reported *role     // the last role told to onChange
}

// errNotAcquired is a free key that another manager took first (or a
// lock delay in effect): read it again shortly.
var errNotAcquired = errors.New("the leader key was not acquired")

func (e *election) run(ctx context.Context) {
	for ctx.Err() == nil {
		err := e.step(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(e.renewed) >= e.ttl {
			// Consul may have ended the session and given the key away:
			// step down (a replica forgets the primary it no longer
			// sees). The session is kept: if Consul still has it when it
			// answers (a restart keeps sessions), it is ours again.
			e.held, e.leader = false, ""
		}
		e.report()
		if err != nil {
			e.index = 0
			sleep(ctx, time.Second)
		}
	}
}

// step renews or creates the session, reads the key (a blocking query
// while the key is held by someone), and takes it when it is free.
func (e *election) step(ctx context.Context) error {
	if err := e.keepSession(ctx); err != nil {
		return err
	}
	wait := e.ttl / 3 // the session is renewed at least this often
	q, _, cancel := consulCall(ctx, wait+consulCallTimeout)
	q.WaitIndex, q.WaitTime = e.index, wait
	pair, meta, err := e.c.client.KV().Get(e.c.leaderKey(), q)
	cancel()
	if err != nil {
		return fmt.Errorf("reading the leader key: %w", err)
	}
	e.index = meta.LastIndex
	switch {
	case pair != nil && pair.Session == e.session:
		e.held, e.leader = true, e.self
		return nil
	case pair != nil && pair.Session != "" && string(pair.Value) == e.self:
		// A session of an earlier run of this manager (killed, then
		// started again on the same address, which no other manager can
		// listen on) holds the key. Waiting for it to expire would leave
		// the cluster without a primary for up to twice its TTL, longer if
		// Consul restarts meanwhile (a restart renews every session): end
		// it, which releases the key, and take the key.
		e.held, e.leader = false, ""
		_, w, cancel := consulCall(ctx, consulCallTimeout)
		_, err := e.c.client.Session().Destroy(pair.Session, w)
		cancel()
		if err != nil {
			return fmt.Errorf("ending the election session of this manager's earlier run: %w", err)
		}
	case pair != nil && pair.Session != "":
		e.held, e.leader = false, string(pair.Value)
		return nil
	}
	e.held, e.leader = false, ""
	_, w, cancel := consulCall(ctx, consulCallTimeout)
	defer cancel()
	ok, _, err := e.c.client.KV().Acquire(&consul.KVPair{Key: e.c.leaderKey(), Value: []byte(e.self), Session: e.session,
		Flags: consul.LockFlagValue}, w)
	if err != nil {
		return fmt.Errorf("acquiring the leader key: %w", err)
	}
	if !ok {
		return errNotAcquired
	}
	e.held, e.leader = true, e.self
	return nil
}

// keepSession renews the session when a third of its TTL has passed, or
// creates one.
func (e *election) keepSession(ctx context.Context) error {
	if e.session != "" && time.Since(e.renewed) < e.ttl/3 {
		return nil
	}
	_, w, cancel := consulCall(ctx, consulCallTimeout)
	defer cancel()
	sessions := e.c.client.Session()
	if e.session != "" {
		entry, _, err := sessions.Renew(e.session, w)
		if err != nil {
			return fmt.Errorf("renewing the election session: %w", err)
		}
		if entry != nil {
			e.renewed = time.Now()
			return nil
		}
		e.session, e.held = "", false // expired: Consul released the key
	}
	began := time.Now()
	id, _, err := sessions.Create(&consul.SessionEntry{Name: "swarmdeck-manager " + e.self, TTL: e.ttl.String(),
		Behavior: consul.SessionBehaviorRelease, LockDelay: time.Millisecond}, w)
	if err != nil {
		return fmt.Errorf("creating the election session: %w", err)
	}
	e.session, e.renewed = id, began
	return nil
}

// report tells onChange the role and the leader if either changed.
func (e *election) report() {
	now := role{e.held, e.leader}
	if e.reported != nil && *e.reported == now {
		return
	}
	e.reported = &now
	e.onChange(e.held, e.leader)
}

// resign releases the key and ends the session, within a few seconds
// even if Consul hangs, so a replica can take over at once.
func (e *election) resign(held bool) error {
	if e.session == "" {
		return nil
	}
	_, w, cancel := consulCall(context.Background(), consulCallTimeout)
	defer cancel()
	var errs []error
	if held {
		_, _, err := e.c.client.KV().Release(&consul.KVPair{Key: e.c.leaderKey(), Session: e.session, Flags: consul.LockFlagValue}, w)
		errs = append(errs, err)
	}
	_, err := e.c.client.Session().Destroy(e.session, w)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("resigning from the election: %w", err)
	}
	return nil
}
