package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// Prefix is where the manager's own operations live, apart from every
// Docker route.
const Prefix = "/swarmdeck/v1"

// AvailabilityRequest is the body of POST /swarmdeck/v1/nodes/{node}/availability.
type AvailabilityRequest struct {
	Availability string `json:"availability"` // active, pause or drain
	// Force moves the containers that have no reschedule policy too.
	Force bool `json:"force,omitempty"`
	// Wait answers once every move of a drain has ended, with Outcomes.
	Wait bool `json:"wait,omitempty"`
}

// Outcome is how the move of one container off a drained node ended.
type Outcome struct {
	Container string `json:"container"`
	To        string `json:"to,omitempty"`
	Error     string `json:"error,omitempty"`
	Removed   bool   `json:"removed,omitempty"` // a user removed it before it moved
}

// Blocker is a container that stays on a drained node, and why.
type Blocker struct {
	Container string `json:"container"`
	Reason    string `json:"reason"`
	// Forcible: a drain with force would move it.
	Forcible bool `json:"forcible,omitempty"`
}

// AvailabilityResponse says what a change of availability did.
type AvailabilityResponse struct {
	Node         string    `json:"node"`
	Addr         string    `json:"addr"`
	Availability string    `json:"availability"`
	Moving       []string  `json:"moving"`
	Blocking     []Blocker `json:"blocking"`
	// Global are the node's copies of global containers, removed rather
	// than moved when it is drained.
	Global   []string  `json:"global,omitempty"`
	StoredIn string    `json:"stored_in"`
	Warnings []string  `json:"warnings,omitempty"`
	Outcomes []Outcome `json:"outcomes,omitempty"` // with wait
}

// Move is one move of a rebalance plan and, once run, its outcome.
type Move struct {
	Container string   `json:"container"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	Why       string   `json:"why"`
	Rules     []string `json:"rules,omitempty"`
	Group     int      `json:"group,omitempty"`
	// Done and Error are set when the plan ran; Skipped marks a move not
	// tried after an earlier one failed.
	Done    bool   `json:"done,omitempty"`
	Error   string `json:"error,omitempty"`
	Skipped bool   `json:"skipped,omitempty"`
}

// RebalanceResponse is a rebalance plan and, unless a dry run, its run.
type RebalanceResponse struct {
	DryRun    bool   `json:"dry_run"`
	Cost      string `json:"cost"`
	Moves     []Move `json:"moves"`
	Truncated bool   `json:"truncated,omitempty"`
	// Bound says what stopped the plan when Truncated: max-moves, with a
	// further move that would gain, or the planning budget.
	Bound      string `json:"bound,omitempty"`
	Pinned     int    `json:"pinned"`
	Considered int    `json:"considered"`
	Summary    string `json:"summary"`
}

func (s *Server) swarmdeckRoutes() {
	s.mux.HandleFunc("POST "+Prefix+"/nodes/{node}/availability", s.setAvailability)
	s.mux.HandleFunc("POST "+Prefix+"/rebalance", s.rebalance)
}

// rebalance plans (?dry-run=1) or plans and runs a rebalance, with
// ?max-moves=N.
func (s *Server) rebalance(w http.ResponseWriter, r *http.Request) {
	maxMoves := 0
	if v := r.URL.Query().Get("max-moves"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, fmt.Errorf("%w: max-moves must be a whole number of at least 1, got %q", errBadRequest, v))
			return
		}
		maxMoves = n
	}
	dry := boolParam(r, "dry-run")
	res, err := s.c.Rebalance(r.Context(), maxMoves, dry)
	if err != nil {
		writeError(w, err)
		return
	}
	p := res.Plan
	out := RebalanceResponse{DryRun: dry, Cost: p.Cost(), Moves: []Move{}, Truncated: p.Truncated, Bound: p.BoundText(), Pinned: p.Pinned,
		Considered: p.Considered, Summary: res.Summary()}
	for i, m := range p.Moves {
		mv := Move{Container: m.Container.Name, From: m.From.Name, To: m.To.Name, Why: m.Why, Rules: m.Rules, Group: m.Group}
		if i < len(res.Outcomes) {
			switch o := res.Outcomes[i]; {
			case o.Err == nil:
				mv.Done = true
			case backend.IsNotTried(o.Err):
				mv.Skipped = true
			default:
				mv.Error = o.Err.Error()
			}
		}
		out.Moves = append(out.Moves, mv)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) setAvailability(w http.ResponseWriter, r *http.Request) {
	var req AvailabilityRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, fmt.Errorf("%w: reading the availability request: %v", errBadRequest, err))
		return
	}
	a, err := model.ParseAvailability(req.Availability)
	if err != nil {
		writeError(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	res, err := s.c.SetAvailability(r.Context(), r.PathValue("node"), a, req.Force)
	if err != nil {
		writeError(w, err)
		return
	}
	out := AvailabilityResponse{Node: res.Node.Name, Addr: res.Node.Addr, Availability: a.String(),
		Moving: []string{}, Blocking: []Blocker{}, StoredIn: s.c.StateWhere()}
	for _, ct := range res.Moving {
		out.Moving = append(out.Moving, ct.Name)
	}
	for _, b := range res.Blocking {
		out.Blocking = append(out.Blocking, Blocker{Container: b.Container.Name, Reason: b.Reason, Forcible: b.Forcible})
	}
	for _, ct := range res.Global {
		out.Global = append(out.Global, ct.Name)
	}
	out.Warnings = res.Warnings
	if req.Wait && a == model.Drain {
		for _, o := range s.c.WaitDrain(r.Context(), res) {
			out.Outcomes = append(out.Outcomes, Outcome{Container: o.Container, To: o.To, Error: o.Err, Removed: o.Removed})
		}
	}
	writeJSON(w, http.StatusOK, out)
}
