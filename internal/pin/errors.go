package pin

import "errors"

// Sentinel errors. None of them carries the PIN.
var (
	// ErrInvalidPIN means the PIN does not have the required shape.
	ErrInvalidPIN = errors.New("invalid PIN")
	// ErrMalformedHash means a stored PIN hash cannot be parsed.
	ErrMalformedHash = errors.New("malformed PIN hash")
)
