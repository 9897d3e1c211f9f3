package backend

import (
	"path/filepath"
	"strings"
	"testing"
)

// Managers of different clusters run by one user keep their node
// availability in different files; one cluster's manager finds its own
// file again after a restart.
func TestTheDefaultStateFileIsOnePerDiscovery(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	a, b := DefaultStatePath("nodes://10.0.0.1:2375,10.0.0.2:2375"), DefaultStatePath("file:///etc/swarm/cluster")
	if a == b {
		t.Fatalf("two discoveries share %s", a)
	}
	if again := DefaultStatePath("nodes://10.0.0.1:2375,10.0.0.2:2375"); again != a {
		t.Errorf("the same discovery gave %s, then %s", a, again)
	}
	if other := DefaultStatePath("nodes://10.0.0.2:2375,10.0.0.1:2375"); other != a {
		t.Errorf("the same engines in another order gave %s, then %s", a, other)
	}
	for _, p := range []string{a, b} {
		if dir := filepath.Dir(p); filepath.Base(dir) != "swarmdeck" || !strings.HasPrefix(filepath.Base(p), "state-") {
			t.Errorf("%s is not swarmdeck/state-HASH.json in the user's configuration folder", p)
		}
	}
}
