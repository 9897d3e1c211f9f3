package backend

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"swarmdeck/model"
)

// TestEveryEngineKindRefusesDockersBadNames: the simulated engine refuses
// what dockerd refuses, and the manager refuses it before it places or
// reserves anything, whatever engine is behind.
func TestEveryEngineKindRefusesDockersBadNames(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("t2", 4, 4<<30, nil), simNode("t3", 4, 4<<30, nil)})
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "healthy", allHealthy(c, 2))
	sim := src.Sim("t2:2375")
	for _, tt := range []struct{ name, message string }{
		{"t3/x", "Invalid container name (t3/x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"../x", "Invalid container name (../x)"},
		{"a\nb", `Invalid container name (a\nb)`},
		{"a\x1b]0;x\x07", `Invalid container name (a\x1b]0;x\a)`},
		{"x", "Invalid container name (x)"},
		{"-x", "Invalid container name (-x)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sim.Create(context.Background(), CreateSpec{Config: model.Config{Name: tt.name, Image: "busybox"}})
			var ie *model.InvalidError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("sim engine: %v; want %q", err, tt.message)
			}
			_, err = c.Create(context.Background(), model.Config{Name: tt.name, Image: "busybox", Labels: map[string]string{}})
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("manager: %v; want %q", err, tt.message)
			}
			if n := len(c.Containers()); n != 0 {
				t.Fatalf("%d containers after refused creates", n)
			}
		})
	}
	for _, cfg := range []model.Config{{Name: "neg", Memory: -8 << 30}, {Name: "big", CPUs: -1}, {Name: "huge", CPUs: model.MaxCPUs*1000 + 1}} {
		cfg.Image, cfg.Labels = "busybox", map[string]string{}
		if _, err := c.Create(context.Background(), cfg); err == nil {
			t.Fatalf("%s: a create with %s CPUs and %d bytes was accepted", cfg.Name, cfg.CPUs, cfg.Memory)
		}
	}
	if n := len(c.Containers()); n != 0 {
		t.Fatalf("%d containers after refused creates", n)
	}
}

// TestTheSimulatedEngineRefusesBadImageReferences as dockerd does, in its
// words, and the manager reserves nothing for them.
func TestTheSimulatedEngineRefusesBadImageReferences(t *testing.T) {
	src := SimSource("test", []*model.Node{simNode("t2", 4, 4<<30, nil)})
	c := startSim(t, src, fast())
	waitFor(t, 2*time.Second, "healthy", allHealthy(c, 1))
	for _, tt := range []struct{ image, message string }{
		{"UPPER", "invalid reference format: repository name (library/UPPER) must be lowercase"},
		{"bad image", "invalid reference format"},
		{"nginx:@@", "invalid reference format"},
	} {
		_, err := c.Create(context.Background(), model.Config{Image: tt.image, Labels: map[string]string{}})
		var ie *model.InvalidError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.message) {
			t.Fatalf("%q: %v; want %q", tt.image, err, tt.message)
		}
		if n := len(c.Containers()); n != 0 {
			t.Fatalf("%d containers after a refused create", n)
		}
	}
	if _, err := c.Create(context.Background(), model.Config{Image: "nginx:1.25", Labels: map[string]string{}}); err != nil {
		t.Fatalf("a good reference: %v", err)
	}
}
