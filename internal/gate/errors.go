package gate

import "errors"

// Sentinel errors. None of them carries a PIN.
var (
	// ErrLocked means the PIN gate is locked after too many wrong PINs; the
	// wrapping error says until when and how to reopen it.
	ErrLocked = errors.New("the PIN gate is locked")
	// ErrBadPolicy means New was given an unusable Policy.
	ErrBadPolicy = errors.New("invalid PIN gate policy")
)
