package websession

import "errors"

// Sentinel errors. The web mirror shows a short message for each.
var (
	ErrNoSession   = errors.New("no such session: sign in again")
	ErrExpired     = errors.New("session expired: sign in again")
	ErrLinkInvalid = errors.New("this sign-in link is unknown, used or expired: press the web key in the terminal app for a new one")
	ErrNotServing  = errors.New("the web mirror is not listening: start it with patchgit serve (http.addr)")
)
