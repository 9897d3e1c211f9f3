package api

import (
	"strings"
	"testing"
)

// TestNetworkCreateKeepsEveryOption: docker network create through the
// manager passes subnet, gateway, labels, internal, attachable and driver
// options to the engine (they were dropped, all but the driver), and an
// engine's refusal (a subnet that overlaps) comes back in its words.
func TestNetworkCreateKeepsEveryOption(t *testing.T) {
	rc := startOnTestbed(t)
	cli := clis[0]
	rc.must(t, cli, "network", "create", "--subnet", "10.99.5.0/24", "--gateway", "10.99.5.254", "--label", "lab=1",
		"--internal", "--attachable", "-o", "com.docker.network.driver.mtu=1400", "node-1/sdnet-opts")
	got := rc.engine(t, 0, "network", "inspect", "-f",
		"{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels}} {{.Internal}} {{.Attachable}} {{.Options}}", "sdnet-opts")
	for _, want := range []string{"10.99.5.0/24 10.99.5.254", "map[lab:1]", "true true", "com.docker.network.driver.mtu:1400"} {
		if !strings.Contains(got, want) {
			t.Errorf("the engine's network lacks %q: %s", want, got)
		}
	}
	_, errOut, err := rc.docker(cli, "network", "create", "--subnet", "10.99.5.0/24", "node-1/sdnet-clash")
	if err == nil || !strings.Contains(errOut, "overlaps") || strings.Count(errOut, "Error response from daemon") != 1 {
		t.Errorf("a subnet that overlaps: %v %s", err, errOut)
	}
}
