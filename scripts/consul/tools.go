//go:build tools

// Package consul pins the Consul agent the tests build with
// `go build github.com/hashicorp/consul` (the last MPL-2.0 release that
// builds from the Go module proxy).
package consul

import _ "github.com/hashicorp/consul"
