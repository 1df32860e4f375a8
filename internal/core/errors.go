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
	// ErrAbandonJob, returned by Options.Fault, leaves the job Running as
	// if the process had died there (crash tests only).
	ErrAbandonJob = errors.New("job abandoned")
)
