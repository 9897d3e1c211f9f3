package memlimit

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	for _, tc := range []struct {
		live  uint64
		floor int64
		want  int64
	}{
		{live: 10 << 20, floor: 160 << 20, want: 160 << 20},   // a small cluster: the floor
		{live: 500 << 20, floor: 160 << 20, want: 1000 << 20}, // 10,000 nodes: twice the live heap
		{live: math.MaxUint64, floor: 1, want: math.MaxInt64}, // no overflow
	} {
		if got := For(tc.live, tc.floor, 2); got != tc.want {
			t.Errorf("For(%d, %d, 2) = %d, want %d", tc.live, tc.floor, got, tc.want)
		}
	}
}

// TestTrackFollowsTheLiveHeap keeps 64 MiB live and checks the limit
// Track sets is twice what the collector found live, not the floor.
func TestTrackFollowsTheLiveHeap(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	keep := make([]byte, 64<<20)
	for i := range keep {
		keep[i] = 1
	}
	runtime.GC()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Track(ctx, 1<<20, 2, time.Hour); close(done) }()
	var got int64
	for range 200 {
		if got = debug.SetMemoryLimit(-1); got < math.MaxInt64 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	runtime.KeepAlive(keep)
	if got < 128<<20 || got > 160<<20 {
		t.Fatalf("limit %d MiB with 64 MiB live; want about 128 MiB", got>>20)
	}
}
