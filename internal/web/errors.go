package web

import "errors"

// Sentinel errors.
var (
	ErrNoService  = errors.New("web: Options.Service is required")
	ErrNoSessions = errors.New("web: Options.Sessions is required")
	ErrNoPIN      = errors.New("web: Options.PIN (the gate) is required")
)
