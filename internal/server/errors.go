package server

import "errors"

// Sentinel errors. Messages say what happened; callers wrap them with the
// detail that tells the person what to do.
var (
	// ErrBadOptions means New was given an incomplete or invalid Options.
	ErrBadOptions = errors.New("invalid ssh server options")
	// ErrNotAuthenticated means a session reached the handlers without the
	// PIN gate's mark on its connection (a wiring bug, refused anyway).
	ErrNotAuthenticated = errors.New("session is not authenticated")
	// ErrUsage means a command line was malformed.
	ErrUsage = errors.New("bad command line")
	// ErrUnknownCommand means the exec request named no known command.
	ErrUnknownCommand = errors.New("unknown command")
	// ErrStillDrafting means the wait for a proposal ended before its
	// drafting did (time limit, server shutdown or lost event stream).
	ErrStillDrafting = errors.New("proposal is still drafting")
)
