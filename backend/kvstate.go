package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	clientv3 "go.etcd.io/etcd/client/v3"

	"swarmdeck/model"
)

// Availability is the store's StateStore: node availabilities under
// PREFIX/swarmdeck/availability/, so replicated managers share them.
func (c *Consul) Availability() StateStore { return c.State() }

// Availability implements Store.
func (e *Etcd) Availability() StateStore { return &EtcdState{e} }

// Availability implements Store.
func (z *ZooKeeper) Availability() StateStore { return &ZooKeeperState{z: z} }

// decodeAvailability reads escaped-address → availability pairs.
func decodeAvailability(kvs map[string]string) map[string]model.Availability {
	out := map[string]model.Availability{}
	for k, v := range kvs {
		addr, err := url.PathUnescape(k)
		if err != nil {
			continue
		}
		a, err := model.ParseAvailability(v)
		if err != nil {
			slog.Warn("ignoring a node availability in the store that is not active, pause or drain", "key", k, "value", v, "error", err)
			continue
		}
		setAvailability(out, addr, a)
	}
	return out
}

// EtcdState is a StateStore in etcd, one key per paused or drained node.
type EtcdState struct{ e *Etcd }

func (s *EtcdState) dir() string { return storeKey(s.e.prefix, "swarmdeck/availability") + "/" }

func (s *EtcdState) read(ctx context.Context) (map[string]model.Availability, int64, error) {
	ctx, cancel := s.e.call(ctx)
	defer cancel()
	resp, err := s.e.client.Get(ctx, s.dir(), clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("reading node availability from etcd at %s: %w", s.e.URL, err)
	}
	kvs := map[string]string{}
	for _, kv := range resp.Kvs {
		kvs[strings.TrimPrefix(string(kv.Key), s.dir())] = string(kv.Value)
	}
	return decodeAvailability(kvs), resp.Header.Revision, nil
}

// Load implements StateStore.
func (s *EtcdState) Load(ctx context.Context) (map[string]model.Availability, error) {
	m, _, err := s.read(ctx)
	return m, err
}

// Save implements StateStore.
func (s *EtcdState) Save(ctx context.Context, addr string, a model.Availability) error {
	ctx, cancel := s.e.call(ctx)
	defer cancel()
	key := s.dir() + url.PathEscape(addr)
	var err error
	if a == model.Active {
		_, err = s.e.client.Delete(ctx, key)
	} else {
		_, err = s.e.client.Put(ctx, key, a.String())
	}
	if err != nil {
		return fmt.Errorf("saving the availability of %s in etcd at %s: %w", addr, s.e.URL, err)
	}
	return nil
}

// Watch implements StateStore with an etcd watch; each change is read
// again whole.
func (s *EtcdState) Watch(ctx context.Context) <-chan map[string]model.Availability {
	out := make(chan map[string]model.Availability, 1)
	go func() {
		for ctx.Err() == nil {
			m, rev, err := s.read(ctx)
			if err != nil {
				sleep(ctx, time.Second)
				continue
			}
			replace(out, m)
			wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			resp, ok := <-s.e.client.Watch(wctx, s.dir(), clientv3.WithPrefix(), clientv3.WithRev(rev+1))
			cancel()
			if !ok || resp.Err() != nil {
				sleep(ctx, time.Second)
			}
		}
	}()
	return out
}

// Where implements StateStore.
func (s *EtcdState) Where() string { return "etcd " + s.e.URL + " under " + s.dir() }

// ZooKeeperState is a StateStore in ZooKeeper: one persistent child per
// paused or drained node, named ADDR=AVAILABILITY (ADDR escaped), so a
// change is a child change the managers' child watch sees.
type ZooKeeperState struct {
	z    *ZooKeeper
	mu   sync.Mutex
	conn *zk.Conn
}

func (s *ZooKeeperState) dir() string { return storeKey(s.z.prefix, "swarmdeck/availability") }

// session is the store's connection, made on first use.
func (s *ZooKeeperState) session(ctx context.Context) (*zk.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && s.conn.State() == zk.StateHasSession {
		return s.conn, nil
	}
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	conn, err := s.z.session(ctx)
	if err != nil {
		return nil, err
	}
	s.conn = conn
	return conn, nil
}

func (s *ZooKeeperState) read(conn *zk.Conn, watch bool) (map[string]model.Availability, []string, <-chan zk.Event, error) {
	if err := ensure(conn, s.dir()); err != nil {
		return nil, nil, nil, err
	}
	var (
		children []string
		ch       <-chan zk.Event
		err      error
	)
	if watch {
		children, _, ch, err = conn.ChildrenW(s.dir())
	} else {
		children, _, err = conn.Children(s.dir())
	}
	if err != nil {
		return nil, nil, nil, err
	}
	kvs := map[string]string{}
	for _, c := range children {
		if k, v, ok := strings.Cut(c, "="); ok {
			kvs[k] = v
		}
	}
	return decodeAvailability(kvs), children, ch, nil
}

// Load implements StateStore.
func (s *ZooKeeperState) Load(ctx context.Context) (map[string]model.Availability, error) {
	conn, err := s.session(ctx)
	if err != nil {
		return nil, err
	}
	m, _, _, err := s.read(conn, false)
	if err != nil {
		return nil, fmt.Errorf("reading node availability from ZooKeeper at %s: %w", s.z.URL, err)
	}
	return m, nil
}

// Save implements StateStore: the node's old child goes and its new one
// comes in one transaction.
func (s *ZooKeeperState) Save(ctx context.Context, addr string, a model.Availability) error {
	fail := func(err error) error {
		return fmt.Errorf("saving the availability of %s in ZooKeeper at %s: %w", addr, s.z.URL, err)
	}
	conn, err := s.session(ctx)
	if err != nil {
		return fail(err)
	}
	_, children, _, err := s.read(conn, false)
	if err != nil {
		return fail(err)
	}
	name := url.PathEscape(addr)
	var ops []any
	for _, c := range children {
		if k, _, _ := strings.Cut(c, "="); k == name {
			ops = append(ops, &zk.DeleteRequest{Path: s.dir() + "/" + c, Version: -1})
		}
	}
	if a != model.Active {
		ops = append(ops, &zk.CreateRequest{Path: s.dir() + "/" + name + "=" + a.String(), Flags: 0, Acl: zkACL})
	}
	if len(ops) == 0 {
		return nil
	}
	if _, err := conn.Multi(ops...); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fail(err)
	}
	return nil
}

// Watch implements StateStore with a child watch.
func (s *ZooKeeperState) Watch(ctx context.Context) <-chan map[string]model.Availability {
	out := make(chan map[string]model.Availability, 1)
	go func() {
		for ctx.Err() == nil {
			conn, err := s.session(ctx)
			if err != nil {
				sleep(ctx, time.Second)
				continue
			}
			m, _, ch, err := s.read(conn, true)
			if err != nil {
				sleep(ctx, time.Second)
				continue
			}
			replace(out, m)
			select {
			case <-ch:
			case <-ctx.Done():
			}
		}
		s.mu.Lock()
		if s.conn != nil {
			s.conn.Close()
			s.conn = nil
		}
		s.mu.Unlock()
	}()
	return out
}

// Where implements StateStore.
func (s *ZooKeeperState) Where() string { return "ZooKeeper " + s.z.URL + " under " + s.dir() }
