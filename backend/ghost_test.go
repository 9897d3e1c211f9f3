package backend

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// lateCreates is an engine whose creates, once their caller gave up,
// still happen later (when released), as a dockerd that had received the
// request does after a hang; with perform false they never happen.
type lateCreates struct {
	Engine
	lost    atomic.Bool // the next create gets no answer
	perform bool
	release chan struct{}
	done    chan string // the late create's ID
}

func (l *lateCreates) Create(ctx context.Context, spec CreateSpec) (string, error) {
	if !l.lost.CompareAndSwap(true, false) {
		return l.Engine.Create(ctx, spec)
	}
	<-ctx.Done() // no answer in time
	if l.perform {
		go func() {
			<-l.release
			id, _ := l.Engine.Create(context.Background(), spec)
			l.done <- id
		}()
	}
	return "", ctx.Err()
}

// reservedCPUs is what the manager's view of the node at addr reserves.
func reservedCPUs(c *Cluster, addr string) model.MilliCPU {
	var sum model.MilliCPU
	for _, ct := range c.Node(addr).Containers {
		sum += ct.CPUs
	}
	return sum
}

// TestACreateGivenUpKeepsItsRoomUntilItsOutcomeIsKnown (soak, 20-minute
// run): creates sent to a hung engine were given up, their room given to
// others, and the engine carried them out when it ran again: node-2 held
// 2.5 of its 2 CPUs. A create without an answer keeps its room until the
// engine shows the container, or a later listing shows it never came.
func TestACreateGivenUpKeepsItsRoomUntilItsOutcomeIsKnown(t *testing.T) {
	for _, perform := range []bool{true, false} {
		name := map[bool]string{true: "the engine creates it later", false: "it never comes"}[perform]
		t.Run(name, func(t *testing.T) {
			x := running("x", false)
			x.CPUs = 1000
			a := simNode("a", 2, 8<<30, nil, x)
			a.Images = []model.Image{{ID: "sha256:busybox", RepoTags: []string{"busybox:latest"}}} // the late create is the engine's alone: no pull first
			src := SimSource("test", []*model.Node{a})
			sim := src.NewEngine
			late := &lateCreates{perform: perform, release: make(chan struct{}), done: make(chan string, 1)}
			late.lost.Store(true)
			src.NewEngine = func(e Entry) (Engine, error) {
				eng, err := sim(e)
				late.Engine = eng
				return late, err
			}
			c := startSim(t, src, fast())
			waitFor(t, 2*time.Second, "a healthy", allHealthy(c, 1))
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			_, err := c.Create(ctx, model.Config{Name: "late", Image: "busybox", CPUs: 1000})
			cancel()
			if err == nil || late.lost.Load() {
				t.Fatalf("the create of late got an answer, or never reached the engine: %v", err)
			}
			if _, err := c.Create(context.Background(), model.Config{Name: "next", Image: "busybox", CPUs: 1000}); !isPlacementRefusal(err) {
				t.Fatalf("next (%v) placed on a while late's create may still happen: a would reserve %d of its 2000 milli-CPUs once late comes", err, reservedCPUs(c, "a:2375")+1000)
			}
			if !perform {
				waitFor(t, ghostGrace+3*time.Second, "late's room free again once a listing shows it never came", func() bool {
					return reservedCPUs(c, "a:2375") == 1000
				})
				return
			}
			close(late.release)
			id := <-late.done
			waitFor(t, 2*time.Second, "late seen on a", func() bool {
				_, _, err := c.Inspect(id)
				return err == nil
			})
			if got := reservedCPUs(c, "a:2375"); got > 2000 {
				t.Fatalf("a reserves %d of its 2000 milli-CPUs", got)
			}
		})
	}
}

func isPlacementRefusal(err error) bool {
	var pe *sched.PlacementError
	return errors.As(err, &pe)
}
