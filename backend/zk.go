package backend

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"time"

	"github.com/go-zookeeper/zk"
)

// ZooKeeper is a zk://a1,a2/prefix discovery: registrations are ephemeral
// nodes that live as long as the join agent's session (the session
// timeout is --ttl), the manager keeps a child watch on the nodes folder,
// and replicated managers run the lock recipe with ephemeral sequential
// nodes. Each role has its own connection, as its session timeout
// differs; the client reconnects by itself and keeps the session when
// the server comes back within it.
type ZooKeeper struct {
	URL     string
	servers []string
	prefix  string
	opts    KVOptions
	dial    time.Duration // how long a command waits for a first session
}

var zkACL = zk.WorldACL(zk.PermAll)

// NewZooKeeper reads a zk:// URL. It does not contact ZooKeeper.
func NewZooKeeper(rawURL string, opts KVOptions) (*ZooKeeper, error) {
	servers, prefix, err := storeURL(rawURL, "zk", "2181")
	if err != nil {
		return nil, err
	}
	if opts.CA != "" {
		return nil, fmt.Errorf("discovery %s: ZooKeeper speaks plain TCP here: the kv.* TLS options are for consul:// and etcd://", rawURL)
	}
	if opts.Path == "" {
		opts.Path = DefaultKVPath
	}
	return &ZooKeeper{URL: rawURL, servers: servers, prefix: prefix, opts: opts, dial: 5 * time.Second}, nil
}

func (z *ZooKeeper) nodesDir() string  { return storeKey(z.prefix, z.opts.Path) }
func (z *ZooKeeper) leaderDir() string { return storeKey(z.prefix, "docker/swarm/leader") }

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}

// connect opens a connection whose sessions last timeout. The client
// connects in the background; its events tell the session's state.
func (z *ZooKeeper) connect(timeout time.Duration) (*zk.Conn, <-chan zk.Event, error) {
	conn, events, err := zk.Connect(z.servers, timeout, zk.WithLogger(quietLog{}), zk.WithLogInfo(false))
	if err != nil {
		return nil, nil, fmt.Errorf("discovery %s: %w", z.URL, err)
	}
	return conn, events, nil
}

// awaitSession waits until conn has a session, for at most z.dial.
func (z *ZooKeeper) awaitSession(ctx context.Context, conn *zk.Conn, events <-chan zk.Event) error {
	limit := time.NewTimer(z.dial)
	defer limit.Stop()
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-limit.C:
			return fmt.Errorf("cannot reach ZooKeeper at %s: no session within %s", z.URL, z.dial)
		case <-ctx.Done():
			return fmt.Errorf("cannot reach ZooKeeper at %s: %w", z.URL, ctx.Err())
		}
	}
	return nil
}

// session opens a short connection for one command.
func (z *ZooKeeper) session(ctx context.Context) (*zk.Conn, error) {
	conn, events, err := z.connect(10 * time.Second)
	if err != nil {
		return nil, err
	}
	if err := z.awaitSession(ctx, conn, events); err != nil {
		conn.Close()
		return nil, err
	}
	go func() {
		for range events { // closed by Close
		}
	}()
	return conn, nil
}

// ensure creates dir and its parents as persistent nodes.
func ensure(conn *zk.Conn, dir string) error {
	p := ""
	for _, part := range splitKey(dir) {
		p += "/" + part
		if _, err := conn.Create(p, nil, 0, zkACL); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	return nil
}

func splitKey(key string) []string {
	var parts []string
	for key != "/" && key != "" && key != "." {
		parts = append([]string{path.Base(key)}, parts...)
		key = path.Dir(key)
	}
	return parts
}

// Check implements Registry.
func (z *ZooKeeper) Check(ctx context.Context) error {
	conn, err := z.session(ctx)
	if err != nil {
		return err
	}
	conn.Close()
	return nil
}

// ShortestTTL implements Registry: ZooKeeper keeps sessions of at least
// two ticks (2 s with scripts/zk.sh's tickTime; 4 s with the default).
func (z *ZooKeeper) ShortestTTL() time.Duration { return 2 * time.Second }

// read lists the nodes folder, creating it if absent.
func (z *ZooKeeper) read(conn *zk.Conn, watch bool) (map[string]string, <-chan zk.Event, error) {
	dir := z.nodesDir()
	if err := ensure(conn, dir); err != nil {
		return nil, nil, err
	}
	var (
		children []string
		ch       <-chan zk.Event
		err      error
	)
	if watch {
		children, _, ch, err = conn.ChildrenW(dir)
	} else {
		children, _, err = conn.Children(dir)
	}
	if err != nil {
		return nil, nil, err
	}
	kvs := map[string]string{}
	for _, c := range children {
		data, _, err := conn.Get(dir + "/" + c)
		if errors.Is(err, zk.ErrNoNode) {
			continue // gone between the two reads: the watch tells
		}
		if err != nil {
			return nil, nil, err
		}
		kvs[c] = string(data)
	}
	return kvs, ch, nil
}

// List reads the registered engines once.
func (z *ZooKeeper) List(ctx context.Context) ([]Entry, error) {
	conn, err := z.session(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	kvs, _, err := z.read(conn, false)
	if err != nil {
		return nil, fmt.Errorf("cannot read ZooKeeper at %s: %w", z.URL, err)
	}
	return entriesOf(kvs), nil
}

// Watch implements Discovery with a child watch on the nodes folder, set
// again at each change. A lost connection is reported once; the view is
// kept, and read again when the session is back.
func (z *ZooKeeper) Watch(ctx context.Context) (<-chan []Entry, <-chan error) {
	out, errs := make(chan []Entry, 1), make(chan error, 1)
	down := &downOnce{errs: errs}
	go func() {
		conn, events, err := z.connect(10 * time.Second)
		if err != nil {
			replace(errs, err)
			return
		}
		defer conn.Close()
		awayErr := func(err error) error {
			return fmt.Errorf("ZooKeeper at %s does not answer (%v): keeping the current view", z.URL, err)
		}
		var changed <-chan zk.Event
		for ctx.Err() == nil {
			if changed == nil && conn.State() == zk.StateHasSession {
				kvs, ch, err := z.read(conn, true)
				if err != nil {
					down.fail(awayErr(err))
					sleep(ctx, time.Second)
					continue
				}
				down.recovered()
				replace(out, entriesOf(kvs))
				changed = ch
			}
			select {
			case <-changed:
				changed = nil
			case ev := <-events:
				switch ev.State {
				case zk.StateDisconnected, zk.StateExpired:
					down.fail(awayErr(errors.New(ev.State.String())))
					changed = nil
				case zk.StateHasSession:
					changed = nil // read again
				}
			case <-ctx.Done():
			}
		}
	}()
	return out, errs
}

// Register implements Registry with an ephemeral node of a session whose
// timeout is ttl: the client pings the server, and every heartbeat the
// node is checked and written again if its session expired. Closing the
// session at the end deletes the node.
func (z *ZooKeeper) Register(ctx context.Context, addr, name string, heartbeat, ttl, delay time.Duration, report func(error)) error {
	if !waitDelay(ctx, delay) {
		return nil
	}
	conn, events, err := z.connect(ttl)
	if err != nil {
		return err
	}
	defer conn.Close()
	key, value := z.nodesDir()+"/"+addr, []byte(registration(addr, name))
	register := func() error {
		if conn.State() != zk.StateHasSession {
			return fmt.Errorf("cannot register %s in ZooKeeper at %s: no session (%s)", addr, z.URL, conn.State())
		}
		if err := ensure(conn, z.nodesDir()); err != nil {
			return fmt.Errorf("cannot register %s in ZooKeeper at %s: %w", addr, z.URL, err)
		}
		ok, stat, err := conn.Exists(key)
		switch {
		case err != nil:
			return fmt.Errorf("cannot register %s in ZooKeeper at %s: %w", addr, z.URL, err)
		case ok && stat.EphemeralOwner == conn.SessionID():
			return nil
		case ok:
			return fmt.Errorf("cannot register %s in ZooKeeper at %s: the node is held by another session", addr, z.URL)
		}
		if _, err := conn.Create(key, value, zk.FlagEphemeral, zkACL); err != nil {
			return fmt.Errorf("cannot register %s in ZooKeeper at %s: %w", addr, z.URL, err)
		}
		return nil
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	r, registered := &renewals{report: report}, false
	for {
		select {
		case ev := <-events:
			if ev.State != zk.StateHasSession {
				continue
			}
		case <-tick.C:
		case <-ctx.Done():
			if !registered {
				return ErrNeverRegistered
			}
			return z.deregister(conn, key, addr)
		}
		err := register()
		registered = registered || err == nil
		r.done(ctx, err)
	}
}

// deregister deletes our node; closing the session (deferred) would too,
// but only if the server hears it.
func (z *ZooKeeper) deregister(conn *zk.Conn, key, addr string) error {
	if conn.State() != zk.StateHasSession {
		return fmt.Errorf("cannot deregister %s from ZooKeeper at %s: no session (%s)", addr, z.URL, conn.State())
	}
	_, stat, err := conn.Exists(key)
	if err == nil && stat != nil && stat.EphemeralOwner == conn.SessionID() {
		err = conn.Delete(key, -1)
	}
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("cannot deregister %s from ZooKeeper at %s: %w", addr, z.URL, err)
	}
	return nil
}

// Election implements Elector with ZooKeeper's lock recipe: each manager
// creates an ephemeral sequential node lock-N under the leader folder,
// holding its address; the lowest N leads. Every candidate watches the
// folder (a handful of managers: no herd to avoid). The session's timeout
// is ttl, so a replica takes over within ttl of a primary that died. A
// primary that loses its connection steps down at once, as it cannot know
// whether its session lives; it leads again if the session survived. A
// replica forgets the primary then too.
func (z *ZooKeeper) Election(ctx context.Context, advertise string, ttl time.Duration, onChange func(primary bool, leader string)) error {
	conn, events, err := z.connect(ttl)
	if err != nil {
		return err
	}
	defer conn.Close()
	dir, me := z.leaderDir(), ""
	r := &roles{onChange: onChange}
	set := r.set
	for ctx.Err() == nil {
		var changed <-chan zk.Event
		if conn.State() == zk.StateHasSession {
			var err error
			if me, changed, err = z.campaign(conn, dir, me, advertise); err != nil {
				sleep(ctx, time.Second)
				continue
			}
		}
		if changed != nil {
			children, _, _ := conn.Children(dir)
			sortLocks(children)
			if len(children) > 0 && children[0] == me {
				set(true, advertise)
			} else if len(children) > 0 {
				data, _, err := conn.Get(dir + "/" + children[0])
				if err == nil {
					set(false, string(data))
				}
			}
		}
		select {
		case <-changed:
		case ev := <-events:
			switch ev.State {
			case zk.StateDisconnected:
				set(false, "") // a replica no longer sees the primary either
			case zk.StateExpired:
				me = "" // the server deleted our node with the session
				set(false, "")
			}
		case <-ctx.Done():
		}
	}
	if r.primary() {
		set(false, "")
	}
	if me == "" {
		return nil
	}
	if conn.State() != zk.StateHasSession {
		return fmt.Errorf("resigning from the election: no session (%s): the node goes when the session expires", conn.State())
	}
	if err := conn.Delete(dir+"/"+me, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("resigning from the election: %w", err) // the node goes with the session
	}
	return nil
}

// campaign makes sure this manager has its lock node and watches the
// folder; it returns the node's name and the watch.
func (z *ZooKeeper) campaign(conn *zk.Conn, dir, me, advertise string) (string, <-chan zk.Event, error) {
	if err := ensure(conn, dir); err != nil {
		return me, nil, err
	}
	children, _, changed, err := conn.ChildrenW(dir)
	if err != nil {
		return me, nil, err
	}
	found := false
	for _, c := range children {
		found = found || c == me
	}
	if !found {
		p, err := conn.Create(dir+"/lock-", []byte(advertise), zk.FlagEphemeral|zk.FlagSequence, zkACL)
		if err != nil {
			return "", nil, err
		}
		me = path.Base(p)
	}
	return me, changed, nil
}

// sortLocks orders lock nodes by their sequence number (the last ten
// digits of the name).
func sortLocks(names []string) {
	seq := func(s string) string {
		if len(s) < 10 {
			return s
		}
		return s[len(s)-10:]
	}
	sort.Slice(names, func(i, j int) bool { return seq(names[i]) < seq(names[j]) })
}
