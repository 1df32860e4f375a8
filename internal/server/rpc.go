package server

import (
	"context"
	"fmt"
	"io"
	"sync"

	"charm.land/ssh"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/rpc"
)

// rpcCommand is the exec request `patchgit tui --connect` sends: the
// channel then speaks the control protocol (internal/rpc) instead of
// running a command. The PIN gate has already run: authentication happens
// before any session exists.
const rpcCommand = "rpc"

// serveRPC carries core.Service over the session's stdin and stdout until
// the client leaves or the server shuts down. Admin methods stay local-only
// (admin is nil), and every actor is the ssh user, whatever the client
// sends, so the audit log names who logged in.
func (s *Server) serveRPC(sess ssh.Session, args []string) int {
	if len(args) > 0 {
		return fail(sess, fmt.Errorf("%w: rpc takes no arguments; it is for `patchgit tui --connect`", ErrUsage))
	}
	if _, _, pty := sess.Pty(); pty {
		return fail(sess, fmt.Errorf("%w: rpc speaks a protocol, not to a terminal: run `patchgit tui --connect HOST`, or ssh -T", ErrUsage))
	}
	ctx, cancel := context.WithCancel(sess.Context())
	defer cancel()
	// Shutdown ends the connection with the protocol's "shutting down"
	// farewell instead of waiting for the client to leave.
	stop := context.AfterFunc(s.quit, cancel)
	defer stop()

	svc := actorService{Service: s.opts.Service, actor: sess.User()}
	if err := rpc.Serve(ctx, newSessionConn(sess), svc, nil, s.opts.Version); err != nil {
		s.log.Warn("rpc over ssh ended with an error", "user", sess.User(), "remote", sess.RemoteAddr().String(), "err", err)
		return exitError
	}
	return exitOK
}

// sessionConn adapts a session to rpc.Serve's io.ReadWriteCloser. Reads go
// through a pipe so Close unblocks a pending read at once (closing an ssh
// channel only takes effect when the peer answers).
type sessionConn struct {
	sess ssh.Session
	r    *io.PipeReader
	once sync.Once
}

func newSessionConn(sess ssh.Session) *sessionConn {
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, sess)
		pw.CloseWithError(err) // nil: io.EOF for the reader
	}()
	return &sessionConn{sess: sess, r: pr}
}

func (c *sessionConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *sessionConn) Write(p []byte) (int, error) { return c.sess.Write(p) }

// Close stops reading; the session itself ends when the handler returns.
func (c *sessionConn) Close() error {
	c.once.Do(func() { c.r.Close() })
	return nil
}

// actorService replaces the actor of every state-changing call with the
// authenticated ssh user. Methods added to core.Service later pass through
// the embedded interface unchanged.
type actorService struct {
	core.Service
	actor string
}

func (a actorService) StartConversation(ctx context.Context, _, repo, title string) (core.Conversation, error) {
	return a.Service.StartConversation(ctx, a.actor, repo, title)
}

func (a actorService) Send(ctx context.Context, _, conversationID, text string) (core.Message, error) {
	return a.Service.Send(ctx, a.actor, conversationID, text)
}

func (a actorService) Propose(ctx context.Context, _, repo, patch string) (core.Proposal, error) {
	return a.Service.Propose(ctx, a.actor, repo, patch)
}

func (a actorService) Go(ctx context.Context, _, proposalID string, rev int) (core.Job, error) {
	return a.Service.Go(ctx, a.actor, proposalID, rev)
}

func (a actorService) Cancel(ctx context.Context, _, proposalID string) error {
	return a.Service.Cancel(ctx, a.actor, proposalID)
}

func (a actorService) ClosePR(ctx context.Context, _, repo string, number int) (core.PR, error) {
	return a.Service.ClosePR(ctx, a.actor, repo, number)
}

func (a actorService) MergePR(ctx context.Context, _, repo string, number int) (core.PR, error) {
	return a.Service.MergePR(ctx, a.actor, repo, number)
}

func (a actorService) WebLink(ctx context.Context, _ string) (core.WebLink, error) {
	return a.Service.WebLink(ctx, a.actor)
}

func (a actorService) GoWith(ctx context.Context, _, proposalID string, rev int, approveExtra bool) (core.Job, error) {
	return a.Service.GoWith(ctx, a.actor, proposalID, rev, approveExtra)
}

func (a actorService) DecideSpend(ctx context.Context, _, proposalID string, rev int, approve bool) (core.Proposal, error) {
	return a.Service.DecideSpend(ctx, a.actor, proposalID, rev, approve)
}
