package backend

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"

	"swarmdeck/model"
)

// Engine is one Docker host as the manager uses it. Every call takes the
// caller's context; a host that hangs holds a call only until it ends.
type Engine interface {
	// Addr is the address the engine was discovered at: the node's key.
	Addr() string
	Ping(ctx context.Context) error
	Info(ctx context.Context) (EngineInfo, error)
	// Containers lists every container, running or not, inspected.
	Containers(ctx context.Context) ([]*model.Container, error)
	// Inspect reads one container; ErrNotFound when it is gone.
	Inspect(ctx context.Context, id string) (*model.Container, error)
	Images(ctx context.Context) ([]model.Image, error)
	Networks(ctx context.Context) ([]model.Network, error)
	// Events follows the engine's events from now until ctx ends or the
	// stream breaks (an error on the second channel).
	Events(ctx context.Context) (<-chan EngineEvent, <-chan error)

	Create(ctx context.Context, spec CreateSpec) (id string, err error)
	Start(ctx context.Context, id string) error
	Stop(ctx context.Context, id string, timeout time.Duration) error
	Restart(ctx context.Context, id string, timeout time.Duration) error
	Kill(ctx context.Context, id string) error
	Remove(ctx context.Context, id string, force bool) error
	Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error)

	// Pull pulls ref, calling progress with each of the engine's JSON
	// messages as they come. The first call comes once the engine has
	// accepted the pull; an error before it is the engine's refusal.
	Pull(ctx context.Context, ref string, opts image.PullOptions, progress func(jsonmessage.JSONMessage)) error

	CreateNetwork(ctx context.Context, name string, opts network.CreateOptions) (id string, err error)
	RemoveNetwork(ctx context.Context, id string) error

	Close() error
}

// Networker is an engine that attaches a container to a network after
// its create and detaches one by name, even a container of another engine
// (force): what rescheduling a container on a cluster-wide network takes.
type Networker interface {
	ConnectNetwork(ctx context.Context, netID, containerID string, ep model.Endpoint) error
	// DisconnectNetwork detaches ctr (a name or ID); ErrNotFound when the
	// network has no such endpoint.
	DisconnectNetwork(ctx context.Context, netID, ctr string, force bool) error
	// NetworkScope is the scope of a network this engine knows (local,
	// global, swarm); ErrNotFound when it knows none of that ID.
	NetworkScope(ctx context.Context, netID string) (string, error)
}

// Proxied is an engine whose Docker API the manager can pass requests
// through to (logs, attach, exec, pause…). Real engines are; simulated
// ones are not.
type Proxied interface {
	HTTPClient() *http.Client
	BaseURL() string
	Dial(ctx context.Context) (net.Conn, error)
}

// EngineInfo is what `docker info` and `docker version` say of an engine.
type EngineInfo struct {
	ID      string
	Name    string
	Version string
	CPUs    int
	Memory  int64
	Labels  map[string]string // engine labels, built-ins included
	Warning string            // labels dropped or overridden
}

// EngineEvent is one event of an engine's stream.
type EngineEvent struct {
	Type   string // container, image, network…
	Action string // create, start, die, destroy…
	ID     string
	Time   time.Time
	// Container is, for a network's connect or disconnect, the container
	// that joined or left it.
	Container string
}

// CreateSpec is a container as the manager asks an engine to create it:
// the config with Swarm's labels already in place, and the CPU shares
// computed for that engine.
type CreateSpec struct {
	Config model.Config
	// SwarmID goes to the engine as the com.docker.swarm.id label; the
	// config's labels need not hold it.
	SwarmID   string
	CPUShares int64 // Swarm's ceil(cpus × 1024 / node CPUs), for whole CPUs
	NanoCPUs  int64 // for fractional reservations (--cpus)
}

// Errors an engine reports in its own words.
var (
	// ErrEngineDown is a simulated engine that was killed: every call fails
	// as a refused connection would.
	ErrEngineDown = errors.New("cannot connect to the Docker daemon: connection refused")
	// ErrNotFound is a container the engine does not have.
	ErrNotFound = errors.New("no such container")
	// ErrNoImage is a create refused because the engine lacks the image.
	ErrNoImage = errors.New("image not found on the engine")
)

// noImage is an engine's refusal of a create for want of the image, in
// the engine's words ("No such image: x"); it is ErrNoImage.
type noImage struct{ err error }

func (e *noImage) Error() string        { return e.err.Error() }
func (e *noImage) Is(target error) bool { return target == ErrNoImage }
func (e *noImage) Unwrap() error        { return e.err }

// IsConnectionError reports whether err means the engine could not be
// reached: refused, unreachable, timed out or hung. Only a health probe's
// connection error counts toward a node's failures; the same error from a
// user's call only makes the manager probe at once (a slow stop that
// outlives its deadline is not a dead host). An engine that answers with
// an error is alive.
func IsConnectionError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrEngineDown) || client.IsErrConnectionFailed(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// callTimeout bounds one engine call that holds no user request (a
// refresh, an event's inspect, a rescheduling step): a hung engine shows
// as a failed call within it.
const callTimeout = 5 * time.Second

// userCallTimeout bounds a user's call to an engine on top of the time its
// work needs (a stop's grace period), so that `docker stop -t 30` waits
// its 30 seconds and more. A node that turns Unhealthy meanwhile ends the
// call at once.
const userCallTimeout = time.Minute
