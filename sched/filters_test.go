package sched_test

import (
	"testing"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// placeCase is one placement: the nodes, the scheduler's settings, the
// request, and the node it must land on or Swarm's exact error.
type placeCase struct {
	name    string
	nodes   []*model.Node
	cfg     sched.Config
	run     []runOpt
	want    string // the chosen node; empty when an error is wanted
	wantErr string
}

func runCases(t *testing.T, cases []placeCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			s := scheduler(t, tt.cfg)
			snap := sched.NewSnapshot(tt.nodes)
			r := request(t, tt.run...)
			for _, explain := range []bool{false, true} {
				var p *sched.Placement
				var err error
				if explain {
					p, err = s.Explain(snap, r)
				} else {
					p, err = s.Place(snap, r)
				}
				if tt.wantErr != "" {
					if err == nil {
						t.Fatalf("placed on %s (explain %v); want error %q", p.Node.Name, explain, tt.wantErr)
					}
					if err.Error() != tt.wantErr {
						t.Fatalf("error (explain %v) = %q\nwant %q", explain, err.Error(), tt.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("error (explain %v): %v", explain, err)
				}
				if p.Node.Name != tt.want {
					t.Fatalf("placed on %s (explain %v); want %s", p.Node.Name, explain, tt.want)
				}
			}
		})
	}
}

const unable = "Unable to find a node that satisfies the following conditions "

func TestHealthFilter(t *testing.T) {
	runCases(t, []placeCase{
		{name: "an unhealthy node is never chosen",
			nodes: []*model.Node{node("a", health(model.Unhealthy)), node("b", with(ctr("x"), ctr("y")))},
			want:  "b"},
		{name: "a pending node is never a candidate, even without the health filter",
			nodes: []*model.Node{node("a", health(model.Pending)), node("b", with(ctr("x")))},
			cfg:   sched.Config{Filters: []string{}},
			want:  "b"},
		{name: "a drained node takes nothing new, however empty",
			nodes: []*model.Node{node("a", avail(model.Drain)), node("b", with(ctr("x"), ctr("y")))},
			want:  "b"},
		{name: "a paused node takes nothing new, even without filters",
			nodes: []*model.Node{node("a", avail(model.Pause)), node("b", with(ctr("x")))},
			cfg:   sched.Config{Filters: []string{}},
			want:  "b"},
		{name: "every node paused or drained: no healthy node to use, and the refusal says why",
			nodes:   []*model.Node{node("a", avail(model.Pause)), node("b", avail(model.Drain))},
			wantErr: "No active node available in the cluster: every node that could take it is paused or draining\na fits, but node is paused\nb fits, but node is draining"},
		{name: "a constraint aimed at a drained node says it is draining",
			nodes:   []*model.Node{node("node-1", avail(model.Drain)), node("node-2")},
			run:     []runOpt{env("constraint:node==node-1")},
			wantErr: unable + "\n[available container slots]\n[node==node-1]\nnode-1 fits, but node is draining"},
		{name: "a constraint aimed at a paused node says it is paused",
			nodes:   []*model.Node{node("node-1"), node("node-2", avail(model.Pause))},
			run:     []runOpt{env("constraint:node==node-2")},
			wantErr: unable + "\n[available container slots]\n[node==node-2]\nnode-2 fits, but node is paused"},
		{name: "a drained node that would not fit anyway is not named",
			nodes:   []*model.Node{node("node-1", avail(model.Drain)), node("node-2")},
			run:     []runOpt{env("constraint:node==node-3")},
			wantErr: unable + "\n[available container slots]\n[node==node-3]"},
		{name: "a drained node without room is not named",
			nodes:   []*model.Node{node("node-1", avail(model.Drain), memory(1*gib)), node("node-2", memory(1*gib))},
			run:     []runOpt{want(0, 2*gib)},
			wantErr: "no resources available to schedule container"},
		{name: "a healthy node at the failure limit counts as down",
			nodes: []*model.Node{node("a", failures(3)), node("b", with(ctr("x")))},
			want:  "b"},
		{name: "no healthy node gives Swarm's own message",
			nodes:   []*model.Node{node("a", health(model.Unhealthy)), node("b", health(model.Unhealthy))},
			wantErr: "No healthy node available in the cluster"},
		{name: "an empty cluster has no healthy node",
			wantErr: "No healthy node available in the cluster"},
		{name: "an empty cluster with no filters has no nodes",
			cfg:     sched.Config{Filters: []string{}},
			wantErr: "No nodes available in the cluster"},
		{name: "a node with recent failures ranks after a clean one (spread)",
			nodes: []*model.Node{node("a", failures(1)), node("b", with(ctr("x"), ctr("y")))},
			want:  "b"},
		{name: "a node with recent failures ranks after a clean one (binpack)",
			nodes: []*model.Node{node("a", failures(1), with(ctr("x"), ctr("y"))), node("b")},
			cfg:   sched.Config{Strategy: "binpack"},
			want:  "b"},
	})
}

func TestPortFilter(t *testing.T) {
	runCases(t, []placeCase{
		{name: "a taken host port moves the container",
			nodes: []*model.Node{node("a", with(ctr("web", ports("80:80")))), node("b", with(ctr("x"), ctr("y")))},
			run:   []runOpt{publish("80:80")},
			want:  "b"},
		{name: "the protocol is ignored: 53/udp blocks 53/tcp",
			nodes: []*model.Node{node("a", with(ctr("dns", ports("53:53/udp")))), node("b", with(ctr("x"), ctr("y")))},
			run:   []runOpt{publish("53:53/tcp")},
			want:  "b"},
		{name: "the container port is ignored",
			nodes: []*model.Node{node("a", with(ctr("web", ports("8080:80")))), node("b", with(ctr("x"), ctr("y")))},
			run:   []runOpt{publish("8080:9000")},
			want:  "b"},
		{name: "different host IPs coexist",
			nodes: []*model.Node{node("a", with(ctr("web", ports("10.0.0.1:80:80")))), node("b", with(ctr("x"), ctr("y")))},
			run:   []runOpt{publish("10.0.0.2:80:80")},
			want:  "a"},
		{name: "a specific IP clashes with an existing all-interfaces binding",
			nodes: []*model.Node{node("a", with(ctr("web", ports("0.0.0.0:80:80")))), node("b", with(ctr("x"), ctr("y")))},
			run:   []runOpt{publish("127.0.0.1:80:80")},
			want:  "b"},
		{name: "an all-interfaces request clashes with a specific IP",
			nodes: []*model.Node{node("a", with(ctr("web", ports("127.0.0.1:80:80")))), node("b", with(ctr("x"), ctr("y")))},
			run:   []runOpt{publish("80:80")},
			want:  "b"},
		{name: "an IPv6 unspecified address clashes too",
			nodes: []*model.Node{node("a", with(ctr("web", ports("[::]:80:80")))), node("b", with(ctr("x"), ctr("y")))},
			run:   []runOpt{publish("127.0.0.1:80:80")},
			want:  "b"},
		{name: "a request without a host port never clashes",
			nodes: []*model.Node{node("a", with(ctr("web", ports("80:80"))))},
			run:   []runOpt{publish("80")},
			want:  "a"},
		{name: "an exited container keeps its port",
			nodes: []*model.Node{node("a", with(ctr("web", ports("80:80"), state(model.Exited)))), node("b", with(ctr("x"), ctr("y")))},
			run:   []runOpt{publish("80:80")},
			want:  "b"},
		{name: "every node taken gives the port condition only",
			nodes:   []*model.Node{node("a", with(ctr("w1", ports("80:80")))), node("b", with(ctr("w2", ports("80:80"))))},
			run:     []runOpt{publish("80:80")},
			wantErr: unable + "\n[port 80 (Bridge mode)]"},
		{name: "host mode clashes with a host-mode container exposing the same port",
			nodes: []*model.Node{node("a", with(ctr("h", hostNet("80/tcp")))), node("b", with(ctr("x"), ctr("y")))},
			run:   []runOpt{netHost("80/tcp")},
			want:  "b"},
		{name: "host mode does not clash across protocols",
			nodes: []*model.Node{node("a", with(ctr("h", hostNet("80/udp")))), node("b", with(ctr("x"), ctr("y")))},
			run:   []runOpt{netHost("80/tcp")},
			want:  "a"},
		{name: "host mode ignores bridge bindings (Swarm's blind spot)",
			nodes: []*model.Node{node("a", with(ctr("web", ports("80:80")))), node("b", with(ctr("x"), ctr("y")))},
			run:   []runOpt{netHost("80/tcp")},
			want:  "a"},
		{name: "a bridge request ignores host-mode exposed ports (Swarm's blind spot)",
			nodes: []*model.Node{node("a", with(ctr("h", hostNet("80/tcp")))), node("b", with(ctr("x"), ctr("y")))},
			run:   []runOpt{publish("80:80")},
			want:  "a"},
		{name: "host mode exhausted lists the host-mode condition",
			nodes:   []*model.Node{node("a", with(ctr("h", hostNet("80/tcp"))))},
			run:     []runOpt{netHost("80/tcp")},
			wantErr: unable + "\n[port 80/tcp (Host mode)]"},
		{name: "a binding without a host port is listed with two spaces",
			nodes:   []*model.Node{node("a", with(ctr("w", ports("8080:80")))), node("b", labels("zone", "us"))},
			run:     []runOpt{publish("80", "8080:80"), env("constraint:zone==eu")},
			wantErr: unable + "\n[port  (Bridge mode) port 8080 (Bridge mode)]\n[available container slots]\n[zone==eu]"},
	})
}

func TestSlotsFilter(t *testing.T) {
	runCases(t, []placeCase{
		{name: "a node with free slots is kept",
			nodes: []*model.Node{node("a", labels("containerslots", "2"), with(ctr("x")))},
			want:  "a"},
		{name: "a full node is skipped",
			nodes: []*model.Node{node("a", labels("containerslots", "1"), with(ctr("x"))), node("b", with(ctr("y"), ctr("z")))},
			want:  "b"},
		{name: "stopped containers take slots",
			nodes: []*model.Node{node("a", labels("containerslots", "1"), with(ctr("x", state(model.Exited)))), node("b", with(ctr("y"), ctr("z")))},
			want:  "b"},
		{name: "a label that is no integer means no limit",
			nodes: []*model.Node{node("a", labels("containerslots", "2.5"), with(ctr("x"), ctr("y"), ctr("z")))},
			want:  "a"},
		{name: "a label with a space means no limit",
			nodes: []*model.Node{node("a", labels("containerslots", " 2"), with(ctr("x"), ctr("y"), ctr("z")))},
			want:  "a"},
		{name: "+2 reads as 2",
			nodes:   []*model.Node{node("a", labels("containerslots", "+2"), with(ctr("x"), ctr("y")))},
			wantErr: unable + "\n[available container slots]"},
		{name: "zero slots blocks the node",
			nodes:   []*model.Node{node("a", labels("containerslots", "0"))},
			wantErr: unable + "\n[available container slots]"},
		{name: "a negative count blocks the node",
			nodes:   []*model.Node{node("a", labels("containerslots", "-1"))},
			wantErr: unable + "\n[available container slots]"},
	})
}

func TestDependencyFilter(t *testing.T) {
	db := func() *model.Container {
		return ctr("db", cid("4f3c2b1a0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3c"),
			swarmID("99aa88bb77cc66dd55ee44ff33aa22bb11cc00dd99ee88ff77aa66bb55cc44dd"))
	}
	two := func() []*model.Node { return []*model.Node{node("a"), node("b", with(db()))} }
	runCases(t, []placeCase{
		{name: "a link follows the container by name", nodes: two(), run: []runOpt{link("db:database")}, want: "b"},
		{name: "a link by /name", nodes: two(), run: []runOpt{link("/db")}, want: "b"},
		{name: "a link by node/name", nodes: two(), run: []runOpt{link("b/db")}, want: "b"},
		{name: "volumes-from by full ID with :ro", nodes: two(),
			run: []runOpt{volumesFrom("4f3c2b1a0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3c:ro")}, want: "b"},
		{name: "volumes-from by short ID", nodes: two(), run: []runOpt{volumesFrom("4f3c2b1a0d9e")}, want: "b"},
		{name: "volumes-from by ID prefix", nodes: two(), run: []runOpt{volumesFrom("4f3c")}, want: "b"},
		{name: "by swarm ID", nodes: two(), run: []runOpt{link("99aa88bb77cc66dd55ee44ff33aa22bb11cc00dd99ee88ff77aa66bb55cc44dd")}, want: "b"},
		{name: "by swarm ID prefix", nodes: two(), run: []runOpt{link("99aa88")}, want: "b"},
		{name: "net=container:X", nodes: two(), run: []runOpt{netMode("container:db")}, want: "b"},
		{name: "a pending container counts",
			nodes: []*model.Node{node("a"), node("b", with(ctr("pending", cid(""))))},
			run:   []runOpt{link("pending")}, want: "b"},
		{name: "dependencies on two nodes cannot be met",
			nodes:   []*model.Node{node("a", with(ctr("x"))), node("b", with(ctr("y")))},
			run:     []runOpt{volumesFrom("x:ro"), link("y:alias"), netMode("container:y")},
			wantErr: unable + "\n[available container slots]\n[--volumes-from=x:ro --link=y:alias --net=container:y]"},
	})
}

func TestAffinityFilter(t *testing.T) {
	redisNode := func() *model.Node {
		return node("b", image("sha256:d1e2f3", "redis:3.0", "localhost:5000/test:latest"),
			with(ctr("cache", cid("87c4376856a8aaaa0000000000000000000000000000000000000000000000ff"), clabel("app", "cache"))))
	}
	two := func() []*model.Node { return []*model.Node{node("a"), redisNode()} }
	runCases(t, []placeCase{
		{name: "container name", nodes: two(), run: []runOpt{env("affinity:container==cache")}, want: "b"},
		{name: "container name glob", nodes: two(), run: []runOpt{env("affinity:container==ca*")}, want: "b"},
		{name: "container full ID", nodes: two(),
			run: []runOpt{env("affinity:container==87c4376856a8aaaa0000000000000000000000000000000000000000000000ff")}, want: "b"},
		{name: "a short ID does not match (the docs were wrong)", nodes: two(),
			run: []runOpt{env("affinity:container==87c4376856a8")}, wantErr: unable + "\n[available container slots]\n[container==87c4376856a8 (soft=false)]"},
		{name: "a short ID glob does", nodes: two(), run: []runOpt{env("affinity:container==87c4376856a8*")}, want: "b"},
		{name: "anti-affinity to a container", nodes: []*model.Node{node("a", with(ctr("x"), ctr("y"))), redisNode()},
			run: []runOpt{env("affinity:container!=cache")}, want: "a"},
		{name: "a container's swarm ID (a label not indexed)", nodes: []*model.Node{node("a", with(ctr("x", clabel(model.LabelSwarmID, "s1")))), node("b", with(ctr("y", clabel(model.LabelSwarmID, "s2"))))},
			run: []runOpt{env("affinity:" + model.LabelSwarmID + "==s2")}, want: "b"},
		{name: "a swarm ID glob, and a node without the label reads as empty", nodes: []*model.Node{node("a", with(ctr("x"))), node("b", with(ctr("y", clabel(model.LabelSwarmID, "s2"))))},
			run: []runOpt{env("affinity:" + model.LabelSwarmID + "!=s*")}, want: "a"},
		{name: "image by tag", nodes: two(), run: []runOpt{env("affinity:image==redis:3.0")}, want: "b"},
		{name: "image by repository", nodes: two(), run: []runOpt{env("affinity:image==redis")}, want: "b"},
		{name: "image repository with a registry port", nodes: two(), run: []runOpt{env("affinity:image==localhost:5000/test")}, want: "b"},
		{name: "image by ID as the engine reports it", nodes: two(), run: []runOpt{env("affinity:image==sha256:d1e2f3")}, want: "b"},
		{name: "image==redis:latest does not match redis:3.0", nodes: two(),
			run: []runOpt{env("affinity:image==redis:latest")}, wantErr: unable + "\n[available container slots]\n[image==redis:latest (soft=false)]"},
		{name: "container label", nodes: two(), run: []runOpt{env("affinity:app==cache")}, want: "b"},
		{name: "K==* needs at least one container", nodes: []*model.Node{node("a"), node("b", with(ctr("x")))},
			run: []runOpt{env("affinity:app==*")}, want: "b"},
		{name: "K!=v holds on an empty node", nodes: []*model.Node{node("a"), redisNode()},
			run: []runOpt{env("affinity:app!=cache")}, want: "a"},
		{name: "a stopped container counts", nodes: []*model.Node{node("a"), node("b", with(ctr("old", state(model.Exited))))},
			run: []runOpt{env("affinity:container==old")}, want: "b"},
		{name: "several affinities must all hold", nodes: two(),
			run:     []runOpt{env("affinity:container==cache", "affinity:image==nginx")},
			wantErr: unable + "\n[available container slots]\n[container==cache (soft=false) image==nginx (soft=false)]"},
		{name: "affinities come from the label too", nodes: two(),
			run: []runOpt{label(model.LabelAffinities, `["container==cache"]`)}, want: "b"},
	})
}

func TestConstraintFilter(t *testing.T) {
	zones := func() []*model.Node {
		return []*model.Node{
			node("node-1", id("ABCD:1"), labels("region", "us-east", "storage", "ssd")),
			node("node-2", id("ABCD:2"), labels("region", "eu-west", "storage", "disk")),
			node("node-3", id("ABCD:3"), labels("storage", "ssd")),
		}
	}
	runCases(t, []placeCase{
		{name: "by node name", nodes: zones(), run: []runOpt{env("constraint:node==node-2")}, want: "node-2"},
		{name: "by node ID", nodes: zones(), run: []runOpt{env("constraint:node==ABCD:3")}, want: "node-3"},
		{name: "node!= needs neither name nor ID to match",
			nodes: zones(), run: []runOpt{env("constraint:node!=node-1", "constraint:node!=ABCD:2")}, want: "node-3"},
		{name: "label equality", nodes: zones(), run: []runOpt{env("constraint:region==eu-west")}, want: "node-2"},
		{name: "label glob", nodes: zones(), run: []runOpt{env("constraint:region==us*")}, want: "node-1"},
		{name: "region!=us* keeps nodes without the label", nodes: zones(),
			run: []runOpt{env("constraint:region!=us*", "constraint:storage==ssd")}, want: "node-3"},
		{name: "foo==* matches a node without foo", nodes: zones(), run: []runOpt{env("constraint:foo==*", "constraint:node==node-3")}, want: "node-3"},
		{name: "foo!=* matches no node", nodes: zones(), run: []runOpt{env("constraint:foo!=*")},
			wantErr: unable + "\n[available container slots]\n[foo!=*]"},
		{name: "regex", nodes: zones(), run: []runOpt{env("constraint:node==/node-[3]/")}, want: "node-3"},
		{name: "case-insensitive regex", nodes: zones(), run: []runOpt{env("constraint:region==/(?i)EU/")}, want: "node-2"},
		{name: "keys are case-sensitive", nodes: zones(), run: []runOpt{env("constraint:Region==eu-west")},
			wantErr: unable + "\n[available container slots]\n[Region==eu-west]"},
		{name: "constraints from label and env are ANDed", nodes: zones(),
			run: []runOpt{label(model.LabelConstraints, `["storage==ssd"]`), env("constraint:region==us-east")}, want: "node-1"},
		{name: "Swarm's example message", nodes: []*model.Node{node("node-1"), node("node-2")},
			run:     []runOpt{env("constraint:node==node-9")},
			wantErr: "Unable to find a node that satisfies the following conditions \n[available container slots]\n[node==node-9]"},
		{name: "the soft marker is not listed", nodes: zones(),
			run:     []runOpt{env("constraint:region==~mars", "constraint:storage==tape")},
			wantErr: unable + "\n[available container slots]\n[region==mars storage==tape]"},
	})
}

func TestWhitelistFilter(t *testing.T) {
	three := func() []*model.Node {
		return []*model.Node{node("node1"), node("node2", with(ctr("x"))), node("node3", id("node4"))}
	}
	runCases(t, []placeCase{
		{name: "names are split on |", nodes: three(), run: []runOpt{env("whitelist:node==node2|node3")}, want: "node3"},
		{name: "the key and operator are ignored", nodes: three(), run: []runOpt{env("whitelist:foo!=node2")}, want: "node2"},
		{name: "names match exactly, not as globs", nodes: three(), run: []runOpt{env("whitelist:node==node*")},
			wantErr: unable + "\n[available container slots]\n[node==node* (soft=false)]"},
		{name: "IDs do not count", nodes: three(), run: []runOpt{env("whitelist:node==node4")},
			wantErr: unable + "\n[available container slots]\n[node==node4 (soft=false)]"},
		{name: "several whitelists intersect", nodes: three(),
			run: []runOpt{env("whitelist:node==node1|node2", "whitelist:node==node2|node3")}, want: "node2"},
		{name: "a soft whitelist gives way", nodes: three(), run: []runOpt{env("whitelist:node==~nodeX")}, want: "node1"},
	})
}

func TestChainOrderAndMessages(t *testing.T) {
	runCases(t, []placeCase{
		{name: "a custom chain runs in the order given",
			nodes:   []*model.Node{node("a", labels("zone", "us"))},
			cfg:     sched.Config{Filters: []string{"constraint", "health"}},
			run:     []runOpt{env("constraint:zone==eu")},
			wantErr: unable + "\n[zone==eu]"},
		{name: "a chain without containerslots does not list it",
			nodes:   []*model.Node{node("a", labels("zone", "us"))},
			cfg:     sched.Config{Filters: []string{"health", "constraint"}},
			run:     []runOpt{env("constraint:zone==eu")},
			wantErr: unable + "\n[zone==eu]"},
		{name: "a filter left out does not run",
			nodes: []*model.Node{node("a", labels("zone", "us"))},
			cfg:   sched.Config{Filters: []string{"health"}},
			run:   []runOpt{env("constraint:zone==eu")},
			want:  "a"},
		{name: "an earlier failure hides later conditions",
			nodes:   []*model.Node{node("a", labels("containerslots", "0"))},
			run:     []runOpt{env("constraint:zone==eu", "affinity:image==redis")},
			wantErr: unable + "\n[available container slots]"},
		{name: "affinities list soft ones too, with the flag",
			nodes:   []*model.Node{node("a")},
			run:     []runOpt{env("affinity:image==redis", "affinity:container!=~web")},
			wantErr: unable + "\n[available container slots]\n[image==redis (soft=false) container!=web (soft=true)]"},
		{name: "the constraint failure lists the affinities before it",
			nodes:   []*model.Node{node("a", image("sha256:1", "redis:7"))},
			run:     []runOpt{env("affinity:image==redis", "constraint:zone==eu")},
			wantErr: unable + "\n[available container slots]\n[image==redis (soft=false)]\n[zone==eu]"},
		{name: "nothing fits: the strategy's message, unwrapped",
			nodes:   []*model.Node{node("a", memory(1*gib)), node("b", memory(1*gib))},
			run:     []runOpt{want(0, 2*gib)},
			wantErr: "no resources available to schedule container"},
	})
}

func TestSoftExpressionsTwoPasses(t *testing.T) {
	zones := func() []*model.Node {
		return []*model.Node{
			node("eu-1", labels("zone", "eu", "disk", "ssd"), with(ctr("x1"), ctr("x2"))),
			node("us-1", labels("zone", "us", "disk", "ssd")),
		}
	}
	runCases(t, []placeCase{
		{name: "a soft constraint that holds is honoured", nodes: zones(),
			run: []runOpt{env("constraint:zone==~eu")}, want: "eu-1"},
		{name: "a soft constraint that cannot hold is dropped", nodes: zones(),
			run: []runOpt{env("constraint:zone==~mars")}, want: "us-1"},
		{name: "one impossible soft expression drops every soft expression", nodes: zones(),
			run: []runOpt{env("constraint:zone==~eu", "constraint:disk==~nvme")}, want: "us-1"},
		{name: "a soft affinity failing drops a soft constraint that held", nodes: zones(),
			run: []runOpt{env("constraint:zone==~eu", "affinity:container==~nothing")}, want: "us-1"},
		{name: "a hard failure elsewhere drops the soft ones, then fails hard", nodes: zones(),
			run:     []runOpt{env("constraint:zone==~eu", "constraint:disk==nvme")},
			wantErr: unable + "\n[available container slots]\n[zone==eu disk==nvme]"},
		{name: "a port failure in pass 1 lets pass 2 drop the soft narrowing",
			nodes: []*model.Node{
				node("eu-1", labels("zone", "eu"), with(ctr("web", ports("80:80")))),
				node("us-1", labels("zone", "us"), with(ctr("x1"), ctr("x2"), ctr("x3")))},
			run: []runOpt{env("constraint:zone==~eu"), publish("80:80")}, want: "us-1"},
		{name: "soft resources: no room on the preferred node moves it", nodes: []*model.Node{
			node("eu-1", labels("zone", "eu"), memory(1*gib)), node("us-1", labels("zone", "us"), with(ctr("x")))},
			run: []runOpt{env("constraint:zone==~eu"), want(0, 2*gib)}, want: "us-1"},
		{name: "affinity to the container being created fails pass 1 (Swarm's INT-35)", nodes: zones(),
			run: []runOpt{named("me"), env("affinity:container==~me", "constraint:zone==~eu")}, want: "us-1"},
	})
}

func TestPlacementReportsWhetherSoftWasHonoured(t *testing.T) {
	nodes := []*model.Node{node("eu-1", labels("zone", "eu")), node("us-1", labels("zone", "us"))}
	s := scheduler(t, sched.Config{})
	snap := sched.NewSnapshot(nodes)
	p, err := s.Place(snap, request(t, env("constraint:zone==~eu")))
	if err != nil || !p.Soft {
		t.Fatalf("soft that holds: %v, soft=%v; want honoured", err, p != nil && p.Soft)
	}
	p, err = s.Place(snap, request(t, env("constraint:zone==~mars")))
	if err != nil || p.Soft {
		t.Fatalf("soft that fails: %v, soft=%v; want dropped", err, p != nil && p.Soft)
	}
}
