package forge

import "errors"

// Sentinel errors.
var (
	ErrNoSuchPR      = errors.New("no such pull request")
	ErrNotOpen       = errors.New("pull request is not open")
	ErrMergeConflict = errors.New("pull request does not merge cleanly")
	ErrUnknownRepo   = errors.New("repository not served by this forge")
	// ErrNoToken: the configured token source is empty or unreadable.
	ErrNoToken = errors.New("no forge token")
	// ErrTokenRefused: the forge answered 401 (missing, expired or revoked token).
	ErrTokenRefused = errors.New("the forge refused the token")
	// ErrTokenScope: the forge answered 403, or 404 for a repository the
	// token cannot see: the token lacks a scope or permission.
	ErrTokenScope = errors.New("the token lacks a permission")
	// ErrForgeAPI is any other refusal of the forge's API.
	ErrForgeAPI = errors.New("forge API error")
)
