package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs/pkg/errhttp"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// pullTimeout bounds one pull: an image of a few hundred MiB over a slow
// link, but not a registry that never answers.
const pullTimeout = 10 * time.Minute

// EngineError is an error an engine answered with: its HTTP status, which
// classifies it (errdefs), and its own words.
type EngineError struct {
	Code    int
	Message string
}

func (e *EngineError) Error() string { return e.Message }

// Unwrap gives the errdefs class of the engine's status.
func (e *EngineError) Unwrap() error { return errhttp.ToNative(e.Code) }

// NodeError is one node's failure in a call made on several nodes.
type NodeError struct {
	Node string
	Err  error
}

// NodeErrors are the failures of one call made on several nodes. Its
// text names each node, the nodes that failed the same way together
// ("node-1, node-3: manifest unknown"). It is of an errdefs class only
// when every node failed the same way.
type NodeErrors []NodeError

func (e NodeErrors) Error() string {
	var msgs []string
	nodes := map[string][]string{}
	for _, x := range e {
		m := x.Err.Error()
		if nodes[m] == nil {
			msgs = append(msgs, m)
		}
		nodes[m] = append(nodes[m], x.Node)
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = strings.Join(nodes[m], ", ") + ": " + m
	}
	return strings.Join(out, "; ")
}

// Unwrap gives the nodes' errors when they share their class, so that
// errdefs sees that class; nothing otherwise.
func (e NodeErrors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, x := range e {
		errs[i] = x.Err
		if errhttp.ToHTTP(x.Err) != errhttp.ToHTTP(e[0].Err) {
			return nil
		}
	}
	return errs
}

// ParseRef reads an image reference as docker pull does (docker.io and
// :latest implied), refusing a bad one with a message that names it.
func ParseRef(ref string) (reference.Named, error) {
	if r, err := reference.ParseAnyReference(ref); err == nil {
		if _, named := r.(reference.Named); !named {
			return nil, &model.InvalidError{Msg: fmt.Sprintf("%s is an image ID: a pull needs a name (repository[:tag] or repository@digest)", ref)}
		}
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, &model.InvalidError{Msg: fmt.Sprintf("invalid image reference %q: %v", ref, err)}
	}
	return named, nil
}

// Pull implements Engine.
func (d *DockerEngine) Pull(ctx context.Context, ref string, opts image.PullOptions, progress func(jsonmessage.JSONMessage)) error {
	rc, err := d.cli.ImagePull(ctx, ref, opts)
	if err != nil {
		return daemonError(err)
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the engine's progress: %w", err)
		}
		if m.Error != nil {
			return &EngineError{Code: 500, Message: m.Error.Message}
		}
		progress(m)
	}
}

// daemonError is err of the docker client without its "Error response
// from daemon: " prefix (the caller says where it came from), its class
// kept.
func daemonError(err error) error {
	msg, ok := strings.CutPrefix(err.Error(), "Error response from daemon: ")
	if !ok {
		return err
	}
	return &EngineError{Code: errhttp.ToHTTP(err), Message: msg}
}

// Pull pulls ref on the healthy nodes at addrs (every healthy node when
// addrs is empty), all at once, calling progress with each engine's
// messages as they come (from several goroutines: progress serializes
// what it needs). Each node's images are read again after its pull. The
// answer is each node's error, nil for a pull that worked, keyed by node
// name.
func (c *Cluster) Pull(ctx context.Context, ref string, opts image.PullOptions, addrs []string,
	progress func(node string, m jsonmessage.JSONMessage)) (map[string]error, error) {
	if _, err := ParseRef(ref); err != nil {
		return nil, err
	}
	type target struct {
		n    *node
		name string
	}
	var targets []target
	c.mu.Lock()
	for _, n := range c.nodes {
		if n.health != model.Healthy || (len(addrs) > 0 && !slices.Contains(addrs, n.entry.Addr)) {
			continue
		}
		targets = append(targets, target{n, n.nameLocked()})
	}
	c.mu.Unlock()
	if len(targets) == 0 {
		if len(addrs) > 0 {
			return nil, fmt.Errorf("%w: no healthy node among %s to pull %s on", ErrNotFound, strings.Join(addrs, ", "), ref)
		}
		return nil, fmt.Errorf("%w: no healthy node to pull %s on", ErrNotFound, ref)
	}
	out := make(map[string]error, len(targets))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.pullOn(ctx, t.n, t.name, ref, opts, func(m jsonmessage.JSONMessage) { progress(t.name, m) })
			mu.Lock()
			out[t.name] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out, nil
}

// pullOn pulls ref on one node, bound to the node's health and to
// pullTimeout, then reads the node's images again.
func (c *Cluster) pullOn(ctx context.Context, n *node, name string, ref string, opts image.PullOptions,
	progress func(jsonmessage.JSONMessage)) error {
	ctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	c.mu.Lock()
	ctx, stop := c.whileHealthyLocked(ctx, n)
	c.mu.Unlock()
	defer stop()
	began := time.Now()
	c.emit(model.Event{Kind: model.EventImage, Node: name, Image: ref, Action: "pull",
		Message: fmt.Sprintf("pulling %s on %s", ref, name)})
	err := n.eng.Pull(ctx, ref, opts, func(m jsonmessage.JSONMessage) {
		if m.Progress == nil && m.Status != "" { // a step, not a tick of a download
			msg := m.Status
			if m.ID != "" {
				msg = m.ID + ": " + msg
			}
			c.emit(model.Event{Kind: model.EventImage, Node: name, Image: ref, Action: "pull",
				Message: fmt.Sprintf("pulling %s on %s: %s", ref, name, msg)})
		}
		progress(m)
	})
	err = NodeDownCause(ctx, err)
	if err != nil {
		c.emit(model.Event{Kind: model.EventImage, Node: name, Image: ref, Action: "pull_failed",
			Message: fmt.Sprintf("pulling %s on %s failed: %v", ref, name, err)})
		return err
	}
	c.refreshImages(ctx, n)
	c.emit(model.Event{Kind: model.EventImage, Node: name, Image: ref, Action: "pulled", Duration: time.Since(began),
		Message: fmt.Sprintf("pulled %s on %s", ref, name)})
	return nil
}

// refreshImages reads a node's images again (after a pull, a tag, a load
// or an image event).
func (c *Cluster) refreshImages(ctx context.Context, n *node) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	ims, err := n.eng.Images(ctx)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n.images = ims
	c.rebuild(n)
}

// RefreshImages reads the images of the node at addr again.
func (c *Cluster) RefreshImages(ctx context.Context, addr string) {
	c.mu.Lock()
	n := c.nodes[addr]
	c.mu.Unlock()
	if n != nil {
		c.refreshImages(ctx, n)
	}
}

// pullForCreate pulls the image of a create on the node chosen for it,
// which lacks it (Swarm's engine pulled before it created). The pull's
// steps are events. The registry credentials come with ctx
// (WithRegistryAuth).
func (c *Cluster) pullForCreate(ctx context.Context, n *node, ref string) error {
	if _, err := ParseRef(ref); err != nil {
		return ErrNoImage // an image ID: nothing to pull; Swarm's retry may find it
	}
	return c.pullOn(ctx, n, n.name(), ref, image.PullOptions{RegistryAuth: registryAuth(ctx)}, func(jsonmessage.JSONMessage) {})
}

type registryAuthKey struct{}

// WithRegistryAuth carries a request's X-Registry-Auth (base64 JSON, as
// the docker CLI sends it) to the pulls a create makes.
func WithRegistryAuth(ctx context.Context, auth string) context.Context {
	if auth == "" {
		return ctx
	}
	return context.WithValue(ctx, registryAuthKey{}, auth)
}

func registryAuth(ctx context.Context) string {
	s, _ := ctx.Value(registryAuthKey{}).(string)
	return s
}

// ImageHolders are the healthy nodes that have the image ref (an ID or
// a unique ID prefix, or a name with :latest implied), in name order.
// anyTag makes a name without a tag match every tag of its repository,
// as Swarm matched the names of docker save and push.
func (c *Cluster) ImageHolders(ref string, anyTag bool) []*model.Node {
	var out []*model.Node
	for _, n := range c.Nodes() {
		if n.Health != model.Healthy {
			continue
		}
		if slices.ContainsFunc(n.Images, func(im model.Image) bool { return ImageMatches(im, ref, anyTag) }) {
			out = append(out, n)
		}
	}
	return out
}

// ImageMatches reports whether im is what ref names: its ID (with or
// without sha256:, or a prefix of at least 3 hex digits) or one of its
// tags, names compared in their normalized form (busybox is
// docker.io/library/busybox:latest).
func ImageMatches(im model.Image, ref string, anyTag bool) bool {
	id := strings.TrimPrefix(im.ID, "sha256:")
	if short := strings.TrimPrefix(ref, "sha256:"); len(short) >= 3 && strings.HasPrefix(id, short) && isHex(short) {
		return true
	}
	want, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return false
	}
	_, tagged := want.(reference.Tagged)
	if !anyTag || tagged {
		want = reference.TagNameOnly(want)
	}
	for _, rt := range im.RepoTags {
		have, err := reference.ParseNormalizedNamed(rt)
		if err != nil {
			continue
		}
		if have.String() == want.String() || (!tagged && anyTag && have.Name() == want.Name()) {
			return true
		}
	}
	return false
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// PlaceBuild chooses the node a build runs on, as Swarm did: the build
// args that are placement expressions (constraint:…, affinity:…) are
// read as a container's environment would be, and the scheduler picks a
// node for a container of that size. Nothing is reserved: a build holds
// no resources once done.
func (c *Cluster) PlaceBuild(exprs []string, cpus model.MilliCPU, memory int64) (*model.Node, error) {
	req, err := sched.NewRequest(model.Config{Env: exprs, CPUs: cpus, Memory: memory})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.sch.Place(c.snap, req)
	if err != nil {
		return nil, err
	}
	return c.viewOf(c.nodes[p.Node.Addr]), nil
}
