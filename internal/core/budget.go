package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/sandbox"
)

// BudgetStatus is both budget windows and the recent spends.
type BudgetStatus = budget.Status

// Budget implements Service. Without a ledger it reports empty windows.
func (c *Core) Budget(context.Context) (BudgetStatus, error) {
	if c.opt.Budget == nil {
		return BudgetStatus{Hour: budget.WindowStatus{Name: "hour"}, Day: budget.WindowStatus{Name: "day"},
			Recent: []budget.Spend{}, Open: []budget.Reservation{}}, nil
	}
	return c.opt.Budget.Status()
}

// reconcileBudget settles reservations a dead process left open. It runs
// at start, before the workers, when no reservation can be live.
func (c *Core) reconcileBudget() error {
	if c.opt.Budget == nil {
		return nil
	}
	n, err := c.opt.Budget.Reconcile()
	if err != nil {
		return fmt.Errorf("reconcile budget: %w", err)
	}
	if n > 0 {
		c.log.Warn("budget: settled reservations left open by a stopped daemon at their full amount", "count", n)
	}
	return nil
}

// metered says whether helper time costs money and is metered.
func (c *Core) metered() bool { return c.opt.Budget != nil && c.opt.Prices.Local.Hourly > 0 }

// isRefusal tells the budget's "no" apart from other failures.
func isRefusal(err error) bool {
	return errors.Is(err, budget.ErrOverCap) || errors.Is(err, budget.ErrOverApproval) || errors.Is(err, budget.ErrStopMetering)
}

// onHelper runs fn on the local helper: its time is reserved before it
// starts and in slices while it runs, and settled when it ends. When the
// first slice does not fit, fn never runs; when a later slice does not
// fit, fn's context is cancelled (the owner stops before the cap) and the
// returned error wraps budget.ErrStopMetering.
func (c *Core) onHelper(ctx context.Context, j *Job, purpose string, approved bool, fn func(context.Context) error) error {
	if !c.metered() {
		return fn(ctx)
	}
	m, err := c.opt.Budget.StartMeter(budget.Request{Proposal: j.ProposalID, Purpose: purpose, Approved: approved},
		c.opt.Prices.Local, c.opt.MeterSlice)
	if err != nil {
		return err
	}
	mctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go m.Run(mctx, stop)
	runErr := fn(mctx)
	cause := context.Cause(mctx)
	stop(nil)
	cost, err := m.Stop()
	if err != nil {
		c.log.Error("budget: settle helper time", "job", j.ID, "cost", cost, "err", err)
	}
	if j.Kind == JobDraft {
		what := purpose
		if approved {
			what += ", under your approval"
		}
		c.recordSpent(j, CostLine{Stage: "verify", What: what, Category: CostHelper, CostMicros: int64(cost)})
	}
	if errors.Is(cause, budget.ErrStopMetering) {
		return cause
	}
	return runErr
}

// reverifySeconds estimates a re-verify from the draft's checks, plus a
// few seconds for the work dir and the apply.
func reverifyEstimate(rev *Revision) time.Duration {
	d := 5 * time.Second
	for _, ch := range rev.Checks {
		d += ch.Duration
	}
	return d
}

func (c *Core) executionPlans(rev *Revision) []budget.Plan {
	plans := []budget.Plan{{Name: PlanFull,
		Summary: "re-verify the diff with every check on the current base on the helper, then commit, push and open the pull request",
		Stages: []budget.Stage{
			{Name: "re-verify on the helper", Tier: budget.TierHelper, HelperSize: budget.LocalHelperSize, Duration: reverifyEstimate(rev)},
			{Name: "commit, push, pull request", Tier: budget.TierBase},
		}}}
	if c.opt.CheaperPlan {
		plans = append(plans, budget.Plan{Name: PlanLean,
			Summary: "no helper: publish the diff verified in the draft on its verified base; if the base moved since, the proposal returns to Draft",
			Stages:  []budget.Stage{{Name: "commit, push, pull request", Tier: budget.TierBase}}})
	}
	return plans
}

func toPlan(pl budget.Plan, pr budget.Projection) ExecutionPlan {
	out := ExecutionPlan{Name: pl.Name, Summary: pl.Summary, CostMicros: int64(pr.Total), Breakdown: []CostLine{}}
	for i, l := range pr.Lines {
		out.Breakdown = append(out.Breakdown, CostLine{Stage: l.Stage, What: l.What, Category: tierCategory(pl.Stages[i].Tier), CostMicros: int64(l.Cost)})
	}
	return out
}

// tierCategory names what a stage of a tier pays for; the base tier runs
// here and costs nothing.
func tierCategory(t budget.Tier) string {
	switch t {
	case budget.TierHelper:
		return CostHelper
	case budget.TierExternal:
		return CostExternal
	}
	return ""
}

// priceExecution projects GO's plans against the budget left now and
// stores them on the revision: the Proposed Execution shows them.
func (c *Core) priceExecution(tx *bolt.Tx, rev *Revision) error {
	if c.opt.Budget == nil {
		return nil
	}
	st, err := c.opt.Budget.StatusTx(tx)
	if err != nil {
		return fmt.Errorf("price execution: %w", err)
	}
	plans := c.executionPlans(rev)
	full, err := c.opt.Prices.Project(plans[0], c.opt.Policy, st)
	if err != nil {
		return fmt.Errorf("price execution: %w", err)
	}
	ex := &Execution{Preferred: toPlan(plans[0], full), HourRemaining: int64(st.Hour.Remaining), DayRemaining: int64(st.Day.Remaining)}
	cost := int64(full.Total)
	if full.NeedsApproval {
		ex.Escalation = &Escalation{Why: full.Why, CostMicros: int64(full.Total),
			ApproveMicros: int64(c.opt.Policy.ApprovalAmount(full.Total))}
		cost = 0
		if pl, pr, ok := c.opt.Prices.Cheapest(plans[1:], c.opt.Policy, st); ok {
			cheaper := toPlan(pl, pr)
			ex.Cheaper, cost = &cheaper, int64(pr.Total)
		}
	}
	rev.Execution, rev.CostMicros = ex, &cost
	return nil
}

// chooseExecution decides, inside GO's transaction, which plan the job
// runs. It never runs what the person did not see: if the budget moved so
// that the verdict changed, it re-prices the revision and GO is refused
// with ErrBudgetChanged. toDraft is set when GO must send the proposal
// back to Draft (approval needed, toggle off, no cheaper plan).
func (c *Core) chooseExecution(tx *bolt.Tx, actor string, p *Proposal, approveExtra bool) (plan string, approved bool, toDraft string, err error) {
	rev := p.Current()
	if c.opt.Budget == nil || rev.Execution == nil {
		return "", false, "", nil
	}
	shown, shownCost := *rev.Execution, rev.CostMicros
	if err := c.priceExecution(tx, rev); err != nil {
		return "", false, "", err
	}
	now := rev.Execution
	changed := (shown.Escalation == nil) != (now.Escalation == nil) ||
		now.Preferred.CostMicros > shown.Preferred.CostMicros ||
		(shown.Cheaper == nil) != (now.Cheaper == nil)
	if changed {
		return "", false, "", fmt.Errorf("%w: GO on %s now costs %s with %s left this hour; the new price is on screen, review it and GO again",
			ErrBudgetChanged, ShortID(p.ID), budget.Micros(now.Preferred.CostMicros), budget.Micros(now.HourRemaining))
	}
	rev.Execution, rev.CostMicros = &shown, shownCost // what the person saw
	if shown.Escalation == nil {
		return PlanFull, false, "", nil
	}
	if approveExtra {
		a := budget.Approval{Proposal: p.ID, Revision: rev.N, Amount: budget.Micros(shown.Escalation.ApproveMicros),
			Actor: actor, Reason: strings.Join(shown.Escalation.Why, "; ")}
		if err := c.opt.Budget.ApproveTx(tx, a); err != nil {
			return "", false, "", err
		}
		return PlanFull, true, "", nil
	}
	if shown.Cheaper != nil {
		return shown.Cheaper.Name, false, "", nil
	}
	return "", false, fmt.Sprintf("GO needs approval of extra spend (%s) and there is no cheaper plan: %s. Turn on \"Approve extra spend\" on the confirm screen, or wait for the budget window to move and send the change again.",
		budget.Micros(shown.Escalation.CostMicros), strings.Join(shown.Escalation.Why, "; ")), nil
}

// awaitApproval pauses a draft whose next step needs the person's approval
// of spend (the budget refused it, or it uses the external tier): the
// proposal stays in Draft, waiting for approval, with esc on screen.
func (c *Core) awaitApproval(j *Job, esc Escalation) error {
	reason := strings.Join(esc.Why, "; ")
	return c.update(func(tx *bolt.Tx, emit func(Event)) error {
		p, err := getProposal(tx, j.ProposalID)
		if err != nil {
			return err
		}
		if p.State == StateDraft && len(p.Revisions) == j.Revision {
			p.Waiting, p.Awaiting, p.Reason, p.Updated = WaitingApproval, &esc, reason, c.now()
			clearRemaining(p.Current())
			if _, err := c.opt.Audit.Append(tx, "proposal.awaiting_approval", "patchgit", p.ID, map[string]string{
				"revision": fmt.Sprint(j.Revision), "reason": reason, "what": esc.What,
				"cost_micros": fmt.Sprint(esc.CostMicros)}); err != nil {
				return err
			}
			if err := putProposal(tx, p); err != nil {
				return err
			}
			emit(Event{Kind: EventProposal, ID: p.ID, Repo: p.Repo, ConversationID: p.ConversationID})
			done := "Nothing was spent or pushed; nothing is"
			if spent := spentTotal(p.Current().Spent); spent > 0 {
				done = fmt.Sprintf("Drafting this revision spent %s so far; nothing more is spent and nothing is pushed", budget.Micros(spent))
			}
			if err := c.say(tx, emit, p.ConversationID, p.ID, fmt.Sprintf("Proposal %s waits in Draft for your approval of spend: %s\n%s until you answer: in the proposal pane, a approves or d declines.", ShortID(p.ID), reason, done)); err != nil {
				return err
			}
		}
		return c.closeJob(tx, emit, j, JobDone, "awaiting approval of spend")
	})
}

// reverify is the execute job's check before the commit. The full plan
// re-verifies on the current head on the helper, metered (under the
// approval if GO had one); the lean plan publishes only on the verified
// base. Jobs from before the budget re-verify only when the base moved.
func (c *Core) reverify(ctx context.Context, j *Job, rev *Revision, repo RepoSpec, base, head string) (string, error) {
	if j.Plan == PlanLean {
		if head != base {
			return "", &Failure{ToDraft: true, User: fmt.Sprintf("%s moved from %s to %s and the cheaper plan publishes only on the verified base. Send the change again to make a new revision.",
				repo.BaseBranch, shortSHA(base), shortSHA(head))}
		}
		return base, nil
	}
	if j.Plan == "" && head == base {
		return base, nil
	}
	c.progress(j, "re-verifying on "+shortSHA(head))
	res, err := c.verify(ctx, j, repo, "re-verify on the helper (GO)", sandbox.Request{MirrorDir: repo.MirrorDir, Base: head,
		Diff: []byte(rev.Diff), Checks: repo.Checks, CheckTimeout: c.opt.CheckTimeout, Limits: c.opt.Limits})
	if ae, ok := asApproval(err); ok {
		return "", &Failure{ToDraft: true, User: "stopped before publishing, nothing was pushed: " + ae.Reason, Err: err}
	}
	if st, ok := helperStopped(err); ok {
		return "", &Failure{ToDraft: true, User: st.Msg + "; then send the change again to make a new revision", Err: err}
	}
	if isRefusal(err) {
		return "", &Failure{ToDraft: true, User: "stopped before publishing, nothing was pushed: " + err.Error(), Err: err}
	}
	if err != nil && c.onHelperMachine(repo) {
		return "", helperFailure(err)
	}
	if err != nil {
		return "", &Failure{User: "the sandbox could not re-verify; see the daemon log", Err: err}
	}
	if res.Failure != "" && head != base {
		return "", &Failure{ToDraft: true, User: fmt.Sprintf("%s moved from %s to %s and the re-verify failed: %s. Send the change again to make a new revision.",
			repo.BaseBranch, shortSHA(base), shortSHA(head), res.Failure)}
	}
	if res.Failure != "" {
		return "", &Failure{ToDraft: true, User: fmt.Sprintf("the re-verify on %s at %s failed: %s. Send the change again to make a new revision.",
			repo.BaseBranch, shortSHA(head), res.Failure)}
	}
	return head, nil
}

// planNote says which plan GO runs and at what projected cost.
func planNote(rev *Revision, plan string, approved bool) string {
	if rev == nil || rev.Execution == nil {
		return ""
	}
	ex := rev.Execution
	switch {
	case plan == PlanFull && approved:
		return fmt.Sprintf(" Plan: %s, projected %s, extra spend approved up to %s.", ex.Preferred.Summary,
			budget.Micros(ex.Preferred.CostMicros), budget.Micros(ex.Escalation.ApproveMicros))
	case plan == PlanFull:
		return fmt.Sprintf(" Plan: %s, projected %s.", ex.Preferred.Summary, budget.Micros(ex.Preferred.CostMicros))
	case ex.Cheaper != nil:
		return fmt.Sprintf(" Plan (extra spend not approved): %s, projected %s.", ex.Cheaper.Summary, budget.Micros(ex.Cheaper.CostMicros))
	}
	return ""
}
