package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"swarmdeck/model"
)

// apiVersion is the Engine API the soak speaks, to engines (dockerd 20.10)
// and managers alike.
const apiVersion = "/v1.41"

// APIError is an answer with an error status from an engine or a manager.
type APIError struct {
	Status int
	Msg    string
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Msg) }

// outcome classifies an operation's error: nil is done; a 4xx answer or a
// connection that was never made did nothing; anything else (a timeout, a
// broken connection, a 5xx) may or may not have happened.
func outcome(err error) string {
	var api *APIError
	var op *net.OpError
	switch {
	case err == nil:
		return OutcomeOK
	case errors.As(err, &api) && api.Status >= 400 && api.Status < 500:
		return OutcomeRefused
	case errors.As(err, &op) && op.Op == "dial":
		return OutcomeRefused
	}
	return OutcomeUnknown
}

// docker is a small client of the Docker API of one address.
type docker struct {
	addr string // host:port
	hc   *http.Client
}

func newDocker(addr string) *docker {
	return &docker{addr: addr, hc: &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second,
	}}}
}

// call sends a request and decodes a JSON answer into out (if not nil).
func (d *docker) call(ctx context.Context, method, path string, q url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := "http://" + d.addr + apiVersion + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var m struct{ Message string }
		if json.Unmarshal(b, &m) != nil || m.Message == "" {
			m.Message = strings.TrimSpace(string(b))
		}
		return &APIError{Status: resp.StatusCode, Msg: m.Message}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (d *docker) ping(ctx context.Context) error {
	return d.call(ctx, http.MethodGet, "/_ping", nil, nil, nil)
}

// createBody is the part of a create request the soak sends.
type createBody struct {
	Image      string            `json:"Image"`
	Cmd        []string          `json:"Cmd"`
	Env        []string          `json:"Env,omitempty"`
	Labels     map[string]string `json:"Labels"`
	HostConfig struct {
		Memory    int64 `json:"Memory,omitempty"`
		NanoCPUs  int64 `json:"NanoCpus,omitempty"`
		CPUShares int64 `json:"CpuShares,omitempty"`
	} `json:"HostConfig"`
}

func (d *docker) create(ctx context.Context, name string, body createBody) (string, error) {
	var out struct {
		ID string `json:"Id"`
	}
	err := d.call(ctx, http.MethodPost, "/containers/create", url.Values{"name": {name}}, body, &out)
	return out.ID, err
}

func (d *docker) start(ctx context.Context, name string) error {
	return d.call(ctx, http.MethodPost, "/containers/"+name+"/start", nil, nil, nil)
}

func (d *docker) stop(ctx context.Context, name string, timeout int) error {
	return d.call(ctx, http.MethodPost, "/containers/"+name+"/stop", url.Values{"t": {fmt.Sprint(timeout)}}, nil, nil)
}

func (d *docker) remove(ctx context.Context, name string) error {
	return d.call(ctx, http.MethodDelete, "/containers/"+name, url.Values{"force": {"1"}}, nil, nil)
}

// listed is a container as GET /containers/json gives it.
type listed struct {
	ID     string            `json:"Id"`
	Names  []string          `json:"Names"`
	Labels map[string]string `json:"Labels"`
	State  string            `json:"State"`
	Status string            `json:"Status"`
}

func (d *docker) list(ctx context.Context) ([]Copy, error) {
	var ls []listed
	if err := d.call(ctx, http.MethodGet, "/containers/json", url.Values{"all": {"1"}}, nil, &ls); err != nil {
		return nil, err
	}
	out := make([]Copy, len(ls))
	for i, l := range ls {
		name := ""
		if len(l.Names) > 0 {
			name = l.Names[0]
		}
		out[i] = Copy{ID: l.ID, Name: name, SwarmID: l.Labels[model.LabelSwarmID], Key: l.Labels[labelKey], State: l.State, Status: l.Status}
	}
	return out, nil
}

// info reads a manager's /info: its role and its nodes, with their
// reservations parsed from the text `docker info` prints.
func (d *docker) info(ctx context.Context) (role string, nodes []NodeSample, err error) {
	var out struct{ SystemStatus [][2]string }
	if err := d.call(ctx, http.MethodGet, "/info", nil, nil, &out); err != nil {
		return "", nil, err
	}
	return parseSystemStatus(out.SystemStatus)
}

// parseSystemStatus reads Swarm's SystemStatus lines: " name" addr, then
// "  └ Status", "  └ Reserved CPUs" ("1.5 / 2"), "  └ Reserved Memory"
// ("8 GiB / 24.4 GiB") for each node.
func parseSystemStatus(lines [][2]string) (role string, nodes []NodeSample, err error) {
	var n *NodeSample
	for _, l := range lines {
		k, v := l[0], l[1]
		switch {
		case k == "Role":
			role = v
		case strings.HasPrefix(k, "  └ ") && n != nil:
			switch strings.TrimPrefix(k, "  └ ") {
			case "Status":
				n.Status = v
			case "Reserved CPUs":
				if n.CPUs, n.CPUsTotal, err = pair(v, parseCPUs); err != nil {
					return "", nil, fmt.Errorf("node %s: reserved CPUs: %w", n.Name, err)
				}
			case "Reserved Memory":
				if n.Memory, n.MemoryTotal, err = pair(v, model.ParseBytes); err != nil {
					return "", nil, fmt.Errorf("node %s: reserved memory: %w", n.Name, err)
				}
			}
		case strings.HasPrefix(k, " ") && !strings.HasPrefix(k, "  "):
			nodes = append(nodes, NodeSample{Name: strings.TrimSpace(k), Addr: v})
			n = &nodes[len(nodes)-1]
		}
	}
	return role, nodes, nil
}

// pair parses "USED / TOTAL".
func pair(s string, parse func(string) (int64, error)) (used, total int64, err error) {
	a, b, ok := strings.Cut(s, " / ")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not USED / TOTAL", s)
	}
	if used, err = parse(a); err != nil {
		return 0, 0, err
	}
	total, err = parse(b)
	return used, total, err
}

// parseCPUs reads a number of CPUs ("1.5") as thousandths.
func parseCPUs(s string) (int64, error) {
	var f float64
	if _, err := fmt.Sscanf(s, "%g", &f); err != nil {
		return 0, fmt.Errorf("%q is not a number of CPUs", s)
	}
	return int64(f*1000 + 0.5), nil
}
