package core

import bolt "go.etcd.io/bbolt"

// RequeueApprovedDraft queues a proposal's draft job again with
// SpendApproved, as the approve method does after the person approves a
// paused draft's spend: tests of the draft's side of that contract.
func (c *Core) RequeueApprovedDraft(proposalID string) error {
	err := c.update(func(tx *bolt.Tx, emit func(Event)) error {
		p, err := getProposal(tx, proposalID)
		if err != nil {
			return err
		}
		p.Waiting, p.Awaiting = WaitingNone, nil
		j := &Job{Kind: JobDraft, ProposalID: p.ID, Revision: len(p.Revisions), Repo: p.Repo, SpendApproved: true}
		if err := c.enqueue(tx, j, "test"); err != nil {
			return err
		}
		p.JobID = j.ID
		return putProposal(tx, p)
	})
	c.poke()
	return err
}
