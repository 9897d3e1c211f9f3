package model

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Health is an engine's place in its life cycle.
type Health int

// The engine life cycle: Pending → Healthy ⇄ Unhealthy → Disconnected.
const (
	Pending Health = iota
	Healthy
	Unhealthy
	Disconnected
)

var healthNames = [...]string{"Pending", "Healthy", "Unhealthy", "Disconnected"}

func (h Health) String() string {
	if int(h) < len(healthNames) {
		return healthNames[h]
	}
	return fmt.Sprintf("Health(%d)", int(h))
}

// ParseHealth reads a health state, case-insensitively.
func ParseHealth(s string) (Health, error) {
	for i, n := range healthNames {
		if strings.EqualFold(s, n) {
			return Health(i), nil
		}
	}
	return 0, fmt.Errorf("unknown health %q (want healthy, unhealthy or pending)", s)
}

// Availability is whether the scheduler may use a node: an operator's
// choice, kept apart from Health (which the engine decides).
type Availability int

// Node availabilities. Active is the zero value: a node nobody paused or
// drained.
const (
	Active Availability = iota // placements welcome
	Pause                      // no new placements; what runs stays
	Drain                      // no new placements; movable containers leave
)

var availabilityNames = [...]string{"active", "pause", "drain"}

func (a Availability) String() string {
	if int(a) < len(availabilityNames) {
		return availabilityNames[a]
	}
	return fmt.Sprintf("Availability(%d)", int(a))
}

// Doing is the availability as a state of the node: "active", "paused",
// "draining", for placement explanations and the console.
func (a Availability) Doing() string {
	switch a {
	case Pause:
		return "paused"
	case Drain:
		return "draining"
	}
	return a.String()
}

// ParseAvailability reads active, pause or drain (also "paused",
// "draining"), case-insensitively.
func ParseAvailability(s string) (Availability, error) {
	for i, n := range availabilityNames {
		if strings.EqualFold(s, n) || strings.EqualFold(s, Availability(i).Doing()) {
			return Availability(i), nil
		}
	}
	return 0, fmt.Errorf("unknown availability %q (want active, pause or drain)", s)
}

// State is a container's run state.
type State int

// Container states as Docker reports them.
const (
	Created State = iota
	Running
	Paused
	Exited
)

var stateNames = [...]string{"created", "running", "paused", "exited"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// ParseState reads a container state; Docker's "restarting", "removing" and
// "dead" fold into the nearest of the four states the scheduler tells apart.
func ParseState(s string) (State, error) {
	switch strings.ToLower(s) {
	case "created":
		return Created, nil
	case "running", "restarting":
		return Running, nil
	case "paused":
		return Paused, nil
	case "exited", "dead", "removing", "stopped":
		return Exited, nil
	}
	return 0, fmt.Errorf("unknown container state %q (want running, exited, paused or created)", s)
}

// Built-in engine labels, set from `docker info`; a user label cannot
// override them.
const (
	LabelStorageDriver   = "storagedriver"
	LabelKernelVersion   = "kernelversion"
	LabelOperatingSystem = "operatingsystem"
	LabelOSType          = "ostype"
)

// Container labels through which swarmdeck (like Swarm) keeps its state on
// the engines.
const (
	LabelSwarmID            = "com.docker.swarm.id"
	LabelConstraints        = "com.docker.swarm.constraints"
	LabelAffinities         = "com.docker.swarm.affinities"
	LabelWhitelists         = "com.docker.swarm.whitelists"
	LabelReschedulePolicies = "com.docker.swarm.reschedule-policies"
	// LabelStartAfterReschedule marks a rescheduled copy of a container that
	// was running: whichever manager finds it still created starts it, so a
	// manager that dies between create and start loses nothing.
	LabelStartAfterReschedule = "com.swarmdeck.start-after-reschedule"
	// LabelRescheduledFrom is on a container rescheduled off a failed
	// node: that node's address, where its old copy may still be. A
	// manager that did not see the move (it started later, or the node
	// was never listed to it) knows from it that removing this copy must
	// be recorded, so the old copy goes too when its node comes back.
	LabelRescheduledFrom = "com.swarmdeck.rescheduled-from"
	// LabelRebalance set to "true" lets the rebalancer (and a drain) move
	// a container that has no reschedule policy.
	LabelRebalance = "com.swarmdeck.rebalance"
)

// Node is one Docker engine of the cluster. Nodes are keyed by Addr: two
// engines may report the same ID and name.
type Node struct {
	ID     string            // the engine's ID, matched by constraint:node==
	Name   string            // the engine's (or operator's) name for it
	Addr   string            // host:port; the key of the node
	Labels map[string]string // engine labels, built-ins included
	CPUs   int               // CPUs the engine reports, before overcommit
	Memory int64             // bytes the engine reports, before overcommit

	Health       Health
	Availability Availability // the operator's: active, pause or drain
	Failures     int          // connection failures in a row
	Error        string       // the last error, empty when none
	Warning      string       // e.g. an engine ID shared with another node
	Version      string       // engine version
	Updated      time.Time

	Images     []Image
	Containers []*Container
}

// Image is an image present on a node.
type Image struct {
	ID          string
	RepoTags    []string
	RepoDigests []string
	Created     int64 // Unix seconds, as docker images gives it
	Size        int64 // bytes
	Labels      map[string]string
}

// PortBinding is one published port: HostIP:HostPort → ContainerPort/Proto.
// An empty HostPort means "any free port".
type PortBinding struct {
	HostIP        string
	HostPort      string
	ContainerPort string
	Proto         string // tcp, udp or sctp
}

func (p PortBinding) String() string {
	s := p.ContainerPort + "/" + p.Proto
	if p.HostPort == "" && p.HostIP == "" {
		return s
	}
	h := p.HostPort
	if p.HostIP != "" {
		h = p.HostIP + ":" + h
	}
	return h + "->" + s
}

// Config is what a user asks for when creating a container: `docker run`'s
// options that matter to placement, plus image, command, env and labels.
type Config struct {
	Name        string
	Image       string
	Cmd         []string
	Env         []string
	Labels      map[string]string
	CPUs        MilliCPU // reserved CPUs
	Memory      int64    // reserved bytes
	Ports       []PortBinding
	Expose      []string // exposed ports as "80/tcp"
	NetworkMode string   // bridge, host, none, container:X, or a network name
	VolumesFrom []string
	Links       []string
	// Raw is the Docker API create body this config came from, if any: an
	// engine creates from it, so what the model does not hold (tty,
	// mounts, entrypoint…) is kept. The fields above win over it.
	Raw []byte `json:"-"`
}

// Container is a container on a node, with the placement rules it was
// created with (read back from its labels).
//
// What most containers lack is kept behind two pointers, nil when empty
// (read it through the methods of the same names): the placement rules,
// and what its engine said of its runs and networks. A container created
// and never started, without rules, is 352 bytes rather than 512 (a
// million of them: 160 MiB); a running one 432. Records are shared and
// never changed once made: a change makes a new record, and new Rules or
// Run when those change.
type Container struct {
	Config
	ID      string
	SwarmID string
	Node    string // the node's address
	State   State
	Created time.Time
	Rules   *Rules // nil: none
	Run     *Run   // nil: never started, never exited, no network
}

// Rules are the placement rules a container was created with, read back
// from its labels.
type Rules struct {
	Constraints []string
	Affinities  []string
	Whitelists  []string
	Reschedule  []string // reschedule policies: "off", "on-node-failure"
}

// Run is what a container's engine last said of its runs and networks.
type Run struct {
	Started  time.Time // last start; zero if never started
	Finished time.Time // last exit
	ExitCode int
	// Endpoints are the container's attachments to networks, as its
	// engine last reported them.
	Endpoints []Endpoint
}

// SetRules gives c these rules; none (every list nil) is a nil Rules.
func (c *Container) SetRules(r Rules) {
	c.Rules = nil
	if r.Constraints != nil || r.Affinities != nil || r.Whitelists != nil || r.Reschedule != nil {
		c.Rules = &r
	}
}

// SetRun gives c this word of its engine; nothing (the zero Run) is a nil
// Run.
func (c *Container) SetRun(r Run) {
	c.Run = nil
	if !r.Started.IsZero() || !r.Finished.IsZero() || r.ExitCode != 0 || r.Endpoints != nil {
		c.Run = &r
	}
}

// RunInfo is c's Run, the zero Run when it has none.
func (c *Container) RunInfo() Run {
	if c.Run == nil {
		return Run{}
	}
	return *c.Run
}

// RuleSet is c's Rules, the zero Rules when it has none.
func (c *Container) RuleSet() Rules {
	if c.Rules == nil {
		return Rules{}
	}
	return *c.Rules
}

// Constraints are c's constraint expressions.
func (c *Container) Constraints() []string { return c.RuleSet().Constraints }

// Affinities are c's affinity expressions.
func (c *Container) Affinities() []string { return c.RuleSet().Affinities }

// Whitelists are c's whitelist expressions.
func (c *Container) Whitelists() []string { return c.RuleSet().Whitelists }

// Reschedule are c's reschedule policies.
func (c *Container) Reschedule() []string { return c.RuleSet().Reschedule }

// Started is c's last start, zero if it never started.
func (c *Container) Started() time.Time { return c.RunInfo().Started }

// Finished is c's last exit.
func (c *Container) Finished() time.Time { return c.RunInfo().Finished }

// ExitCode is c's last exit code.
func (c *Container) ExitCode() int { return c.RunInfo().ExitCode }

// Endpoints are c's attachments to networks, as its engine last reported
// them.
func (c *Container) Endpoints() []Endpoint { return c.RunInfo().Endpoints }

// containerJSON is a Container as encoding/json wrote it when every field
// was its own: MarshalJSON keeps that shape.
type containerJSON struct {
	Config
	ID       string
	SwarmID  string
	Node     string
	State    State
	Created  time.Time
	Started  time.Time
	Finished time.Time
	ExitCode int

	Constraints []string
	Affinities  []string
	Whitelists  []string
	Reschedule  []string

	Endpoints []Endpoint
}

// MarshalJSON writes c with its rules and run among its own fields, as
// before they were kept apart.
func (c Container) MarshalJSON() ([]byte, error) {
	r, u := c.RuleSet(), c.RunInfo()
	return json.Marshal(containerJSON{Config: c.Config, ID: c.ID, SwarmID: c.SwarmID, Node: c.Node, State: c.State, Created: c.Created,
		Started: u.Started, Finished: u.Finished, ExitCode: u.ExitCode,
		Constraints: r.Constraints, Affinities: r.Affinities, Whitelists: r.Whitelists, Reschedule: r.Reschedule, Endpoints: u.Endpoints})
}

// DockerLabels is the container's labels as Docker shows them: Labels
// with the swarm ID label. A record keeps its swarm ID in SwarmID and its
// Labels may lack the label (the manager's own creates leave it out, so
// that containers created alike share one labels map); Labels itself is
// returned when it holds the label already or there is no swarm ID, else
// a new map. Callers must not change the result.
func (c *Container) DockerLabels() map[string]string {
	if c.SwarmID == "" || c.Labels[LabelSwarmID] == c.SwarmID {
		return c.Labels
	}
	out := make(map[string]string, len(c.Labels)+1)
	for k, v := range c.Labels {
		out[k] = v
	}
	out[LabelSwarmID] = c.SwarmID
	return out
}

// Label is one of the container's labels as Docker shows them (see
// DockerLabels), without making a map.
func (c *Container) Label(key string) (string, bool) {
	if key == LabelSwarmID && c.SwarmID != "" {
		return c.SwarmID, true
	}
	v, ok := c.Labels[key]
	return v, ok
}

// Endpoint is a container's attachment to one network.
type Endpoint struct {
	Network   string // the network's name
	NetworkID string
	IPv4      string   // the address it had
	AskedIPv4 string   // the address its user asked for (--ip), if any
	Aliases   []string // the user's aliases
}

// ShortID is the first 12 characters of id, as docker prints it.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Network is a network on one node, or on every node when it is shared.
type Network struct {
	ID         string
	Name       string
	Node       string // node address; empty for a network every node shares
	Driver     string
	Scope      string // local, global or swarm
	Subnet     string
	Containers []string
}

// EventKind says what an Event is about.
type EventKind int

// Kinds of cluster events.
const (
	EventPlaced EventKind = iota
	EventEngine
	EventReschedule
	EventFailure
	EventContainer
	EventAvailability // a node was paused, drained or made active
	EventMove         // a container moved for a drain or a rebalance
	EventPlan         // a rebalance plan was made
	EventGlobal       // a global container's copy was added to or removed from a node
	EventLeader       // this manager's role in leader election changed
	EventImage        // an image was pulled (or its pull failed) on a node
)

var eventKindNames = [...]string{"placed", "engine", "reschedule", "failure", "container", "availability", "move", "plan", "global", "leader", "image"}

func (k EventKind) String() string {
	if int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is something that happened in the cluster.
type Event struct {
	Time      time.Time
	Kind      EventKind
	Node      string // node name
	Container string // container name
	// ContainerID is the container's ID when the event is about one.
	ContainerID string
	// Image is the image reference when the event is about one (a pull).
	Image   string
	Action  string // e.g. "create", "engine_disconnect"
	Message string
	// Duration is how long the thing took: for a reschedule, from the
	// node's first failure to the container running elsewhere.
	Duration time.Duration
}
