package c1m

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"time"

	"swarmdeck/api"
	"swarmdeck/backend"
	"swarmdeck/internal/cputime"
	"swarmdeck/model"
)

// StartResult is what a manager start on simulated engines costs.
type StartResult struct {
	Nodes, Containers int
	Visible           time.Duration // start until every node is Healthy with its containers
	VisibleCPU        time.Duration // the process's CPU time over the same span (the /info calls included)
	InfoMax, InfoP99  time.Duration // GET /info while starting, polled every 20 ms
	InfoCalls         int
	Info              time.Duration // GET /info once started (median of 5)
	List              time.Duration // GET /containers/json?all=1 once started (median of 5)
	InfoFirst         time.Duration // the first GET /info once started
	ListFirst         time.Duration // the first GET /containers/json?all=1 (it encodes what later ones copy)
	// CPU time of the whole process during the call (the manager's
	// heartbeats and refreshes included: an upper bound for the call),
	// which a loaded machine does not inflate as it does wall time.
	InfoCPUP99, InfoCPU, ListCPU, ListFirstCPU time.Duration
	ListBytes                                  int
	HeapBytes                                  uint64 // live heap the manager added (started, less the simulated engines alone), after a collection
	EngineBytes                                uint64 // live heap of the simulated engines alone, before the manager starts
	RSSBytes                                   uint64 // peak resident set of the process
}

func (r StartResult) String() string {
	s := fmt.Sprintf("start   %d nodes, %d containers: all visible in %.2f s (CPU %.2f s); GET /info while starting: max %s, p99 %s, CPU p99 %s (%d calls); "+
		"once started: GET /info %s (CPU %s; first %s), GET /containers/json?all=1 %s (CPU %s; %s; first %s, CPU %s); manager heap %s (%s per container; the simulated engines: %s more)",
		r.Nodes, r.Containers, r.Visible.Seconds(), r.VisibleCPU.Seconds(), ms(r.InfoMax), ms(r.InfoP99), ms(r.InfoCPUP99), r.InfoCalls, ms(r.Info), ms(r.InfoCPU), ms(r.InfoFirst), ms(r.List), ms(r.ListCPU),
		model.FormatBytes(int64(r.ListBytes)), ms(r.ListFirst), ms(r.ListFirstCPU), model.FormatBytes(int64(r.HeapBytes)), model.FormatBytes(int64(r.HeapBytes)/int64(max(r.Containers, 1))), model.FormatBytes(int64(r.EngineBytes)))
	if r.RSSBytes > 0 {
		s += ", peak RSS " + model.FormatBytes(int64(r.RSSBytes))
	}
	return s
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// Start starts a manager and its API on nodes generated with perNode
// containers each, asks GET /info every 20 ms until every node is
// visible, then times `docker info` and `docker ps -a`. The answers are
// counted, not kept, as a client that reads them off the wire would. With
// heapProfile, a heap profile is written there once the manager is up.
func Start(ctx context.Context, nodes, perNode int, heapProfile io.Writer) (StartResult, error) {
	if nodes < 1 || perNode < 0 {
		return StartResult{}, fmt.Errorf("c1m: want at least one node and no negative container count, got %d and %d", nodes, perNode)
	}
	res := StartResult{Nodes: nodes, Containers: nodes * perNode}
	src := backend.SimSource("c1m", backend.GenerateNodes(nodes, perNode))
	var base Result
	_ = base.measure(nil)
	res.EngineBytes = base.HeapBytes
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c, err := backend.New(src, backend.Options{})
	if err != nil {
		return res, err
	}
	h := api.New(c)
	go h.Warm(ctx) // as manage runs it
	get := func(path string) (took, cpu time.Duration, n int, err error) {
		rec := &counter{header: http.Header{}}
		t, c := time.Now(), cputime.Process()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil))
		if rec.code != http.StatusOK {
			return 0, 0, 0, fmt.Errorf("GET %s: %d %s", path, rec.code, rec.head)
		}
		return time.Since(t), cputime.Process() - c, rec.n, nil
	}
	start, startCPU := time.Now(), cputime.Process()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	var infos, infoCPUs []time.Duration
	for visible(c) < res.Containers || healthy(c) < nodes {
		select {
		case <-ctx.Done(): // Ctrl-C
			return res, fmt.Errorf("%w while the manager was starting (%d of %d nodes healthy)", ErrInterrupted, healthy(c), nodes)
		case err := <-done:
			done <- err // for the deferred wait, which would otherwise wait for ever
			return res, fmt.Errorf("the manager stopped: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
		d, cpu, _, err := get("/info")
		if err != nil {
			return res, err
		}
		infos, infoCPUs = append(infos, d), append(infoCPUs, cpu)
	}
	res.Visible, res.VisibleCPU = time.Since(start), cputime.Process()-startCPU
	if len(infos) > 0 {
		slices.Sort(infos)
		slices.Sort(infoCPUs)
		res.InfoMax, res.InfoP99, res.InfoCalls = infos[len(infos)-1], infos[len(infos)*99/100], len(infos)
		res.InfoCPUP99 = infoCPUs[len(infoCPUs)*99/100]
	}
	// median times a path 5 times: the first call, the median of the wall
	// times and of the CPU times, and the answer's size.
	median := func(path string) (first, firstCPU, median, medianCPU time.Duration, size int, err error) {
		var ds, cs []time.Duration
		for range 5 {
			d, c, n, err := get(path)
			if err != nil {
				return 0, 0, 0, 0, 0, err
			}
			ds, cs, size = append(ds, d), append(cs, c), n
		}
		first, firstCPU = ds[0], cs[0]
		slices.Sort(ds)
		slices.Sort(cs)
		return first, firstCPU, ds[2], cs[2], size, nil
	}
	if res.InfoFirst, _, res.Info, res.InfoCPU, _, err = median("/info"); err != nil {
		return res, err
	}
	if res.ListFirst, res.ListFirstCPU, res.List, res.ListCPU, res.ListBytes, err = median("/containers/json?all=1"); err != nil {
		return res, err
	}
	m := Result{}
	if err := m.measure(heapProfile); err != nil {
		return res, err
	}
	runtime.KeepAlive(h) // what the API keeps (its caches) is the manager's too
	res.HeapBytes, res.RSSBytes = m.HeapBytes-min(m.HeapBytes, base.HeapBytes), m.RSSBytes
	return res, nil
}

// counter is a ResponseWriter that counts the body and keeps its start
// (for an error's text).
type counter struct {
	header http.Header
	code   int
	n      int
	head   []byte
}

func (c *counter) Header() http.Header { return c.header }

func (c *counter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *counter) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	if len(c.head) < 512 {
		c.head = append(c.head, b[:min(len(b), 512-len(c.head))]...)
	}
	c.n += len(b)
	return len(b), nil
}

// visible counts the containers the manager shows.
func visible(c *backend.Cluster) int {
	n := 0
	for _, nd := range c.Nodes() {
		n += len(nd.Containers)
	}
	return n
}
