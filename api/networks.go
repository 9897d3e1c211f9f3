package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/network"

	"swarmdeck/backend"
	"swarmdeck/model"
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
	names := s.nodeNames()
	var out []networkJSON
	for _, nw := range s.c.Networks() {
		out = append(out, toNetworkJSON(nw, names))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// nodeNames maps node addresses to names.
func (s *Server) nodeNames() map[string]string {
	names := map[string]string{}
	for _, n := range s.c.Nodes() {
		names[n.Addr] = n.Name
	}
	return names
}

func toNetworkJSON(nw model.Network, names map[string]string) networkJSON {
	name := nw.Name
	if model.Local(nw) {
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
	return j
}

func (s *Server) listNetworks(w http.ResponseWriter, r *http.Request) {
	out := s.clusterNetworks()
	if out == nil {
		out = []networkJSON{}
	}
	writeJSON(w, http.StatusOK, out)
}

// findNetwork resolves a full or short ID, a name, node/name or a unique
// ID prefix, as Docker does: an ambiguous one is a 400, none a 404.
func (s *Server) findNetwork(ref string) (networkJSON, error) {
	nw, err := s.c.FindNetwork(ref)
	if err != nil {
		return networkJSON{}, err
	}
	return toNetworkJSON(nw, s.nodeNames()), nil
}

func (s *Server) inspectNetwork(w http.ResponseWriter, r *http.Request) {
	nw, err := s.findNetwork(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if nw.Scope == "global" || nw.Scope == "swarm" {
		if merged, err := s.inspectShared(r, nw.ID); err == nil {
			writeJSON(w, http.StatusOK, merged)
			return
		}
	}
	writeJSON(w, http.StatusOK, nw)
}

// inspectShared is a cluster-wide network as the engines that have it
// describe it, with the containers of every node, as Swarm merged them.
// An engine lists another engine's container as "ep-<endpoint ID>"; that
// entry goes when the container's own engine has answered for it.
func (s *Server) inspectShared(r *http.Request, id string) (map[string]any, error) {
	var merged map[string]any
	containers := map[string]map[string]any{}
	_, errs := s.onEngines(r, "", func(n *model.Node, p backend.Proxied) error {
		var one map[string]any
		code, err := engineCall(r, p, http.MethodGet, "/networks/"+id, nil, &one)
		if err != nil || code != http.StatusOK {
			return err
		}
		if merged == nil {
			merged = one
		}
		cs, _ := one["Containers"].(map[string]any)
		for k, v := range cs {
			if ep, ok := v.(map[string]any); ok {
				containers[k] = ep
			}
		}
		return nil
	})
	if merged == nil {
		return nil, errors.Join(append(errs, &model.NotFoundError{Kind: "network", Ref: id})...)
	}
	local := map[any]bool{}
	for k, ep := range containers {
		if !strings.HasPrefix(k, "ep-") {
			local[ep["EndpointID"]] = true
		}
	}
	out := map[string]any{}
	for k, ep := range containers {
		if !strings.HasPrefix(k, "ep-") || !local[ep["EndpointID"]] {
			out[k] = ep
		}
	}
	merged["Containers"] = out
	return merged, nil
}

// createNetwork creates a network on one node (node/name) or on every
// healthy node.
func (s *Server) createNetwork(w http.ResponseWriter, r *http.Request) {
	var req network.CreateRequest
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Name == "" {
		writeError(w, fmt.Errorf("%w: a network create names the network", errBadRequest))
		return
	}
	ids, err := s.c.CreateNetworkWith(r.Context(), req.Name, req.CreateOptions) // every option, as given
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

// removeNetwork removes exactly the one network the path names.
func (s *Server) removeNetwork(w http.ResponseWriter, r *http.Request) {
	s.act(w, s.c.RemoveNetwork(r.Context(), r.PathValue("id")))
}

// connectNetwork passes a connect or disconnect to the engine of the
// container named in the body.
func (s *Server) connectNetwork(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req struct{ Container string }
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	ct, n, p, err := s.locate(req.Container)
	if err != nil {
		writeError(w, err)
		return
	}
	netRef := r.PathValue("id")
	// A name several nodes have (or none) is the container's engine's to
	// resolve among its own networks.
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
	r, done := s.whileHealthy(r, n.Addr)
	defer done()
	proxy(w, r, p, "/networks/"+netRef+action, nil)
	// The client may hang up as soon as it has the answer: the re-read
	// must outlive the request, or the record keeps the old endpoints
	s.c.Refresh(context.WithoutCancel(r.Context()), ct.ID)
}

func sortStrings(s []string) { sort.Strings(s) }
