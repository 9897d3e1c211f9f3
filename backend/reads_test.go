package backend

import (
	"fmt"
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
		{"an event's inspect begun before a remove does not bring it back, whatever order the tickets are given back in", func(c *Cluster, n *node) {
			readNow(c, n, web(model.Running))
			event := c.ticket(n)
			readNow(c, n, nil) // the remove
			c.applyRead(n, event, "w", web(model.Running))
			c.readDone(n, event)
		}, "gone"},
		{"a listing under way while a pause is read does not unpause it", func(c *Cluster, n *node) {
			readNow(c, n, web(model.Running))
			list := c.ticket(n)
			readNow(c, n, web(model.Paused))
			c.applyList(n, list, []*model.Container{web(model.Running)})
			c.readDone(n, list)
		}, "paused"},
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

// readNow is a read of container "w" that begins and ends now: ct, or
// nil when the engine has none.
func readNow(c *Cluster, n *node, ct *model.Container) {
	t := c.ticket(n)
	c.applyRead(n, t, "w", ct)
	c.readDone(n, t)
}

// TestReadTicketsAreKeptOnlyWhileAnOlderReadIsUnderWay: a container's
// read ticket is what stops an older read from undoing a newer one, so it
// is needed only while a read begun earlier is still under way; once
// every read has given its ticket back, none is kept (a million records'
// tickets were 43 MiB).
func TestReadTicketsAreKeptOnlyWhileAnOlderReadIsUnderWay(t *testing.T) {
	c := &Cluster{swarmIDs: map[string]int{}}
	n := &node{containers: map[string]*model.Container{}, readAt: map[string]uint64{}}
	read := func(id string) {
		tk := c.ticket(n)
		c.applyRead(n, tk, id, &model.Container{Config: model.Config{Name: id}, ID: id})
		c.readDone(n, tk)
	}
	for i := range 100 {
		read(fmt.Sprint("c", i))
	}
	if len(n.readAt) != 0 || len(n.flying) != 0 {
		t.Fatalf("after 100 reads one at a time, %d tickets kept and %d reads under way; want none", len(n.readAt), len(n.flying))
	}
	list := c.ticket(n) // a listing under way: what is read meanwhile keeps its ticket
	for i := range 10 {
		read(fmt.Sprint("c", i))
	}
	if len(n.readAt) != 10 {
		t.Fatalf("with a listing under way, %d tickets kept; want the 10 read meanwhile", len(n.readAt))
	}
	var cs []*model.Container
	for i := range 100 {
		cs = append(cs, &model.Container{Config: model.Config{Name: "old"}, ID: fmt.Sprint("c", i)})
	}
	c.applyList(n, list, cs)
	c.readDone(n, list)
	for i := range 10 {
		if got := n.containers[fmt.Sprint("c", i)].Name; got != fmt.Sprint("c", i) {
			t.Fatalf("c%d read during the listing is %q after it; want the newer read", i, got)
		}
	}
	for i := range 10 {
		read(fmt.Sprint("c", i))
	}
	if len(n.readAt) != 0 || len(n.flying) != 0 {
		t.Fatalf("once the listing ended and those were read again, %d tickets kept and %d reads under way; want none", len(n.readAt), len(n.flying))
	}
}
