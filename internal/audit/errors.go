package audit

import "errors"

// Sentinel errors.
var (
	// ErrCorrupt means a stored entry cannot be read back; the log has been
	// damaged or edited outside PatchGit.
	ErrCorrupt = errors.New("audit log is damaged")
	// ErrHeadFile means the head file is missing, unreadable or malformed.
	ErrHeadFile = errors.New("audit head file is unusable")
)
