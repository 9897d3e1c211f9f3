// Package api serves the Docker Engine API for the whole cluster, as Swarm
// did: any Docker client sees the pool as one host. Placement-related
// routes (create, ps, info, events) go through the manager; routes about
// one container go to the engine that runs it (logs, attach and exec are
// passed through, hijacked streams included).
//
// Pipeline: request → version prefix stripped → ServeMux method+path
// pattern → handler (manager call, or proxy to one engine) → Docker's
// JSON, or an error mapped to Docker's status codes in one place.
//
// Concurrency: handlers run on net/http's goroutines and share only the
// manager (safe for concurrent use) and the exec-to-engine map behind its
// own mutex.
package api
