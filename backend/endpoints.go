package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"swarmdeck/model"
)

// detachShared is step 4 of Swarm's rescheduling, for a container of a
// failed node: its attachments to cluster-wide networks (global or swarm
// scope) are remembered, and the old container's endpoint on each is
// removed by name through a healthy engine (force), so the name is free
// on the network for the new copy (else its start fails with "endpoint
// with name NAME already exists in network NET"). When a removal fails,
// the address the user asked for is dropped, so the new endpoint gets a
// fresh one. It returns the config to create the copy from, and the
// attachments to reconnect after the create (step 7): the network of the
// container's network mode is attached by the create itself, with the
// old endpoint's aliases and asked address; the others are not in the
// create, which attaches one network only (moby#17750).
func (c *Cluster) detachShared(ctx context.Context, ct *model.Container) (model.Config, []model.Endpoint, error) {
	cfg := ct.Config
	if len(ct.Endpoints) == 0 {
		return cfg, nil, nil
	}
	c.mu.Lock()
	var via Networker
	for _, n := range c.nodes { // a random healthy engine, as Swarm took one
		if nw, ok := n.eng.(Networker); ok && n.health == model.Healthy && n.entry.Addr != ct.Node {
			via = nw
			break
		}
	}
	shared := map[string]bool{}
	for _, n := range c.nodes {
		for _, nw := range n.networks {
			if !model.Local(nw) {
				shared[nw.ID] = true
			}
		}
	}
	c.mu.Unlock()
	if via == nil {
		return cfg, nil, nil // no other engine: nothing can take the container either
	}
	// The scope comes from that engine, not from the node lists: a network
	// created a moment ago may be missing from a list a refresh read just
	// before. A local network of the failed node is unknown to it. Only if
	// it cannot say do the lists decide.
	var eps []model.Endpoint
	for _, ep := range ct.Endpoints {
		sctx, cancel := context.WithTimeout(ctx, callTimeout)
		scope, err := via.NetworkScope(sctx, ep.NetworkID)
		cancel()
		if err == nil && scope != "local" || err != nil && !errors.Is(err, ErrNotFound) && shared[ep.NetworkID] {
			eps = append(eps, ep)
		}
	}
	var rest []model.Endpoint
	for _, ep := range eps {
		dctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := via.DisconnectNetwork(dctx, ep.NetworkID, ct.Name, true)
		cancel()
		if err != nil && !errors.Is(err, ErrNotFound) { // not found: gone already (an earlier attempt)
			c.log.Warn("Failed to remove network endpoint from old container "+ct.Name+": "+err.Error(),
				"event", "reschedule_endpoint", "container", ct.Name, "network", ep.Network)
			ep.AskedIPv4 = ""
		}
		if ep.Network == cfg.NetworkMode || ep.NetworkID == cfg.NetworkMode {
			cfg.Raw = withEndpoint(cfg.Raw, ep)
			continue
		}
		rest = append(rest, ep)
	}
	return cfg, rest, nil
}

// reattach is step 7 of Swarm's rescheduling: the new copy joins the
// remembered cluster-wide networks one by one, before it starts. A
// network that refuses (after a few tries) is reported as a
// reschedule_network failure, and the others still join.
func (c *Cluster) reattach(ctx context.Context, to *node, ct *model.Container, eps []model.Endpoint) {
	nw, ok := to.eng.(Networker)
	if !ok {
		return
	}
	for _, ep := range eps {
		var err error
		for try := range connectTries { // dockerd 20.10 fails a store update now and then ("network is unreachable")
			if try > 0 && !sleep(ctx, connectRetry) {
				break
			}
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			err = nw.ConnectNetwork(cctx, ep.NetworkID, ct.ID, ep)
			cancel()
			if err == nil {
				break
			}
		}
		if err != nil {
			c.emit(model.Event{Kind: model.EventFailure, Node: to.name(), Container: ct.Name, Action: "reschedule_network",
				Message: fmt.Sprintf("Failed to reconnect rescheduled container %s to network %s: %v", ct.Name, ep.Network, err)})
		}
	}
	if len(eps) > 0 {
		c.reread(ctx, to, ct.ID)
	}
}

// A reconnect is tried connectTries times, connectRetry apart.
const (
	connectTries = 3
	connectRetry = 500 * time.Millisecond
)

// withEndpoint is a create body that attaches the container to ep's
// network like ep (aliases, the asked address). A body that does not
// parse is kept as it is.
func withEndpoint(raw []byte, ep model.Endpoint) []byte {
	var req container.CreateRequest
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &req); err != nil {
			return raw
		}
	}
	req.NetworkingConfig = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{ep.Network: endpointSettings(ep)}}
	b, err := json.Marshal(req)
	if err != nil {
		return raw
	}
	return b
}
