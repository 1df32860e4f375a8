package rpc

import (
	"context"

	"github.com/patchgit/patchgit/internal/core"
)

// One short method per core.Service and core.Admin method; the server side
// needs none (see dispatch.go). Params go in the interface's order.

// callFor calls method and returns its decoded result (the zero value on
// error, never a half-decoded one).
func callFor[T any](ctx context.Context, c *Client, method string, params ...any) (T, error) {
	var out T
	if err := c.call(ctx, method, &out, params...); err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

func (c *Client) Repos(ctx context.Context) ([]core.Repo, error) {
	return callFor[[]core.Repo](ctx, c, "Repos")
}

func (c *Client) Conversations(ctx context.Context, repo string) ([]core.Conversation, error) {
	return callFor[[]core.Conversation](ctx, c, "Conversations", repo)
}

func (c *Client) StartConversation(ctx context.Context, actor, repo, title string) (core.Conversation, error) {
	return callFor[core.Conversation](ctx, c, "StartConversation", actor, repo, title)
}

func (c *Client) Messages(ctx context.Context, conversationID string) ([]core.Message, error) {
	return callFor[[]core.Message](ctx, c, "Messages", conversationID)
}

func (c *Client) Send(ctx context.Context, actor, conversationID, text string) (core.Message, error) {
	return callFor[core.Message](ctx, c, "Send", actor, conversationID, text)
}

func (c *Client) Propose(ctx context.Context, actor, repo, patch string) (core.Proposal, error) {
	return callFor[core.Proposal](ctx, c, "Propose", actor, repo, patch)
}

func (c *Client) Proposals(ctx context.Context, repo string, state core.ProposalState) ([]core.Proposal, error) {
	return callFor[[]core.Proposal](ctx, c, "Proposals", repo, state)
}

func (c *Client) Proposal(ctx context.Context, id string) (core.Proposal, error) {
	return callFor[core.Proposal](ctx, c, "Proposal", id)
}

func (c *Client) Go(ctx context.Context, actor, proposalID string, rev int) (core.Job, error) {
	return callFor[core.Job](ctx, c, "Go", actor, proposalID, rev)
}

func (c *Client) Cancel(ctx context.Context, actor, proposalID string) error {
	return c.call(ctx, "Cancel", nil, actor, proposalID)
}

func (c *Client) Jobs(ctx context.Context) ([]core.Job, error) {
	return callFor[[]core.Job](ctx, c, "Jobs")
}

func (c *Client) Job(ctx context.Context, id string) (core.Job, error) {
	return callFor[core.Job](ctx, c, "Job", id)
}

func (c *Client) PRs(ctx context.Context, repo string) ([]core.PR, error) {
	return callFor[[]core.PR](ctx, c, "PRs", repo)
}

func (c *Client) ClosePR(ctx context.Context, actor, repo string, number int) (core.PR, error) {
	return callFor[core.PR](ctx, c, "ClosePR", actor, repo, number)
}

func (c *Client) MergePR(ctx context.Context, actor, repo string, number int) (core.PR, error) {
	return callFor[core.PR](ctx, c, "MergePR", actor, repo, number)
}

func (c *Client) Audit(ctx context.Context, from uint64, limit int) ([]core.AuditEntry, error) {
	return callFor[[]core.AuditEntry](ctx, c, "Audit", from, limit)
}

func (c *Client) VerifyAudit(ctx context.Context) (core.AuditReport, error) {
	return callFor[core.AuditReport](ctx, c, "VerifyAudit")
}

func (c *Client) AuditPage(ctx context.Context, q core.AuditQuery) (core.AuditPage, error) {
	return callFor[core.AuditPage](ctx, c, "AuditPage", q)
}

func (c *Client) AuditTrail(ctx context.Context, proposalID string) ([]core.AuditEntry, error) {
	return callFor[[]core.AuditEntry](ctx, c, "AuditTrail", proposalID)
}

func (c *Client) LocalPR(ctx context.Context, repo string, number int) (core.LocalChange, error) {
	return callFor[core.LocalChange](ctx, c, "LocalPR", repo, number)
}

// SetPIN is refused with ErrUnauthorized unless the daemon served this
// connection with Admin rights (the local control socket).
func (c *Client) SetPIN(ctx context.Context, actor, pin string) error {
	return c.call(ctx, "SetPIN", nil, actor, pin)
}

// UnlockPIN, like SetPIN, needs a connection with Admin rights.
func (c *Client) UnlockPIN(ctx context.Context, actor string) (core.PINUnlock, error) {
	return callFor[core.PINUnlock](ctx, c, "UnlockPIN", actor)
}

func (c *Client) WebLink(ctx context.Context, actor string) (core.WebLink, error) {
	return callFor[core.WebLink](ctx, c, "WebLink", actor)
}

func (c *Client) GoWith(ctx context.Context, actor, proposalID string, rev int, approveExtra bool) (core.Job, error) {
	return callFor[core.Job](ctx, c, "GoWith", actor, proposalID, rev, approveExtra)
}

func (c *Client) Budget(ctx context.Context) (core.BudgetStatus, error) {
	return callFor[core.BudgetStatus](ctx, c, "Budget")
}

func (c *Client) DecideSpend(ctx context.Context, actor, proposalID string, rev int, approve bool) (core.Proposal, error) {
	return callFor[core.Proposal](ctx, c, "DecideSpend", actor, proposalID, rev, approve)
}
