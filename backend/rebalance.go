package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"swarmdeck/model"
	"swarmdeck/sched"
)

// RebalanceResult is a rebalance plan and, unless it was a dry run, what
// became of each move.
type RebalanceResult struct {
	Plan *sched.Plan
	// Outcomes are in the order of Plan.Moves; empty on a dry run.
	Outcomes []MoveOutcome
}

// Failed is the first move that failed, or nil.
func (r *RebalanceResult) Failed() *MoveOutcome {
	for i := range r.Outcomes {
		if o := &r.Outcomes[i]; o.Err != nil && !IsNotTried(o.Err) {
			return o
		}
	}
	return nil
}

// Summary is one line about the run: "3 of 3 moves done", or where it
// stopped and why.
func (r *RebalanceResult) Summary() string {
	if len(r.Plan.Moves) == 0 {
		if r.Plan.Note != "" {
			return r.Plan.Note
		}
		return "the cluster is balanced: no move would gain"
	}
	if r.Outcomes == nil {
		return "dry run: nothing moved"
	}
	done := 0
	for _, o := range r.Outcomes {
		if o.Err == nil {
			done++
		}
	}
	s := fmt.Sprintf("%d of %d moves done", done, len(r.Outcomes))
	if f := r.Failed(); f != nil {
		s += fmt.Sprintf("; stopped at the first failure: %v", f.Err)
	}
	return s
}

// PlanRebalance plans a rebalance of the cluster as it is now (see
// sched.Scheduler.Rebalance), for a preview; maxMoves 0 is
// sched.DefaultMaxMoves. The plan is an event, with its moves and why.
func (c *Cluster) PlanRebalance(maxMoves int) *sched.Plan {
	plan := c.plan(maxMoves)
	c.emit(model.Event{Kind: model.EventPlan, Action: "rebalance_plan", Message: "rebalance planned (preview): " + planText(plan)})
	return plan
}

func (c *Cluster) plan(maxMoves int) *sched.Plan {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.publishStaleLocked() // the plan's nodes are the views readers see
	return c.sch.Rebalance(c.snap, sched.RebalanceOptions{MaxMoves: maxMoves})
}

// Rebalance plans and, unless dryRun, runs the plan: at most 4 moves at
// once (a group an affinity ties moves in order), each starting the new
// copy before it stops and removes the old one, and no move starts after
// one has failed. Only the primary moves containers.
func (c *Cluster) Rebalance(ctx context.Context, maxMoves int, dryRun bool) (*RebalanceResult, error) {
	if !dryRun && !c.isPrimary() {
		return nil, errors.New("this manager is a replica: rebalance through the primary")
	}
	plan := c.plan(maxMoves)
	if dryRun {
		c.emit(model.Event{Kind: model.EventPlan, Action: "rebalance_plan", Message: "rebalance (dry run): " + planText(plan)})
		return &RebalanceResult{Plan: plan}, nil
	}
	return c.RunPlan(ctx, plan)
}

// RunPlan runs a plan made by PlanRebalance (as Rebalance does), such as
// one an operator previewed. A container that left its node since the
// plan was made fails the run before anything moves.
func (c *Cluster) RunPlan(ctx context.Context, plan *sched.Plan) (*RebalanceResult, error) {
	if !c.isPrimary() {
		return nil, errors.New("this manager is a replica: rebalance through the primary")
	}
	res := &RebalanceResult{Plan: plan}
	run := plan.Cost()
	if len(plan.Moves) == 0 {
		run = planText(plan)
	}
	c.emit(model.Event{Kind: model.EventPlan, Action: "rebalance_run", Message: "rebalance: " + run})
	if len(plan.Moves) == 0 {
		return res, nil
	}
	var units [][]relocation
	c.mu.Lock()
	for i, m := range plan.Moves {
		from := c.nodes[m.From.Addr]
		var ct *model.Container
		if from != nil {
			ct = from.containers[m.Container.ID]
		}
		if ct == nil {
			c.mu.Unlock()
			return nil, fmt.Errorf("%s left %s while the plan was made: plan again", m.Container.Name, m.From.Name)
		}
		r := relocation{ct: ct, from: from, to: m.To.Addr, why: m.Why}
		if m.Group != 0 && i > 0 && plan.Moves[i-1].Group == m.Group {
			units[len(units)-1] = append(units[len(units)-1], r)
			continue
		}
		units = append(units, []relocation{r})
	}
	c.mu.Unlock()
	res.Outcomes = c.relocateUnits(ctx, units, true)
	c.emit(model.Event{Kind: model.EventPlan, Action: "rebalance_done", Message: "rebalance: " + res.Summary()})
	return res, nil
}

// maxEventMoves bounds the moves a plan's event lists.
const maxEventMoves = 10

// planText is a plan in one line for its event: the cost, what bounded
// it, and the moves (the first maxEventMoves) with why.
func planText(p *sched.Plan) string {
	if len(p.Moves) == 0 {
		if p.Note != "" {
			return p.Note
		}
		if b := p.BoundText(); b != "" {
			return "no move found; " + b
		}
		return "the cluster is balanced: no move would gain"
	}
	s := p.Cost()
	if b := p.BoundText(); b != "" {
		s += "; " + b
	}
	for i, m := range p.Moves {
		if i == maxEventMoves {
			s += fmt.Sprintf(" … and %d more moves", len(p.Moves)-maxEventMoves)
			break
		}
		s += fmt.Sprintf(" | %s %s → %s: %s", m.Container.Name, m.From.Name, m.To.Name, m.Why)
	}
	return s
}

// recoveryDelay lets a burst of nodes come back before the rebalance.
const recoveryDelay = 2 * time.Second

// rebalanceOnRecovery runs a rebalance shortly after a node came back or
// joined, when the manager was asked to (one at a time).
func (c *Cluster) rebalanceOnRecovery(node string) {
	if !c.opts.RebalanceOnRecovery || !c.isPrimary() || !c.rebalancing.CompareAndSwap(false, true) {
		return
	}
	c.emit(model.Event{Kind: model.EventPlan, Node: node, Action: "rebalance_on_recovery",
		Message: fmt.Sprintf("%s is back: rebalancing in %s", node, recoveryDelay)})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.rebalancing.Store(false)
		ctx := c.runCtx()
		if !sleep(ctx, recoveryDelay) {
			return
		}
		c.Rebalance(ctx, 0, false)
	}()
}
