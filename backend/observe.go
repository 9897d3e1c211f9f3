package backend

import (
	"context"
	"log/slog"
	"time"

	"swarmdeck/model"
)

// Observer is told what the manager does, for metrics. Its methods are
// called on the manager's goroutines, some with the cluster's lock held:
// they must be cheap and must not call back into the cluster.
type Observer interface {
	// Placed is one create through the manager: how long it took from the
	// request to the container made on its engine, and why it was refused
	// (err nil: placed and created).
	Placed(took time.Duration, err error)
	// Rescheduled is one attempt to move a container off a failed node:
	// how long since the node failed, and why it could not move yet (err
	// nil: moved).
	Rescheduled(took time.Duration, err error)
	// ProbeFailed is one failed connection to a node's engine.
	ProbeFailed(node string)
	// RoleChanged is a change of this manager's role in leader election.
	RoleChanged(primary bool)
}

// noObserver is the Observer of a manager without metrics.
type noObserver struct{}

func (noObserver) Placed(time.Duration, error)      {}
func (noObserver) Rescheduled(time.Duration, error) {}
func (noObserver) ProbeFailed(string)               {}
func (noObserver) RoleChanged(bool)                 {}

// emit publishes an event and logs it as a structured record that names
// its node and container; attrs add to the record, not to the event.
// Failures log at warning level, everything else at info.
func (c *Cluster) emit(e model.Event, attrs ...any) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	level := slog.LevelInfo
	if e.Kind == model.EventFailure {
		level = slog.LevelWarn
	}
	if c.log.Enabled(context.Background(), level) {
		rec := []any{slog.String("event", e.Action), slog.String("kind", e.Kind.String())}
		if e.Node != "" {
			rec = append(rec, slog.String("node", e.Node))
		}
		if e.Container != "" {
			rec = append(rec, slog.String("container", e.Container))
		}
		if e.ContainerID != "" {
			rec = append(rec, slog.String("container_id", model.ShortID(e.ContainerID)))
		}
		if e.Duration > 0 {
			rec = append(rec, slog.Duration("duration", e.Duration))
		}
		c.log.Log(context.Background(), level, e.Message, append(rec, attrs...)...)
	}
	c.events.publish(e)
}
