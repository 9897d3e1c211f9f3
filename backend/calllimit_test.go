package backend

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestACallLimitEndsTheCallAsADeadline: the create and its inspect share
// one context whose limit is set for each call in turn; a call the limit
// ends reads as a deadline exceeded (what unanswered and the ghosts go
// by), as with a timed context of its own, and a new limit replaces the
// old one rather than adding to it.
func TestACallLimitEndsTheCallAsADeadline(t *testing.T) {
	ctx, end := context.WithCancelCause(context.Background())
	l := &callLimit{end: end}
	defer l.stop()
	l.set(time.Hour) // the create's
	l.set(time.Millisecond)
	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
		t.Fatal("the second limit did not end the context")
	}
	err := l.said(ctx, fmt.Errorf("inspect: %w", ctx.Err()))
	if !errors.Is(err, context.DeadlineExceeded) || !unanswered(err) {
		t.Fatalf("a call the limit ended says %v; want a deadline exceeded", err)
	}
	if err := l.said(ctx, nil); err != nil {
		t.Fatalf("a call that succeeded says %v", err)
	}
	down, endDown := context.WithCancelCause(context.Background())
	endDown(ErrNodeDown)
	if err := (&callLimit{end: endDown}).said(down, down.Err()); errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a call its node's end stopped says %v; want no deadline", err)
	}
}
