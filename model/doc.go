// Package model holds the cluster's state as plain values: nodes (Docker
// engines), their containers, images and networks, and the events that
// happen to them, plus the figures derived from them (reserved CPUs and
// memory with overcommit, container counts by state).
//
// Pipeline: backend (or a cluster file) fills model values → sched reads
// them → ui and api show them.
//
// Concurrency: model values carry no locks. A value shared between
// goroutines must be treated as immutable; whoever owns the state hands out
// copies or snapshots.
package model
