package backend

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	consul "github.com/hashicorp/consul/api"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Tombstones keeps the removal records of containers removed while a
// copy of them was on a node that was down: removed while they waited to
// be rescheduled, a moved container whose old copy is on a failed node,
// or a container without the policy removed with its node down. They are
// kept where every manager of the cluster reads them: a manager that
// takes over does not move them again, and their copy goes when the node
// comes back. Each record is keyed by the container's swarm ID (its ID
// when it has none) and carries when it was written, so that a record
// whose node never comes back is deleted after RemovalRecordTTL. The
// StateStores of this package implement it.
type Tombstones interface {
	// Removed lists the removal records.
	Removed(ctx context.Context) ([]Removal, error)
	// SetRemoved records (at the present time) or, once the old copy is
	// gone, forgets one.
	SetRemoved(ctx context.Context, id string, removed bool) error
}

// Removal is one removal record.
type Removal struct {
	ID string    // a swarm ID, or the ID of a container that has none
	At time.Time // when it was recorded; zero when an older version wrote it
}

// recordedAt is how a record's time is stored (in Consul, etcd and
// ZooKeeper, the key's value).
func recordedAt() []byte { return []byte(time.Now().UTC().Format(time.RFC3339)) }

// parseRecordedAt reads a record's time; a record of an older version
// ("removed") has none.
func parseRecordedAt(b []byte) time.Time {
	t, err := time.Parse(time.RFC3339, string(b))
	if err != nil {
		return time.Time{}
	}
	return t
}

// setRemovedAt adds (at the present time, unless already there) or
// deletes id.
func setRemovedAt(m map[string]time.Time, id string, removed bool) map[string]time.Time {
	if !removed {
		delete(m, id)
		return m
	}
	if m == nil {
		m = map[string]time.Time{}
	}
	if _, ok := m[id]; !ok {
		m[id] = time.Now().UTC().Truncate(time.Second)
	}
	return m
}

// removals lists a map of records, by ID.
func removals(m map[string]time.Time) []Removal {
	out := make([]Removal, 0, len(m))
	for id, at := range m {
		out = append(out, Removal{ID: id, At: at})
	}
	slices.SortFunc(out, func(a, b Removal) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Removed implements Tombstones.
func (s *MemoryState) Removed(context.Context) ([]Removal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return removals(s.removed), nil
}

// SetRemoved implements Tombstones.
func (s *MemoryState) SetRemoved(_ context.Context, id string, removed bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removed = setRemovedAt(s.removed, id, removed)
	return nil
}

// Removed implements Tombstones.
func (s *FileState) Removed(context.Context) ([]Removal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	return removals(f.removedAt()), err
}

// SetRemoved implements Tombstones.
func (s *FileState) SetRemoved(_ context.Context, id string, removed bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	if err != nil {
		return err
	}
	f.RemovedAt, f.Removed = setRemovedAt(f.removedAt(), id, removed), nil
	return s.write(f)
}

func (s *ConsulState) removedDir() string { return path.Join(s.c.prefix, "swarmdeck/removed") + "/" }

// Removed implements Tombstones.
func (s *ConsulState) Removed(ctx context.Context) ([]Removal, error) {
	q, _, cancel := consulCall(ctx, consulCallTimeout)
	defer cancel()
	pairs, _, err := s.c.client.KV().List(s.removedDir(), q)
	if err != nil {
		return nil, fmt.Errorf("reading removed containers from Consul at %s: %w", s.c.URL, err)
	}
	out := make([]Removal, 0, len(pairs))
	for _, p := range pairs {
		out = append(out, Removal{ID: strings.TrimPrefix(p.Key, s.removedDir()), At: parseRecordedAt(p.Value)})
	}
	return out, nil
}

// SetRemoved implements Tombstones.
func (s *ConsulState) SetRemoved(ctx context.Context, id string, removed bool) error {
	_, w, cancel := consulCall(ctx, consulCallTimeout)
	defer cancel()
	var err error
	if removed {
		_, err = s.c.client.KV().Put(&consul.KVPair{Key: s.removedDir() + id, Value: recordedAt()}, w)
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
func (s *EtcdState) Removed(ctx context.Context) ([]Removal, error) {
	ctx, cancel := s.e.call(ctx)
	defer cancel()
	resp, err := s.e.client.Get(ctx, s.removedDir(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("reading removed containers from etcd at %s: %w", s.e.URL, err)
	}
	var out []Removal
	for _, kv := range resp.Kvs {
		out = append(out, Removal{ID: strings.TrimPrefix(string(kv.Key), s.removedDir()), At: parseRecordedAt(kv.Value)})
	}
	return out, nil
}

// SetRemoved implements Tombstones.
func (s *EtcdState) SetRemoved(ctx context.Context, id string, removed bool) error {
	ctx, cancel := s.e.call(ctx)
	defer cancel()
	var err error
	if removed {
		_, err = s.e.client.Put(ctx, s.removedDir()+id, string(recordedAt()))
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
func (s *ZooKeeperState) Removed(ctx context.Context) ([]Removal, error) {
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
	out := make([]Removal, 0, len(ids))
	for _, id := range ids {
		data, _, err := conn.Get(s.removedDir() + "/" + id)
		if errors.Is(err, zk.ErrNoNode) {
			continue // forgotten meanwhile
		}
		if err != nil {
			return nil, fail(err)
		}
		out = append(out, Removal{ID: id, At: parseRecordedAt(data)})
	}
	return out, nil
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
		_, err = conn.Create(p, recordedAt(), 0, zkACL)
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
