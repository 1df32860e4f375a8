package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"
)

const (
	// pinQuestion is the one keyboard-interactive prompt; the answer is not
	// echoed.
	pinQuestion = "PIN: "
	// authExtension marks, in the connection's permissions, that the PIN
	// gate let it in; requirePIN checks it again on every session.
	authExtension = "patchgit-auth"
	authByPIN     = "pin"
	// loginGrace bounds how long one connection may spend authenticating,
	// waiting in the PIN queue included (OpenSSH's LoginGraceTime idea).
	loginGrace = 30 * time.Second
	// maxAuthTries caps wrong answers per connection; OpenSSH clients ask
	// up to 3 times, x/crypto/ssh would allow 6.
	maxAuthTries = 3
)

// keyboardInteractive asks for the PIN and lets the gate judge it. It never
// logs the answer.
func keyboardInteractive(gate *pinGate, log *slog.Logger) ssh.KeyboardInteractiveHandler {
	return func(ctx ssh.Context, challenge gossh.KeyboardInteractiveChallenge) bool {
		answers, err := challenge("", "", []string{pinQuestion}, []bool{false})
		if err != nil {
			return false // the client went away or refused to answer
		}
		pin := ""
		if len(answers) == 1 {
			pin = answers[0]
		}
		waitCtx, cancel := context.WithTimeout(ctx, loginGrace)
		defer cancel()
		ok, err := gate.Check(waitCtx, pin)
		if err != nil {
			log.Warn("pin not evaluated", "user", ctx.User(), "remote", ctx.RemoteAddr().String(), "err", err)
			return false
		}
		if !ok {
			log.Warn("wrong pin", "user", ctx.User(), "remote", ctx.RemoteAddr().String(),
				"consecutive_failures", gate.Failures(), "next_delay", gate.NextDelay())
			return false
		}
		perms := ctx.Permissions()
		if perms.Extensions == nil {
			perms.Extensions = map[string]string{}
		}
		perms.Extensions[authExtension] = authByPIN
		log.Info("pin accepted", "user", ctx.User(), "remote", ctx.RemoteAddr().String())
		return true
	}
}

// requirePIN refuses any session whose connection lacks the PIN gate's mark:
// defense in depth should an auth option ever be added or misconfigured.
func requirePIN(log *slog.Logger) wish.Middleware {
	return func(next ssh.Handler) ssh.Handler {
		return func(sess ssh.Session) {
			if !authenticatedByPIN(sess) {
				log.Error("session refused", "user", sess.User(), "remote", sess.RemoteAddr().String(),
					"err", ErrNotAuthenticated)
				fmt.Fprintln(sess.Stderr(), "patchgit: this connection did not pass the PIN check: reconnect and enter the PIN")
				_ = sess.Exit(1)
				return
			}
			next(sess)
		}
	}
}

func authenticatedByPIN(sess ssh.Session) bool {
	perms := sess.Permissions()
	return perms.Permissions != nil && perms.Extensions[authExtension] == authByPIN
}
