package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/gate"
)

const (
	// pinQuestion is the one keyboard-interactive prompt; the answer is not
	// echoed.
	pinQuestion = "PIN: "
	// authExtension marks, in the connection's permissions, how the gate let
	// it in; requirePIN checks it again on every session.
	authExtension   = "patchgit-auth"
	authByPIN       = "pin"
	authByKeyAndPIN = "key+pin"
	// recentExtension carries the failures since the previous login to the
	// session, which shows them.
	recentExtension = "patchgit-recent-failures"
	// keyExtension names the authorized key (its fingerprint) that passed.
	keyExtension = "patchgit-key"
	// maxAuthorizedKeysBytes bounds the authorized_keys file read per login.
	maxAuthorizedKeysBytes = 1 << 16
)

var errWrongPIN = errors.New("wrong PIN")

type pendingKey struct{}

// serverConfig is the per-connection auth setup. Without a key: the PIN,
// asked by keyboard-interactive, through the anonymous door. With a key
// from authorized_keys: a partial success, then the PIN through the key
// holders' door (its own budget and lock). RequireKey drops the first.
func (s *Server) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	cfg := &gossh.ServerConfig{MaxAuthTries: s.limits.MaxAuthTries}
	// Called at the first authentication request, i.e. once the key
	// exchange is done: such a connection is evicted after slower ones.
	cfg.BannerCallback = func(gossh.ConnMetadata) string {
		if p, ok := ctx.Value(pendingKey{}).(*pending); ok {
			p.atAuth.Store(true)
		}
		return ""
	}
	if !s.limits.RequireKey {
		cfg.KeyboardInteractiveCallback = s.pinCallback(ctx, gate.Anonymous, "")
	}
	if s.opts.AuthorizedKeysPath != "" {
		cfg.PublicKeyCallback = func(_ gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
			if !s.authorizedKey(key) {
				return nil, fmt.Errorf("key %s is not in %s", gossh.FingerprintSHA256(key), s.opts.AuthorizedKeysPath)
			}
			return nil, nil
		}
		// Called only once the client proved it holds the key.
		cfg.VerifiedPublicKeyCallback = func(_ gossh.ConnMetadata, key gossh.PublicKey, _ *gossh.Permissions, _ string) (*gossh.Permissions, error) {
			return nil, &gossh.PartialSuccessError{Next: gossh.ServerAuthCallbacks{
				KeyboardInteractiveCallback: s.pinCallback(ctx, gate.KeyHolder, gossh.FingerprintSHA256(key)),
			}}
		}
	}
	return cfg
}

// authorizedKey reports whether key is in the authorized_keys file, read
// afresh so adding or removing a key needs no restart.
func (s *Server) authorizedKey(key gossh.PublicKey) bool {
	f, err := os.Open(s.opts.AuthorizedKeysPath)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.log.Error("read authorized keys", "err", err)
		}
		return false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAuthorizedKeysBytes))
	if err != nil {
		s.log.Error("read authorized keys", "err", err)
		return false
	}
	want := key.Marshal()
	for len(data) > 0 {
		k, _, _, rest, err := gossh.ParseAuthorizedKey(data)
		if err != nil {
			return false // no more keys
		}
		if bytes.Equal(k.Marshal(), want) {
			return true
		}
		data = rest
	}
	return false
}

// countAuthorizedKeys is how many keys the file holds (0 when absent).
func countAuthorizedKeys(path string) (int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for len(data) > 0 {
		_, _, _, rest, err := gossh.ParseAuthorizedKey(data)
		if err != nil {
			break
		}
		n++
		data = rest
	}
	return n, nil
}

// pinCallback asks for the PIN and lets the gate judge it through door. It
// never logs the answer. A locked door is announced in a banner instead of
// asking.
func (s *Server) pinCallback(ctx ssh.Context, door gate.Door, keyFingerprint string) func(gossh.ConnMetadata, gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
	return func(conn gossh.ConnMetadata, challenge gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
		remote := conn.RemoteAddr()
		logArgs := []any{"user", conn.User(), "remote", remote.String(), "door", string(door)}
		if err := s.gate.Closed(door, remote); err != nil {
			s.log.Debug("pin gate locked: not asking", logArgs...)
			return nil, &gossh.BannerError{Err: err, Message: "patchgit: " + err.Error() + "\r\n"}
		}
		answers, err := challenge("", "", []string{pinQuestion}, []bool{false})
		if err != nil {
			return nil, err // the client went away or refused to answer
		}
		guess := ""
		if len(answers) == 1 {
			guess = answers[0]
		}
		waitCtx, cancel := context.WithTimeout(ctx, s.limits.LoginGrace)
		defer cancel()
		res, err := s.gate.Check(waitCtx, door, remote, guess)
		switch {
		case gate.IsLocked(err):
			return nil, &gossh.BannerError{Err: err, Message: "patchgit: " + err.Error() + "\r\n"}
		case err != nil:
			s.log.Warn("pin not evaluated", append(logArgs, "err", err)...)
			return nil, err
		case !res.OK:
			st, _ := s.gate.Status()
			s.log.Warn("wrong pin", append(logArgs, "consecutive_failures", st.Failures, "key_holder_failures", st.KeyFailures)...)
			return nil, errWrongPIN
		}
		if p, ok := ctx.Value(pendingKey{}).(*pending); ok {
			p.done() // authenticated: no longer counts against the pre-auth caps
		}
		method := authByPIN
		ext := map[string]string{}
		if door == gate.KeyHolder {
			method = authByKeyAndPIN
			ext[keyExtension] = keyFingerprint
		}
		ext[authExtension] = method
		if recent := res.Recent.String(); recent != "" {
			ext[recentExtension] = recent
			s.log.Warn("failed logins before this one", append(logArgs, "count", res.Recent.Count,
				"sources", fmt.Sprint(res.Recent.Sources), "more_sources", res.Recent.MoreSources,
				"first", res.Recent.First, "last", res.Recent.Last)...)
		}
		s.log.Info("pin accepted", append(logArgs, "method", method)...)
		return &gossh.Permissions{Extensions: ext}, nil
	}
}

// connCallback runs before the key exchange: a source network serving a
// penalty is dropped at once, and every other connection is counted
// against the pre-auth caps.
func (s *Server) connCallback(ctx ssh.Context, conn net.Conn) net.Conn {
	if left, refused := s.gate.Refused(conn.RemoteAddr()); refused {
		s.log.Debug("connection refused: source penalty", "remote", conn.RemoteAddr().String(), "left", left)
		s.refusedPenalty.Add(1)
		s.logPressure()
		return nil
	}
	p := s.preauth.admit(conn)
	s.logPressure()
	ctx.SetValue(pendingKey{}, p)
	return p
}

// pressureLogEvery spaces the summary of refused and evicted connections:
// under a flood, one line a minute instead of one per connection.
const pressureLogEvery = time.Minute

// logPressure logs how many connections were refused for a penalty or
// closed to make room since the last such line, at most once a minute.
func (s *Server) logPressure() {
	now := time.Now()
	last := s.pressureLogged.Load()
	if now.UnixNano()-last < int64(pressureLogEvery) || !s.pressureLogged.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	refused, evicted := s.refusedPenalty.Swap(0), s.preauth.evicted.Swap(0)
	if refused == 0 && evicted == 0 {
		return
	}
	s.log.Warn("pre-auth pressure", "refused_for_penalty", refused, "closed_to_make_room", evicted,
		"unauthenticated_now", s.preauth.count(), "max_startups", s.limits.MaxStartups)
}

// RecentFailures is the summary of wrong PINs before this session's login,
// "" when there were none.
func RecentFailures(sess ssh.Session) string {
	perms := sess.Permissions()
	if perms.Permissions == nil {
		return ""
	}
	return perms.Extensions[recentExtension]
}

// requirePIN refuses any session whose connection lacks the PIN gate's mark:
// defense in depth should an auth option ever be added or misconfigured.
func requirePIN(log *slog.Logger, requireKey bool) wish.Middleware {
	return func(next ssh.Handler) ssh.Handler {
		return func(sess ssh.Session) {
			method := authMethod(sess)
			if method != authByKeyAndPIN && (requireKey || method != authByPIN) {
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

func authMethod(sess ssh.Session) string {
	perms := sess.Permissions()
	if perms.Permissions == nil {
		return ""
	}
	return perms.Extensions[authExtension]
}
