package sandbox

import "errors"

// Sentinel errors. A refused patch is a *Rejection instead; both become a
// user-facing Result.Failure in Verify.
var (
	ErrEmptyPatch     = errors.New("the patch is empty")
	ErrMalformedPatch = errors.New("the patch is not a valid unified diff")
	ErrBadRequest     = errors.New("invalid sandbox request")
	ErrNoIsolation    = errors.New("no sandbox isolation is available")
	ErrBadIsolation   = errors.New("unknown sandbox isolation mode")
	ErrSetup          = errors.New("the sandbox is not set up to run checks")
	ErrRepoConfig     = errors.New("the repository's check config is invalid")
)
