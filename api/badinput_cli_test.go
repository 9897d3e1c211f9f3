package api

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTheDockerCLIGetsDockersWordsForBadInput sends, with both real docker
// CLIs, the bad resources and names the CLI lets through; the manager
// answers with Docker's words and nothing is created on any engine.
func TestTheDockerCLIGetsDockersWordsForBadInput(t *testing.T) {
	rc := startOnTestbed(t)
	tests := []struct {
		name    string
		args    []string
		message string
	}{
		{"a name with a slash", []string{"--name", "node-3/x"}, "Invalid container name (node-3/x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"a name with ..", []string{"--name", ".."}, "Invalid container name (..)"},
		{"overflowing cpu shares", []string{"--cpu-shares", "9223372036854775807"}, "invalid CPU shares (9223372036854775807): value must be at most 262144"},
		{"negative cpu shares", []string{"--cpu-shares", "-3"}, "invalid CPU shares (-3): value must be a positive integer"},
		{"memory below 6MB", []string{"-m", "1k"}, "Minimum memory limit allowed is 6MB"},
		{"swap below memory", []string{"-m", "64m", "--memory-swap", "8m"}, "Minimum memoryswap limit should be larger than memory limit, see usage"},
		{"a billionth of a CPU", []string{"--cpus", "1e-9"}, "Range of CPUs is from 0.01 to"},
	}
	for _, cli := range clis {
		for _, tt := range tests {
			t.Run(cli+" "+tt.name, func(t *testing.T) {
				args := append(append([]string{"create"}, tt.args...), "busybox", "true")
				_, errOut, err := rc.docker(cli, args...)
				if err == nil || !strings.Contains(errOut, tt.message) {
					t.Fatalf("docker %v: %v\n%s\nwant %q", args, err, errOut, tt.message)
				}
				if out := rc.must(t, cli, "ps", "-aq"); strings.TrimSpace(out) != "" {
					t.Fatalf("a refused create left containers: %s", out)
				}
				for _, n := range rc.c.Nodes() {
					if cpus, mem := n.Reserved(); cpus != 0 || mem != 0 {
						t.Fatalf("%s reserves %s CPUs and %d bytes after refused creates", n.Name, cpus, mem)
					}
				}
			})
		}
	}
}

// TestDockerNetworkRmRemovesExactlyTheOneItNames: with the real docker
// CLIs, `docker network rm` of a name on three engines, of bridge or of a
// missing network removes nothing and says why; node/name removes one.
func TestDockerNetworkRmRemovesExactlyTheOneItNames(t *testing.T) {
	rc := startOnTestbed(t)
	engineNets := func() int {
		n := 0
		for _, a := range rc.addrs {
			out, err := exec.Command("docker", "-H", "tcp://"+a, "network", "ls", "-q").Output()
			if err != nil {
				t.Fatal(err)
			}
			n += len(strings.Fields(string(out)))
		}
		return n
	}
	for _, cli := range clis {
		t.Run(cli, func(t *testing.T) {
			rc.must(t, cli, "network", "create", "sdnet-rm")
			total := engineNets()
			for _, tt := range []struct {
				args    []string
				message string
			}{
				{[]string{"network", "rm", "sdnet-rm"}, "network sdnet-rm is ambiguous (3 matches found based on name)"},
				{[]string{"network", "rm", "bridge"}, "bridge is a pre-defined network and cannot be removed"},
				{[]string{"network", "rm", "node-2/none"}, "none is a pre-defined network and cannot be removed"},
				{[]string{"network", "rm", "sdnet-nope"}, "No such network: sdnet-nope"},
				{[]string{"network", "inspect", "sdnet-nope"}, "No such network: sdnet-nope"},
				{[]string{"network", "create", "sdnet-rm"}, "network with name sdnet-rm already exists"},
			} {
				_, errOut, err := rc.docker(cli, tt.args...)
				if err == nil || !strings.Contains(errOut, tt.message) || strings.Contains(errOut, "container") {
					t.Fatalf("docker %v: %v %s\nwant %q", tt.args, err, errOut, tt.message)
				}
				if got := engineNets(); got != total {
					t.Fatalf("docker %v changed the engines' networks: %d, was %d", tt.args, got, total)
				}
			}
			rc.must(t, cli, "network", "rm", "node-1/sdnet-rm")
			if got := engineNets(); got != total-1 {
				t.Fatalf("network rm node-1/sdnet-rm: %d networks on the engines, want %d", got, total-1)
			}
			rc.must(t, cli, "network", "rm", "node-2/sdnet-rm")
			rc.must(t, cli, "network", "rm", "sdnet-rm") // the last one is unique now
			if got := engineNets(); got != total-3 {
				t.Fatalf("after removing all three: %d networks, want %d", got, total-3)
			}
		})
	}
}
