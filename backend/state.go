package backend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	consul "github.com/hashicorp/consul/api"

	"swarmdeck/model"
)

// StateStore keeps the operators' node availabilities (by node address)
// where every manager of the cluster reads them: the discovery's KV store
// when there is one, else a small file beside the manager.
type StateStore interface {
	// Load reads every node's availability; a node not listed is active.
	Load(ctx context.Context) (map[string]model.Availability, error)
	// Save records one node's availability (active removes the record).
	Save(ctx context.Context, addr string, a model.Availability) error
	// Watch sends the whole map again each time another manager changes
	// it, until ctx ends; a store only one manager uses returns nil.
	Watch(ctx context.Context) <-chan map[string]model.Availability
	// Where says where the state is kept, for the operator.
	Where() string
}

// MemoryState is a StateStore that forgets on exit (simulated clusters).
type MemoryState struct {
	mu      sync.Mutex
	m       map[string]model.Availability
	removed map[string]time.Time // Tombstones
}

// Load implements StateStore.
func (s *MemoryState) Load(context.Context) (map[string]model.Availability, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.m), nil
}

// Save implements StateStore.
func (s *MemoryState) Save(_ context.Context, addr string, a model.Availability) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]model.Availability{}
	}
	setAvailability(s.m, addr, a)
	return nil
}

// Watch implements StateStore: nobody else changes it.
func (s *MemoryState) Watch(context.Context) <-chan map[string]model.Availability { return nil }

// Where implements StateStore.
func (s *MemoryState) Where() string { return "memory (simulated cluster: forgotten on exit)" }

func setAvailability(m map[string]model.Availability, addr string, a model.Availability) {
	if a == model.Active {
		delete(m, addr)
		return
	}
	m[addr] = a
}

// FileState is a StateStore in a JSON file, written atomically (a
// temporary file renamed over it).
type FileState struct {
	Path string
	mu   sync.Mutex
}

// stateFile is the file's layout: {"availability": {"host:port":
// "drain"}, "removed_at": {ID: time recorded}}. "removed": [IDs], without
// times, is how an older version kept the removal records: read, and
// rewritten as removed_at at the next change.
type stateFile struct {
	Availability map[string]string    `json:"availability"`
	RemovedAt    map[string]time.Time `json:"removed_at,omitempty"`
	Removed      []string             `json:"removed,omitempty"`
}

// removedAt is the file's removal records, an older version's included
// (without their time).
func (f stateFile) removedAt() map[string]time.Time {
	m := maps.Clone(f.RemovedAt)
	for _, id := range f.Removed {
		if _, ok := m[id]; !ok {
			if m == nil {
				m = map[string]time.Time{}
			}
			m[id] = time.Time{}
		}
	}
	return m
}

// DefaultStatePath is where a manager without a KV store keeps its state:
// swarmdeck/state-HASH.json in the user's configuration directory, HASH
// from the discovery URL, so that managers of different clusters run by
// one user never share a file (each writes the whole file).
func DefaultStatePath(discovery string) string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = os.TempDir()
	}
	if list, ok := strings.CutPrefix(discovery, "nodes://"); ok {
		// The same engines in another order are the same cluster.
		addrs := strings.Split(list, ",")
		slices.Sort(addrs)
		discovery = "nodes://" + strings.Join(addrs, ",")
	}
	sum := sha256.Sum256([]byte(discovery))
	return filepath.Join(dir, "swarmdeck", "state-"+hex.EncodeToString(sum[:6])+".json")
}

// Load implements StateStore; a missing file is an empty state.
func (s *FileState) Load(context.Context) (map[string]model.Availability, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load()
}

func (s *FileState) load() (map[string]model.Availability, error) {
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	out := make(map[string]model.Availability, len(f.Availability))
	for addr, v := range f.Availability {
		a, err := model.ParseAvailability(v)
		if err != nil {
			return nil, fmt.Errorf("state file %s, node %s: %w", s.Path, addr, err)
		}
		setAvailability(out, addr, a)
	}
	return out, nil
}

// read reads the whole file; a missing file is an empty state.
func (s *FileState) read() (stateFile, error) {
	var f stateFile
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("state file: %w", err)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("state file %s: %w", s.Path, err)
	}
	return f, nil
}

// Save implements StateStore.
func (s *FileState) Save(_ context.Context, addr string, a model.Availability) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	if err != nil {
		return err
	}
	m, err := s.load()
	if err != nil {
		return err
	}
	setAvailability(m, addr, a)
	f.Availability = map[string]string{}
	for k, v := range m {
		f.Availability[k] = v.String()
	}
	return s.write(f)
}

// write replaces the file atomically.
func (s *FileState) write(f stateFile) error {
	if f.Availability == nil {
		f.Availability = map[string]string{}
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o755); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), ".state-*.json")
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	_, werr := tmp.Write(append(data, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("state file %s: %w", s.Path, err)
	}
	if err := os.Rename(tmp.Name(), s.Path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}

// CheckWritable reports whether the file can be written where it is: its
// folder made if missing, a file created in it and removed. A manager
// checks at start, rather than at the first pause or drain.
func (s *FileState) CheckWritable() error {
	dir := filepath.Dir(s.Path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state file %s: %w", s.Path, err)
	}
	tmp, err := os.CreateTemp(dir, ".state-*.json")
	if err != nil {
		return fmt.Errorf("state file %s: %w", s.Path, err)
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}

// Watch implements StateStore: one manager owns the file.
func (s *FileState) Watch(context.Context) <-chan map[string]model.Availability { return nil }

// Where implements StateStore.
func (s *FileState) Where() string { return "file " + s.Path }

// ConsulState is a StateStore in Consul, one key per paused or drained
// node under PREFIX/swarmdeck/availability/, so replicated managers read
// what the primary wrote.
type ConsulState struct{ c *Consul }

// State is the discovery's own StateStore.
func (c *Consul) State() *ConsulState { return &ConsulState{c} }

func (s *ConsulState) dir() string { return path.Join(s.c.prefix, "swarmdeck/availability") + "/" }

// Load implements StateStore.
func (s *ConsulState) Load(ctx context.Context) (map[string]model.Availability, error) {
	q, _, cancel := consulCall(ctx, consulCallTimeout)
	defer cancel()
	pairs, _, err := s.c.client.KV().List(s.dir(), q)
	if err != nil {
		return nil, fmt.Errorf("reading node availability from Consul at %s: %w", s.c.URL, err)
	}
	return s.decode(pairs), nil
}

func (s *ConsulState) decode(pairs consul.KVPairs) map[string]model.Availability {
	out := map[string]model.Availability{}
	for _, p := range pairs {
		addr, err := url.PathUnescape(strings.TrimPrefix(p.Key, s.dir()))
		if err != nil {
			continue
		}
		a, err := model.ParseAvailability(string(p.Value))
		if err != nil {
			slog.Warn("ignoring a node availability in Consul that is not active, pause or drain", "key", p.Key, "value", string(p.Value), "error", err)
			continue
		}
		setAvailability(out, addr, a)
	}
	return out
}

// Save implements StateStore.
func (s *ConsulState) Save(ctx context.Context, addr string, a model.Availability) error {
	key := s.dir() + url.PathEscape(addr)
	_, w, cancel := consulCall(ctx, consulCallTimeout)
	defer cancel()
	var err error
	if a == model.Active {
		_, err = s.c.client.KV().Delete(key, w)
	} else {
		_, err = s.c.client.KV().Put(&consul.KVPair{Key: key, Value: []byte(a.String())}, w)
	}
	if err != nil {
		return fmt.Errorf("saving the availability of %s in Consul at %s: %w", addr, s.c.URL, err)
	}
	return nil
}

// Watch implements StateStore with blocking queries.
func (s *ConsulState) Watch(ctx context.Context) <-chan map[string]model.Availability {
	out := make(chan map[string]model.Availability, 1)
	go func() {
		var index uint64
		for ctx.Err() == nil {
			q, _, cancel := consulCall(ctx, time.Minute+consulCallTimeout)
			q.WaitIndex, q.WaitTime = index, time.Minute
			pairs, meta, err := s.c.client.KV().List(s.dir(), q)
			cancel()
			if err != nil {
				index = 0
				sleep(ctx, time.Second)
				continue
			}
			if meta.LastIndex != index {
				replace(out, s.decode(pairs))
			}
			index = meta.LastIndex
		}
	}()
	return out
}

// Where implements StateStore.
func (s *ConsulState) Where() string { return "Consul " + s.c.URL + " under " + s.dir() }
