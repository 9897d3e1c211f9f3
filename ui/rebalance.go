package ui

import (
	"context"
	"fmt"
	"strings"

	"github.com/rivo/tview"

	"swarmdeck/sched"
)

// planText shows a rebalance plan: one line per move with its reason and
// the rules it touches, then its cost. A pure function of the plan.
func planText(p *sched.Plan, th theme) string {
	var sb strings.Builder
	if len(p.Moves) == 0 {
		note := p.Note
		if note == "" {
			note = "The cluster is balanced: no move would gain."
		}
		fmt.Fprintf(&sb, "%s\n\n%d containers tried, %d pinned (no reschedule policy or rebalance label, or global).", note, p.Considered, p.Pinned)
		return sb.String()
	}
	fmt.Fprintf(&sb, "%sPlan: %s%s\n\n", th.tag(th.accent), tview.Escape(p.Cost()), th.reset())
	for i, m := range p.Moves {
		lead := fmt.Sprintf("%2d. ", i+1)
		if m.Group != 0 && i > 0 && p.Moves[i-1].Group == m.Group {
			lead = "    + " // follows the group's leader
		}
		fmt.Fprintf(&sb, "%s%s%s%s  %s → %s\n", lead, th.tag(th.title), tview.Escape(m.Container.Name), th.reset(), m.From.Name, m.To.Name)
		fmt.Fprintf(&sb, "      %s%s%s\n", th.tag(th.dim), tview.Escape(m.Why), th.reset())
		if len(m.Rules) > 0 {
			fmt.Fprintf(&sb, "      %s%s%s\n", th.tag(th.dim), tview.Escape(strings.Join(m.Rules, ", ")), th.reset())
		}
	}
	if p.Truncated {
		fmt.Fprintf(&sb, "\n%sBounded: more moves would gain (:rebalance N plans up to N).%s", th.tag(th.warn), th.reset())
	}
	fmt.Fprintf(&sb, "\n\nEach move starts the new copy, then stops and removes the old one; at most 4 at once; nothing more starts after a failure.")
	return sb.String()
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

func (a *App) showPlan(plan *sched.Plan) {
	a.say("", false)
	text := tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetText(planText(plan, a.th))
	form := tview.NewForm()
	if len(plan.Moves) > 0 {
		form.AddButton(fmt.Sprintf("Run %d moves", len(plan.Moves)), func() {
			a.closePage("rebalance")
			a.runPlan(plan)
		})
	}
	form.AddButton("Cancel", func() { a.closePage("rebalance") })
	form.SetCancelFunc(func() { a.closePage("rebalance") })
	page := tview.NewFlex().SetDirection(tview.FlexRow).AddItem(text, 0, 1, false).AddItem(form, 3, 0, true)
	page.SetBorder(true).SetTitle(" Rebalance (Tab to a button, Esc cancels) ")
	a.pages.AddAndSwitchToPage("rebalance", page, true)
	a.app.SetFocus(form)
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
