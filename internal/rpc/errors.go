package rpc

import (
	"errors"
	"fmt"

	"github.com/patchgit/patchgit/internal/core"
)

// Sentinel errors of the protocol itself. Errors the service reports come
// back as *RemoteError, which unwraps to core's sentinels.
var (
	// ErrUnauthorized is what a connection without Admin rights gets for an
	// Admin method.
	ErrUnauthorized = errors.New("unauthorized: only the local control socket may do this")
	// ErrVersionMismatch: the two sides speak different protocol versions;
	// the message says which side to upgrade.
	ErrVersionMismatch = errors.New("control protocol version mismatch")
	// ErrBadRequest: a frame the other side cannot understand (unknown
	// method, wrong parameters, malformed JSON).
	ErrBadRequest = errors.New("bad request")
	// ErrFrameTooLarge: a frame over MaxFrameSize. It is also an
	// core.ErrInputTooLarge, so front ends treat it like any oversize input.
	ErrFrameTooLarge = fmt.Errorf("frame larger than %d MiB: %w", MaxFrameSize>>20, core.ErrInputTooLarge)
	// ErrClosed: the connection to the daemon is gone.
	ErrClosed = errors.New("connection to the patchgit daemon closed")
	// ErrNotRunning: nothing answers on the control socket.
	ErrNotRunning = errors.New("no patchgit daemon is running")
	// ErrAlreadyRunning: Listen found a live daemon on the socket path.
	ErrAlreadyRunning = errors.New("another patchgit daemon answers on the control socket: already running?")
	// ErrNotOurs: the process on the other end of the socket runs as
	// another user.
	ErrNotOurs = errors.New("control socket peer runs as another user")
)

// Wire error codes, and the sentinel each one stands for.
const (
	CodeNotFound      = "not_found"
	CodeIllegalState  = "illegal_state"
	CodeUnknownRepo   = "unknown_repo"
	CodeStaleRevision = "stale_revision"
	CodeTooLarge      = "too_large"
	CodeEmpty         = "empty"
	CodeShutdown      = "shutdown"
	CodeUnauthorized  = "unauthorized"
	CodeBadRequest    = "bad_request"
	CodeVersion       = "version"
	CodeInternal      = "internal"
)

// errorCodes is checked in order: the first sentinel that matches names the
// code, so the more specific sentinels come first.
var errorCodes = []struct {
	code string
	err  error
}{
	{CodeNotFound, core.ErrNotFound},
	{CodeIllegalState, core.ErrIllegalState},
	{CodeUnknownRepo, core.ErrUnknownRepo},
	{CodeStaleRevision, core.ErrStaleRevision},
	{CodeTooLarge, core.ErrInputTooLarge},
	{CodeEmpty, core.ErrEmptyInput},
	{CodeShutdown, core.ErrServiceShutdown},
	{CodeUnauthorized, ErrUnauthorized},
	{CodeBadRequest, ErrBadRequest},
	{CodeVersion, ErrVersionMismatch},
}

// codeOf names the wire code for err; unknown errors are "internal".
func codeOf(err error) string {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return CodeInternal
}

// sentinelOf is codeOf's inverse; nil for "internal" and unknown codes.
func sentinelOf(code string) error {
	for _, c := range errorCodes {
		if c.code == code {
			return c.err
		}
	}
	return nil
}

// RemoteError is an error the other side reported. Its message is the
// original err.Error(), so front ends show the same text in-process and
// over the wire; errors.Is matches the sentinel its code stands for.
type RemoteError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *RemoteError) Error() string { return e.Message }

// Unwrap returns the sentinel for e.Code (nil for "internal").
func (e *RemoteError) Unwrap() error { return sentinelOf(e.Code) }

// toWire turns a local error into its wire form.
func toWire(err error) *RemoteError {
	return &RemoteError{Code: codeOf(err), Message: err.Error()}
}
