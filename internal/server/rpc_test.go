package server

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/rpc"
)

// channelConn is the client end of an `rpc` exec channel.
type channelConn struct {
	io.Reader
	io.WriteCloser
	sess *gossh.Session
}

func (c channelConn) Close() error { return c.sess.Close() }

// rpcClient logs in as user, opens the rpc channel and does the handshake.
func rpcClient(t *testing.T, ts *testServer, user string) (*rpc.Client, *gossh.Session) {
	t.Helper()
	sess, err := ts.dial(t, user).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start(rpcCommand); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := rpc.NewClient(ctx, channelConn{Reader: stdout, WriteCloser: stdin, sess: sess}, "test")
	if err != nil {
		t.Fatalf("rpc handshake over ssh: %v", err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl, sess
}

func TestRPCOverSSHServesTheServiceAsTheSSHUser(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.Version = "v9.9.9" })
	cl, _ := rpcClient(t, ts, "alice")
	if got := cl.ServerVersion(); got != "v9.9.9" {
		t.Errorf("greeting names daemon %q, want v9.9.9", got)
	}
	ctx := context.Background()
	repos, err := cl.Repos(ctx)
	if err != nil || len(repos) != 2 || repos[0].Name != "demo" {
		t.Fatalf("Repos over ssh: %v %v", repos, err)
	}
	events, err := cl.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The client claims to be someone else; the audit must name the login.
	p, err := cl.Propose(ctx, "mallory", "demo", "a patch")
	if err != nil {
		t.Fatal(err)
	}
	if calls := ts.svc.proposeCalls(); len(calls) != 1 || calls[0].actor != "alice" {
		t.Fatalf("Propose reached the service as %+v, want actor alice", calls)
	}
	ts.svc.update(p.ID, func(p *core.Proposal, _ *core.Job) { p.State = core.StateProposed },
		core.Event{Kind: core.EventProposal, ID: p.ID})
	select {
	case ev := <-events:
		if ev.Kind != core.EventProposal || ev.ID != p.ID {
			t.Fatalf("event %+v, want the proposal's", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event pushed over ssh")
	}
	if _, err := cl.Proposal(ctx, "nope"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("unknown proposal: %v, want ErrNotFound across ssh", err)
	}
}

func TestRPCOverSSHRefusesAdminMethods(t *testing.T) {
	ts := startServer(t, nil)
	cl, _ := rpcClient(t, ts, "alice")
	err := cl.SetPIN(context.Background(), "alice", "123456")
	if !errors.Is(err, rpc.ErrUnauthorized) {
		t.Fatalf("SetPIN over ssh: %v, want unauthorized", err)
	}
}

func TestRPCOverSSHEndsWithShutdownFarewell(t *testing.T) {
	ts := startServer(t, nil)
	cl, sess := rpcClient(t, ts, "alice")
	if _, err := cl.Repos(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown waited on an rpc session: %v", err)
	}
	if _, err := cl.Repos(context.Background()); !errors.Is(err, core.ErrServiceShutdown) && !errors.Is(err, rpc.ErrClosed) {
		t.Fatalf("call after shutdown: %v", err)
	}
	_ = sess.Wait()
}

func TestRPCRefusesATerminalAndArguments(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t, "alice")
	res := run(t, c, "rpc extra", nil)
	if res.code != exitError || !strings.Contains(res.stderr, "no arguments") {
		t.Fatalf("rpc with an argument: %+v", res)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sess.Stdout, sess.Stderr = &out, &out
	err = sess.Run(rpcCommand)
	var exit *gossh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != exitError || !strings.Contains(out.String(), "tui --connect") {
		t.Fatalf("rpc with a PTY: %v\n%s", err, out.String())
	}
}
