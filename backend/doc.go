// Package backend is everything of swarmdeck that talks to the world: the
// Docker engines of the pool (real ones through the Docker SDK, simulated
// ones in process), discovery of which engines there are, and the cluster
// manager that keeps a live model of them, creates containers where the
// scheduler says, and moves containers off a host that fails.
//
// Pipeline: discovery entries → one Engine each → a monitor goroutine per
// engine (state, events, health) → the Cluster's model and scheduling
// snapshot → placements (Create) and reschedules → engine calls; every
// change is also a model.Event for subscribers.
//
// Concurrency: the Cluster owns its goroutines (one monitor per engine,
// one rescheduler), all under the context given to Run. Its state sits
// behind one unexported mutex that is never held across an engine call:
// a create locks to place and reserve, unlocks to call the engine, and
// locks again to record the result or release the reservation. Readers get
// immutable model values.
package backend
