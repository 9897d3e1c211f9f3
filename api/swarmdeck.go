package api

import (
	"encoding/json"
	"fmt"
	"net/http"

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
}

// Blocker is a container that stays on a drained node, and why.
type Blocker struct {
	Container string `json:"container"`
	Reason    string `json:"reason"`
}

// AvailabilityResponse says what a change of availability did.
type AvailabilityResponse struct {
	Node         string    `json:"node"`
	Addr         string    `json:"addr"`
	Availability string    `json:"availability"`
	Moving       []string  `json:"moving"`
	Blocking     []Blocker `json:"blocking"`
	StoredIn     string    `json:"stored_in"`
}

func (s *Server) swarmdeckRoutes() {
	s.mux.HandleFunc("POST "+Prefix+"/nodes/{node}/availability", s.setAvailability)
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
		out.Blocking = append(out.Blocking, Blocker{Container: b.Container.Name, Reason: b.Reason})
	}
	writeJSON(w, http.StatusOK, out)
}
