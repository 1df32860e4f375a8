// Package rpc carries core.Service (and core.Admin, where the server side
// grants it) over any byte stream: the daemon's local control socket, and
// the SSH exec channel "rpc" that `patchgit tui --connect` opens
// (internal/server serves it, without Admin; internal/remote is its client).
//
// # Framing
//
// Newline-delimited JSON: one object per line, at most MaxFrameSize (8 MiB)
// without the newline. A receiver that reads a longer line answers with a
// connection-level too_large error and hangs up; a sender never writes one:
// a request too large fails locally (ErrFrameTooLarge, which is also a
// core.ErrInputTooLarge) and an answer too large becomes a too_large error
// for that request, so the connection stays usable in both cases. A line
// that is not JSON gets a bad_request error; the connection goes on.
//
// # Handshake
//
//	server: {"proto":"patchgit-rpc","version":1,"server":"<version string>"}
//	client: {"hello":{"version":1,"client":"<version string>"}}
//	server: {"ready":true}
//
// On a version mismatch the server answers, instead of ready,
// {"error":{"code":"version","message":"..."}} naming the side to upgrade,
// and hangs up. The client decides nothing from the greeting's version, so a
// later server may accept older clients. ("ready" and "client" are additions
// to the first sketch: without "ready" a client could not tell a good
// handshake from a refused one until its first call.)
//
// # Requests
//
//	client: {"id":7,"method":"Proposals","params":["demo","proposed"]}
//	server: {"id":7,"result":[...]}
//	    or: {"id":7,"error":{"code":"not_found","message":"..."}}
//
// ids are chosen by the client, start at 1 and are unique among its
// requests in flight. params are the method's arguments in order, without
// the context. A method that returns only an error answers "result":null.
// Requests are served concurrently, each in its own goroutine, so answers
// may come in any order. {"cancel":7} cancels request 7's context; its
// answer (if any still comes) is ignored by the client.
// A connection has at most 64 requests in flight (past that the server
// stops reading until one finishes) and 16 open subscriptions.
//
// The methods are exactly those of core.Service and core.Admin, found by
// reflection: a new interface method is served with no server code. Admin
// methods on a connection served without an Admin answer unauthorized.
//
// # Error codes
//
// not_found, illegal_state, unknown_repo, stale_revision, too_large, empty,
// shutdown map to core's sentinels; unauthorized, bad_request and version
// to this package's; internal to none. The message is the original
// err.Error(). The client returns *RemoteError, whose Unwrap gives the
// sentinel, so errors.Is(err, core.ErrNotFound) works across the wire.
// An error frame with no id concerns the connection: after a version
// mismatch, an oversize frame or "shutdown" the server hangs up; after a
// malformed line or a request without an id it reads on (only a broken or
// hand-driven peer sends those; Client treats any of them as the end).
//
// # Subscriptions
//
// A method whose result is a receive channel (Subscribe) answers
// {"id":N,"result":null} and then streams {"id":N,"event":{...}} frames
// until the service closes the channel, the client sends {"cancel":N}, or
// the connection ends; the server then sends {"id":N,"end":true}.
//
// # Shutdown
//
// When the daemon stops, every connection gets
// {"error":{"code":"shutdown","message":"patchgit is shutting down"}} and
// is closed; calls in flight fail with core.ErrServiceShutdown.
//
// # The control socket
//
// Listen creates the socket with mode 0600 in a directory others cannot
// write to, and accepts only peers whose SO_PEERCRED uid is the daemon's.
// Dial checks the same from the other side, so neither talks to another
// user's process.
package rpc
