package soak

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// probeEvery and probeTimeout: the soak's own probes of each engine. The
// timeout is below the manager's (1 s), so an engine the soak saw answer
// answered in time for the manager too.
const (
	probeEvery   = 500 * time.Millisecond
	probeTimeout = 800 * time.Millisecond
)

// probe pings one engine twice a second until ctx ends.
func (r *run) probe(ctx context.Context, e *docker) {
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := e.ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		rec := Record{T: start, Kind: KindProbe, Engine: e.addr, OK: err == nil, Took: ms(time.Since(start))}
		if err != nil {
			rec.Err = err.Error()
		}
		r.h.Add(rec)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sample records a manager's /info every second while it is up.
func (r *run) sample(ctx context.Context, m *proc) {
	d := m.api
	for sleep(ctx, time.Second) {
		if !m.up() {
			continue
		}
		start := time.Now()
		ictx, cancel := context.WithTimeout(ctx, 3*time.Second)
		role, nodes, err := d.info(ictx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.h.Add(Record{T: start, Kind: KindNote, Manager: m.name, Message: "/info failed", Err: err.Error()})
			continue
		}
		r.h.Add(Record{T: start, Kind: KindInfo, Manager: m.name, Role: role, Nodes: nodes, FDs: m.fds()})
	}
}

// routine are the container events of every create, start and stop: too
// many to record, and the operations say it already.
var routine = []string{"create", "start", "die", "stop", "kill", "destroy", "restart", "pause", "unpause",
	"rename", "update", "attach", "resize", "top", "exec_create", "exec_start", "exec_die", "commit", "export"}

// follow records a manager's events (but the routine ones), following
// the stream again whenever it breaks, until ctx ends.
func (r *run) follow(ctx context.Context, m *proc) {
	d := m.api
	for sleep(ctx, 500*time.Millisecond) {
		if !m.up() {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.name+apiVersion+"/events", nil)
		if err != nil {
			return
		}
		resp, err := d.hc.Do(req)
		if err != nil {
			continue
		}
		if resp.StatusCode != http.StatusOK { // a replica whose primary is away
			resp.Body.Close()
			continue
		}
		dec := json.NewDecoder(resp.Body)
		for {
			var ev struct {
				Type, Action string
				Actor        struct{ Attributes map[string]string }
			}
			if err := dec.Decode(&ev); err != nil {
				break
			}
			if ev.Action == "" || slices.Contains(routine, ev.Action) {
				continue
			}
			a := ev.Actor.Attributes
			r.h.Add(Record{Kind: KindEvent, Manager: m.name, Action: ev.Action, Node: a["node.addr"], Container: a["name"], Message: a["message"]})
		}
		resp.Body.Close()
	}
}

// trackMoves follows the containers with the policy that ran on a
// killed engine until each runs on another engine, and records how long
// that took from the kill (or that it did not within a minute).
func (r *run) trackMoves(ctx context.Context, dead string, killed time.Time, keys []string) {
	left := map[string]bool{}
	for _, k := range keys {
		left[k] = true
	}
	for len(left) > 0 && time.Since(killed) < time.Minute {
		for _, e := range r.engines {
			if e.addr == dead {
				continue
			}
			lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			cs, err := e.list(lctx)
			cancel()
			if err != nil {
				continue
			}
			for _, c := range cs {
				if left[c.Key] && c.State == "running" {
					delete(left, c.Key)
					r.h.Add(Record{Kind: KindMoved, Key: c.Key, Engine: dead, To: e.addr, OK: true, Took: ms(time.Since(killed))})
				}
			}
		}
		if !sleep(ctx, 200*time.Millisecond) {
			break
		}
	}
	for k := range left {
		r.h.Add(Record{Kind: KindMoved, Key: k, Engine: dead, Took: ms(time.Since(killed)), Message: "not seen running elsewhere"})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
