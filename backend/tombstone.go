package backend

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/go-zookeeper/zk"
	consul "github.com/hashicorp/consul/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Tombstones keeps the swarm IDs of containers removed while they waited
// to be rescheduled (their node down), where every manager of the
// cluster reads them: a manager that takes over does not move them again,
// and their copy goes when the node comes back. The StateStores of this
// package implement it.
type Tombstones interface {
	// Removed lists the swarm IDs removed while waiting.
	Removed(ctx context.Context) ([]string, error)
	// SetRemoved records (or, once the old copy is gone, forgets) one.
	SetRemoved(ctx context.Context, swarmID string, removed bool) error
}

// setTombstone adds or deletes id in a sorted list.
func setTombstone(ids []string, id string, removed bool) []string {
	i, found := slices.BinarySearch(ids, id)
	switch {
	case removed && !found:
		return slices.Insert(ids, i, id)
	case !removed && found:
		return slices.Delete(ids, i, i+1)
	}
	return ids
}

// Removed implements Tombstones.
func (s *MemoryState) Removed(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.removed), nil
}

// SetRemoved implements Tombstones.
func (s *MemoryState) SetRemoved(_ context.Context, id string, removed bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removed = setTombstone(s.removed, id, removed)
	return nil
}

// Removed implements Tombstones.
func (s *FileState) Removed(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	return f.Removed, err
}

// SetRemoved implements Tombstones.
func (s *FileState) SetRemoved(_ context.Context, id string, removed bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	if err != nil {
		return err
	}
	f.Removed = setTombstone(f.Removed, id, removed)
	return s.write(f)
}

func (s *ConsulState) removedDir() string { return path.Join(s.c.prefix, "swarmdeck/removed") + "/" }

// Removed implements Tombstones.
func (s *ConsulState) Removed(ctx context.Context) ([]string, error) {
	q, _, cancel := consulCall(ctx, consulCallTimeout)
	defer cancel()
	keys, _, err := s.c.client.KV().Keys(s.removedDir(), "", q)
	if err != nil {
		return nil, fmt.Errorf("reading removed containers from Consul at %s: %w", s.c.URL, err)
	}
	for i, k := range keys {
		keys[i] = strings.TrimPrefix(k, s.removedDir())
	}
	return keys, nil
}

// SetRemoved implements Tombstones.
func (s *ConsulState) SetRemoved(ctx context.Context, id string, removed bool) error {
	_, w, cancel := consulCall(ctx, consulCallTimeout)
	defer cancel()
	var err error
	if removed {
		_, err = s.c.client.KV().Put(&consul.KVPair{Key: s.removedDir() + id, Value: []byte("removed")}, w)
	} else {
		_, err = s.c.client.KV().Delete(s.removedDir()+id, w)
	}
	if err != nil {
		return fmt.Errorf("recording the removal of %s in Consul at %s: %w", id, s.c.URL, err)
	}
	return nil
}

func (s *EtcdState) removedDir() string { return storeKey(s.e.prefix, "swarmdeck/removed") + "/" }

// Removed implements Tombstones.
func (s *EtcdState) Removed(ctx context.Context) ([]string, error) {
	ctx, cancel := s.e.call(ctx)
	defer cancel()
	resp, err := s.e.client.Get(ctx, s.removedDir(), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("reading removed containers from etcd at %s: %w", s.e.URL, err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, strings.TrimPrefix(string(kv.Key), s.removedDir()))
	}
	return out, nil
}

// SetRemoved implements Tombstones.
func (s *EtcdState) SetRemoved(ctx context.Context, id string, removed bool) error {
	ctx, cancel := s.e.call(ctx)
	defer cancel()
	var err error
	if removed {
		_, err = s.e.client.Put(ctx, s.removedDir()+id, "removed")
	} else {
		_, err = s.e.client.Delete(ctx, s.removedDir()+id)
	}
	if err != nil {
		return fmt.Errorf("recording the removal of %s in etcd at %s: %w", id, s.e.URL, err)
	}
	return nil
}

func (s *ZooKeeperState) removedDir() string { return storeKey(s.z.prefix, "swarmdeck/removed") }

// Removed implements Tombstones: one persistent child per swarm ID.
func (s *ZooKeeperState) Removed(ctx context.Context) ([]string, error) {
	fail := func(err error) error {
		return fmt.Errorf("reading removed containers from ZooKeeper at %s: %w", s.z.URL, err)
	}
	conn, err := s.session(ctx)
	if err != nil {
		return nil, fail(err)
	}
	if err := ensure(conn, s.removedDir()); err != nil {
		return nil, fail(err)
	}
	ids, _, err := conn.Children(s.removedDir())
	if err != nil {
		return nil, fail(err)
	}
	return ids, nil
}

// SetRemoved implements Tombstones.
func (s *ZooKeeperState) SetRemoved(ctx context.Context, id string, removed bool) error {
	fail := func(err error) error {
		return fmt.Errorf("recording the removal of %s in ZooKeeper at %s: %w", id, s.z.URL, err)
	}
	conn, err := s.session(ctx)
	if err != nil {
		return fail(err)
	}
	if err := ensure(conn, s.removedDir()); err != nil {
		return fail(err)
	}
	p := s.removedDir() + "/" + id
	if removed {
		_, err = conn.Create(p, nil, 0, zkACL)
		if errors.Is(err, zk.ErrNodeExists) {
			err = nil
		}
	} else {
		err = conn.Delete(p, -1)
		if errors.Is(err, zk.ErrNoNode) {
			err = nil
		}
	}
	if err != nil {
		return fail(err)
	}
	return nil
}
