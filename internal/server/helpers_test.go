package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/gate"
	"github.com/patchgit/patchgit/internal/store"
)

const testPIN = "482915"

// testServer is a real server on 127.0.0.1:0 with fakes behind it.
type testServer struct {
	*Server
	addr    string
	svc     *fakeService
	pin     *fakePIN
	clock   *fakeClock
	logs    *syncBuffer
	actors  chan string // the actor each app session was built for
	served  chan error  // Serve's result
	keyPath string
	gate    *gate.Gate
	db      *store.DB
	audit   *audit.Log
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer serves until the test ends; tweak adjusts Options first.
func startServer(t *testing.T, tweak func(*Options)) *testServer {
	t.Helper()
	ts := &testServer{
		svc:     newFakeService(),
		pin:     &fakePIN{pin: testPIN},
		clock:   newFakeClock(),
		logs:    &syncBuffer{},
		actors:  make(chan string, 8),
		served:  make(chan error, 1),
		keyPath: filepath.Join(t.TempDir(), "keys", "ssh_host_ed25519"),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.gate, ts.db, ts.audit = newTestGate(t, ts.pin, ts.clock, nil)
	opts := Options{
		Listener:    ln,
		HostKeyPath: ts.keyPath,
		Service:     ts.svc,
		Gate:        ts.gate,
		App: func(_ ssh.Session, actor string) tea.Model {
			ts.actors <- actor
			return greeter{actor: actor}
		},
		Logger: slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tweak != nil {
		tweak(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("New: %v", err)
	}
	ts.Server = srv
	ts.addr = srv.Addr().String()
	go func() { ts.served <- srv.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ts
}

// newTestGate is a real gate on a fresh store, with the fake clock and
// loopback exempt from source penalties (tests of penalties change that).
func newTestGate(t testing.TB, verifier gate.Verifier, clock *fakeClock, tweak func(*gate.Policy)) (*gate.Gate, *store.DB, *audit.Log) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "patchgit.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log := audit.New(db, filepath.Join(dir, "audit.head"))
	p := gate.DefaultPolicy()
	p.Exempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	if tweak != nil {
		tweak(&p)
	}
	opts := gate.Options{DB: db, Audit: log, Verifier: verifier, Policy: p, Logger: slog.New(slog.DiscardHandler)}
	if clock != nil { // nil: the real clock
		opts.Now, opts.Sleep = clock.Now, clock.Sleep
	}
	g, err := gate.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return g, db, log
}

// failures is the gate's anonymous consecutive-failure count.
func (ts *testServer) failures(t *testing.T) int {
	t.Helper()
	st, err := ts.gate.Status()
	if err != nil {
		t.Fatal(err)
	}
	return st.Failures
}

// pinAuth answers every keyboard-interactive question with pin and records
// the questions asked.
type pinAuth struct {
	pin       string
	mu        sync.Mutex
	questions []string
	echos     []bool
}

func (a *pinAuth) method() gossh.AuthMethod {
	return gossh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.questions = append(a.questions, questions...)
		a.echos = append(a.echos, echos...)
		answers := make([]string, len(questions))
		for i := range answers {
			answers[i] = a.pin
		}
		return answers, nil
	})
}

func dialWith(t *testing.T, addr, user string, methods ...gossh.AuthMethod) (*gossh.Client, error) {
	t.Helper()
	c, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User:            user,
		Auth:            methods,
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), //nolint:gosec // test server with a fresh key
	})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// dial logs in with the right PIN or fails the test.
func (ts *testServer) dial(t *testing.T, user string) *gossh.Client {
	t.Helper()
	c, err := dialWith(t, ts.addr, user, (&pinAuth{pin: testPIN}).method())
	if err != nil {
		t.Fatalf("dial with the right PIN: %v", err)
	}
	return c
}

type result struct {
	stdout, stderr string
	code           int
}

// run executes cmd (a shell when empty) in a new session.
func run(t *testing.T, c *gossh.Client, cmd string, stdin []byte) result {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer sess.Close()
	var out, errOut bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errOut
	if stdin != nil {
		sess.Stdin = bytes.NewReader(stdin)
	}
	if cmd == "" {
		err = sess.Shell()
		if err == nil {
			err = sess.Wait()
		}
	} else {
		err = sess.Run(cmd)
	}
	return result{out.String(), errOut.String(), exitCode(t, err)}
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var exit *gossh.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitStatus()
	default:
		t.Fatalf("session ended without an exit status: %v", err)
		return -1
	}
}
