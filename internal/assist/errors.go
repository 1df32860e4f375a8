package assist

import "errors"

// Sentinel errors. Messages built on them say which block or line is wrong
// and what to change.
var (
	// ErrMalformedBlock means a search/replace block is incomplete.
	ErrMalformedBlock = errors.New("malformed search/replace block")
	// ErrMalformedDiff means a pasted unified diff cannot be read.
	ErrMalformedDiff = errors.New("malformed diff")
	// ErrMixedChange means one message holds both a diff and search/replace blocks.
	ErrMixedChange = errors.New("message holds both a diff and search/replace blocks")
)
