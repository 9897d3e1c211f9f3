package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"swarmdeck/backend"
	"swarmdeck/internal/cputime"
	"swarmdeck/model"
)

// BenchmarkList10000Nodes300000Containers is `docker ps -a` and `docker
// info` on a manager of 10,000 simulated nodes with 30 containers each.
func BenchmarkList10000Nodes300000Containers(b *testing.B) {
	nodes := backend.GenerateNodes(10000, 30)
	c, err := backend.New(backend.SimSource("sim://10000", nodes), backend.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for healthy := 0; healthy < len(nodes); time.Sleep(50 * time.Millisecond) {
		healthy = 0
		for _, n := range c.Nodes() {
			if n.Health == model.Healthy {
				healthy++
			}
		}
	}
	h := New(c)
	for _, path := range []string{"/containers/json?all=1", "/info"} {
		b.Run(path, func(b *testing.B) {
			// The first call encodes what later ones copy; it is left
			// out (swarmdeck bench --way start prints it).
			h.ServeHTTP(&discard{header: http.Header{}}, httptest.NewRequest(http.MethodGet, path, nil))
			cpu := cputime.Process()
			for b.Loop() {
				rec := &discard{header: http.Header{}}
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if rec.code != http.StatusOK {
					b.Fatalf("%s: %d", path, rec.code)
				}
				b.SetBytes(int64(rec.n))
			}
			// The whole process's: the manager's heartbeats included.
			b.ReportMetric(float64(cputime.Process()-cpu)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

// discard is a ResponseWriter that counts the body, as a client reading
// it off the wire would (a recorder's growing buffer would be most of
// the cost measured).
type discard struct {
	header http.Header
	code   int
	n      int
}

func (d *discard) Header() http.Header { return d.header }

func (d *discard) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}

func (d *discard) Write(b []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	d.n += len(b)
	return len(b), nil
}

// BenchmarkPsColdEntries is what a `docker ps` cache pays for containers
// it has not seen (a start, or the warmer as they come): the entries of
// 1,000 simulated nodes of 30 containers each, made into an empty cache.
func BenchmarkPsColdEntries(b *testing.B) {
	nodes := backend.GenerateNodes(1000, 30)
	b.ReportAllocs()
	for b.Loop() {
		var pc psCache
		for _, n := range nodes {
			pc.fill(n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/30000, "ns/container")
}
