package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"swarmdeck/backend"
	"swarmdeck/model"
	"swarmdeck/sched"
)

func TestReasonClassifiesByType(t *testing.T) {
	_, exprErr := sched.ParseExpr(sched.KindConstraint, "zone=eu")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"a malformed expression", exprErr, "invalid_request"},
		{"a bad resource value", model.CheckConfig(model.Config{Memory: -1}), "invalid_request"},
		{"a name in use", model.NameConflict("web"), "name_conflict"},
		{"no node fits, wrapped", fmt.Errorf("placing web: %w", &sched.PlacementError{Msg: "Unable to find a node"}), "no_node_fits"},
		{"the image is missing", fmt.Errorf("creating web on n1: %w", backend.ErrNoImage), "image_missing"},
		{"the engine is down", fmt.Errorf("creating web on n1: %w", backend.ErrEngineDown), "engine_unreachable"},
		{"the engine said no", errors.New("Error response from daemon: conflict"), "engine_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if exprErr == nil {
				t.Fatal("the malformed expression parsed")
			}
			if got := Reason(tt.err); got != tt.want {
				t.Fatalf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestObserverCounts(t *testing.T) {
	m := New()
	m.Placed(2*time.Millisecond, nil)
	m.Placed(time.Millisecond, model.NameConflict("web"))
	m.Rescheduled(1500*time.Millisecond, nil)
	m.Rescheduled(time.Second, &sched.PlacementError{Msg: "no"})
	m.ProbeFailed("node-1")
	m.ProbeFailed("node-1")
	m.RoleChanged(true)
	for _, c := range []struct {
		got  float64
		want float64
		what string
	}{
		{testutil.ToFloat64(m.placements), 1, "placements"},
		{testutil.ToFloat64(m.refusals.WithLabelValues("name_conflict")), 1, "refusals by name_conflict"},
		{testutil.ToFloat64(m.reschedules), 1, "reschedules"},
		{testutil.ToFloat64(m.rescheduleFails.WithLabelValues("no_node_fits")), 1, "reschedule failures"},
		{testutil.ToFloat64(m.probeFailures.WithLabelValues("node-1")), 2, "probe failures of node-1"},
		{testutil.ToFloat64(m.leaderChanges), 1, "leadership changes"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.placementSeconds); n != 2 {
		t.Errorf("placement latency series: %d, want placed and refused", n)
	}
	if problems, err := testutil.GatherAndLint(m.reg); err != nil || len(problems) > 0 {
		t.Errorf("metric names break Prometheus conventions: %v %v", problems, err)
	}
}

func TestInstrumentLabelsByRouteTemplate(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containers/{name}/json", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /containers/{name}/start", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotModified)
	})
	h := m.Instrument(mux)
	for _, p := range []string{"GET /containers/a/json", "GET /containers/b/json", "POST /containers/c/start", "GET /nowhere"} {
		method, path, _ := strings.Cut(p, " ")
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
	}
	for _, c := range []struct {
		route, code string
		want        float64
	}{
		{"GET /containers/{name}/json", "200", 2},
		{"POST /containers/{name}/start", "304", 1},
		{"unmatched", "404", 1},
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(c.route, c.code)); got != c.want {
			t.Errorf("requests{route=%q,code=%q} = %v, want %v", c.route, c.code, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.requests); n != 3 {
		t.Errorf("%d request series for 4 requests on 3 routes; raw paths must not become labels", n)
	}
}
