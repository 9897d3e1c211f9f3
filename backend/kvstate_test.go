package backend

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"swarmdeck/model"
)

// Two managers on one store share the operators' availabilities: what one
// saves, the other's watch sends and its Load reads.
func TestAvailabilityIsSharedThroughEachStore(t *testing.T) {
	for _, s := range []struct{ scheme, env string }{{"consul", "SWARMDECK_CONSUL"}, {"etcd", "SWARMDECK_ETCD"}, {"zk", "SWARMDECK_ZK"}} {
		t.Run(s.scheme, func(t *testing.T) {
			addr := os.Getenv(s.env)
			if addr == "" {
				if os.Getenv("SWARMDECK_REQUIRE_INTEGRATION") != "" {
					t.Fatalf("%s is not set: the test bed's %s did not start", s.env, s.scheme)
				}
				t.Skipf("needs a real %s (scripts/bed.sh up)", s.scheme)
			}
			url := fmt.Sprintf("%s://%s/avail%d", s.scheme, addr, time.Now().UnixNano())
			open := func() StateStore {
				src, err := OpenKV(url, nil, KVOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return src.Registry.(Store).Availability()
			}
			primary, replica := open(), open()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			seen := replica.Watch(ctx)
			waitFor := func(want map[string]model.Availability) {
				t.Helper()
				for {
					select {
					case got := <-seen:
						if maps.Equal(got, want) {
							return
						}
					case <-ctx.Done():
						t.Fatalf("the replica never saw %v", want)
					}
				}
			}
			waitFor(map[string]model.Availability{})
			if err := primary.Save(ctx, "10.0.0.1:2375", model.Drain); err != nil {
				t.Fatal(err)
			}
			waitFor(map[string]model.Availability{"10.0.0.1:2375": model.Drain})
			if err := primary.Save(ctx, "10.0.0.1:2375", model.Pause); err != nil {
				t.Fatal(err)
			}
			waitFor(map[string]model.Availability{"10.0.0.1:2375": model.Pause})
			if got, err := replica.Load(ctx); err != nil || !maps.Equal(got, map[string]model.Availability{"10.0.0.1:2375": model.Pause}) {
				t.Fatalf("the replica loads %v (%v)", got, err)
			}
			if err := primary.Save(ctx, "10.0.0.1:2375", model.Active); err != nil {
				t.Fatal(err)
			}
			waitFor(map[string]model.Availability{})
			sharesTombstones(t, primary, replica)
		})
	}
	t.Run("file", func(t *testing.T) {
		f := &FileState{Path: t.TempDir() + "/state.json"}
		if err := f.Save(context.Background(), "10.0.0.1:2375", model.Drain); err != nil {
			t.Fatal(err)
		}
		sharesTombstones(t, f, &FileState{Path: f.Path})
		if got, err := f.Load(context.Background()); err != nil || got["10.0.0.1:2375"] != model.Drain {
			t.Fatalf("the availability beside the removals: %v (%v)", got, err)
		}
	})
	t.Run("an older version's state file", func(t *testing.T) {
		f := &FileState{Path: t.TempDir() + "/state.json"}
		if err := os.WriteFile(f.Path, []byte(`{"availability":{},"removed":["old-id"]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if got, err := f.Removed(ctx); err != nil || len(got) != 1 || got[0].ID != "old-id" || !got[0].At.IsZero() {
			t.Fatalf("an older version's record reads %v (%v); want old-id without a time", got, err)
		}
		if err := f.SetRemoved(ctx, "new-id", true); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(f.Path)
		if got, err := f.Removed(ctx); err != nil || !slices.Equal(removalIDs(got), []string{"new-id", "old-id"}) || strings.Contains(string(data), `"removed":`) {
			t.Fatalf("after a change the file holds %s (%v)", data, err)
		}
	})
}

// sharesTombstones checks that what one manager records as removed while
// waiting, another reads, and that a forgotten one is gone.
func sharesTombstones(t *testing.T, a, b StateStore) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, r := a.(Tombstones), b.(Tombstones)
	for _, id := range []string{"swarm-b", "swarm-a"} {
		if err := w.SetRemoved(ctx, id, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.SetRemoved(ctx, "swarm-a", true); err != nil { // twice is once
		t.Fatal(err)
	}
	got, err := r.Removed(ctx)
	if ids := removalIDs(got); err != nil || !slices.Equal(ids, []string{"swarm-a", "swarm-b"}) {
		t.Fatalf("the other manager reads %v (%v) as removed", ids, err)
	}
	for _, rec := range got { // with when it was recorded, for its expiry
		if age := time.Since(rec.At); age < -time.Second || age > time.Minute {
			t.Fatalf("the record of %s reads as written at %s", rec.ID, rec.At)
		}
	}
	if err := w.SetRemoved(ctx, "swarm-a", false); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Removed(ctx); err != nil || !slices.Equal(removalIDs(got), []string{"swarm-b"}) {
		t.Fatalf("after forgetting swarm-a the other manager reads %v (%v)", removalIDs(got), err)
	}
}

// removalIDs are the records' IDs, sorted.
func removalIDs(rs []Removal) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	slices.Sort(ids)
	return ids
}
