package backend

import (
	"context"
	"testing"
	"time"

	"swarmdeck/model"
)

// blockedStarts is an engine whose starts wait until released.
type blockedStarts struct {
	Engine
	entered chan struct{}
	release chan struct{}
}

func (b *blockedStarts) Start(ctx context.Context, id string) error {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.Engine.Start(ctx, id)
}

// TestTakingOverReturnsAtOnceAndReconcilesBeforeMoving: the election's
// goroutine calls SetRole and must go back to watching the lock, so the
// reconcile a new primary does (here: starting a rescheduled copy that
// its manager created but never started, on an engine that is slow to
// start it) runs in the rescheduler, not in SetRole.
func TestTakingOverReturnsAtOnceAndReconcilesBeforeMoving(t *testing.T) {
	half := running("half", true)
	half.State = model.Created
	half.Labels[model.LabelStartAfterReschedule] = "true"
	src := SimSource("test", []*model.Node{simNode("a", 4, 8<<30, nil, half)})
	sim := src.NewEngine
	slow := &blockedStarts{entered: make(chan struct{}, 1), release: make(chan struct{})}
	src.NewEngine = func(e Entry) (Engine, error) {
		eng, err := sim(e)
		slow.Engine = eng
		return slow, err
	}
	c, err := New(src, fast())
	if err != nil {
		t.Fatal(err)
	}
	c.Replicated()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 2*time.Second, "a healthy", allHealthy(c, 1))

	returned := make(chan struct{})
	go func() { c.SetRole(true, "me:3376"); close(returned) }()
	<-slow.entered // the reconcile starts half, and the start hangs
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("SetRole waits for the reconcile: the election would stop watching the lock")
	}
	if role, _ := c.Role(); role != "primary" {
		t.Fatalf("role %s after the takeover", role)
	}
	close(slow.release)
	waitFor(t, 2*time.Second, "half started by the reconcile", func() bool {
		ct, _, _ := c.Inspect("half")
		return ct != nil && ct.State == model.Running
	})
}
