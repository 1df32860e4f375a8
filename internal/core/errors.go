package core

import "errors"

// Sentinel errors. Front ends show err.Error(); it says what happened and
// what to do.
var (
	ErrNotFound        = errors.New("not found")
	ErrIllegalState    = errors.New("illegal state transition")
	ErrUnknownRepo     = errors.New("unknown repository")
	ErrStaleRevision   = errors.New("the proposal changed since you looked at it")
	ErrInputTooLarge   = errors.New("input too large")
	ErrEmptyInput      = errors.New("empty input")
	ErrServiceShutdown = errors.New("patchgit is shutting down")
	ErrNoWebMirror     = errors.New("the web mirror is not configured on this server")
	// ErrNeedsApproval: the plan needs the person's approval of extra
	// spend and there is no cheaper plan; the proposal went back to Draft.
	ErrNeedsApproval = errors.New("extra spend needs approval")
	// ErrBudgetChanged: the budget moved since the proposal was priced;
	// the new price is on the proposal, review it and GO again.
	ErrBudgetChanged = errors.New("the budget changed since you looked")
	// ErrAbandonJob, returned by Options.Fault, leaves the job Running as
	// if the process had died there (crash tests only).
	ErrAbandonJob = errors.New("job abandoned")
	// ErrTierGone: a revision is to be drafted on a tier (an approved
	// escalation) that the config no longer has.
	ErrTierGone = errors.New("model tier not configured")
	// ErrModelServerNotReady: the helper tier's model server on the helper
	// machine did not list the stage's model within on_helper.ready_timeout
	// (helpertier.go).
	ErrModelServerNotReady = errors.New("the model server on the helper did not become ready")
)

// errProjectionOnly answers a stage run only to see what it would send
// (escalate.go): it never leaves core.
var errProjectionOnly = errors.New("projection only: nothing was sent")
