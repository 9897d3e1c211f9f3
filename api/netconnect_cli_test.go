package api

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNetworkConnectIsRecorded checks that the manager's record of a
// container follows its network attachments, however they were made:
// through the manager (whose client hangs up as soon as it has the
// answer) or on the engine directly (which only the engine's network
// events tell). A reschedule reattaches exactly the networks of that
// record, so a missed connect is a network the moved container loses.
func TestNetworkConnectIsRecorded(t *testing.T) {
	rc := startOnTestbed(t)
	const name, viaManager, direct = "sdcx", "sdnet-cx1", "sdnet-cx2"
	rc.must(t, clis[0], "network", "create", "node-1/"+viaManager)
	rc.must(t, clis[0], "network", "create", "node-1/"+direct)
	rc.must(t, clis[0], "run", "-d", "--name", name, "-e", "constraint:node==node-1", "busybox", "sleep", "600")
	ct, _, err := rc.c.Inspect(name)
	if err != nil {
		t.Fatal(err)
	}
	engine := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("docker", append([]string{"-H", "tcp://" + ct.Node}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("docker %v on %s: %v\n%s", args, ct.Node, err, out)
		}
	}
	// recorded waits until the record's networks are want.
	recorded := func(step string, want ...string) {
		t.Helper()
		slices.Sort(want)
		var got []string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			got = nil
			if ct, _, err := rc.c.Inspect(name); err == nil {
				for _, ep := range ct.Endpoints() {
					got = append(got, ep.Network)
				}
			}
			if slices.Equal(got, want) {
				return
			}
		}
		t.Fatalf("after %s the manager records %s on networks %q; want %q", step, name, got, want)
	}
	recorded("run", "bridge")
	for _, cli := range clis {
		rc.must(t, cli, "network", "connect", "--alias", "sdcx-a", viaManager, name)
		recorded(cli+" network connect through the manager", "bridge", viaManager)
		rc.must(t, cli, "network", "disconnect", viaManager, name)
		recorded(cli+" network disconnect through the manager", "bridge")
	}
	engine("network", "connect", direct, name)
	recorded("network connect on the engine", "bridge", direct)
	// docker ps through the manager shows the networks, and network=
	// keeps the containers on one (by name or ID prefix), as dockerd.
	for _, cli := range clis {
		got := strings.TrimSpace(rc.must(t, cli, "ps", "--filter", "network="+direct, "--format", "{{.Names}} {{.Networks}}"))
		ctr, nets, _ := strings.Cut(got, " ")
		names := strings.Split(nets, ",")
		slices.Sort(names) // the 20.10 CLI lists them in its map's order
		if ctr != "node-1/"+name || !slices.Equal(names, []string{"bridge", direct}) {
			t.Errorf("%s ps --filter network=%s: %q; want %q", cli, direct, got, "node-1/"+name+" bridge,"+direct)
		}
	}
	engine("network", "disconnect", direct, name)
	recorded("network disconnect on the engine", "bridge")
	for _, cli := range clis {
		if got := strings.TrimSpace(rc.must(t, cli, "ps", "--filter", "network="+direct, "-q")); got != "" {
			t.Errorf("%s ps --filter network=%s after the disconnect: %q; want nothing", cli, direct, got)
		}
	}
}
