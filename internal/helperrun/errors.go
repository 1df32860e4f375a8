package helperrun

import "errors"

// Sentinel errors. None of them carries a credential: the helper never
// receives one.
var (
	// ErrBadRequest means a verify request is malformed or incomplete.
	ErrBadRequest = errors.New("invalid helper verify request")
	// ErrIncompatible means the helper cannot run this patchgit binary
	// (another OS or CPU) or lacks a tool it needs (git).
	ErrIncompatible = errors.New("the helper cannot run this patchgit")
	// ErrBadResult means the helper's answer was not a sandbox result.
	ErrBadResult = errors.New("the helper's answer could not be read")
)
