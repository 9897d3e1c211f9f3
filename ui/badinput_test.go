package ui

import (
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"
)

// TestTheLaunchFormRefusesBadResourcesAndNames types the bad
// values into the launch form on a simulated screen: the preview names
// the field and says what Docker says, Launch keeps the form open with
// the error, and no container is created.
func TestTheLaunchFormRefusesBadResourcesAndNames(t *testing.T) {
	const launchButton = tabsToLaunch // form items before the Launch button
	for _, tt := range []struct {
		name    string
		field   int // form item: 1 Name, 3 CPUs, 4 Memory
		text    string
		message string
	}{
		{"a name with a slash", 1, "t3/x", "Name: Invalid container name (t3/x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"a name with ..", 1, "..", "Name: Invalid container name (..)"},
		{"a billionth of a CPU", 3, "1e-9", "CPUs: Range of CPUs is from 0.01 to 16.00, as there are only 16 CPUs available"},
		{"negative CPUs", 3, "-1", "CPUs: Range of CPUs is from 0.01 to 16.00"},
		{"CPUs that are no number", 3, "two", "CPUs: failed to parse two as a rational number"},
		{"memory of 1e30", 4, "1e30", "Memory: invalid size: '1e30'"},
		{"memory past int64", 4, "9999999999999999999999", "Memory: invalid size: '9999999999999999999999': larger than 1 EiB"},
		{"memory below 6MB", 4, "1k", "Memory: Minimum memory limit allowed is 6MB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, demoSource(t), 200, 45)
			h.wait(10*time.Second, "Nodes: 5/6 healthy")
			before := len(h.cluster.Containers())
			h.typeText("n")
			h.wait(5*time.Second, "Where it would go")
			h.typeText("nginx")
			for range tt.field {
				h.key(tcell.KeyTab)
			}
			h.typeText(tt.text)
			h.wait(10*time.Second, "✗ "+tt.message)
			for range launchButton - tt.field {
				h.key(tcell.KeyTab)
			}
			h.key(tcell.KeyEnter)
			h.wait(5*time.Second, "Where it would go") // still in the form
			time.Sleep(100 * time.Millisecond)
			if after := len(h.cluster.Containers()); after != before {
				t.Fatalf("%d containers after a refused launch; %d before", after, before)
			}
		})
	}
}
