package api

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/docker/docker/api/types/filters"
)

const (
	// maxBody is the largest request body the endpoint reads: a create
	// body is a few KiB; 16 MiB leaves room for huge label sets.
	maxBody = 16 << 20
)

// bodyTimeout bounds how long a client may take to send a body (a
// variable for tests).
var bodyTimeout = 30 * time.Second

// tooLarge is a body past maxBody (HTTP 413).
type tooLarge struct{ limit int64 }

func (e *tooLarge) Error() string {
	return fmt.Sprintf("request body too large: swarmdeck reads at most %d MiB", e.limit>>20)
}

// readBody reads a request body whole, refusing one past maxBody and a
// client that takes longer than bodyTimeout to send it (the deadline is
// set by the server NewHTTPServer makes, for every route).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &tooLarge{limit: mbe.Limit}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, fmt.Errorf("%w: the request body did not arrive within %v", errBadRequest, bodyTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading the request body: %v", errBadRequest, err)
	}
	return b, nil
}

// queryFilters reads the filters query parameter with Docker's own parser
// (both {"k":["v"]} and the older {"k":{"v":true}}).
func queryFilters(r *http.Request) (filters.Args, error) {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		return f, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	return f, nil
}

// maxCPUs is the CPU count of the largest node: Docker checks --cpus
// against its engine's, the cluster against the largest engine's.
func (s *Server) maxCPUs() int { return s.c.MaxCPUs() }
