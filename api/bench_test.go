package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"swarmdeck/backend"
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
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", path, rec.Code)
				}
				b.SetBytes(int64(rec.Body.Len()))
			}
		})
	}
}
