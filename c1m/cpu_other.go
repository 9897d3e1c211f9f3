//go:build !unix

package c1m

import "time"

// cpuTime is unknown here.
func cpuTime() time.Duration { return 0 }
