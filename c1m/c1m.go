// Package c1m is the C1M benchmark: it places a million containers onto
// ten thousand generated nodes three ways — the scheduler alone, the
// manager (backend.Cluster) on simulated engines, and the Docker API with
// concurrent clients — and reports throughput and memory.
package c1m

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"swarmdeck/api"
	"swarmdeck/backend"
	"swarmdeck/internal/cputime"
	"swarmdeck/model"
	"swarmdeck/sched"
)

// The ways to place.
const (
	WaySched   = "sched"
	WayCluster = "cluster"
	WayAPI     = "api"
)

// Options size a run.
type Options struct {
	Nodes      int    // generated nodes (backend.GenerateNodes, no containers)
	Containers int    // containers to place
	Clients    int    // concurrent creators (cluster and api ways)
	Way        string // sched, cluster or api
	// HeapProfile, when set, receives a heap profile (go tool pprof) taken
	// once every container is placed, with the placed state alive.
	HeapProfile io.Writer
}

// Result is one run's figures.
type Result struct {
	Way       string
	Nodes     int
	Placed    int
	Startup   time.Duration // manager start until every node is Healthy (cluster, api)
	Elapsed   time.Duration // placing
	CPU       time.Duration // CPU time of the process while placing (user and system)
	HeapBytes uint64        // live heap after placing, after a collection
	RSSBytes  uint64        // peak resident set of the process (VmHWM), 0 when unknown
}

// PerSecond is the placement throughput.
func (r Result) PerSecond() float64 { return float64(r.Placed) / r.Elapsed.Seconds() }

func (r Result) String() string {
	s := fmt.Sprintf("%-7s %d nodes: %d containers in %.2f s (%.0f/s; %.2f s of CPU)",
		r.Way, r.Nodes, r.Placed, r.Elapsed.Seconds(), r.PerSecond(), r.CPU.Seconds())
	if r.Startup > 0 {
		s += fmt.Sprintf(", manager start %.2f s", r.Startup.Seconds())
	}
	s += fmt.Sprintf(", live heap %s", model.FormatBytes(int64(r.HeapBytes)))
	if r.RSSBytes > 0 {
		s += fmt.Sprintf(", peak RSS %s", model.FormatBytes(int64(r.RSSBytes)))
	}
	return s
}

// request is what every placement asks for: small enough that a million
// fit on ten thousand generated nodes (the smallest has 2 CPUs and 4 GiB).
func request() model.Config {
	return model.Config{Image: "nginx:1.25", NetworkMode: "bridge", CPUs: 10, Memory: 16 << 20, Labels: map[string]string{}}
}

// Run places opts.Containers containers one way and measures it.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Nodes < 1 || opts.Containers < 1 {
		return Result{}, fmt.Errorf("c1m: want at least one node and one container, got %d and %d", opts.Nodes, opts.Containers)
	}
	if opts.Clients < 1 {
		opts.Clients = 16
	}
	nodes := backend.GenerateNodes(opts.Nodes, 0)
	res := Result{Way: opts.Way, Nodes: opts.Nodes}
	var err error
	switch opts.Way {
	case WaySched:
		err = viaSched(nodes, opts, &res)
	case WayCluster, WayAPI:
		err = viaCluster(ctx, nodes, opts, &res)
	default:
		return res, fmt.Errorf("c1m: unknown way %q (use sched, cluster or api)", opts.Way)
	}
	return res, err
}

// measure records the memory figures while the placed state is alive,
// and writes a heap profile to prof when it is set.
func (r *Result) measure(prof io.Writer) error {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapBytes = ms.HeapAlloc
	r.RSSBytes = peakRSS()
	if prof == nil {
		return nil
	}
	runtime.GC() // a profile shows what the collection before last saw
	if err := pprof.Lookup("heap").WriteTo(prof, 0); err != nil {
		return fmt.Errorf("writing the heap profile: %w", err)
	}
	return nil
}

// viaSched places with the scheduler alone, each placement counted on its
// node before the next, as the manager does.
func viaSched(nodes []*model.Node, opts Options, res *Result) error {
	s, err := sched.New(sched.Config{Overcommit: model.DefaultOvercommit})
	if err != nil {
		return err
	}
	snap := sched.NewSnapshot(nodes)
	r, err := sched.NewRequest(request())
	if err != nil {
		return err
	}
	start, cpu := time.Now(), cputime.Process()
	for i := range opts.Containers {
		p, err := s.Place(snap, r)
		if err != nil {
			return fmt.Errorf("placement %d: %w", i+1, err)
		}
		snap.AddContainer(p.Node.Addr, &model.Container{Config: r.Config, Node: p.Node.Addr, State: model.Created})
		res.Placed++
	}
	res.Elapsed, res.CPU = time.Since(start), cputime.Process()-cpu
	err = res.measure(opts.HeapProfile)
	runtime.KeepAlive(snap)
	return err
}

// viaCluster starts a manager on simulated engines, waits for every node,
// then creates the containers from opts.Clients goroutines, through
// Cluster.Create or through the HTTP API on a loopback port.
func viaCluster(ctx context.Context, nodes []*model.Node, opts Options, res *Result) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c, err := backend.New(backend.SimSource("c1m", nodes), backend.Options{})
	if err != nil {
		return err
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for healthy(c) < len(nodes) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w while the manager was starting (%d of %d nodes healthy)", ErrInterrupted, healthy(c), len(nodes))
		case err := <-done:
			return fmt.Errorf("the manager stopped: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	res.Startup = time.Since(start)

	create := func(ctx context.Context) error {
		_, err := c.Create(ctx, request())
		return err
	}
	if opts.Way == WayAPI {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		h := api.New(c)
		go h.Warm(ctx) // as manage runs it: docker ps's cache fills as containers come
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		defer srv.Close()
		create = apiCreator(ln.Addr().String(), opts.Clients)
	}
	var next, placed atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, opts.Clients)
	start, cpu := time.Now(), cputime.Process()
	for range opts.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Stop at an interrupt: a simulated engine's create does not
			// look at the context, so the loop must.
			for ctx.Err() == nil && next.Add(1) <= int64(opts.Containers) {
				if err := create(ctx); err != nil {
					if ctx.Err() == nil {
						errs <- err
						cancel()
					}
					return
				}
				placed.Add(1)
			}
		}()
	}
	wg.Wait()
	res.Elapsed, res.CPU = time.Since(start), cputime.Process()-cpu
	res.Placed = int(placed.Load())
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("creating: %w", err)
	}
	if res.Placed < opts.Containers {
		// Interrupted: the figures so far, then why they stop there. The
		// manager has stopped with the context: keep its state alive to
		// weigh it.
		err := res.measure(nil)
		runtime.KeepAlive(c)
		if err != nil {
			return err
		}
		return fmt.Errorf("%w after %d of %d containers", ErrInterrupted, res.Placed, opts.Containers)
	}
	return res.measure(opts.HeapProfile)
}

// ErrInterrupted is a run whose context ended (Ctrl-C) before every
// container was placed; the Result then holds the figures so far.
var ErrInterrupted = errors.New("interrupted")

func healthy(c *backend.Cluster) int {
	n := 0
	for _, nd := range c.Nodes() {
		if nd.Health == model.Healthy {
			n++
		}
	}
	return n
}

// apiCreator posts `docker create`'s body to the manager, keeping one
// connection per client.
func apiCreator(addr string, clients int) func(context.Context) error {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	body := []byte(`{"Image":"nginx:1.25","HostConfig":{"NanoCpus":10000000,"Memory":16777216,"NetworkMode":"bridge"}}`)
	url := "http://" + addr + "/v1.24/containers/create"
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("POST /containers/create: %s: %s", resp.Status, bytes.TrimSpace(msg))
		}
		return nil
	}
}

// peakRSS is the process's VmHWM from /proc, 0 where there is none.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
