package api

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/filters"

	"swarmdeck/backend"
	"swarmdeck/model"
)

// listImages is docker images as Swarm answered it: the images of every
// healthy node, one row per image ID (an image pulled on three nodes is
// one row; busybox imported on each node is one row per node, each its
// own ID), tags and digests merged, newest first. The filter node=NAME
// (or engine ID) keeps one node's images; reference=, dangling= and
// label= are Docker's own.
func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	f, err := queryFilters(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := f.Validate(map[string]bool{"node": true, "reference": true, "dangling": true, "label": true}); err != nil {
		writeError(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	if q := r.URL.Query().Get("filter"); q != "" { // API < 1.41's docker images NAME
		f.Add("reference", q)
	}
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
	byID := map[string]*imageJSON{}
	var out []*imageJSON
	for _, n := range s.c.Nodes() {
		if n.Health != model.Healthy || (f.Contains("node") && !f.ExactMatch("node", n.Name) && !f.ExactMatch("node", n.ID)) {
			continue
		}
		for _, im := range n.Images {
			if !imageFiltered(f, im) {
				continue
			}
			row := byID[im.ID]
			if row == nil {
				row = &imageJSON{ID: im.ID, RepoTags: []string{}, RepoDigests: []string{}, Created: im.Created,
					Size: im.Size, VirtualSize: im.Size, SharedSize: -1, Labels: im.Labels, Containers: -1}
				if row.Labels == nil {
					row.Labels = map[string]string{}
				}
				byID[im.ID] = row
				out = append(out, row)
			}
			for _, t := range im.RepoTags {
				if !slices.Contains(row.RepoTags, t) {
					row.RepoTags = append(row.RepoTags, t)
				}
			}
			for _, d := range im.RepoDigests {
				if !slices.Contains(row.RepoDigests, d) {
					row.RepoDigests = append(row.RepoDigests, d)
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *imageJSON) int { return cmp.Compare(b.Created, a.Created) })
	if out == nil {
		out = []*imageJSON{}
	}
	writeJSON(w, http.StatusOK, out)
}

// imageFiltered reports whether an image passes docker images' reference,
// dangling and label filters.
func imageFiltered(f filters.Args, im model.Image) bool {
	dangling := len(im.RepoTags) == 0 || (len(im.RepoTags) == 1 && im.RepoTags[0] == "<none>:<none>")
	if f.Contains("dangling") && (f.ExactMatch("dangling", "true") || f.ExactMatch("dangling", "1")) != dangling {
		return false
	}
	if !f.MatchKVList("label", im.Labels) {
		return false
	}
	if !f.Contains("reference") {
		return true
	}
	for _, ref := range f.Get("reference") {
		for _, t := range im.RepoTags {
			repo := t
			if i := strings.LastIndexByte(t, ':'); i > strings.LastIndexByte(t, '/') {
				repo = t[:i]
			}
			if ok, _ := path.Match(ref, t); ok {
				return true
			}
			if ok, _ := path.Match(ref, repo); ok {
				return true
			}
		}
	}
	return false
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
