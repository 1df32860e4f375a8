package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2/testsession"
	gossh "golang.org/x/crypto/ssh"
)

func TestRightPINOpensSession(t *testing.T) {
	ts := startServer(t, nil)
	auth := &pinAuth{pin: testPIN}
	c, err := dialWith(t, ts.addr, "alice", auth.method())
	if err != nil {
		t.Fatalf("dial with the right PIN: %v", err)
	}
	if !slices.Equal(auth.questions, []string{"PIN: "}) || !slices.Equal(auth.echos, []bool{false}) {
		t.Errorf("asked %q (echo %v), want one unechoed %q", auth.questions, auth.echos, "PIN: ")
	}
	res := run(t, c, "help", nil)
	if res.code != 0 || !strings.Contains(res.stdout, "propose --repo NAME") {
		t.Errorf("help: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	_ = c.Close()
	shutdown(t, ts.Server) // sessions logged their end before Shutdown returns
	logs := ts.logs.String()
	for _, want := range []string{
		`msg="ssh server listening" addr=` + ts.addr,
		`msg="pin accepted" user=alice`,
		`msg="ssh session start" user=alice`,
		"command=help",
		`msg="ssh session end" user=alice`,
		"duration=",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, testPIN) {
		t.Errorf("the PIN appears in the log:\n%s", logs)
	}
	if n := ts.failures(t); n != 0 {
		t.Errorf("after a right PIN: failures %d, want 0", n)
	}
}

func TestWrongPINGetsNoSession(t *testing.T) {
	ts := startServer(t, nil)
	_, err := dialWith(t, ts.addr, "mallory", (&pinAuth{pin: "000000"}).method())
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("dial with a wrong PIN: err %v, want an authentication failure", err)
	}
	if got := ts.pin.Calls(); got != 1 {
		t.Errorf("PIN checker called %d times, want 1", got)
	}
	if strings.Contains(ts.logs.String(), "000000") || strings.Contains(ts.logs.String(), testPIN) {
		t.Errorf("a PIN appears in the log:\n%s", ts.logs.String())
	}
	if !strings.Contains(ts.logs.String(), "wrong pin") {
		t.Errorf("the failure is not logged:\n%s", ts.logs.String())
	}
}

func TestOnlyKeyboardInteractiveIsOffered(t *testing.T) {
	ts := startServer(t, nil)
	signer, err := gossh.NewSignerFromKey(mustEd25519(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, method := range map[string]gossh.AuthMethod{
		"password":   gossh.Password(testPIN),
		"public key": gossh.PublicKeys(signer),
	} {
		if _, err := dialWith(t, ts.addr, "alice", method); err == nil {
			t.Errorf("%s auth opened a session; only the PIN may", name)
		}
	}
	if got := ts.pin.Calls(); got != 0 {
		t.Errorf("PIN checker called %d times for non-PIN methods", got)
	}
}

func TestBackoffGrowsAcrossConnections(t *testing.T) {
	ts := startServer(t, nil)
	wantNext := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}
	for i, want := range wantNext {
		if _, err := dialWith(t, ts.addr, "mallory", (&pinAuth{pin: "11111" + string(rune('0'+i))}).method()); err == nil {
			t.Fatalf("wrong PIN %d opened a session", i+1)
		}
		if got := ts.gate.Policy().Backoff(ts.failures(t)); got != want {
			t.Errorf("after %d wrong PINs the next delay is %v, want %v", i+1, got, want)
		}
	}
	// The first guess owed nothing; each later one waited out the delay.
	if got, want := ts.clock.Sleeps(), wantNext[:2]; !slices.Equal(got, want) {
		t.Errorf("waits before each evaluation %v, want %v", got, want)
	}

	ts.dial(t, "alice") // the right PIN also waits its turn, then resets
	if got, want := ts.clock.Sleeps(), append(wantNext[:2:2], time.Second); !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	if n := ts.failures(t); n != 0 {
		t.Errorf("a right PIN left %d failures", n)
	}
}

func TestShellWithoutPTYGetsMessage(t *testing.T) {
	ts := startServer(t, nil)
	res := run(t, ts.dial(t, "alice"), "", nil)
	if res.code != 1 || !strings.Contains(res.stderr, "patchgit needs a terminal: use ssh -t") {
		t.Errorf("no-PTY shell: exit %d, stderr %q; want 1 and the terminal hint", res.code, res.stderr)
	}
	select {
	case actor := <-ts.actors:
		t.Errorf("the app was started for %s without a terminal", actor)
	default:
	}
}

func TestUnknownCommand(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t, "alice")
	res := run(t, c, "rm -rf /", nil)
	if res.code != 1 || !strings.Contains(res.stderr, `unknown command "rm"`) || !strings.Contains(res.stderr, "help") {
		t.Errorf("unknown command: exit %d, stderr %q", res.code, res.stderr)
	}
	res = run(t, c, "   ", nil)
	if res.code != 1 || !strings.Contains(res.stderr, `no command in "   "`) {
		t.Errorf("blank command: exit %d, stderr %q", res.code, res.stderr)
	}
}

func TestPTYSessionRunsApp(t *testing.T) {
	ts := startServer(t, nil)
	sess, err := ts.dial(t, "alice").NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm-256color", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatalf("request pty: %v", err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatalf("shell: %v", err)
	}
	if actor := <-ts.actors; actor != "alice" {
		t.Errorf("app built for %q, want alice", actor)
	}
	readUntil(t, stdout, "hello alice")
	if _, err := io.WriteString(stdin, "q"); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if code := exitCode(t, sess.Wait()); code != 0 {
		t.Errorf("app session exit %d, want 0", code)
	}
}

// readUntil reads r until want shows up; the test's own deadline bounds it.
func readUntil(t *testing.T, r io.Reader, want string) {
	t.Helper()
	var seen bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(seen.String(), want) {
		n, err := r.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			t.Fatalf("stream ended before %q: %v\nseen: %q", want, err, seen.String())
		}
	}
}

func TestHostKeyCreatedPrivateAndReused(t *testing.T) {
	ts := startServer(t, nil)
	info, err := os.Stat(ts.keyPath)
	if err != nil {
		t.Fatalf("host key not created at %s: %v", ts.keyPath, err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("host key mode %v, want 0600", perm)
	}
	if _, err := os.Stat("id_ed25519"); err == nil {
		t.Errorf("a host key was written into the working directory")
	}
	first := hostKeyOf(t, ts.addr)
	shutdown(t, ts.Server)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	again, err := New(Options{Listener: ln, HostKeyPath: ts.keyPath, Service: ts.svc, Gate: ts.gate,
		App: func(ssh.Session, string) tea.Model { return nil }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = again.Serve() }()
	defer shutdown(t, again)
	if second := hostKeyOf(t, again.Addr().String()); !bytes.Equal(first, second) {
		t.Errorf("restart presented a different host key")
	}
}

func hostKeyOf(t *testing.T, addr string) []byte {
	t.Helper()
	var key []byte
	c, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User: "alice",
		Auth: []gossh.AuthMethod{(&pinAuth{pin: testPIN}).method()},
		HostKeyCallback: func(_ string, _ net.Addr, k gossh.PublicKey) error {
			key = k.Marshal()
			return nil
		},
	})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	_ = c.Close()
	return key
}

func shutdown(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func TestNewExplainsBadOptions(t *testing.T) {
	_, err := New(Options{MaxStdinBytes: -1})
	if !errors.Is(err, ErrBadOptions) {
		t.Fatalf("New with empty options: %v, want ErrBadOptions", err)
	}
	for _, want := range []string{"Addr", "HostKeyPath", "Service", "PIN", "App", "MaxStdinBytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestShutdownForceClosesAfterDeadline(t *testing.T) {
	ts := startServer(t, nil)
	sess, err := ts.dial(t, "alice").NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	sess.Stdout = io.Discard
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	<-ts.actors // the app is running and will not quit by itself

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a deadline that has already passed
	if err := ts.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("shutdown with an open app session: %v, want the context error", err)
	}
	var exit *gossh.ExitError
	if err := sess.Wait(); errors.As(err, &exit) && exit.ExitStatus() == 0 {
		t.Errorf("the app session ended cleanly; it should have been cut")
	}
	if err := <-ts.served; err != nil {
		t.Errorf("Serve after Shutdown: %v, want nil", err)
	}
}

// The PIN mark is checked again per session: a server wired without the
// gate (here: no auth at all) still refuses to serve.
func TestRequirePINRefusesUnmarkedSessions(t *testing.T) {
	reached := false
	logs := &syncBuffer{}
	sess := testsession.New(t, &ssh.Server{
		Handler: requirePIN(slog.New(slog.NewTextHandler(logs, nil)), false)(func(ssh.Session) { reached = true }),
	}, nil)
	var errOut bytes.Buffer
	sess.Stderr = &errOut
	err := sess.Run("help")
	if code := exitCode(t, err); code != 1 || reached {
		t.Errorf("unmarked session: exit %d, handler reached %v; want 1, false", code, reached)
	}
	if !strings.Contains(errOut.String(), "did not pass the PIN check") {
		t.Errorf("stderr %q does not explain the refusal", errOut.String())
	}
	if !strings.Contains(logs.String(), ErrNotAuthenticated.Error()) {
		t.Errorf("refusal not logged: %s", logs.String())
	}
}

func mustEd25519(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return key
}
