package config

import "errors"

// Sentinel errors.
var (
	// ErrInvalid wraps every problem with a configuration value.
	ErrInvalid = errors.New("invalid configuration")
	// ErrMissingFile means an explicitly named config file does not exist.
	ErrMissingFile = errors.New("config file not found")
)

// FieldError is one bad value, named by its key path ("repos[1].forge") or
// its environment variable.
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (e *FieldError) Unwrap() error { return ErrInvalid }
