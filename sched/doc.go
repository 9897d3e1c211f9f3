// Package sched is swarmdeck's scheduler: Swarm 1.2's expression grammar,
// filter chain and strategies, with explanations of every decision.
//
// Pipeline: model.Config → NewRequest (expressions extracted from env and
// labels, parsed and compiled once; *ExprError when malformed) → a
// Scheduler built from a Config (strategy, filters, overcommit) → Place,
// Rank or Explain on a Snapshot (the cluster indexed for placement) →
// a Placement or a *PlacementError whose text is Swarm's.
//
// The package is pure: no I/O, no clock, no goroutines, no package state.
// The same snapshot, request and seed give the same result.
//
// Concurrency: a Scheduler is immutable and safe for concurrent use. A
// Snapshot is not: its owner serialises placements and the
// AddContainer/RemoveContainer calls that keep it current.
package sched
