package helper

import "errors"

// Sentinel errors. None of them carries a token or a private key.
var (
	// ErrApprovalNeeded means the request is outside the policy (a size
	// above the allow-list, or a second helper while one runs); the
	// wrapping *ApprovalError says what would need approving.
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
	// ErrBadConfig means a provider or the manager was given unusable
	// settings.
	ErrBadConfig = errors.New("invalid helper configuration")
)

// ApprovalError is the decision "this needs approval": what was asked,
// what the policy allows, and the price involved.
type ApprovalError struct {
	Reason      string  // a sentence for the person: what and why
	Size        string  // the size that would be used, if any
	PriceHourly float64 // its price, if known
}

func (e *ApprovalError) Error() string { return "helper needs approval: " + e.Reason }

// Unwrap makes errors.Is(err, ErrApprovalNeeded) true.
func (e *ApprovalError) Unwrap() error { return ErrApprovalNeeded }
