// Package soak runs a fault soak of a swarmdeck cluster on real engines
// and checks what it recorded: a steady load of creates, starts, stops
// and removes through the managers, random faults (dead and hung engines,
// slow stops, killed managers, a restarted Consul), and after the faults
// end and everything healed, the promises the manager makes — every
// container with a reschedule policy runs exactly once, nothing an engine
// runs is invisible, no node is over-reserved, and no answering engine is
// called Unhealthy.
//
// Everything the soak does and sees is a Record in a JSON-lines history;
// Check reads only that history, so it can be run again on a saved file
// and is tested on testdata/ histories.
package soak

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Kind says what a Record is.
type Kind string

// The kinds of records.
const (
	KindPhase   Kind = "phase"   // the run's phases: start, faults_end, healed, final
	KindOp      Kind = "op"      // an operation through a manager's Docker endpoint
	KindFault   Kind = "fault"   // a fault injected
	KindHeal    Kind = "heal"    // the end of a fault (revive, CONT, restart)
	KindProbe   Kind = "probe"   // the soak's own /_ping of an engine
	KindInfo    Kind = "info"    // a sample of a manager's /info
	KindEvent   Kind = "event"   // an event of a manager's /events
	KindMoved   Kind = "moved"   // a container of a dead engine seen running on another
	KindManager Kind = "manager" // a manager process started, answered or exited
	KindEngine  Kind = "engine"  // the final listing of one engine, asked directly
	KindPS      Kind = "ps"      // the final `ps -a` of one manager
	KindNote    Kind = "note"    // anything else worth reading next to a violation
)

// Phases of a run.
const (
	PhaseHealed    = "healed"     // after the faults: everything answers, one primary, containers settled
	PhaseNotHealed = "not_healed" // the same did not happen in time
)

// Operations of the load.
const (
	OpCreate = "create"
	OpStart  = "start"
	OpStop   = "stop"
	OpRemove = "remove"
)

// Outcome classes of an operation.
const (
	// OutcomeOK: the manager said it was done.
	OutcomeOK = "ok"
	// OutcomeRefused: the manager answered 4xx; nothing happened.
	OutcomeRefused = "refused"
	// OutcomeUnknown: a timeout, a broken connection or a 5xx: it may or
	// may not have happened.
	OutcomeUnknown = "unknown"
)

// Faults injected. Each has a matching heal record but FaultSlowStop,
// which is a stop that outlives the engine's call timeout.
const (
	FaultKillEngine    = "kill_engine"    // kill -9 of a dockerd; heal: revive
	FaultHangEngine    = "hang_engine"    // SIGSTOP of a dockerd; heal: SIGCONT
	FaultSlowStop      = "slow_stop"      // stop -t N of a container that ignores SIGTERM
	FaultKillPrimary   = "kill_primary"   // kill -9 of the primary manager; heal: restart
	FaultKillReplica   = "kill_replica"   // kill -9 of a replica; heal: restart
	FaultRestartConsul = "restart_consul" // Consul stopped; heal: started on the same data
)

// Record is one line of the history. Which fields are set depends on Kind.
type Record struct {
	T    time.Time `json:"t"`
	Kind Kind      `json:"kind"`

	Phase string `json:"phase,omitempty"`

	// An operation: Op on the container Key (the soak's name for it) through
	// Manager, with its Outcome and, if it failed, Err. Took is in ms.
	Op      string  `json:"op,omitempty"`
	Key     string  `json:"key,omitempty"`
	Policy  bool    `json:"policy,omitempty"`
	Rule    string  `json:"rule,omitempty"` // the placement expression of a create
	Manager string  `json:"manager,omitempty"`
	Outcome string  `json:"outcome,omitempty"`
	Err     string  `json:"err,omitempty"`
	ID      string  `json:"id,omitempty"`
	Timeout int     `json:"timeout,omitempty"` // stop -t, seconds
	Took    float64 `json:"took_ms,omitempty"`

	// A fault or heal: Fault on Target (an engine's address, a manager's,
	// or consul).
	Fault  string `json:"fault,omitempty"`
	Target string `json:"target,omitempty"`

	// A probe of Engine; a moved container from Engine to To.
	Engine string `json:"engine,omitempty"`
	OK     bool   `json:"ok,omitempty"`
	To     string `json:"to,omitempty"`

	// An event of a manager.
	Action    string `json:"action,omitempty"`
	Node      string `json:"node,omitempty"`
	Container string `json:"container,omitempty"`
	Message   string `json:"message,omitempty"`

	Role       string       `json:"role,omitempty"`       // info: primary or replica
	FDs        int          `json:"fds,omitempty"`        // info: files the manager has open
	Nodes      []NodeSample `json:"nodes,omitempty"`      // info
	Containers []Copy       `json:"containers,omitempty"` // engine, ps
}

// NodeSample is one node of a manager's /info.
type NodeSample struct {
	Name        string `json:"name"`
	Addr        string `json:"addr"`
	Status      string `json:"status"`
	CPUs        int64  `json:"cpus_milli"`
	CPUsTotal   int64  `json:"cpus_total_milli"`
	Memory      int64  `json:"memory"`
	MemoryTotal int64  `json:"memory_total"`
}

// Copy is a container as an engine or a manager lists it.
type Copy struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	SwarmID string `json:"swarm_id,omitempty"`
	Key     string `json:"key,omitempty"`
	State   string `json:"state,omitempty"`
	Status  string `json:"status,omitempty"`
}

// History appends records to a JSON-lines file, safe for concurrent use.
type History struct {
	mu  sync.Mutex
	w   *bufio.Writer
	f   *os.File
	err error
}

// CreateHistory opens path for a new history.
func CreateHistory(path string) (*History, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return &History{f: f, w: bufio.NewWriter(f)}, nil
}

// Add stamps r with the time if it has none and appends it.
func (h *History) Add(r Record) {
	if r.T.IsZero() {
		r.T = time.Now()
	}
	b, err := json.Marshal(r)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		b = append(b, '\n')
		_, err = h.w.Write(b)
	}
	if err != nil && h.err == nil {
		h.err = err
	}
}

// Close flushes and closes the file; it returns the first error of any
// write.
func (h *History) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.w.Flush(); err != nil && h.err == nil {
		h.err = err
	}
	if err := h.f.Close(); err != nil && h.err == nil {
		h.err = err
	}
	return h.err
}

// ReadHistory reads a JSON-lines history. A line that is not a record is
// an error naming its line number.
func ReadHistory(r io.Reader) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("history line %d: %w", line, err)
		}
		recs = append(recs, rec)
	}
	return recs, sc.Err()
}
