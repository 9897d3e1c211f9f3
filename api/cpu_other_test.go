//go:build !unix

package api

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
