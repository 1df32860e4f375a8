package core

import (
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// transitions is the whole proposal state machine: from -> allowed to.
// Every later issue changes state only through transition().
var transitions = map[ProposalState][]ProposalState{
	StateDraft:    {StateProposed, StateCancelled},
	StateProposed: {StateApproved, StateDraft, StateCancelled},
	StateApproved: {StateQueued, StateCancelled},
	StateQueued:   {StateRunning, StateCancelled},
	// Running -> Draft: the base moved and the patch no longer applies, or
	// a re-verify failed. Running -> Queued: resumed after a crash.
	StateRunning: {StatePublished, StateFailed, StateDraft, StateQueued},
	// Published -> Draft: a new message in the conversation revises the
	// published proposal; GO on that revision updates the same branch
	// (force-with-lease) and the same PR. See revise.go.
	StatePublished: {StateDraft},
	// Failed and Cancelled are final.
}

// CanTransition reports whether from -> to is allowed.
func CanTransition(from, to ProposalState) bool {
	return slices.Contains(transitions[from], to)
}

// transition moves p to state `to` inside tx, with exactly one audit
// entry. The caller stores p afterwards (put in the same tx).
func (c *Core) transition(tx *bolt.Tx, p *Proposal, to ProposalState, actor, reason string) error {
	if !CanTransition(p.State, to) {
		return fmt.Errorf("%w: proposal %s is %s and cannot become %s", ErrIllegalState, ShortID(p.ID), p.State, to)
	}
	from := p.State
	p.State = to
	p.Reason = reason
	if to != StateDraft {
		p.Waiting, p.Awaiting = WaitingNone, nil
	}
	p.Updated = c.now()
	data := map[string]string{"from": string(from), "to": string(to), "revision": fmt.Sprint(len(p.Revisions))}
	if reason != "" {
		data["reason"] = reason
	}
	if _, err := c.opt.Audit.Append(tx, "proposal."+string(to), actor, p.ID, data); err != nil {
		return fmt.Errorf("audit transition: %w", err)
	}
	return putProposal(tx, p)
}
