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
	if len(ct.Endpoints()) == 0 {
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
	var rest []model.Endpoint
	for _, ep := range clusterWide(ctx, via, ct, shared) {
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

// clusterWide are ct's endpoints on cluster-wide networks (global or
// swarm scope). The scope comes from the engine via, not from the node
// lists: a network created a moment ago may be missing from a list a
// refresh read just before. A local network of another node is unknown to
// it. Only if it cannot say does shared (IDs of networks the lists say
// are not local) decide.
func clusterWide(ctx context.Context, via Networker, ct *model.Container, shared map[string]bool) []model.Endpoint {
	var eps []model.Endpoint
	for _, ep := range ct.Endpoints() {
		sctx, cancel := context.WithTimeout(ctx, callTimeout)
		scope, err := via.NetworkScope(sctx, ep.NetworkID)
		cancel()
		if err == nil && scope != "local" || err != nil && !errors.Is(err, ErrNotFound) && shared[ep.NetworkID] {
			eps = append(eps, ep)
		}
	}
	return eps
}

// sharedOf is what a live move (drain, rebalance) of a running container
// on cluster-wide networks needs: the config to create the new copy from
// (attached to its network mode's network like the old copy), the old
// copy's endpoints on those networks, and the ones to reconnect after the
// create. A name or an address on such a network is held by one endpoint
// at a time: the new copy can be created, but starts only once the old
// one has left (leave). With no cluster-wide network, shared is empty.
func (c *Cluster) sharedOf(ctx context.Context, m relocation, running bool) (cfg model.Config, shared, rest []model.Endpoint) {
	old := m.ct
	cfg = old.Config
	nw, ok := m.from.eng.(Networker)
	if !ok || len(old.Endpoints()) == 0 || !running {
		return cfg, nil, nil // a stopped copy holds no endpoint
	}
	shared = clusterWide(ctx, nw, old, nil)
	for _, ep := range shared {
		if ep.Network == cfg.NetworkMode || ep.NetworkID == cfg.NetworkMode {
			cfg.Raw = withEndpoint(cfg.Raw, ep)
			continue
		}
		rest = append(rest, ep)
	}
	return cfg, shared, rest
}

// leave stops the old copy of a live move and detaches it from the
// cluster-wide networks it shares with the new copy, on its own (healthy)
// engine, so that the new copy can start. It returns restore, which puts
// the old copy back as it was (attached and running) if the move fails
// after this, and returns why, with what failed in putting it back. When
// leave itself fails it has put the old copy back already.
func (c *Cluster) leave(ctx context.Context, m relocation, to *node, shared []model.Endpoint) (restore func(error) error, err error) {
	old := m.ct
	nw := m.from.eng.(Networker) // sharedOf found shared through it
	// An endpoint a failed start of the new copy left in the cluster
	// store is removed by name through its engine, as Swarm removed a dead
	// node's, before the old copy joins again (else: "endpoint with name
	// … already exists"). Not done otherwise: it also removes the name
	// from the service records of that engine's containers.
	clear := func() {
		tnw, ok := to.eng.(Networker)
		if !ok {
			return
		}
		for _, ep := range shared {
			dctx, cancel := context.WithTimeout(ctx, callTimeout)
			tnw.DisconnectNetwork(dctx, ep.NetworkID, old.Name, true) // not found: nothing left
			cancel()
		}
	}
	var left []model.Endpoint
	restore = func(why error) error {
		var errs []error
		if len(left) > 0 {
			clear() // the new copy's endpoint, if its start left one
		}
		for _, ep := range left {
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			err := nw.ConnectNetwork(cctx, ep.NetworkID, old.ID, ep)
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("reconnecting the old copy to %s: %w", ep.Network, err))
			}
		}
		sctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := m.from.eng.Start(sctx, old.ID)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("restarting the old copy on %s: %w", m.from.name(), err))
		}
		c.mu.Lock()
		if err == nil {
			delete(c.stoppedToMove, old.ID)
		}
		c.mu.Unlock()
		c.reread(ctx, m.from, old.ID)
		if len(errs) > 0 {
			return fmt.Errorf("%w; %w", why, errors.Join(errs...))
		}
		return why
	}
	c.mu.Lock()
	c.stoppedToMove[old.ID] = true
	c.mu.Unlock()
	// The context outlasts the stop timeout: a start of the old copy must
	// never race an engine still stopping it.
	sctx, cancel := context.WithTimeout(ctx, stopTimeout+callTimeout)
	err = m.from.eng.Stop(sctx, old.ID, stopTimeout)
	cancel()
	if err != nil {
		return nil, restore(fmt.Errorf("stopping the old copy on %s to free its name on %s: %w", m.from.name(), shared[0].Network, err))
	}
	for _, ep := range shared {
		dctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := nw.DisconnectNetwork(dctx, ep.NetworkID, old.ID, true)
		cancel()
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, restore(fmt.Errorf("detaching the old copy on %s from %s: %w", m.from.name(), ep.Network, err))
		}
		left = append(left, ep)
	}
	c.reread(ctx, m.from, old.ID)
	return restore, nil
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

// A reconnect is tried connectTries times, connectRetry apart; so is the
// start of a move's new copy right after the old one left its networks
// (the cluster store can take a moment to forget the old endpoint).
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
