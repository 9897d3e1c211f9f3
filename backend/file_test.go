package backend

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFileDiscoveryFollowsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster")
	os.WriteFile(path, []byte("# the pool\n10.0.0.1:2375\n\n10.0.0.[2:3]:2375  # two more\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	entries, errs := (&File{Path: path, Every: 20 * time.Millisecond}).Watch(ctx)
	addrs := func(es []Entry) string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name+"="+e.Addr)
		}
		return strings.Join(out, ",")
	}
	next := func() string {
		select {
		case es := <-entries:
			return addrs(es)
		case err := <-errs:
			return "error: " + err.Error()
		case <-time.After(2 * time.Second):
			return "nothing"
		}
	}
	if got := next(); got != "=10.0.0.1:2375,=10.0.0.2:2375,=10.0.0.3:2375" {
		t.Fatalf("first read: %s", got)
	}
	os.WriteFile(path, []byte("db=10.0.0.9:2375\n"), 0o644)
	if got := next(); got != "db=10.0.0.9:2375" {
		t.Fatalf("after a change: %s", got)
	}
	os.Remove(path)
	if got := next(); !strings.HasPrefix(got, "error: discovery file "+path) || !strings.HasSuffix(got, "keeping the current view") {
		t.Fatalf("a missing file: %s", got)
	}
	os.WriteFile(path, []byte("10.0.0.9:2375\n"), 0o644)
	if got := next(); got != "=10.0.0.9:2375" {
		t.Fatalf("the file back: %s", got)
	}
	os.WriteFile(path, []byte("not-an-address\n"), 0o644)
	if got := next(); !strings.Contains(got, `invalid address "not-an-address"`) {
		t.Fatalf("a bad line: %s", got)
	}
}

func TestDiscoveryOptions(t *testing.T) {
	o, err := ParseDiscoveryOpts([]string{"kv.path=custom/nodes/"})
	if err != nil || o.Path != "custom/nodes" {
		t.Fatalf("%+v %v", o, err)
	}
	for _, tt := range []struct {
		opts []string
		want string
	}{
		{[]string{"kv.path"}, `invalid --discovery-opt "kv.path": want key=value`},
		{[]string{"kv.ttl=5"}, `unsupported --discovery-opt "kv.ttl"`},
		{[]string{"kv.cacertfile=ca.pem"}, "KV TLS needs all three of kv.cacertfile, kv.certfile and kv.keyfile"},
	} {
		if _, err := ParseDiscoveryOpts(tt.opts); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%v: %v; want %q", tt.opts, err, tt.want)
		}
	}
	c, err := NewConsul("consul://10.0.0.1:8500/swarm", KVOptions{Path: "custom/nodes"})
	if err != nil || c.nodesKey() != "swarm/custom/nodes/" || c.leaderKey() != "swarm/docker/swarm/leader" {
		t.Fatalf("keys %q %q %v", c.nodesKey(), c.leaderKey(), err)
	}
	c, _ = NewConsul("consul://10.0.0.1:8500", KVOptions{})
	if c.nodesKey() != "docker/swarm/nodes/" {
		t.Fatalf("no prefix: %q", c.nodesKey())
	}
	if _, err := NewConsul("consul:///x", KVOptions{}); err == nil {
		t.Fatal("a consul URL without a host was accepted")
	}
}
