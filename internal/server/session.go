package server

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
)

// Exit statuses of commands.
const (
	exitOK    = 0
	exitError = 1
	exitDraft = 2 // propose: the proposal did not become Proposed
)

const noTerminalMessage = "patchgit needs a terminal: use ssh -t ..., or `ssh host propose --repo NAME < fix.diff`"

const helpText = `PatchGit over SSH

  ssh -t HOST                               open the PatchGit app (needs a terminal)
  ssh HOST propose --repo NAME [--no-wait]  propose the patch on stdin (unified diff or
                                            search/replace blocks); waits until it is
                                            drafted unless --no-wait.
                                            exit 0: proposed, 2: stayed draft, 1: error
  ssh HOST rpc                              the control protocol, for
                                            patchgit tui --connect HOST
  ssh HOST help                             this help
`

// logSessions logs each session's start and end: who, from where, which
// command, how long. Commands carry no secrets (the PIN is never one).
func logSessions(log *slog.Logger) wish.Middleware {
	return func(next ssh.Handler) ssh.Handler {
		return func(sess ssh.Session) {
			start := time.Now()
			_, _, pty := sess.Pty()
			log.Info("ssh session start", "user", sess.User(), "remote", sess.RemoteAddr().String(),
				"command", sess.RawCommand(), "pty", pty)
			next(sess)
			log.Info("ssh session end", "user", sess.User(), "remote", sess.RemoteAddr().String(),
				"command", sess.RawCommand(), "duration", time.Since(start).Round(time.Millisecond))
		}
	}
}

// commands runs exec requests and turns away shells without a terminal;
// only an interactive shell with a PTY goes on to the app.
func (s *Server) commands(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if sess.RawCommand() == "" {
			if _, _, ok := sess.Pty(); !ok {
				fmt.Fprintln(sess.Stderr(), noTerminalMessage)
				_ = sess.Exit(exitError)
				return
			}
			next(sess)
			return
		}
		code := s.runCommand(sess)
		s.log.Info("ssh command done", "user", sess.User(), "command", sess.RawCommand(), "exit", code)
		_ = sess.Exit(code)
	}
}

func (s *Server) runCommand(sess ssh.Session) int {
	args := sess.Command()
	if len(args) == 0 {
		return fail(sess, fmt.Errorf("%w: no command in %q: run `ssh HOST help`",
			ErrUsage, sess.RawCommand()))
	}
	switch args[0] {
	case "help", "--help", "-h":
		_, _ = io.WriteString(sess, helpText)
		return exitOK
	case "propose":
		return s.propose(sess, args[1:])
	case rpcCommand:
		return s.serveRPC(sess, args[1:])
	default:
		return fail(sess, fmt.Errorf("%w %q: run `ssh HOST help` to list commands", ErrUnknownCommand, args[0]))
	}
}

// fail reports err on the session's stderr and returns the error status.
func fail(sess ssh.Session, err error) int {
	fmt.Fprintf(sess.Stderr(), "patchgit: %v\n", err)
	return exitError
}
