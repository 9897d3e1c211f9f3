package ui

import (
	"context"
	"fmt"
	"strings"

	"github.com/rivo/tview"

	"swarmdeck/sched"
)

// planText shows a rebalance plan: its cost once, then per move the
// container, from → to, why (the scores before and after) and the rules
// it touches, wrapped to width with a hanging indent; then what bounded
// it. A pure function of the plan.
func planText(p *sched.Plan, th theme, width int) string {
	var sb strings.Builder
	if len(p.Moves) == 0 {
		note := p.Note
		if note == "" {
			note = "The cluster is balanced: no move would gain."
		}
		fmt.Fprintf(&sb, "%s\n\n%d movable containers tried; %d others left alone (no reschedule policy or rebalance label, or global).", note, p.Considered, p.Pinned)
		if b := p.BoundText(); b != "" {
			fmt.Fprintf(&sb, "\n%s%s.%s", th.tag(th.warn), tview.Escape(capitalize(b)), th.reset())
		}
		return sb.String()
	}
	fmt.Fprintf(&sb, "%sPlan: %s%s\n", th.tag(th.accent), tview.Escape(p.Cost()), th.reset())
	if b := p.BoundText(); b != "" {
		fmt.Fprintf(&sb, "%s%s (:rebalance N plans up to N).%s\n", th.tag(th.warn), tview.Escape(capitalize(b)), th.reset())
	}
	sb.WriteString("Each move starts the new copy, then stops and removes the old one; at most 4 at once; nothing more starts after a failure.\n")
	for i, m := range p.Moves {
		lead := fmt.Sprintf("\n%2d. ", i+1)
		if m.Group != 0 && i > 0 && p.Moves[i-1].Group == m.Group {
			lead = "\n  + " // follows the group's leader
		}
		fmt.Fprintf(&sb, "%s%s%s%s  %s → %s\n", lead, th.tag(th.title), tview.Escape(m.Container.Name), th.reset(), tview.Escape(cutName(m.From.Name)), tview.Escape(cutName(m.To.Name)))
		fmt.Fprintf(&sb, "%s\n", indented(tview.Escape(m.Why), width))
		touches := "touches no constraint or affinity"
		if len(m.Rules) > 0 {
			touches = "touches " + strings.Join(m.Rules, ", ")
		}
		fmt.Fprintf(&sb, "%s%s%s", th.tag(th.dim), indented(tview.Escape(touches), width), th.reset())
	}
	return sb.String()
}

// indented wraps text to width with every line indented by four spaces.
func indented(text string, width int) string {
	lines := tview.WordWrap(text, max(width-4, 20))
	for i, l := range lines {
		lines[i] = "    " + strings.TrimLeft(l, " ")
	}
	return strings.Join(lines, "\n")
}

// capitalize upper-cases the first letter of a sentence.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// openRebalance plans a rebalance off the UI goroutine, then shows the
// plan with Run and Cancel; maxMoves 0 is the default bound.
func (a *App) openRebalance(maxMoves int) {
	a.say("planning a rebalance…", false)
	a.goRun(func(ctx context.Context) {
		plan := a.b.PlanRebalance(maxMoves)
		a.update(func() { a.showPlan(plan) })
	})
}

// showPlan previews a plan in a dialog: Cancel has the focus, y or Tab
// Enter runs it, and the moves scroll.
func (a *App) showPlan(plan *sched.Plan) {
	a.say("", false)
	labels := []string{"Close"}
	if n := len(plan.Moves); n == 1 {
		labels = []string{"Cancel", "Run 1 move"}
	} else if n > 1 {
		labels = []string{"Cancel", fmt.Sprintf("Run %d moves", n)}
	}
	render := func(width int) string { return planText(plan, a.th, width) }
	a.showDialogOf("rebalance", "Rebalance", render, labels, func(label string) {
		if strings.HasPrefix(label, "Run ") {
			a.runPlan(plan)
		}
	})
}

func (a *App) runPlan(plan *sched.Plan) {
	a.say(fmt.Sprintf("rebalancing: %s…", plan.Cost()), false)
	a.goRun(func(ctx context.Context) {
		res, err := a.b.RunPlan(ctx, plan)
		a.update(func() {
			switch {
			case err != nil:
				a.say("rebalance: "+err.Error(), true)
			case res.Failed() != nil:
				a.say("rebalance: "+res.Summary(), true)
			default:
				a.say("rebalance: "+res.Summary(), false)
			}
		})
	})
}
