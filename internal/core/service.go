package core

import "context"

// Service is the one API every front end uses: the SSH TUI in-process, the
// control socket and the remote TUI over the RPC protocol, the web mirror.
// Methods take the acting person's name where they change state, so the
// audit log says who did it.
type Service interface {
	// Repos lists the configured repositories.
	Repos(ctx context.Context) ([]Repo, error)

	// Conversations lists a repository's conversations, newest first; an
	// empty repo lists all.
	Conversations(ctx context.Context, repo string) ([]Conversation, error)
	// StartConversation opens a new conversation about repo.
	StartConversation(ctx context.Context, actor, repo, title string) (Conversation, error)
	// Messages returns a conversation's transcript in order.
	Messages(ctx context.Context, conversationID string) ([]Message, error)
	// Send adds the person's message. When it carries a change (a pasted
	// diff or search/replace blocks), it creates a proposal (or a new
	// revision of the conversation's open one) and queues a drafting job;
	// otherwise the assistant answers. It returns the stored user message.
	Send(ctx context.Context, actor, conversationID, text string) (Message, error)
	// Propose creates a proposal straight from a patch, without the chat
	// (the `ssh ... propose --repo NAME < fix.diff` path), and queues its
	// drafting job.
	Propose(ctx context.Context, actor, repo, patch string) (Proposal, error)

	// Proposals lists proposals, newest first, filtered by repo and state
	// when those are non-empty.
	Proposals(ctx context.Context, repo string, state ProposalState) ([]Proposal, error)
	// Proposal returns one proposal with all its revisions.
	Proposal(ctx context.Context, id string) (Proposal, error)
	// Go approves revision rev of a Proposed proposal and queues the
	// execute job. A second GO on the same revision returns the same job.
	Go(ctx context.Context, actor, proposalID string, rev int) (Job, error)
	// Cancel cancels a proposal that is not yet Running.
	Cancel(ctx context.Context, actor, proposalID string) error

	// Jobs lists the queue and recent jobs, queue order first.
	Jobs(ctx context.Context) ([]Job, error)
	// Job returns one job.
	Job(ctx context.Context, id string) (Job, error)

	// PRs lists pull requests known for a repository (all when empty).
	PRs(ctx context.Context, repo string) ([]PR, error)
	// ClosePR and MergePR are the person's explicit acts on a local-forge PR.
	ClosePR(ctx context.Context, actor, repo string, number int) (PR, error)
	MergePR(ctx context.Context, actor, repo string, number int) (PR, error)

	// Audit returns entries with Seq >= from, at most limit (0: all).
	Audit(ctx context.Context, from uint64, limit int) ([]AuditEntry, error)
	// VerifyAudit checks the hash chain and the head file.
	VerifyAudit(ctx context.Context) (AuditReport, error)

	// Subscribe delivers events until ctx ends. The channel is closed when
	// the subscription ends; a slow subscriber loses events, not the
	// service (it should re-read state on EventResync).
	Subscribe(ctx context.Context) (<-chan Event, error)

	// WebLink mints a short-lived, single-use link that signs actor in to
	// the read-only web mirror (the TUI shows it on a key press).
	WebLink(ctx context.Context, actor string) (WebLink, error)
	// GoWith is Go with the confirm screen's "Approve extra spend" toggle:
	// on, the revision's preferred execution plan runs under an approval
	// of its projection plus the margin (recorded in the audit log); off,
	// the cheaper plan runs, or, without one, GO is refused and the
	// proposal returns to Draft with the reason.
	GoWith(ctx context.Context, actor, proposalID string, rev int, approveExtra bool) (Job, error)
	// Budget returns both budget windows and the recent spends.
	Budget(ctx context.Context) (BudgetStatus, error)
	// DecideSpend answers a Draft waiting for approval of spend on revision
	// rev (the one the person saw). Approve records the approval in the
	// ledger and queues the draft again to spend under it; decline leaves
	// the proposal in Draft with the reason and spends nothing. A second
	// press of the same answer returns the proposal unchanged.
	DecideSpend(ctx context.Context, actor, proposalID string, rev int, approve bool) (Proposal, error)
	// AuditPage reads one page of the audit log, newest first, without
	// reading the whole log, with the chain's verification (recomputed
	// only when the log's head or head file changed).
	AuditPage(ctx context.Context, q AuditQuery) (AuditPage, error)
	// AuditTrail returns a proposal's audit entries and its jobs', oldest
	// first, reading the log back only to the proposal's creation.
	AuditTrail(ctx context.Context, proposalID string) ([]AuditEntry, error)
	// LocalPR reads a local-forge pull request with its head and base
	// commits and its diff, from the bare repository.
	LocalPR(ctx context.Context, repo string, number int) (LocalChange, error)
}

// WebLinks mints one-time sign-in links; the web mirror's session store
// implements it. Nil in Options means the mirror is off.
type WebLinks interface {
	MintLink(ctx context.Context, actor string) (WebLink, error)
}

// Admin is the local-only API for the operator: never served over SSH.
type Admin interface {
	// SetPIN replaces the PIN (stored as an argon2id hash).
	SetPIN(ctx context.Context, actor, pin string) error
	// UnlockPIN reopens the PIN gate: it clears both doors' locks, counts
	// and delays and every source penalty, and says what it cleared.
	UnlockPIN(ctx context.Context, actor string) (PINUnlock, error)
}

// EventKind names what changed; subscribers re-read what they show.
type EventKind string

const (
	EventMessage      EventKind = "message"      // ConversationID, ID = message id
	EventConversation EventKind = "conversation" // ID = conversation id
	EventProposal     EventKind = "proposal"     // ID = proposal id
	EventJob          EventKind = "job"          // ID = job id, ProposalID
	EventPR           EventKind = "pr"           // Repo, ID = PR number
	EventAudit        EventKind = "audit"        // ID = seq
	EventResync       EventKind = "resync"       // events were dropped: re-read everything
	// EventNotice carries only Text, for the person (e.g. the remote
	// client's "connection lost: reconnecting"); nothing to re-read.
	EventNotice EventKind = "notice"
)

// Event is pushed to subscribers when state changes.
type Event struct {
	Kind           EventKind `json:"kind"`
	ID             string    `json:"id,omitempty"`
	ConversationID string    `json:"conversation_id,omitempty"`
	ProposalID     string    `json:"proposal_id,omitempty"`
	Repo           string    `json:"repo,omitempty"`
	Text           string    `json:"text,omitempty"` // short human summary, e.g. job progress
}
