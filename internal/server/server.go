// Package server is PatchGit's SSH front door: a wish server whose only way
// in is a PIN asked as a keyboard-interactive question and judged by the
// shared PIN gate (internal/gate), optionally after an authorized key.
// Before the key exchange it drops penalized source networks and keeps
// unauthenticated connections under caps; after login it bounds idle time,
// session length and the number of sessions. An authenticated session with
// a terminal gets the Bubble Tea app; an exec request runs a command
// (`propose`, `help`).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	bm "charm.land/wish/v2/bubbletea"
	rm "charm.land/wish/v2/recover"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/gate"
)

// defaultMaxStdin caps a patch piped to `propose` when Options leaves it 0.
const defaultMaxStdin = 1 << 20

// AppFactory builds the terminal app for one session; actor is the person
// the audit log will name.
type AppFactory func(sess ssh.Session, actor string) tea.Model

// Options configures New.
type Options struct {
	Addr        string       // listen address, e.g. 127.0.0.1:2222; ignored when Listener is set
	Listener    net.Listener // optional: an open listener to serve on (tests pass 127.0.0.1:0)
	HostKeyPath string       // ed25519 host key, created on first start
	Service     core.Service
	Gate        *gate.Gate // the PIN gate every door shares
	// AuthorizedKeysPath is the optional authorized_keys file (data dir):
	// a key in it, then the PIN, reaches the key holders' door.
	AuthorizedKeysPath string
	Limits             Limits
	App                AppFactory
	Logger             *slog.Logger
	MaxStdinBytes      int64  // cap on a patch piped to `propose`; 0 means 1 MiB
	Version            string // the daemon's version, sent in the rpc greeting
}

// Limits are the pre-auth and session limits; a zero field takes the
// default from DefaultLimits.
type Limits struct {
	LoginGrace            time.Duration // unauthenticated connections are closed after this
	MaxStartups           int           // unauthenticated connections at once
	MaxStartupsPerNetwork int           // ... per source /24 or /64
	MaxAuthTries          int           // authentication attempts per connection
	RequireKey            bool          // an authorized key AND the PIN, always
	IdleTimeout           time.Duration // a silent connection is closed after this
	MaxSession            time.Duration // a connection is closed at this age
	MaxSessions           int           // sessions open at once
}

// DefaultLimits: OpenSSH's LoginGraceTime and MaxStartups ideas, tightened.
func DefaultLimits() Limits {
	return Limits{LoginGrace: 30 * time.Second, MaxStartups: 64, MaxStartupsPerNetwork: 8, MaxAuthTries: 3,
		IdleTimeout: 30 * time.Minute, MaxSession: 12 * time.Hour, MaxSessions: 16}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	pickN := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	return Limits{
		LoginGrace: pick(l.LoginGrace, d.LoginGrace), MaxStartups: pickN(l.MaxStartups, d.MaxStartups),
		MaxStartupsPerNetwork: pickN(l.MaxStartupsPerNetwork, d.MaxStartupsPerNetwork),
		MaxAuthTries:          pickN(l.MaxAuthTries, d.MaxAuthTries), RequireKey: l.RequireKey,
		IdleTimeout: pick(l.IdleTimeout, d.IdleTimeout), MaxSession: pick(l.MaxSession, d.MaxSession),
		MaxSessions: pickN(l.MaxSessions, d.MaxSessions),
	}
}

// Server is the SSH server. Create it with New, run it with Serve, stop it
// with Shutdown.
type Server struct {
	opts     Options
	log      *slog.Logger
	ln       net.Listener
	ssh      *ssh.Server
	gate     *gate.Gate
	limits   Limits
	preauth  *preauth
	maxStdin int64
	// counters for the once-a-minute pre-auth pressure log line
	refusedPenalty atomic.Int64
	pressureLogged atomic.Int64 // unix nanoseconds of the last line

	// quit ends at Shutdown so sessions that merely wait (propose) finish
	// early instead of holding the shutdown until its deadline.
	quit     context.Context
	stop     context.CancelFunc
	sessions struct {
		mu      sync.Mutex
		closing bool
		open    int
		wg      sync.WaitGroup
	}
}

// New checks opts, loads or creates the host key and opens the listener.
func New(opts Options) (*Server, error) {
	if err := validate(opts); err != nil {
		return nil, err
	}
	limits := opts.Limits.withDefaults()
	s := &Server{opts: opts, log: opts.Logger, gate: opts.Gate, limits: limits, maxStdin: opts.MaxStdinBytes,
		preauth: newPreauth(limits.MaxStartups, limits.MaxStartupsPerNetwork)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxStdin == 0 {
		s.maxStdin = defaultMaxStdin
	}
	s.quit, s.stop = context.WithCancel(context.Background())

	srv, err := wish.NewServer(
		// Always a path: without one wish writes id_ed25519 into the cwd.
		wish.WithHostKeyPath(opts.HostKeyPath),
		wish.WithVersion("PatchGit"),
		wish.WithMiddleware(s.middleware()),
		func(srv *ssh.Server) error {
			// The handshake deadline covers authentication too and is
			// absolute: a slow drip of bytes does not extend it.
			srv.HandshakeTimeout = limits.LoginGrace
			srv.IdleTimeout = limits.IdleTimeout
			srv.MaxTimeout = limits.MaxSession
			srv.ConnCallback = s.connCallback
			srv.ServerConfigCallback = s.serverConfig
			return nil
		},
	)
	if err != nil {
		return nil, fmt.Errorf("create ssh server (host key %s): %w", opts.HostKeyPath, err)
	}
	s.ssh = srv

	s.ln = opts.Listener
	if s.ln == nil {
		if s.ln, err = net.Listen("tcp", opts.Addr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", opts.Addr, err)
		}
	}
	return s, nil
}

func validate(opts Options) error {
	var problems []error
	if opts.Listener == nil && opts.Addr == "" {
		problems = append(problems, errors.New("set Addr (e.g. 127.0.0.1:2222) or Listener"))
	}
	if opts.HostKeyPath == "" {
		problems = append(problems, errors.New("set HostKeyPath to a file in the data dir"))
	}
	if opts.Service == nil {
		problems = append(problems, errors.New("set Service"))
	}
	if opts.Gate == nil {
		problems = append(problems, errors.New("set Gate (the PIN gate)"))
	}
	if opts.Limits.RequireKey {
		if opts.AuthorizedKeysPath == "" {
			problems = append(problems, errors.New("RequireKey needs AuthorizedKeysPath"))
		} else if n, err := countAuthorizedKeys(opts.AuthorizedKeysPath); err != nil || n == 0 {
			problems = append(problems, fmt.Errorf("ssh.require_key is on but %s holds no usable key (%v): add your public key there or turn require_key off", opts.AuthorizedKeysPath, err))
		}
	}
	if opts.App == nil {
		problems = append(problems, errors.New("set App (the terminal app factory)"))
	}
	if opts.MaxStdinBytes < 0 {
		problems = append(problems, fmt.Errorf("MaxStdinBytes is %d: use 0 for the 1 MiB default or a positive size", opts.MaxStdinBytes))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %w", ErrBadOptions, errors.Join(problems...))
	}
	return nil
}

// middleware is the session pipeline, written in the order it runs.
func (s *Server) middleware() wish.Middleware {
	runOrder := []wish.Middleware{
		// Count sessions for Shutdown; refuse new ones once it began.
		s.trackSessions,
		// Refuse sessions whose connection the PIN gate did not mark.
		requirePIN(s.log, s.limits.RequireKey),
		// Who, from where, what command, how long; never a secret.
		logSessions(s.log),
		// Exec commands and PTY-less shells end here; the rest go on.
		s.commands,
		// The terminal app, one tea.Program per session.
		bm.MiddlewareWithProgramHandler(s.newProgram),
	}
	// wish composes the last middleware outermost, so hand them over reversed.
	composed := make([]wish.Middleware, 0, len(runOrder))
	for i := len(runOrder) - 1; i >= 0; i-- {
		composed = append(composed, runOrder[i])
	}
	// Recover is outermost: a panic in any session ends that session only.
	return rm.MiddlewareWithLogger(printfLogger{s.log}, composed...)
}

// newProgram builds the session's app; bm wires input, output, window size
// and the session's colour profile (bm.MakeOptions).
func (s *Server) newProgram(sess ssh.Session) *tea.Program {
	model := s.opts.App(sess, sess.User())
	if model == nil {
		return nil
	}
	opts := append([]tea.ProgramOption{tea.WithContext(sess.Context())}, bm.MakeOptions(sess)...)
	return tea.NewProgram(model, opts...)
}

// Serve accepts connections until Shutdown. It returns nil after Shutdown.
func (s *Server) Serve() error {
	s.log.Info("ssh server listening", "addr", s.ln.Addr().String())
	err := s.ssh.Serve(s.ln)
	if errors.Is(err, ssh.ErrServerClosed) || s.quit.Err() != nil {
		return nil
	}
	return fmt.Errorf("serve ssh: %w", err)
}

// Addr is the address the server listens on (the real port when the
// listener was opened on port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops accepting connections and new sessions, tells waiting
// commands to finish, and waits for open sessions until ctx ends; then it
// closes every connection, idle or not.
func (s *Server) Shutdown(ctx context.Context) error {
	s.sessions.mu.Lock()
	s.sessions.closing = true
	s.sessions.mu.Unlock()
	s.stop()
	lnErr := s.ln.Close()

	drained := make(chan struct{})
	go func() {
		s.sessions.wg.Wait()
		close(drained)
	}()
	var waitErr error
	select {
	case <-drained:
	case <-ctx.Done():
		waitErr = fmt.Errorf("wait for ssh sessions: %w", ctx.Err())
	}
	_ = s.ssh.Close() // its error is our listener's second close
	if waitErr != nil {
		return waitErr
	}
	if lnErr != nil && !errors.Is(lnErr, net.ErrClosed) {
		return fmt.Errorf("close ssh listener: %w", lnErr)
	}
	return nil
}

// trackSessions counts sessions for Shutdown and refuses new ones once it
// has begun. (The ssh library's own Shutdown waits for connections, which a
// client may hold open long after its last session ended.)
func (s *Server) trackSessions(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		s.sessions.mu.Lock()
		if s.sessions.closing {
			s.sessions.mu.Unlock()
			fmt.Fprintf(sess.Stderr(), "patchgit: %v: try again in a moment\n", core.ErrServiceShutdown)
			_ = sess.Exit(exitError)
			return
		}
		if s.sessions.open >= s.limits.MaxSessions {
			s.sessions.mu.Unlock()
			s.log.Warn("session refused: too many sessions", "user", sess.User(), "remote", sess.RemoteAddr().String(), "max", s.limits.MaxSessions)
			fmt.Fprintf(sess.Stderr(), "patchgit: %d sessions are open, the most allowed (ssh.max_sessions): close one and try again\n", s.limits.MaxSessions)
			_ = sess.Exit(exitError)
			return
		}
		s.sessions.open++
		s.sessions.wg.Add(1)
		s.sessions.mu.Unlock()
		defer func() {
			s.sessions.mu.Lock()
			s.sessions.open--
			s.sessions.mu.Unlock()
			s.sessions.wg.Done()
		}()
		next(sess)
	}
}

// printfLogger adapts slog to the recover middleware's Printf logger.
type printfLogger struct{ log *slog.Logger }

func (l printfLogger) Printf(format string, v ...any) {
	l.log.Error("ssh session panic", "detail", fmt.Sprintf(format, v...))
}
