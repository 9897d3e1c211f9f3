package model

import (
	"errors"
	"strings"
)

// FindContainer finds one container as Swarm's lookup does, trying in
// order and stopping at the first tier with a hit:
//  1. full ID or 12-character short ID;
//  2. swarm ID or its 12-character truncation;
//  3. name: "q" or "/q", or "<node name>/q" or "<node ID>/q"; exactly one
//     hit, since an ambiguous name finds nothing;
//  4. a unique prefix of an ID or a swarm ID.
//
// nodeOf gives a container's node, for the "node/name" forms; it may be nil.
func FindContainer(cs []*Container, q string, nodeOf func(*Container) *Node) *Container {
	if q == "" {
		return nil
	}
	for _, c := range cs {
		if c.ID == q || (len(c.ID) > 12 && len(q) == 12 && ShortID(c.ID) == q) {
			return c
		}
	}
	for _, c := range cs {
		if c.SwarmID != "" && (c.SwarmID == q || (len(q) == 12 && ShortID(c.SwarmID) == q)) {
			return c
		}
	}
	if c, n := findByName(cs, q, nodeOf); n == 1 {
		return c
	} else if n > 1 {
		return nil
	}
	var hit *Container
	hits := 0
	for _, c := range cs {
		if strings.HasPrefix(c.ID, q) || (c.SwarmID != "" && strings.HasPrefix(c.SwarmID, q)) {
			hit = c
			hits++
		}
	}
	if hits == 1 {
		return hit
	}
	return nil
}

// qualified reports q == prefix + "/" + name without building the string.
func qualified(q, prefix, name string) bool {
	return len(q) == len(prefix)+1+len(name) && q[len(prefix)] == '/' &&
		strings.HasPrefix(q, prefix) && strings.HasSuffix(q, name)
}

func findByName(cs []*Container, q string, nodeOf func(*Container) *Node) (*Container, int) {
	bare := strings.TrimPrefix(q, "/")
	var hit *Container
	hits := 0
	for _, c := range cs {
		if named(c, bare, nodeOf) {
			hit = c
			hits++
		}
	}
	return hit, hits
}

// NamedContainers is every container of cs that q names, by name or as
// node/name, as FindContainer matches names: two or more make the name
// ambiguous (FindContainer then finds nothing).
func NamedContainers(cs []*Container, q string, nodeOf func(*Container) *Node) []*Container {
	bare := strings.TrimPrefix(q, "/")
	var out []*Container
	for _, c := range cs {
		if named(c, bare, nodeOf) {
			out = append(out, c)
		}
	}
	return out
}

// named says whether bare (a name without its leading slash) names c.
func named(c *Container, bare string, nodeOf func(*Container) *Node) bool {
	name := strings.TrimPrefix(c.Name, "/")
	if name == "" {
		return false
	}
	if name == bare {
		return true
	}
	if nodeOf != nil {
		if n := nodeOf(c); n != nil {
			return qualified(bare, n.Name, name) || qualified(bare, n.ID, name)
		}
	}
	return false
}

// NameConflict is Swarm's error for a container name already taken in the
// cluster (HTTP 409).
func NameConflict(name string) error {
	return conflictError(name)
}

type conflictError string

func (e conflictError) Error() string {
	return "Conflict: The name " + string(e) + " is already assigned. You have to delete (or rename) that container to be able to assign " + string(e) + " to a container again."
}

// IsConflict reports whether err is a name conflict (a container's or a
// network's).
func IsConflict(err error) bool {
	var c conflictError
	var ce *ConflictError
	return errors.As(err, &c) || errors.As(err, &ce)
}
