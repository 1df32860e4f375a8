package remote

import (
	"context"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/rpc"
)

// One short method per core.Service method: reads go through read (made
// again after a reconnect), changes through write (made once).

func (s *Service) Repos(ctx context.Context) ([]core.Repo, error) {
	return read(ctx, s, func(c *rpc.Client) ([]core.Repo, error) { return c.Repos(ctx) })
}

func (s *Service) Conversations(ctx context.Context, repo string) ([]core.Conversation, error) {
	return read(ctx, s, func(c *rpc.Client) ([]core.Conversation, error) { return c.Conversations(ctx, repo) })
}

func (s *Service) StartConversation(ctx context.Context, actor, repo, title string) (core.Conversation, error) {
	return write(ctx, s, "start a conversation", func(c *rpc.Client) (core.Conversation, error) {
		return c.StartConversation(ctx, actor, repo, title)
	})
}

func (s *Service) Messages(ctx context.Context, conversationID string) ([]core.Message, error) {
	return read(ctx, s, func(c *rpc.Client) ([]core.Message, error) { return c.Messages(ctx, conversationID) })
}

func (s *Service) Send(ctx context.Context, actor, conversationID, text string) (core.Message, error) {
	return write(ctx, s, "send", func(c *rpc.Client) (core.Message, error) { return c.Send(ctx, actor, conversationID, text) })
}

func (s *Service) Propose(ctx context.Context, actor, repo, patch string) (core.Proposal, error) {
	return write(ctx, s, "propose", func(c *rpc.Client) (core.Proposal, error) { return c.Propose(ctx, actor, repo, patch) })
}

func (s *Service) Proposals(ctx context.Context, repo string, state core.ProposalState) ([]core.Proposal, error) {
	return read(ctx, s, func(c *rpc.Client) ([]core.Proposal, error) { return c.Proposals(ctx, repo, state) })
}

func (s *Service) Proposal(ctx context.Context, id string) (core.Proposal, error) {
	return read(ctx, s, func(c *rpc.Client) (core.Proposal, error) { return c.Proposal(ctx, id) })
}

func (s *Service) Go(ctx context.Context, actor, proposalID string, rev int) (core.Job, error) {
	return write(ctx, s, "GO", func(c *rpc.Client) (core.Job, error) { return c.Go(ctx, actor, proposalID, rev) })
}

func (s *Service) Cancel(ctx context.Context, actor, proposalID string) error {
	_, err := write(ctx, s, "cancel", func(c *rpc.Client) (struct{}, error) { return struct{}{}, c.Cancel(ctx, actor, proposalID) })
	return err
}

func (s *Service) Jobs(ctx context.Context) ([]core.Job, error) {
	return read(ctx, s, func(c *rpc.Client) ([]core.Job, error) { return c.Jobs(ctx) })
}

func (s *Service) Job(ctx context.Context, id string) (core.Job, error) {
	return read(ctx, s, func(c *rpc.Client) (core.Job, error) { return c.Job(ctx, id) })
}

func (s *Service) PRs(ctx context.Context, repo string) ([]core.PR, error) {
	return read(ctx, s, func(c *rpc.Client) ([]core.PR, error) { return c.PRs(ctx, repo) })
}

func (s *Service) ClosePR(ctx context.Context, actor, repo string, number int) (core.PR, error) {
	return write(ctx, s, "close the PR", func(c *rpc.Client) (core.PR, error) { return c.ClosePR(ctx, actor, repo, number) })
}

func (s *Service) MergePR(ctx context.Context, actor, repo string, number int) (core.PR, error) {
	return write(ctx, s, "merge the PR", func(c *rpc.Client) (core.PR, error) { return c.MergePR(ctx, actor, repo, number) })
}

func (s *Service) Audit(ctx context.Context, from uint64, limit int) ([]core.AuditEntry, error) {
	return read(ctx, s, func(c *rpc.Client) ([]core.AuditEntry, error) { return c.Audit(ctx, from, limit) })
}

func (s *Service) VerifyAudit(ctx context.Context) (core.AuditReport, error) {
	return read(ctx, s, func(c *rpc.Client) (core.AuditReport, error) { return c.VerifyAudit(ctx) })
}

// WebLink mints a single-use link: a change, so it is never retried blindly.
func (s *Service) WebLink(ctx context.Context, actor string) (core.WebLink, error) {
	return write(ctx, s, "web link", func(c *rpc.Client) (core.WebLink, error) { return c.WebLink(ctx, actor) })
}

// GoWith is GO with the "Approve extra spend" toggle: a change, never retried blindly.
func (s *Service) GoWith(ctx context.Context, actor, proposalID string, rev int, approveExtra bool) (core.Job, error) {
	return write(ctx, s, "GO", func(c *rpc.Client) (core.Job, error) {
		return c.GoWith(ctx, actor, proposalID, rev, approveExtra)
	})
}

func (s *Service) Budget(ctx context.Context) (core.BudgetStatus, error) {
	return read(ctx, s, func(c *rpc.Client) (core.BudgetStatus, error) { return c.Budget(ctx) })
}

// DecideSpend approves or declines a draft's spend: a change, never retried blindly.
func (s *Service) DecideSpend(ctx context.Context, actor, proposalID string, rev int, approve bool) (core.Proposal, error) {
	return write(ctx, s, "decide on the spend", func(c *rpc.Client) (core.Proposal, error) {
		return c.DecideSpend(ctx, actor, proposalID, rev, approve)
	})
}

func (s *Service) AuditPage(ctx context.Context, q core.AuditQuery) (core.AuditPage, error) {
	return read(ctx, s, func(c *rpc.Client) (core.AuditPage, error) { return c.AuditPage(ctx, q) })
}

func (s *Service) AuditTrail(ctx context.Context, proposalID string) ([]core.AuditEntry, error) {
	return read(ctx, s, func(c *rpc.Client) ([]core.AuditEntry, error) { return c.AuditTrail(ctx, proposalID) })
}

func (s *Service) LocalPR(ctx context.Context, repo string, number int) (core.LocalChange, error) {
	return read(ctx, s, func(c *rpc.Client) (core.LocalChange, error) { return c.LocalPR(ctx, repo, number) })
}
