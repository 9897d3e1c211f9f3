// Package clusterfile reads the YAML description of a cluster: its
// scheduler settings and its nodes with their labels, resources, images
// and containers. `swarmdeck place` and the simulated engines load the same
// files; docs/cluster-file.md documents the format.
//
// Pipeline: YAML bytes → strict decoding (unknown keys refused) → checks
// with file:line messages → model.Node values and a sched.Config.
//
// Concurrency: Load and Parse share nothing; a File is a plain value.
package clusterfile
