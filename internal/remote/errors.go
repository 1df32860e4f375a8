package remote

import "errors"

// Sentinel errors. Messages say what happened; the wrapping adds what to do.
var (
	// ErrBadTarget: --connect or -J is not [user@]host[:port].
	ErrBadTarget = errors.New("bad ssh target")
	// ErrHostKeyChanged: the daemon presented a key other than the one
	// known_hosts (or this session's first connection) holds for it.
	ErrHostKeyChanged = errors.New("REMOTE HOST IDENTIFICATION HAS CHANGED")
	// ErrHostKeyRevoked: known_hosts marks the daemon's key @revoked.
	ErrHostKeyRevoked = errors.New("the host key is revoked in known_hosts")
	// ErrHostKeyNotAccepted: the person answered no to an unknown host key.
	ErrHostKeyNotAccepted = errors.New("host key not accepted")
	// ErrPINRefused: the daemon did not accept the PIN.
	ErrPINRefused = errors.New("the daemon refused the PIN")
	// ErrNoRPC: the ssh server answered but does not serve `rpc`.
	ErrNoRPC = errors.New("the ssh server does not serve the patchgit control protocol")
	// ErrConnectionLost: the connection dropped while a call was in flight.
	ErrConnectionLost = errors.New("connection to the patchgit daemon lost")
)
