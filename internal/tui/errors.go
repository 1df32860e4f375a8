package tui

import "errors"

// Sentinel errors. Their text ends up in the status line, so it says what
// happened and what to do.
var (
	// ErrInputTooLarge: a paste or a keystroke would push the message input
	// over its limit; the input is left as it was.
	ErrInputTooLarge = errors.New("input too large")
	// ErrNoRepos: the server has no repository to talk about.
	ErrNoRepos = errors.New("no repositories are configured: ask the operator to add one to the PatchGit config")
)
