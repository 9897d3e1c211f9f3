package sched_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"swarmdeck/clusterfile"
	"swarmdeck/model"
	"swarmdeck/sched"
)

// Fixture builders: a node is 4 CPUs and 8 GiB, healthy, at the address
// of its name, unless options say otherwise.

type nodeOpt func(*model.Node)

func node(name string, opts ...nodeOpt) *model.Node {
	n := &model.Node{Name: name, ID: "ID-" + name, Addr: name, CPUs: 4, Memory: 8 << 30,
		Health: model.Healthy, Labels: map[string]string{}}
	for _, o := range opts {
		o(n)
	}
	for _, c := range n.Containers {
		c.Node = n.Addr
	}
	return n
}

func labels(kv ...string) nodeOpt {
	return func(n *model.Node) {
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func cpus(c int) nodeOpt            { return func(n *model.Node) { n.CPUs = c } }
func memory(b int64) nodeOpt        { return func(n *model.Node) { n.Memory = b } }
func id(s string) nodeOpt           { return func(n *model.Node) { n.ID = s } }
func health(h model.Health) nodeOpt { return func(n *model.Node) { n.Health = h } }
func failures(f int) nodeOpt        { return func(n *model.Node) { n.Failures = f } }
func avail(a model.Availability) nodeOpt {
	return func(n *model.Node) { n.Availability = a }
}
func image(imageID string, tags ...string) nodeOpt {
	return func(n *model.Node) { n.Images = append(n.Images, model.Image{ID: imageID, RepoTags: tags}) }
}
func with(cs ...*model.Container) nodeOpt {
	return func(n *model.Node) { n.Containers = append(n.Containers, cs...) }
}

type ctrOpt func(*model.Container)

func ctr(name string, opts ...ctrOpt) *model.Container {
	c := &model.Container{Config: model.Config{Name: name, Image: "busybox", Labels: map[string]string{}, NetworkMode: "bridge"},
		ID: fakeID(name), State: model.Running}
	for _, o := range opts {
		o(c)
	}
	return c
}

// fakeID is a 64-hex-digit container ID derived from the name.
func fakeID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

func cid(s string) ctrOpt        { return func(c *model.Container) { c.ID = s } }
func swarmID(s string) ctrOpt    { return func(c *model.Container) { c.SwarmID = s } }
func state(s model.State) ctrOpt { return func(c *model.Container) { c.State = s } }
func clabel(k, v string) ctrOpt  { return func(c *model.Container) { c.Labels[k] = v } }
func res(cpu model.MilliCPU, mem int64) ctrOpt {
	return func(c *model.Container) { c.CPUs, c.Memory = cpu, mem }
}
func ports(specs ...string) ctrOpt {
	return func(c *model.Container) {
		p, err := clusterfile.ParsePorts(specs)
		if err != nil {
			panic(err)
		}
		c.Ports = append(c.Ports, p...)
	}
}
func hostNet(expose ...string) ctrOpt {
	return func(c *model.Container) { c.NetworkMode, c.Expose = "host", expose }
}

// runOpt shapes a request as `docker run` flags would.
type runOpt func(*model.Config)

func env(e ...string) runOpt   { return func(c *model.Config) { c.Env = append(c.Env, e...) } }
func label(k, v string) runOpt { return func(c *model.Config) { c.Labels[k] = v } }
func named(n string) runOpt    { return func(c *model.Config) { c.Name = n } }
func want(cpu model.MilliCPU, m int64) runOpt {
	return func(c *model.Config) { c.CPUs, c.Memory = cpu, m }
}
func publish(specs ...string) runOpt {
	return func(c *model.Config) {
		p, err := clusterfile.ParsePorts(specs)
		if err != nil {
			panic(err)
		}
		c.Ports = append(c.Ports, p...)
	}
}
func netHost(expose ...string) runOpt {
	return func(c *model.Config) { c.NetworkMode, c.Expose = "host", expose }
}
func netMode(m string) runOpt { return func(c *model.Config) { c.NetworkMode = m } }
func link(l ...string) runOpt { return func(c *model.Config) { c.Links = append(c.Links, l...) } }
func volumesFrom(v ...string) runOpt {
	return func(c *model.Config) { c.VolumesFrom = append(c.VolumesFrom, v...) }
}

func request(t testing.TB, opts ...runOpt) *sched.Request {
	t.Helper()
	cfg := model.Config{Image: "busybox", Labels: map[string]string{}, NetworkMode: "bridge"}
	for _, o := range opts {
		o(&cfg)
	}
	r, err := sched.NewRequest(cfg)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	return r
}

func scheduler(t testing.TB, cfg sched.Config) *sched.Scheduler {
	t.Helper()
	s, err := sched.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)
