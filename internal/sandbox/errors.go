package sandbox

import "errors"

// Sentinel errors. A refused patch is a *Rejection instead; both become a
// user-facing Result.Failure in Verify.
var (
	ErrEmptyPatch     = errors.New("the patch is empty")
	ErrMalformedPatch = errors.New("the patch is not a valid unified diff")
	ErrBadRequest     = errors.New("invalid sandbox request")
)
