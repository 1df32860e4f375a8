package chain

import "errors"

// Sentinel errors.
var (
	// ErrBadPattern means a deny-list pattern is not a valid glob.
	ErrBadPattern = errors.New("bad deny-list pattern")
	// ErrNoMatch means a search block does not occur in its file.
	ErrNoMatch = errors.New("search block not found")
	// ErrAmbiguous means a search block occurs more than once.
	ErrAmbiguous = errors.New("search block matches more than once")
	// ErrDenied means an edit touches a file the deny-list keeps from models.
	ErrDenied = errors.New("file is on the deny-list")
	// ErrEditsFailed means the model's edits failed twice: once, then again
	// after the exact error was sent back.
	ErrEditsFailed = errors.New("model's edits could not be applied")
	// ErrNoEdits means the model answered without any search/replace block.
	ErrNoEdits = errors.New("answer holds no search/replace blocks")
	// ErrBadPlan means the plan answer lacks its sections.
	ErrBadPlan = errors.New("plan answer is not in the asked format")
)
