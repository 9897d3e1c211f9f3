package sched_test

import (
	"errors"
	"reflect"
	"testing"

	"swarmdeck/model"
	"swarmdeck/sched"
)

func TestExtractExpressions(t *testing.T) {
	tests := []struct {
		name       string
		env        []string
		labels     map[string]string
		wantEnv    []string
		wantLabels map[string]string
	}{
		{name: "env entries move into the label, in env order",
			env:        []string{"A=1", "constraint:zone==eu", "constraint:disk==ssd", "affinity:image==redis"},
			wantEnv:    []string{"A=1"},
			wantLabels: map[string]string{model.LabelConstraints: `["zone==eu","disk==ssd"]`, model.LabelAffinities: `["image==redis"]`}},
		{name: "the label comes first, env entries are appended",
			env:        []string{"constraint:b==2"},
			labels:     map[string]string{model.LabelConstraints: `["aa==1"]`},
			wantEnv:    []string{},
			wantLabels: map[string]string{model.LabelConstraints: `["aa==1","b==2"]`}},
		{name: "split at the first colon only",
			env:        []string{"constraint:node==a:b"},
			wantEnv:    []string{},
			wantLabels: map[string]string{model.LabelConstraints: `["node==a:b"]`}},
		{name: "prefixes are case-sensitive and need the colon",
			env:        []string{"CONSTRAINT:x==y", "constraint", "constraint=x==y"},
			wantEnv:    []string{"CONSTRAINT:x==y", "constraint", "constraint=x==y"},
			wantLabels: map[string]string{}},
		{name: "a label that is no JSON is left alone when env has none",
			labels:     map[string]string{model.LabelConstraints: `zone==eu`},
			wantEnv:    []string{},
			wantLabels: map[string]string{model.LabelConstraints: `zone==eu`}},
		{name: "a label that is no JSON is overwritten by env entries",
			env:        []string{"constraint:zone==eu"},
			labels:     map[string]string{model.LabelConstraints: `zone==us`},
			wantEnv:    []string{},
			wantLabels: map[string]string{model.LabelConstraints: `["zone==eu"]`}},
		{name: "whitelist and reschedule too",
			env:        []string{"whitelist:node==a|b", "reschedule:on-node-failure"},
			wantEnv:    []string{},
			wantLabels: map[string]string{model.LabelWhitelists: `["node==a|b"]`, model.LabelReschedulePolicies: `["on-node-failure"]`}},
		{name: "reschedule-policy (singular) is not read",
			labels:     map[string]string{"com.docker.swarm.reschedule-policy": `["always"]`},
			wantEnv:    []string{},
			wantLabels: map[string]string{"com.docker.swarm.reschedule-policy": `["always"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := model.Config{Env: tt.env, Labels: tt.labels}
			out, _ := sched.ExtractExpressions(in)
			if !reflect.DeepEqual(out.Env, tt.wantEnv) {
				t.Errorf("env = %q; want %q", out.Env, tt.wantEnv)
			}
			if !reflect.DeepEqual(out.Labels, tt.wantLabels) {
				t.Errorf("labels = %q; want %q", out.Labels, tt.wantLabels)
			}
			if len(tt.env) > 0 && len(in.Env) != len(tt.env) {
				t.Errorf("the caller's env was changed")
			}
		})
	}
}

func TestNewRequestRefusesBadInput(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		labels  map[string]string
		want    string
		invalid bool
	}{
		{name: "a malformed constraint", env: []string{"constraint:a==b"}, want: `invalid constraint "a==b": Key 'a' is invalid`, invalid: true},
		{name: "a malformed affinity from the label", labels: map[string]string{model.LabelAffinities: `["image==~~x"]`},
			want: `invalid affinity "image==~~x": Value '~~x' is invalid`, invalid: true},
		{name: "a malformed whitelist", env: []string{"whitelist:node==a,b"}, want: `invalid whitelist "node==a,b": Value 'a,b' is invalid`, invalid: true},
		{name: "an unknown policy", env: []string{"reschedule:always"}, want: "invalid reschedule policy: always", invalid: true},
		{name: "false is no policy", env: []string{"reschedule:false"}, want: "invalid reschedule policy: false", invalid: true},
		{name: "two policies", env: []string{"reschedule:off"}, labels: map[string]string{model.LabelReschedulePolicies: `["on-node-failure"]`},
			want: "too many reschedule policies", invalid: true},
		{name: "off twice", env: []string{"reschedule:off", "reschedule:off"}, want: "too many reschedule policies", invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sched.NewRequest(model.Config{Env: tt.env, Labels: tt.labels})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v; want %q", err, tt.want)
			}
			if sched.IsInvalid(err) != tt.invalid {
				t.Fatalf("IsInvalid = %v", !tt.invalid)
			}
		})
	}
	r, err := sched.NewRequest(model.Config{Env: []string{"reschedule:on-node-failure", "constraint:node==n1"}})
	if err != nil || r.Reschedule != sched.RescheduleOnNodeFailure || !r.HasHardNodeConstraint() {
		t.Fatalf("valid request: %v, policy %q", err, r.Reschedule)
	}
	if sched.IsInvalid(errors.New("no resources available to schedule container")) {
		t.Fatal("a refusal is not an invalid request")
	}
}

func TestSnapshotSeesWhatIsAddedAndForgetsWhatIsRemoved(t *testing.T) {
	s := scheduler(t, sched.Config{})
	snap := sched.NewSnapshot([]*model.Node{node("a", memory(2*gib)), node("b", memory(2*gib))})
	pending := &model.Container{Config: model.Config{Name: "web", Memory: 2 * gib, Ports: []model.PortBinding{{HostPort: "80", ContainerPort: "80", Proto: "tcp"}}}, Node: "a"}
	snap.AddContainer("a", pending)
	if !snap.NameInUse("web") || !snap.NameInUse("/web") || snap.NameInUse("") {
		t.Fatal("a pending container's name is not taken")
	}
	for _, tt := range []struct {
		opts []runOpt
		want string
	}{
		{[]runOpt{want(0, 1*gib)}, "b"},
		{[]runOpt{publish("80:80")}, "b"},
		{[]runOpt{env("affinity:container==web")}, "a"},
		{[]runOpt{link("web")}, "a"},
	} {
		p, err := s.Place(snap, request(t, tt.opts...))
		if err != nil || p.Node.Name != tt.want {
			t.Fatalf("with a pending container on a: %v, %v; want %s", p, err, tt.want)
		}
	}
	snap.RemoveContainer("a", pending)
	if snap.NameInUse("web") {
		t.Fatal("a removed container's name is still taken")
	}
	p, err := s.Place(snap, request(t, env("affinity:container!=web"), publish("80:80"), want(0, 2*gib)))
	if err != nil || p.Node.Name != "a" {
		t.Fatalf("after removal: %v, %v; want a", p, err)
	}
	snap.SetNode(node("a", health(model.Unhealthy)))
	if p, err = s.Place(snap, request(t)); err != nil || p.Node.Name != "b" {
		t.Fatalf("after a turned unhealthy: %v, %v; want b", p, err)
	}
	snap.RemoveNode("b")
	if _, err = s.Place(snap, request(t)); err == nil || err.Error() != "No healthy node available in the cluster" {
		t.Fatalf("with b gone and a unhealthy: %v", err)
	}
}

func TestARenamedNodeMovesInTheTieBreakOrder(t *testing.T) {
	s := scheduler(t, sched.Config{})
	snap := sched.NewSnapshot([]*model.Node{node("b"), node("c")})
	if p, _ := s.Place(snap, request(t)); p.Node.Name != "b" {
		t.Fatalf("tie to %s; want b", p.Node.Name)
	}
	snap.SetNode(node("c", health(model.Healthy))) // same name: order kept
	if p, _ := s.Place(snap, request(t)); p.Node.Name != "b" {
		t.Fatalf("tie to %s after an update; want b", p.Node.Name)
	}
	renamed := node("c")
	renamed.Name = "a"
	snap.SetNode(renamed)
	if p, _ := s.Place(snap, request(t)); p.Node.Name != "a" {
		t.Fatalf("tie to %s after the rename; want a", p.Node.Name)
	}
}

func TestLabelAffinityFollowsContainersAddedAndRemoved(t *testing.T) {
	s := scheduler(t, sched.Config{})
	snap := sched.NewSnapshot([]*model.Node{node("a"), node("b", with(ctr("x1"), ctr("x2")))})
	web := &model.Container{Config: model.Config{Name: "web", Labels: map[string]string{"app": "web"}}, Node: "a"}
	snap.AddContainer("a", web)
	if p, err := s.Place(snap, request(t, env("affinity:app==web"))); err != nil || p.Node.Name != "a" {
		t.Fatalf("with web on a: %v, %v", p, err)
	}
	// b's containers lack the label: they count as "", so app!=web holds there.
	if p, err := s.Place(snap, request(t, env("affinity:app!=web"))); err != nil || p.Node.Name != "b" {
		t.Fatalf("anti-affinity: %v, %v", p, err)
	}
	snap.RemoveContainer("a", web)
	if _, err := s.Place(snap, request(t, env("affinity:app==web"))); err == nil {
		t.Fatal("web was removed, yet app==web still holds somewhere")
	}
	if p, err := s.Place(snap, request(t, env("affinity:app==*"))); err != nil || p.Node.Name != "b" {
		t.Fatalf("app==* needs a container: %v, %v", p, err)
	}
}
