package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// listImages lists the images of every healthy node; an image on two
// nodes is listed twice, as Swarm counted it.
func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	type imageJSON struct {
		ID          string            `json:"Id"`
		RepoTags    []string          `json:"RepoTags"`
		RepoDigests []string          `json:"RepoDigests"`
		ParentID    string            `json:"ParentId"`
		Created     int64             `json:"Created"`
		Size        int64             `json:"Size"`
		SharedSize  int64             `json:"SharedSize"`
		VirtualSize int64             `json:"VirtualSize"`
		Labels      map[string]string `json:"Labels"`
		Containers  int64             `json:"Containers"`
	}
	out := []imageJSON{}
	for _, n := range s.c.Nodes() {
		if n.Health != model.Healthy {
			continue
		}
		for _, im := range n.Images {
			out = append(out, imageJSON{ID: im.ID, RepoTags: im.RepoTags, RepoDigests: []string{}, Labels: map[string]string{}, Containers: -1})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// listVolumes asks every healthy real engine for its volumes, named
// node/name.
func (s *Server) listVolumes(w http.ResponseWriter, r *http.Request) {
	vols := []map[string]any{}
	var warnings []string
	for n, eng := range s.c.Engines() {
		p, ok := eng.(backend.Proxied)
		if !ok {
			continue
		}
		resp, err := get(r, p, "/volumes")
		if err != nil {
			warnings = append(warnings, n.Name+": "+err.Error())
			continue
		}
		var body struct{ Volumes []map[string]any }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		for _, v := range body.Volumes {
			v["Name"] = fmt.Sprintf("%s/%v", n.Name, v["Name"])
			vols = append(vols, v)
		}
	}
	if warnings == nil {
		warnings = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"Volumes": vols, "Warnings": warnings})
}

// onEngines runs a request on every healthy real engine (or the one node
// named), collecting what each answered.
func (s *Server) onEngines(r *http.Request, node string, do func(n *model.Node, p backend.Proxied) error) (int, []error) {
	count := 0
	var errs []error
	for n, eng := range s.c.Engines() {
		p, ok := eng.(backend.Proxied)
		if !ok || (node != "" && n.Name != node) {
			continue
		}
		count++
		if err := do(n, p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
		}
	}
	return count, errs
}

// engineCall makes one call on an engine and decodes its JSON answer;
// an error status is an error with the engine's message.
func engineCall(r *http.Request, p backend.Proxied, method, path string, body []byte, into any) (int, error) {
	out := outgoing(r, p, path)
	out.Method = method
	out.Body, out.ContentLength = io.NopCloser(strings.NewReader(string(body))), int64(len(body))
	out.URL.RawQuery = r.URL.RawQuery
	resp, err := p.HTTPClient().Do(out)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		var m struct{ Message string }
		if json.Unmarshal(b, &m) == nil && m.Message != "" {
			return resp.StatusCode, fmt.Errorf("%s", m.Message)
		}
		return resp.StatusCode, fmt.Errorf("%s", strings.TrimSpace(string(b)))
	}
	if into != nil && len(b) > 0 {
		json.Unmarshal(b, into)
	}
	return resp.StatusCode, nil
}

// removeImage removes an image from every node that has it.
func (s *Server) removeImage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var deleted []any
	found := 0
	_, errs := s.onEngines(r, "", func(n *model.Node, p backend.Proxied) error {
		var items []any
		code, err := engineCall(r, p, http.MethodDelete, "/images/"+name, nil, &items)
		if code == http.StatusNotFound {
			return nil
		}
		found++
		deleted = append(deleted, items...)
		return err
	})
	switch {
	case found == 0:
		writeError(w, fmt.Errorf("%w: image %s", backend.ErrNotFound, name))
	case len(errs) > 0:
		writeError(w, joinErrs(errs))
	default:
		writeJSON(w, http.StatusOK, deleted)
	}
	for n := range s.c.Engines() {
		s.c.RefreshNode(r.Context(), n.Addr)
	}
}

// splitNode reads "node/name" into its parts.
func splitNode(ref string) (node, name string) {
	if i := strings.IndexByte(ref, '/'); i > 0 {
		return ref[:i], ref[i+1:]
	}
	return "", ref
}

// createVolume creates a volume on every healthy node, or on the node a
// node/name names.
func (s *Server) createVolume(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, fmt.Errorf("%w: the volume request is not JSON", errBadRequest))
		return
	}
	ref, _ := req["Name"].(string)
	node, name := splitNode(ref)
	req["Name"] = name
	body, _ = json.Marshal(req)
	var first map[string]any
	count, errs := s.onEngines(r, node, func(n *model.Node, p backend.Proxied) error {
		var v map[string]any
		_, err := engineCall(r, p, http.MethodPost, "/volumes/create", body, &v)
		if err == nil && first == nil {
			v["Name"] = n.Name + "/" + fmt.Sprint(v["Name"])
			first = v
		}
		return err
	})
	switch {
	case count == 0:
		writeError(w, fmt.Errorf("%w: node %s", backend.ErrNotFound, node))
	case len(errs) > 0:
		writeError(w, joinErrs(errs))
	default:
		writeJSON(w, http.StatusCreated, first)
	}
}

// inspectVolume finds node/name, or a name on exactly one node.
func (s *Server) inspectVolume(w http.ResponseWriter, r *http.Request) {
	node, name := splitNode(r.PathValue("name"))
	var hits []map[string]any
	s.onEngines(r, node, func(n *model.Node, p backend.Proxied) error {
		var v map[string]any
		if _, err := engineCall(r, p, http.MethodGet, "/volumes/"+name, nil, &v); err == nil {
			v["Name"] = n.Name + "/" + name
			hits = append(hits, v)
		}
		return nil
	})
	if len(hits) != 1 {
		writeError(w, fmt.Errorf("%w: volume %s", backend.ErrNotFound, r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, hits[0])
}

// removeVolume removes node/name, or the name from every node that has it.
func (s *Server) removeVolume(w http.ResponseWriter, r *http.Request) {
	node, name := splitNode(r.PathValue("name"))
	found := 0
	_, errs := s.onEngines(r, node, func(n *model.Node, p backend.Proxied) error {
		code, err := engineCall(r, p, http.MethodDelete, "/volumes/"+name, nil, nil)
		if code == http.StatusNotFound {
			return nil
		}
		found++
		return err
	})
	switch {
	case found == 0:
		writeError(w, fmt.Errorf("%w: volume %s", backend.ErrNotFound, r.PathValue("name")))
	case len(errs) > 0:
		writeError(w, joinErrs(errs))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func joinErrs(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}
