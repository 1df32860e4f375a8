package core

import (
	"context"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/budget"
)

// DecideSpend implements Service: the person's answer to a Draft waiting
// for approval of spend, in one transaction. Approve records the approval
// (the amount shown) and queues the draft again with SpendApproved, so its
// metered steps reserve against the approval; decline clears the request
// and leaves the proposal in Draft with the reason.
func (c *Core) DecideSpend(_ context.Context, actor, proposalID string, rev int, approve bool) (Proposal, error) {
	var out *Proposal
	queued := false
	err := c.update(func(tx *bolt.Tx, emit func(Event)) error {
		p, err := getProposal(tx, proposalID)
		if err != nil {
			return err
		}
		out = p
		if done, err := c.alreadyDecided(tx, p, rev, approve); done || err != nil {
			return err
		}
		if p.State != StateDraft || p.Waiting != WaitingApproval || p.Awaiting == nil {
			return fmt.Errorf("%w: nothing waits for approval of spend on %s: it is %s%s", ErrIllegalState,
				ShortID(p.ID), p.State, notWaitingHint(p))
		}
		if rev != len(p.Revisions) {
			return fmt.Errorf("%w: you saw revision %d but the latest is %d; review it and decide again", ErrStaleRevision, rev, len(p.Revisions))
		}
		esc := *p.Awaiting
		p.Waiting, p.Awaiting, p.Updated = WaitingNone, nil, c.now()
		emit(Event{Kind: EventProposal, ID: p.ID, Repo: p.Repo, ConversationID: p.ConversationID})
		if !approve {
			return c.declineSpend(tx, emit, actor, p, rev, esc)
		}
		queued = true
		return c.approveSpend(tx, emit, actor, p, rev, esc)
	})
	if err != nil {
		return Proposal{}, err
	}
	if queued {
		c.poke()
	}
	return *out, nil
}

// alreadyDecided makes a double press harmless: the same answer on the
// same revision returns the proposal as it is (like a second GO); the
// other answer after an approval says what happened instead.
func (c *Core) alreadyDecided(tx *bolt.Tx, p *Proposal, rev int, approve bool) (bool, error) {
	if !approve && p.Declined == rev && p.Waiting == WaitingNone {
		return true, nil
	}
	if p.JobID == "" || p.Waiting == WaitingApproval {
		return false, nil
	}
	j, err := getJob(tx, p.JobID)
	if err != nil {
		return false, err
	}
	// An approved escalation's job drafts the next revision.
	redraft := j.Revision == rev+1 && p.Revision(j.Revision) != nil && p.Revision(j.Revision).EscalatedFrom == rev
	if j.Kind != JobDraft || (j.Revision != rev && !redraft) || !j.SpendApproved {
		return false, nil
	}
	if approve {
		return true, nil
	}
	return false, fmt.Errorf("%w: the spend on %s revision %d was already approved and the draft runs under it; cancel the proposal to stop it",
		ErrIllegalState, ShortID(p.ID), rev)
}

func notWaitingHint(p *Proposal) string {
	if p.State == StateDraft && p.Reason != "" {
		return " (" + p.Reason + ")"
	}
	return ""
}

// approvalAmount is what approving esc allows: what was shown, or the
// projection plus the policy's margin when the asker gave no amount.
func (c *Core) approvalAmount(esc Escalation) budget.Micros {
	if esc.ApproveMicros > 0 {
		return budget.Micros(esc.ApproveMicros)
	}
	return c.opt.Policy.ApprovalAmount(budget.Micros(esc.CostMicros))
}

func (c *Core) approveSpend(tx *bolt.Tx, emit func(Event), actor string, p *Proposal, rev int, esc Escalation) error {
	amount := c.approvalAmount(esc)
	reason := strings.Join(esc.Why, "; ")
	draft := rev // the revision the approved spend drafts
	if esc.Redraft != "" {
		draft = rev + 1
	}
	if c.opt.Budget != nil {
		a := budget.Approval{Proposal: p.ID, Revision: draft, Amount: amount, Actor: actor, Reason: reason}
		if err := c.opt.Budget.ApproveTx(tx, a); err != nil {
			return fmt.Errorf("approve spend: %w", err)
		}
	}
	p.Reason = ""
	if _, err := c.opt.Audit.Append(tx, "proposal.spend_approved", actor, p.ID, map[string]string{
		"revision": fmt.Sprint(rev), "amount_micros": fmt.Sprint(int64(amount)), "what": esc.What, "reason": reason}); err != nil {
		return err
	}
	if esc.Redraft != "" {
		if err := c.redraft(tx, actor, p, rev, esc.Redraft); err != nil {
			return err
		}
	}
	j := &Job{Kind: JobDraft, ProposalID: p.ID, Revision: draft, Repo: p.Repo, SpendApproved: true}
	if err := c.enqueue(tx, j, actor); err != nil {
		return err
	}
	p.JobID = j.ID
	if err := putProposal(tx, p); err != nil {
		return err
	}
	emit(Event{Kind: EventJob, ID: j.ID, ProposalID: p.ID, Repo: p.Repo})
	if esc.Redraft != "" {
		return c.say(tx, emit, p.ConversationID, p.ID, fmt.Sprintf("Escalation approved by %s on proposal %s: up to %s to %s. Revision %d stays on record; drafting revision %d under that approval…",
			actor, ShortID(p.ID), amount, whatRuns(esc), rev, draft))
	}
	return c.say(tx, emit, p.ConversationID, p.ID, fmt.Sprintf("Spend approved by %s on proposal %s revision %d: up to %s for %s. Drafting again under that approval…",
		actor, ShortID(p.ID), rev, amount, whatRuns(esc)))
}

func (c *Core) declineSpend(tx *bolt.Tx, emit func(Event), actor string, p *Proposal, rev int, esc Escalation) error {
	p.Declined = rev
	if esc.Redraft != "" {
		return c.declineEscalation(tx, emit, actor, p, rev, esc)
	}
	p.Reason = fmt.Sprintf("declined by %s: %s would cost %s (%s); send a smaller change or wait for the budget window",
		actor, whatRuns(esc), budget.Micros(esc.CostMicros), strings.Join(esc.Why, "; "))
	if _, err := c.opt.Audit.Append(tx, "proposal.spend_declined", actor, p.ID, map[string]string{
		"revision": fmt.Sprint(rev), "what": esc.What, "cost_micros": fmt.Sprint(esc.CostMicros)}); err != nil {
		return err
	}
	if err := putProposal(tx, p); err != nil {
		return err
	}
	return c.say(tx, emit, p.ConversationID, p.ID, fmt.Sprintf("Proposal %s stays in Draft: %s. Nothing more is spent and nothing was pushed.", ShortID(p.ID), p.Reason))
}

func whatRuns(esc Escalation) string {
	if esc.What == "" {
		return "the next step"
	}
	return esc.What
}

// helperRefusal is what to ask when the budget refused a metered helper
// step: its cost is the first slice the meter reserves, and approving
// allows that plus the policy's margin.
func (c *Core) helperRefusal(what string, refusal error) Escalation {
	cost := c.opt.Prices.Local.Cost(c.opt.MeterSlice)
	if ce, ok := errors.AsType[*budget.CapError](refusal); ok && ce.Need > 0 {
		cost = ce.Need // what the refused step asked for (a helper machine's slice, too)
	}
	return Escalation{What: what, Why: []string{"the budget refused " + what + ": " + refusal.Error()},
		CostMicros: int64(cost), ApproveMicros: int64(c.opt.Policy.ApprovalAmount(cost))}
}

// recordSpent adds a settled cost to the revision a draft job works on, so
// the Proposed Execution shows what drafting spent.
func (c *Core) recordSpent(j *Job, line CostLine) {
	err := c.update(func(tx *bolt.Tx, emit func(Event)) error {
		p, err := getProposal(tx, j.ProposalID)
		if err != nil {
			return err
		}
		rev := p.Revision(j.Revision)
		if rev == nil {
			return fmt.Errorf("revision %d of %s: %w", j.Revision, ShortID(p.ID), ErrNotFound)
		}
		rev.Spent = append(rev.Spent, line)
		emit(Event{Kind: EventProposal, ID: p.ID, Repo: p.Repo, ConversationID: p.ConversationID})
		return putProposal(tx, p)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		c.log.Error("record spent on the revision", "job", j.ID, "err", err)
	}
}
