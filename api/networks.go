package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"swarmdeck/backend"
)

// networkJSON is a network as `docker network ls` and inspect read it.
type networkJSON struct {
	Name       string         `json:"Name"`
	ID         string         `json:"Id"`
	Scope      string         `json:"Scope"`
	Driver     string         `json:"Driver"`
	IPAM       map[string]any `json:"IPAM"`
	Containers map[string]any `json:"Containers"`
	Options    map[string]any `json:"Options"`
	Labels     map[string]any `json:"Labels"`
}

// clusterNetworks are every node's networks, local ones named node/name
// as Swarm named them.
func (s *Server) clusterNetworks() []networkJSON {
	names := map[string]string{}
	for _, n := range s.c.Nodes() {
		names[n.Addr] = n.Name
	}
	var out []networkJSON
	for _, nw := range s.c.Networks() {
		name := nw.Name
		if nw.Scope == "local" || nw.Scope == "" {
			name = names[nw.Node] + "/" + nw.Name
		}
		j := networkJSON{Name: name, ID: nw.ID, Scope: nw.Scope, Driver: nw.Driver, Containers: map[string]any{},
			IPAM: map[string]any{"Driver": "default", "Config": []map[string]string{}}, Options: map[string]any{}, Labels: map[string]any{}}
		if nw.Subnet != "" {
			j.IPAM["Config"] = []map[string]string{{"Subnet": nw.Subnet}}
		}
		for _, c := range nw.Containers {
			j.Containers[c] = map[string]any{}
		}
		out = append(out, j)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (s *Server) listNetworks(w http.ResponseWriter, r *http.Request) {
	out := s.clusterNetworks()
	if out == nil {
		out = []networkJSON{}
	}
	writeJSON(w, http.StatusOK, out)
}

// findNetwork resolves an ID, ID prefix, node/name or unique name.
func (s *Server) findNetwork(ref string) (networkJSON, error) {
	var hits []networkJSON
	for _, nw := range s.clusterNetworks() {
		if nw.ID == ref || nw.Name == ref {
			return nw, nil
		}
		if strings.HasPrefix(nw.ID, ref) || strings.HasSuffix(nw.Name, "/"+ref) {
			hits = append(hits, nw)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil
	}
	return networkJSON{}, fmt.Errorf("%w: network %s", backend.ErrNotFound, ref)
}

func (s *Server) inspectNetwork(w http.ResponseWriter, r *http.Request) {
	nw, err := s.findNetwork(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nw)
}

// createNetwork creates a network on one node (node/name) or on every
// healthy node.
func (s *Server) createNetwork(w http.ResponseWriter, r *http.Request) {
	var req struct{ Name, Driver string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.Name == "" {
		writeError(w, fmt.Errorf("%w: a network create names the network", errBadRequest))
		return
	}
	ids, err := s.c.CreateNetwork(r.Context(), req.Name, req.Driver)
	if len(ids) == 0 {
		if err == nil {
			err = fmt.Errorf("no healthy node to create network %s on", req.Name)
		}
		writeError(w, err)
		return
	}
	warning := ""
	if err != nil {
		warning = err.Error()
	}
	writeJSON(w, http.StatusCreated, map[string]string{"Id": ids[0], "Warning": warning})
}

func (s *Server) removeNetwork(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	if nw, err := s.findNetwork(ref); err == nil {
		ref = nw.Name
		if !strings.Contains(ref, "/") {
			ref = nw.ID
		}
	}
	s.act(w, s.c.RemoveNetwork(r.Context(), ref))
}

// connectNetwork passes a connect or disconnect to the engine of the
// container named in the body.
func (s *Server) connectNetwork(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var req struct{ Container string }
	json.Unmarshal(body, &req)
	ct, n, p, err := s.locate(req.Container)
	if err != nil {
		writeError(w, err)
		return
	}
	netRef := r.PathValue("id")
	if nw, err := s.findNetwork(netRef); err == nil {
		netRef = nw.ID
		if i := strings.IndexByte(nw.Name, '/'); i > 0 && nw.Name[:i] != n.Name {
			writeError(w, fmt.Errorf("network %s is on %s, container %s on %s", nw.Name, nw.Name[:i], ct.Name, n.Name))
			return
		}
	}
	body = []byte(strings.Replace(string(body), req.Container, ct.ID, 1))
	r.Body, r.ContentLength = io.NopCloser(strings.NewReader(string(body))), int64(len(body))
	action := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/'):]
	proxy(w, r, p, "/networks/"+netRef+action)
	s.c.Refresh(r.Context(), ct.ID)
}

func sortStrings(s []string) { sort.Strings(s) }
