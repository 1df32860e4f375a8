package core

import "fmt"

// A later revision of a published proposal.
//
// One proposal has one branch and one pull request. While a Published
// proposal is the latest of its conversation, the conversation keeps
// working on it: a new message with a change makes the next revision of
// it (Published -> Draft), which is drafted and verified like any other.
// GO on it commits the new revision on the base, force-pushes the same
// branch with a lease on the commit PatchGit pushed last (Proposal.Pushed),
// and updates the PR's body. The Proposed Execution says so before GO, so nothing changes on
// the forge without the person's GO. If the PR was merged or closed
// meanwhile, the forge has no open PR for the branch and GO opens a new
// one from it.

// revisablePublished reports whether a new message in the conversation
// revises p, the conversation's latest proposal, although it is Published.
func revisablePublished(p *Proposal) bool {
	return p.State == StatePublished && p.PR != nil && p.Pushed != ""
}

func reviseReason(p *Proposal) string {
	if p.State == StatePublished && p.PR != nil {
		return fmt.Sprintf("revised: a new message made revision %d; GO will update branch %s and pull request #%d",
			len(p.Revisions)+1, p.Branch, p.PR.Number)
	}
	return "revised: a new message made a new revision"
}

// updatePlan is the plan line that tells the person GO updates a
// published branch and PR instead of opening new ones.
func updatePlan(p *Proposal) []string {
	if p.PR == nil || p.Pushed == "" {
		return nil
	}
	return []string{fmt.Sprintf("This revises a published proposal: GO replaces branch %s (now at %s, force-pushed with a lease on that commit) and updates pull request #%d; no second pull request is opened.",
		p.Branch, shortSHA(p.Pushed), p.PR.Number)}
}
