package ui

import (
	"context"
	"fmt"
	"strings"

	"swarmdeck/backend"
	"swarmdeck/model"
	"swarmdeck/sched"
)

// drainPlan is what a drain of a node would do, read off the node's
// model on the UI goroutine (no network): the containers that move, the
// ones that block, with why, and the global copies that go (a drained
// node runs none).
func drainPlan(n *model.Node) (moving, blocking, global []string) {
	for _, ct := range n.Containers {
		name := strings.TrimPrefix(ct.Name, "/")
		switch {
		case ct.ID == "":
			blocking = append(blocking, name+" (being created)")
		case ct.Labels[sched.LabelMode] == sched.ModeGlobal:
			global = append(global, name)
		case backend.Movable(ct):
			moving = append(moving, name)
		default:
			blocking = append(blocking, name+" (no reschedule policy)")
		}
	}
	return moving, blocking, global
}

// availabilityKey handles d (drain), p (pause) and a (activate) on the
// nodes view: it asks first, then sets the node's availability off the UI
// goroutine.
func (a *App) availabilityKey(key rune) {
	addr := a.selected()
	n := a.st.byAddr[addr]
	if n == nil {
		return
	}
	switch key {
	case 'p':
		a.confirm(fmt.Sprintf("Pause %s? It takes no new containers; what runs there stays.", cutName(n.Name)), func() {
			a.setAvailability(n, model.Pause, false)
		})
	case 'a':
		a.setAvailability(n, model.Active, false)
	case 'd':
		moving, blocking, global := drainPlan(n)
		var sb strings.Builder
		fmt.Fprintf(&sb, "Drain %s? It takes no new containers", cutName(n.Name))
		if len(moving) > 0 {
			fmt.Fprintf(&sb, ", and %d move off it: %s.", len(moving), strings.Join(moving, ", "))
		} else {
			sb.WriteString("; none of its containers can move on its own.")
		}
		if len(global) > 0 {
			fmt.Fprintf(&sb, "\n\nIts copies of global containers are removed (a drained node runs none): %s.", strings.Join(global, ", "))
		}
		buttons := []string{"Cancel", "Drain"}
		if len(blocking) > 0 {
			fmt.Fprintf(&sb, "\n\nBlocking the drain: %s.\n\"Drain, force\" moves them too.", strings.Join(blocking, ", "))
			buttons = append(buttons, "Drain, force")
		}
		a.showDialog("confirm", "Drain "+cutName(n.Name), sb.String(), buttons, func(label string) {
			switch label {
			case "Drain":
				a.setAvailability(n, model.Drain, false)
			case "Drain, force":
				a.setAvailability(n, model.Drain, true)
			}
		})
	}
}

// setAvailability saves a node's availability in the background (the
// store may be across the network) and reports the outcome.
func (a *App) setAvailability(n *model.Node, av model.Availability, force bool) {
	name := n.Name
	a.say(fmt.Sprintf("%s %s…", verbOf(av), name), false)
	a.goRun(func(ctx context.Context) {
		res, err := a.b.SetAvailability(ctx, n.Addr, av, force)
		a.update(func() {
			if err != nil {
				a.say(fmt.Sprintf("%s %s: %v", verbOf(av), name, err), true)
				return
			}
			msg := fmt.Sprintf("%s is now %s", name, av.Doing())
			if av == model.Drain {
				msg += fmt.Sprintf(": %d moving, %d blocking", len(res.Moving), len(res.Blocking))
			}
			a.say(msg, false)
		})
	})
}

func verbOf(av model.Availability) string {
	switch av {
	case model.Drain:
		return "drain"
	case model.Pause:
		return "pause"
	}
	return "activate"
}
