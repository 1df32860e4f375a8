package helper

import (
	"errors"
	"fmt"

	"github.com/patchgit/patchgit/internal/budget"
)

// Sentinel errors. None of them carries a token or a private key.
var (
	// ErrApprovalNeeded means the request is outside the policy (a size
	// above the allow-list); the wrapping *ApprovalError says what would
	// need approving. (A second helper is not asked for: the job waits for
	// the slot unless its spend is approved.)
	ErrApprovalNeeded = errors.New("helper needs approval")
	// ErrNoSize means no size the provider offers meets the stated need.
	ErrNoSize = errors.New("no helper size meets the need")
	// ErrNotFound means the provider has no such machine (deleted or never
	// created).
	ErrNotFound = errors.New("helper machine not found")
	// ErrNotReady means the machine did not become active and reachable
	// over SSH within the bound.
	ErrNotReady = errors.New("helper did not become ready in time")
	// ErrNotConfirmed means a destroy was sent but the machine was still
	// listed when the bound ran out; reconcile tries again.
	ErrNotConfirmed = errors.New("helper deletion not confirmed")
	// ErrReleased means the helper was destroyed (released, TTL or
	// reconcile) and cannot be used any more.
	ErrReleased = errors.New("helper already destroyed")
	// ErrStopped means the budget refused the helper's next slice of time
	// (or could not meter it) and the helper was destroyed before the cap
	// was crossed; the wrapping *StoppedError says which cap and what to do.
	ErrStopped = errors.New("helper stopped by the budget")
	// ErrBadConfig means a provider or the manager was given unusable
	// settings.
	ErrBadConfig = errors.New("invalid helper configuration")
	// ErrTunnelClosed means a connection was asked of a tunnel that was
	// closed: its call ended or its helper was destroyed.
	ErrTunnelClosed = errors.New("tunnel to the helper closed")
)

// StoppedError is why the budget stopped a helper, in words for the
// person; it wraps ErrStopped and the budget's refusal (budget.ErrStopMetering
// with budget.ErrOverCap or budget.ErrOverApproval).
type StoppedError struct {
	Msg string
	Err error
}

func (e *StoppedError) Error() string   { return e.Msg }
func (e *StoppedError) Unwrap() []error { return []error{ErrStopped, e.Err} }

func newStoppedError(err error) *StoppedError {
	var ce *budget.CapError
	switch {
	case errors.As(err, &ce):
		return &StoppedError{Err: err, Msg: fmt.Sprintf("the helper was stopped: the %s cap %s would be crossed; nothing was pushed; raise budget.%s or wait",
			capWord(ce.Window), ce.Cap, ce.CapKey())}
	case errors.Is(err, budget.ErrOverApproval):
		return &StoppedError{Err: err, Msg: "the helper was stopped: the amount approved for this proposal would be crossed; nothing was pushed; approve more on the confirm screen or make the checks faster"}
	default:
		// Not a cap: the ledger could not meter it (storage), so it is not
		// kept running unmetered.
		return &StoppedError{Err: err, Msg: "the helper was stopped: its time could not be metered (" + err.Error() + "); nothing was pushed"}
	}
}

func capWord(window string) string {
	if window == "hour" {
		return "hourly"
	}
	return "daily"
}

// ApprovalError is the decision "this needs approval": what was asked,
// what the policy allows, and the money involved, so that core can show it
// as an Escalation and, once approved, acquire again with the job's spend
// approved (Options.JobSpend).
type ApprovalError struct {
	Reason      string        // a sentence for the person: what and why
	Size        string        // the size that would be used, if any
	PriceHourly budget.Micros // its price per hour, if known
	// Cost is the most the helper can cost: its price for the TTL, after
	// which it is destroyed whatever the job does. A job that ends sooner
	// costs less (per second, with the 60 s minimum).
	Cost budget.Micros
}

func (e *ApprovalError) Error() string { return "helper needs approval: " + e.Reason }

// Unwrap makes errors.Is(err, ErrApprovalNeeded) true.
func (e *ApprovalError) Unwrap() error { return ErrApprovalNeeded }
