// Package core owns PatchGit's domain: conversations, proposals and their
// state machine, jobs and the durable queue, the audit trail of every
// transition, and the Service interface that every front end (SSH TUI,
// control socket, web mirror, remote TUI) talks to.
package core

import (
	"time"

	"github.com/patchgit/patchgit/internal/assess"
	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/forge"
)

// ProposalState is persisted as a string: never reorder or renumber.
type ProposalState string

const (
	StateDraft     ProposalState = "draft"
	StateProposed  ProposalState = "proposed"
	StateApproved  ProposalState = "approved" // GO pressed
	StateQueued    ProposalState = "queued"
	StateRunning   ProposalState = "running"
	StatePublished ProposalState = "published"
	StateFailed    ProposalState = "failed"
	StateCancelled ProposalState = "cancelled"
)

// Waiting is the sub-state of a Draft that is paused for the person.
type Waiting string

const (
	WaitingNone     Waiting = ""
	WaitingApproval Waiting = "awaiting-approval" // extra spend to approve or decline
)

// Role of a chat message's author.
type Role string

const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleSystem    Role = "system"
)

// Repo is what front ends need to know about a configured repository.
type Repo struct {
	Name       string   `json:"name"`
	BaseBranch string   `json:"base_branch"`
	Forge      string   `json:"forge"`  // "local", later "github", "gitea"
	Checks     []string `json:"checks"` // shell commands run in the sandbox
	// Operations are the repository-wide commands `/run NAME` runs
	// (config repos[].operations), by name.
	Operations map[string]string `json:"operations,omitempty"`
}

// Conversation is a chat about one repository; it survives restarts.
type Conversation struct {
	ID      string    `json:"id"`
	Repo    string    `json:"repo"`
	Title   string    `json:"title"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Message is one chat entry. ProposalID links the message that drafted or
// reported on a proposal.
type Message struct {
	ID             string    `json:"id"`
	ConversationID string    `json:"conversation_id"`
	Seq            int       `json:"seq"`
	Role           Role      `json:"role"`
	Text           string    `json:"text"`
	ProposalID     string    `json:"proposal_id,omitempty"`
	Time           time.Time `json:"time"`
}

// Proposal is a Proposed Execution. Its content lives in revisions; GO
// always names the revision the person saw.
type Proposal struct {
	ID             string        `json:"id"`
	ConversationID string        `json:"conversation_id"`
	Repo           string        `json:"repo"`
	Title          string        `json:"title"`
	State          ProposalState `json:"state"`
	Waiting        Waiting       `json:"waiting,omitempty"`
	// Awaiting is what the person is asked to approve while Waiting is
	// WaitingApproval (nil otherwise): why, what runs, what it costs.
	Awaiting *Escalation `json:"awaiting,omitempty"`
	// Declined is the revision whose spend the person declined (0: none),
	// so a second press of decline changes nothing.
	Declined int `json:"declined,omitempty"`
	// Reason is the user-facing explanation of the last state change into
	// Draft, Failed or Cancelled.
	Reason    string     `json:"reason,omitempty"`
	Revisions []Revision `json:"revisions"`
	// Approved is the revision GO was pressed on (0 until GO).
	Approved int       `json:"approved,omitempty"`
	Branch   string    `json:"branch,omitempty"`
	PR       *PRRef    `json:"pr,omitempty"`
	JobID    string    `json:"job_id,omitempty"` // the latest job for this proposal
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	// Pushed is the commit Branch last got from PatchGit: the lease for the
	// force push of a later revision.
	Pushed string `json:"pushed,omitempty"`
}

// Current is the latest revision, or nil when there is none yet.
func (p *Proposal) Current() *Revision {
	if len(p.Revisions) == 0 {
		return nil
	}
	return &p.Revisions[len(p.Revisions)-1]
}

// Revision returns revision n (1-based), or nil.
func (p *Proposal) Revision(n int) *Revision {
	if n < 1 || n > len(p.Revisions) {
		return nil
	}
	return &p.Revisions[n-1]
}

// Revision is one version of a proposal's content. Fields that a later
// stage computes are pointers: nil means "not computed yet" and front ends
// must say so rather than invent a number.
type Revision struct {
	N          int           `json:"n"`
	Source     string        `json:"source"` // "pasted-diff", "search-replace", SourceModel
	Request    string        `json:"request"`
	Plan       []string      `json:"plan"`
	Targets    []string      `json:"targets"`
	Diff       string        `json:"diff"` // canonical unified diff computed in the sandbox
	BaseCommit string        `json:"base_commit"`
	Checks     []CheckResult `json:"checks,omitempty"`
	Verified   bool          `json:"verified"` // applied and all checks passed
	Risk       *Score        `json:"risk,omitempty"`
	Confidence *Score        `json:"confidence,omitempty"`
	CostMicros *int64        `json:"cost_micros,omitempty"` // projected cost of GO, micro-dollars
	// Spent is what drafting this revision cost, one line per stage and
	// category (model tokens, helper time), settled from the ledger.
	Spent []CostLine `json:"spent,omitempty"`
	// Execution is what GO will run and what it costs: nil until the
	// revision is verified (and when no budget is configured).
	Execution *Execution `json:"execution,omitempty"`
	Created   time.Time  `json:"created"`
	// TouchesChecks lists the changed files the checks depend on, as the
	// sandbox found them; the risk score reads it.
	TouchesChecks []string `json:"touches_checks,omitempty"`
	// ModelConfidence is a model's own 0..100 assessment of its change,
	// read by the confidence score; nil for a person's change.
	ModelConfidence *int `json:"model_confidence,omitempty"`
	// Questions are what the model asked instead of planning (Source
	// SourceModel); the person's next message answers them.
	Questions []string `json:"questions,omitempty"`
	// ModelPlan is the model's plan, kept when a later call paused for
	// approval, so the run after the approval patches the plan the person
	// saw instead of paying for a new one.
	ModelPlan *ModelPlan `json:"model_plan,omitempty"`
	// Tier is the tier Plan and Patch ran on when this revision redrafts
	// an earlier one on a stronger tier (an approved escalation); "" means
	// each stage's configured tier. Stored so a resumed or re-approved
	// draft job runs on the same tier.
	Tier budget.Tier `json:"tier,omitempty"`
	// EscalatedFrom is the revision whose low confidence this one
	// redrafts (0: none).
	EscalatedFrom int `json:"escalated_from,omitempty"`
	// Operation is the repository-wide operation that made this revision
	// (Source SourceOperation) and how its run went: operation.go.
	Operation *OperationRun `json:"operation,omitempty"`
	// Remaining is what the model draft's stages still to run are
	// projected to cost (plan, patch, verify), set while its draft job
	// runs and cleared when the draft ends (remaining.go).
	Remaining []CostLine `json:"remaining,omitempty"`
}

// AssessInput is what the risk and confidence scores read, all of it
// stored on the revision: assess.Risk(rev.AssessInput()) recomputes
// rev.Risk.
func (r *Revision) AssessInput() assess.Input {
	in := assess.Input{Diff: r.Diff, Source: r.Source, Targets: r.Targets, Verified: r.Verified,
		TouchesChecks: r.TouchesChecks, ModelConfidence: r.ModelConfidence}
	if r.ModelPlan != nil {
		in.Targets = r.ModelPlan.Targets // what the model planned, not what the diff touched
	}
	for _, c := range r.Checks {
		name := c.Name
		if name == "" {
			name = c.Command
		}
		in.Checks = append(in.Checks, assess.Check{Name: name, Passed: c.Passed, TimedOut: c.TimedOut, ExitCode: c.ExitCode, Mode: c.Mode})
	}
	return in
}

// ModelPlan is what the Plan stage answered.
type ModelPlan struct {
	Plan    string   `json:"plan"`
	Targets []string `json:"targets"`
}

// Execution is the priced plan GO runs, part of the Proposed Execution.
// When the preferred plan needs approval, Escalation says why and Cheaper
// is the plan GO runs without it (nil: GO without approval returns the
// proposal to Draft). Both publish the same diff.
type Execution struct {
	Preferred     ExecutionPlan  `json:"preferred"`
	Cheaper       *ExecutionPlan `json:"cheaper,omitempty"`
	Escalation    *Escalation    `json:"escalation,omitempty"`
	HourRemaining int64          `json:"hour_remaining"` // micro-dollars, when priced
	DayRemaining  int64          `json:"day_remaining"`
}

// ExecutionPlan is one way to run GO.
type ExecutionPlan struct {
	Name       string     `json:"name"` // PlanFull or PlanLean
	Summary    string     `json:"summary"`
	CostMicros int64      `json:"cost_micros"`
	Breakdown  []CostLine `json:"breakdown"`
}

// CostLine is one stage of a plan's projected cost.
type CostLine struct {
	Stage      string `json:"stage"`
	What       string `json:"what"`
	Category   string `json:"category,omitempty"` // CostModel, CostHelper, CostExternal
	CostMicros int64  `json:"cost_micros"`
}

// Cost categories of a CostLine.
const (
	CostModel    = "model tokens" // base or helper tier model calls
	CostExternal = "external API" // the external tier (always approved)
	CostHelper   = "helper time"  // sandbox and helper machine time
)

// Escalation is what the confirm screen's "Approve extra spend" panel
// shows.
type Escalation struct {
	What          string   `json:"what,omitempty"` // what runs when approved
	Why           []string `json:"why"`            // the rules that ask for approval
	CostMicros    int64    `json:"cost_micros"`    // the preferred plan's projection
	ApproveMicros int64    `json:"approve_micros"` // what the toggle approves: projection + margin
	// ConfidenceGain is supplied by the model chain; nil: not computed.
	ConfidenceGain *int `json:"confidence_gain,omitempty"`
	// GainReasons say how ConfidenceGain adds up ("+70 if its checks
	// pass"), one line per factor.
	GainReasons []string `json:"gain_reasons,omitempty"`
	// Redraft is the tier an approval redrafts the request on, as a new
	// revision (a low-confidence escalation); "" means approving runs the
	// paused step of the same revision.
	Redraft budget.Tier `json:"redraft,omitempty"`
}

// Execution plan names.
const (
	PlanFull = "full" // re-verify with every check on the helper, then publish
	PlanLean = "lean" // no helper: publish the diff verified in the draft
)

// Score is a computed 0..100 value with the reason lines that sum to it
// (internal/assess computes risk and confidence).
type Score = assess.Score

// CheckResult is the outcome of one configured check in the sandbox.
type CheckResult struct {
	Name     string        `json:"name,omitempty"` // "format", "test", "check 1"
	Command  string        `json:"command"`
	ExitCode int           `json:"exit_code"`
	Passed   bool          `json:"passed"`
	TimedOut bool          `json:"timed_out,omitempty"`
	Output   string        `json:"output"` // capped
	Duration time.Duration `json:"duration"`
	Mode     string        `json:"mode"` // isolation mode the check ran under
}

// PRRef points at a published pull request.
type PRRef struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
}

// JobKind says what a job does.
type JobKind string

const (
	JobDraft   JobKind = "draft"   // apply + verify a new revision in the sandbox
	JobExecute JobKind = "execute" // after GO: commit, push, open PR
)

// JobState is persisted as a string.
type JobState string

const (
	JobQueued    JobState = "queued"
	JobRunning   JobState = "running"
	JobDone      JobState = "done"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// Job is an entry in the durable queue.
type Job struct {
	ID         string   `json:"id"`
	Seq        uint64   `json:"seq"` // queue order
	Kind       JobKind  `json:"kind"`
	ProposalID string   `json:"proposal_id"`
	Revision   int      `json:"revision"`
	Repo       string   `json:"repo"`
	State      JobState `json:"state"`
	Progress   string   `json:"progress,omitempty"` // short human text of the current step
	Failure    string   `json:"failure,omitempty"`  // user-facing
	Error      string   `json:"error,omitempty"`    // internal detail, never shown raw
	Journal    []Step   `json:"journal,omitempty"`
	Attempts   int      `json:"attempts"`
	// Plan is the execution plan GO chose (PlanFull, PlanLean; "" before
	// the budget existed) and SpendApproved whether it spends under the
	// person's approval.
	Plan          string    `json:"plan,omitempty"`
	SpendApproved bool      `json:"spend_approved,omitempty"`
	Created       time.Time `json:"created"`
	Started       time.Time `json:"started,omitzero"`
	Finished      time.Time `json:"finished,omitzero"`
}

// Step is a journal record of an external step (push, PR), written before
// ("started") and after ("done") the step, so a resumed job never repeats
// a completed one.
type Step struct {
	Name  string            `json:"name"`
	Phase string            `json:"phase"` // "started" | "done"
	Data  map[string]string `json:"data,omitempty"`
	Time  time.Time         `json:"time"`
}

// PR is a pull request as the forge reports it; AuditEntry and AuditReport
// are the audit log's own types. Aliases, so the layers share one
// definition instead of copying fields across.
type (
	PR          = forge.PR
	AuditEntry  = audit.Entry
	AuditReport = audit.Report
	AuditFilter = audit.Filter
	LocalChange = forge.Change
)

// AuditQuery asks for a page of the audit log: up to Limit entries (0:
// DefaultAuditPage, at most MaxAuditPage) older than Before (0: the
// newest), passing the filter.
type AuditQuery struct {
	Before uint64 `json:"before,omitempty"`
	Limit  int    `json:"limit,omitempty"`
	AuditFilter
}

// AuditPage is a page of the audit log and the chain's verification.
type AuditPage struct {
	audit.Page
	Report AuditReport `json:"verification"`
}

// Audit page sizes.
const (
	DefaultAuditPage = 50
	MaxAuditPage     = 500
)

// WebLink is a one-time sign-in link for the web mirror.
type WebLink struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}
