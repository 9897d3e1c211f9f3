package backend

import (
	"strings"
	"testing"
)

func TestOpenKVStores(t *testing.T) {
	tls := KVOptions{CA: "ca.pem", Cert: "cert.pem", Key: "key.pem"}
	tests := []struct {
		name, url string
		opts      KVOptions
		want      string // endpoints and prefix, or the error
		elects    bool
	}{
		{name: "etcd, two endpoints", url: "etcd://10.0.0.1:2379,10.0.0.2:2379/swarm", want: "[http://10.0.0.1:2379 http://10.0.0.2:2379] swarm", elects: true},
		{name: "etcd, the default port and no prefix", url: "etcd://10.0.0.1", want: "[http://10.0.0.1:2379] ", elects: true},
		{name: "etcd over TLS", url: "etcd://10.0.0.1:2379/p", opts: tls, want: `kv TLS`},
		{name: "zk, two servers", url: "zk://10.0.0.1:2181,10.0.0.2/a/b", want: "[10.0.0.1:2181 10.0.0.2:2181] a/b", elects: true},
		{name: "zk with kv TLS", url: "zk://10.0.0.1/p", opts: tls, want: "ZooKeeper speaks plain TCP here"},
		{name: "an empty endpoint", url: "etcd://10.0.0.1:2379,/p", want: `an empty address in "10.0.0.1:2379,"`},
		{name: "a bad port", url: "zk://10.0.0.1:99999/p", want: `want host:port with a port from 1 to 65535`},
		{name: "no endpoint", url: "etcd:///p", want: `want etcd://host:port[,host:port…]/prefix`},
		{name: "the hosted token", url: "token://0123456789abcdef0123456789abcdef", want: HostedDiscovery + " 0123456789abcdef0123456789abcdef"},
		{name: "a token of our own server", url: "token://127.0.0.1:7200/abc", want: "https://127.0.0.1:7200 abc"},
		{name: "an empty token", url: "token://", want: `the token "" is not 1 to 64 letters and digits`},
		{name: "a token with a dash", url: "token://h:1/a-b", want: `the token "a-b" is not`},
		{name: "a host without a token", url: "token:///abc", want: `want token://TOKEN or token://HOST/TOKEN`},
		{name: "another scheme", url: "mesos://x", want: "unsupported scheme mesos (use consul://, etcd://, zk://, token://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := OpenKV(tt.url, nil, tt.opts)
			got := ""
			switch {
			case err != nil:
				got = err.Error()
			case src.Registry == nil:
				t.Fatalf("%s opened without a registry", tt.url)
			default:
				switch r := src.Registry.(type) {
				case *Etcd:
					got = strings.Join([]string{"[" + strings.Join(r.client.Endpoints(), " ") + "]", r.prefix}, " ")
				case *ZooKeeper:
					got = "[" + strings.Join(r.servers, " ") + "] " + r.prefix
				case *Token:
					got = r.base + " " + r.token
				}
				if (src.Elector != nil) != tt.elects {
					t.Fatalf("%s elects a leader: %v; want %v", tt.url, src.Elector != nil, tt.elects)
				}
			}
			if !strings.Contains(got, tt.want) {
				t.Fatalf("OpenKV(%q) = %q; want %q", tt.url, got, tt.want)
			}
		})
	}
}

func TestStoreKeysFollowSwarmsLayout(t *testing.T) {
	tests := []struct{ url, path, nodes, leader string }{
		{"etcd://h/swarm", "", "/swarm/docker/swarm/nodes/", "/swarm/docker/swarm/leader"},
		{"etcd://h", "", "/docker/swarm/nodes/", "/docker/swarm/leader"},
		{"etcd://h/a/b/", "custom/path", "/a/b/custom/path/", "/a/b/docker/swarm/leader"},
		{"zk://h/swarm", "", "/swarm/docker/swarm/nodes", "/swarm/docker/swarm/leader"},
		{"zk://h", "", "/docker/swarm/nodes", "/docker/swarm/leader"},
	}
	for _, tt := range tests {
		src, err := OpenKV(tt.url, nil, KVOptions{Path: tt.path})
		if err != nil {
			t.Fatal(err)
		}
		var nodes, leader string
		switch s := src.Registry.(type) {
		case *Etcd:
			nodes, leader = s.nodesKey(), s.leaderKey()
		case *ZooKeeper:
			nodes, leader = s.nodesDir(), s.leaderDir()
		}
		if nodes != tt.nodes || leader != tt.leader {
			t.Errorf("%s kv.path=%q: nodes %q leader %q; want %q %q", tt.url, tt.path, nodes, leader, tt.nodes, tt.leader)
		}
	}
}

func TestLockNodesSortBySequence(t *testing.T) {
	names := []string{"lock-0000000010", "lock-0000000002", "lock-0000000100"}
	sortLocks(names)
	if strings.Join(names, " ") != "lock-0000000002 lock-0000000010 lock-0000000100" {
		t.Fatal(names)
	}
}
