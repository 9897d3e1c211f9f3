package backend

import (
	"testing"

	"swarmdeck/model"
)

// TestAnOlderReadNeverUndoesANewerOne: a listing or an inspect that began
// before a user's call re-read its container, but arrives after, must not
// undo what the caller was told (a created container vanishing, a paused
// one shown running, a removed one coming back).
func TestAnOlderReadNeverUndoesANewerOne(t *testing.T) {
	web := func(st model.State) *model.Container {
		return &model.Container{Config: model.Config{Name: "web"}, ID: "w", State: st}
	}
	for _, tt := range []struct {
		name  string
		steps func(c *Cluster, n *node)
		want  string // the state, "gone" for no container
	}{
		{"a listing begun before a create does not drop the new container", func(c *Cluster, n *node) {
			list := c.ticket(n)
			c.applyRead(n, c.ticket(n), "w", web(model.Created))
			c.applyList(n, list, nil)
		}, "created"},
		{"an event's inspect begun before a pause does not unpause it", func(c *Cluster, n *node) {
			c.applyRead(n, c.ticket(n), "w", web(model.Running))
			event := c.ticket(n)
			c.applyRead(n, c.ticket(n), "w", web(model.Paused))
			c.applyRead(n, event, "w", web(model.Running))
		}, "paused"},
		{"a listing begun before a remove does not bring it back", func(c *Cluster, n *node) {
			c.applyRead(n, c.ticket(n), "w", web(model.Exited))
			list := c.ticket(n)
			c.applyRead(n, c.ticket(n), "w", nil)
			c.applyList(n, list, []*model.Container{web(model.Exited)})
		}, "gone"},
		{"a newer listing wins over an older inspect", func(c *Cluster, n *node) {
			c.applyRead(n, c.ticket(n), "w", web(model.Running))
			list := c.ticket(n)
			c.applyList(n, list, []*model.Container{web(model.Exited)})
		}, "exited"},
		{"a newer listing drops a container removed behind the manager's back", func(c *Cluster, n *node) {
			c.applyRead(n, c.ticket(n), "w", web(model.Running))
			c.applyList(n, c.ticket(n), nil)
		}, "gone"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cluster{swarmIDs: map[string]int{}}
			n := &node{containers: map[string]*model.Container{}, readAt: map[string]uint64{}}
			tt.steps(c, n)
			got := "gone"
			if ct := n.containers["w"]; ct != nil {
				got = ct.State.String()
			}
			if got != tt.want {
				t.Fatalf("web is %q; want %q", got, tt.want)
			}
		})
	}
}
