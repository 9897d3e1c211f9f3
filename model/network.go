package model

import (
	"fmt"
	"slices"
	"strings"
)

// NotFoundError is a reference that names nothing of its kind; its text
// names the kind ("No such network: x").
type NotFoundError struct{ Kind, Ref string }

func (e *NotFoundError) Error() string { return "No such " + e.Kind + ": " + Printable(e.Ref) }

// NotFound marks the error as errdefs' not-found kind.
func (e *NotFoundError) NotFound() {}

// ConflictError is a create that would take a name already in use (HTTP
// 409), in Docker's words.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }

// Conflict marks the error as errdefs' conflict kind.
func (e *ConflictError) Conflict() {}

// ForbiddenError is an action Docker never allows, such as removing a
// predefined network (HTTP 403).
type ForbiddenError struct{ Msg string }

func (e *ForbiddenError) Error() string { return e.Msg }

// Forbidden marks the error as errdefs' forbidden kind.
func (e *ForbiddenError) Forbidden() {}

// Predefined reports whether a local network is one Docker makes itself
// and never lets anyone remove.
func Predefined(name string) bool { return name == "bridge" || name == "host" || name == "none" }

// NetworkExists is Docker's error for a second network of a name.
func NetworkExists(name string) error {
	return &ConflictError{Msg: fmt.Sprintf("network with name %s already exists", Printable(name))}
}

// FindNetwork finds one network as Docker (and Swarm) look networks up,
// stopping at the first tier with a hit:
//  1. the full ID, or the 12-character short ID;
//  2. the name, "node/name" with the node's name or ID; two or more
//     networks of that name are ambiguous;
//  3. a unique prefix of an ID.
//
// A cluster-wide network (global or swarm scope) is one network, however
// many nodes report it. nodeOf gives a network's node (name and ID).
func FindNetwork(nets []Network, q string, nodeOf func(addr string) (name, id string)) (Network, error) {
	if q == "" || strings.HasSuffix(q, "/") {
		return Network{}, &NotFoundError{Kind: "network", Ref: q}
	}
	for _, nw := range nets {
		if nw.ID == q || (len(q) == 12 && len(nw.ID) > 12 && nw.ID[:12] == q) {
			return nw, nil
		}
	}
	byName := uniq(nets, func(nw Network) bool {
		if nw.Name == q {
			return true
		}
		name, id := nodeOf(nw.Node)
		return qualified(q, name, nw.Name) || qualified(q, id, nw.Name)
	})
	switch {
	case len(byName) == 1:
		return byName[0], nil
	case len(byName) > 1:
		return Network{}, &InvalidError{Msg: fmt.Sprintf("network %s is ambiguous (%d matches found based on name)", Printable(q), len(byName))}
	}
	byID := uniq(nets, func(nw Network) bool { return strings.HasPrefix(nw.ID, q) })
	switch {
	case len(byID) == 1:
		return byID[0], nil
	case len(byID) > 1:
		return Network{}, &InvalidError{Msg: fmt.Sprintf("network %s is ambiguous (%d matches found based on ID prefix)", Printable(q), len(byID))}
	}
	return Network{}, &NotFoundError{Kind: "network", Ref: q}
}

// uniq are the networks that match, a cluster-wide one counted once.
func uniq(nets []Network, match func(Network) bool) []Network {
	var out []Network
	seen := map[string]bool{}
	for _, nw := range nets {
		if !match(nw) {
			continue
		}
		if !Local(nw) {
			if seen[nw.ID] {
				continue
			}
			seen[nw.ID] = true
		}
		out = append(out, nw)
	}
	return out
}

// Equal reports whether two networks say the same: every field, and the
// same containers in the same order.
func (nw Network) Equal(o Network) bool {
	return nw.ID == o.ID && nw.Name == o.Name && nw.Node == o.Node && nw.Driver == o.Driver && nw.Scope == o.Scope &&
		nw.Subnet == o.Subnet && slices.Equal(nw.Containers, o.Containers)
}

// Local reports whether a network exists on its node only.
func Local(nw Network) bool { return nw.Scope == "local" || nw.Scope == "" }

// MultiHost reports whether a network driver makes one network that spans
// engines sharing a cluster store (Docker's overlay), rather than one
// network per engine.
func MultiHost(driver string) bool { return driver == "overlay" }

// MergeShared lists a cluster-wide network (global or swarm scope) once,
// however many nodes report it: without a node, with the containers of
// every copy. Local networks pass unchanged; the order is kept.
func MergeShared(nets []Network) []Network {
	out := make([]Network, 0, len(nets))
	at := map[string]int{}
	for _, nw := range nets {
		if Local(nw) {
			out = append(out, nw)
			continue
		}
		i, ok := at[nw.ID]
		if !ok {
			at[nw.ID] = len(out)
			nw.Node = ""
			nw.Containers = slices.Clone(nw.Containers)
			out = append(out, nw)
			continue
		}
		for _, id := range nw.Containers {
			if !slices.Contains(out[i].Containers, id) {
				out[i].Containers = append(out[i].Containers, id)
			}
		}
	}
	return out
}
