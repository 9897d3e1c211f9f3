// Package metrics serves a manager's state and activity to Prometheus:
// gauges read from the cluster at scrape time, counters and histograms
// fed by the manager (backend.Observer) and by the Docker API endpoint.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/felixge/httpsnoop"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"swarmdeck/backend"
	"swarmdeck/model"
	"swarmdeck/sched"
)

// Metrics is one manager's metrics. It is a backend.Observer.
type Metrics struct {
	reg *prometheus.Registry

	placements        prometheus.Counter
	refusals          *prometheus.CounterVec
	placementSeconds  *prometheus.HistogramVec
	reschedules       prometheus.Counter
	rescheduleFails   *prometheus.CounterVec
	rescheduleSeconds prometheus.Histogram
	probeFailures     *prometheus.CounterVec
	leaderChanges     prometheus.Counter
	requests          *prometheus.CounterVec
	requestSeconds    *prometheus.HistogramVec
}

// New makes a manager's metrics, with Go's runtime and process metrics.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) prometheus.Collector { m.reg.MustRegister(c); return c }
	m.placements = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmdeck_placements_total",
		Help: "Containers placed and created through the manager."})).(prometheus.Counter)
	m.refusals = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmdeck_placement_refusals_total",
		Help: "Creates the manager refused or could not complete, by reason."}, []string{"reason"})).(*prometheus.CounterVec)
	m.placementSeconds = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "swarmdeck_placement_duration_seconds",
		Help:    "Time from a create request to the container made on its engine (or the refusal), by outcome.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"outcome"})).(*prometheus.HistogramVec)
	m.reschedules = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmdeck_reschedules_total",
		Help: "Containers moved off a failed node."})).(prometheus.Counter)
	m.rescheduleFails = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmdeck_reschedule_failures_total",
		Help: "Attempts to move a container off a failed node that could not place it yet, by reason."}, []string{"reason"})).(*prometheus.CounterVec)
	m.rescheduleSeconds = f(prometheus.NewHistogram(prometheus.HistogramOpts{Name: "swarmdeck_reschedule_duration_seconds",
		Help:    "Time from a node's first failure to one of its containers recreated on another node.",
		Buckets: []float64{.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600}})).(prometheus.Histogram)
	m.probeFailures = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmdeck_engine_probe_failures_total",
		Help: "Failed connections to a node's engine (pings, event stream, refresh), by node."}, []string{"node"})).(*prometheus.CounterVec)
	m.leaderChanges = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "swarmdeck_leadership_changes_total",
		Help: "Times this manager became primary or stopped being primary."})).(prometheus.Counter)
	m.requests = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "swarmdeck_api_requests_total",
		Help: "Docker API requests served, by route template and status code."}, []string{"route", "code"})).(*prometheus.CounterVec)
	m.requestSeconds = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "swarmdeck_api_request_duration_seconds",
		Help:    "Time to answer a Docker API request, by route template (streams count until they end).",
		Buckets: prometheus.DefBuckets}, []string{"route"})).(*prometheus.HistogramVec)
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Watch adds the gauges of a cluster, read from its state at every scrape.
func (m *Metrics) Watch(c *backend.Cluster) { m.reg.MustRegister(&clusterCollector{c: c}) }

// Handler serves the metrics in Prometheus' exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Placed counts a create and its latency, or its refusal by reason.
func (m *Metrics) Placed(took time.Duration, err error) {
	outcome := "placed"
	if err != nil {
		outcome = "refused"
		m.refusals.WithLabelValues(Reason(err)).Inc()
	} else {
		m.placements.Inc()
	}
	m.placementSeconds.WithLabelValues(outcome).Observe(took.Seconds())
}

// Rescheduled counts a move off a failed node, or an attempt that failed.
func (m *Metrics) Rescheduled(took time.Duration, err error) {
	if err != nil {
		m.rescheduleFails.WithLabelValues(Reason(err)).Inc()
		return
	}
	m.reschedules.Inc()
	m.rescheduleSeconds.Observe(took.Seconds())
}

// ProbeFailed counts a failed connection to a node's engine.
func (m *Metrics) ProbeFailed(node string) { m.probeFailures.WithLabelValues(node).Inc() }

// RoleChanged counts a change of leadership.
func (m *Metrics) RoleChanged(bool) { m.leaderChanges.Inc() }

// Reason classifies why a create or a move failed, for a metric label.
func Reason(err error) string {
	var pe *sched.PlacementError
	var ie *model.InvalidError
	switch {
	case err == nil:
		return ""
	case sched.IsInvalid(err), errors.As(err, &ie):
		return "invalid_request"
	case model.IsConflict(err):
		return "name_conflict"
	case errors.As(err, &pe):
		return "no_node_fits"
	case errors.Is(err, backend.ErrNoImage):
		return "image_missing"
	case backend.IsConnectionError(err):
		return "engine_unreachable"
	}
	return "engine_error"
}

// Instrument counts the requests h serves by route template (the
// pattern that matched, never the raw path: the label stays bounded) and
// status code. Flushing and hijacking (attach, exec) still work.
func (m *Metrics) Instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := httpsnoop.CaptureMetrics(h, w, r)
		route := r.Pattern // set on r by the API's ServeMux, or unmatched, forwarded
		if route == "" {
			route = "unmatched" // a wrong method: the mux answered without a route
		}
		m.requests.WithLabelValues(route, strconv.Itoa(got.Code)).Inc()
		m.requestSeconds.WithLabelValues(route).Observe(got.Duration.Seconds())
	})
}

// clusterCollector reads the gauges off the cluster when scraped.
type clusterCollector struct{ c *backend.Cluster }

var (
	descNodes = prometheus.NewDesc("swarmdeck_nodes", "Nodes by status (pending, healthy, unhealthy, disconnected).",
		[]string{"status"}, nil)
	descContainers = prometheus.NewDesc("swarmdeck_containers",
		"Containers by state, as docker ps -a lists them; host_down: on a node that is not healthy, state unknown; waiting: moved off a failed node, waiting for a node to go to.", []string{"state"}, nil)
	descCPUs = prometheus.NewDesc("swarmdeck_cpus", "CPUs of the healthy nodes (with overcommit), and those reserved by their containers.",
		[]string{"kind"}, nil)
	descMemory = prometheus.NewDesc("swarmdeck_memory_bytes", "Memory of the healthy nodes (with overcommit), and that reserved by their containers.",
		[]string{"kind"}, nil)
	descLeader = prometheus.NewDesc("swarmdeck_leader", "1 when this manager is the primary, 0 for a replica.", nil, nil)
	descQueue  = prometheus.NewDesc("swarmdeck_reschedule_queue_containers",
		"Containers of failed nodes waiting to be placed on another node.", nil, nil)
	descQueueAge = prometheus.NewDesc("swarmdeck_reschedule_queue_oldest_seconds",
		"How long the oldest container waiting to be rescheduled has waited since its node failed (0: none waits).", nil, nil)
)

func (cc *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNodes, descContainers, descCPUs, descMemory, descLeader, descQueue, descQueueAge} {
		ch <- d
	}
}

func (cc *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	o := cc.c.Scheduler().Overcommit()
	nodes := map[model.Health]int{model.Pending: 0, model.Healthy: 0, model.Unhealthy: 0, model.Disconnected: 0}
	states := map[string]int{"host_down": 0, "waiting": len(cc.c.Queued())}
	for _, s := range []model.State{model.Created, model.Running, model.Paused, model.Exited} {
		states[s.String()] = 0
	}
	var totalCPU, reservedCPU model.MilliCPU
	var totalMem, reservedMem int64
	for _, n := range cc.c.Nodes() {
		nodes[n.Health]++
		for _, ct := range n.Containers {
			if n.Health == model.Healthy {
				states[ct.State.String()]++
			} else {
				states["host_down"]++
			}
		}
		if n.Health == model.Healthy {
			cpu, mem := n.Reserved()
			totalCPU, reservedCPU = totalCPU+n.TotalCPUs(o), reservedCPU+cpu
			totalMem, reservedMem = totalMem+n.TotalMemory(o), reservedMem+mem
		}
	}
	for h, k := range nodes {
		ch <- prometheus.MustNewConstMetric(descNodes, prometheus.GaugeValue, float64(k), strings.ToLower(h.String()))
	}
	for s, k := range states {
		ch <- prometheus.MustNewConstMetric(descContainers, prometheus.GaugeValue, float64(k), s)
	}
	ch <- prometheus.MustNewConstMetric(descCPUs, prometheus.GaugeValue, float64(totalCPU)/1000, "total")
	ch <- prometheus.MustNewConstMetric(descCPUs, prometheus.GaugeValue, float64(reservedCPU)/1000, "reserved")
	ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, float64(totalMem), "total")
	ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, float64(reservedMem), "reserved")
	leader := 0.0
	if role, _ := cc.c.Role(); role == "primary" {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, leader)
	queued := cc.c.Queued()
	oldest := 0.0
	for _, q := range queued {
		oldest = max(oldest, time.Since(q.Since).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(len(queued)))
	ch <- prometheus.MustNewConstMetric(descQueueAge, prometheus.GaugeValue, oldest)
}
