package gitops

import "errors"

// Sentinel errors. Messages say what happened; the wrapping call adds which
// repository or ref, and what to do.
var (
	ErrGitNotFound       = errors.New("git executable not found on PATH")
	ErrRefNotFound       = errors.New("ref not found")
	ErrNotMirror         = errors.New("directory exists but is not a git mirror")
	ErrCredentialsInURL  = errors.New("remote URL contains a password or token")
	ErrBadCredentials    = errors.New("credentials contain a newline or NUL byte")
	ErrPatchDoesNotApply = errors.New("patch does not apply")
	ErrEmptyPatch        = errors.New("patch changes nothing")
	ErrPushRejected      = errors.New("push rejected by the remote")
	ErrBadBranchName     = errors.New("invalid branch name")
	ErrBadCommitInfo     = errors.New("invalid commit information")
	ErrBadObjectID       = errors.New("invalid object id")
	ErrBadArgument       = errors.New("invalid argument")
)
