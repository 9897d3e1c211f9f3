// Package clusterfile reads the YAML description of a cluster: its
// scheduler settings and its nodes with their labels, resources, images
// and containers. `swarmdeck place` and the simulated engines load the same
// files; docs/cluster-file.md documents the format.
//
// Pipeline: YAML bytes → the settings, then one node at a time (stream.go:
// a block file is cut into one item per node) → strict decoding (unknown
// keys refused) → checks with file:line messages → model.Node values and a
// sched.Config. Files of another layout are decoded whole, with the same
// result.
//
// Concurrency: Load and Parse share nothing; a File is a plain value.
package clusterfile
