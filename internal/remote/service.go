package remote

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/rpc"
)

// Backoff between reconnection attempts: doubling from the first to the
// last, which then repeats.
const (
	backoffFirst = 500 * time.Millisecond
	backoffMax   = 15 * time.Second
	// eventBuffer is how far the app may fall behind the daemon's events.
	eventBuffer = 64
)

// Service is core.Service on a remote daemon. It survives dropped
// connections: calls made while it reconnects wait for the new connection
// (within their context); read-only calls cut off by a drop are made again;
// a state-changing call cut off by a drop fails with ErrConnectionLost,
// since the daemon may or may not have done it. Subscribe's channel lives
// across reconnections and says what happened (core.EventNotice), then
// core.EventResync so the app re-reads what it shows.
type Service struct {
	d      *dialer
	ctx    context.Context //nolint:containedctx // the service's lifetime
	cancel context.CancelFunc

	mu      sync.Mutex
	cur     *link         // nil while reconnecting
	fatal   error         // set when reconnecting is pointless
	changed chan struct{} // closed and replaced whenever cur or fatal change
	wg      sync.WaitGroup
}

var _ core.Service = (*Service)(nil)

// Connect logs in (asking the person through opts.Prompt), opens the
// daemon's rpc channel and keeps it open until Close.
func Connect(ctx context.Context, opts Options) (*Service, error) {
	if opts.Prompt == nil || opts.KnownHosts == "" {
		return nil, errors.New("connect: set Prompt and KnownHosts")
	}
	d := &dialer{opts: opts}
	l, err := d.dial(ctx, true)
	if err != nil {
		return nil, err
	}
	s := &Service{d: d, cur: l, changed: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Go(s.supervise)
	return s, nil
}

// ServerVersion is the daemon's version from the current connection.
func (s *Service) ServerVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return ""
	}
	return s.cur.rpc.ServerVersion()
}

// Close hangs up and stops reconnecting.
func (s *Service) Close() error {
	s.cancel()
	s.mu.Lock()
	if s.cur != nil {
		s.cur.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// setState changes cur or fatal and wakes everyone waiting on a change.
func (s *Service) setState(l *link, fatal error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur, s.fatal = l, fatal
	close(s.changed)
	s.changed = make(chan struct{})
}

// supervise waits for the connection to drop and dials again with backoff
// until it works, the failure is one retrying cannot fix, or Close.
func (s *Service) supervise() {
	for {
		s.mu.Lock()
		l := s.cur
		s.mu.Unlock()
		select {
		case <-l.done:
		case <-s.ctx.Done():
			return
		}
		l.close()
		s.setState(nil, nil)
		wait := backoffFirst
		for {
			dctx, cancel := context.WithTimeout(s.ctx, redialLimit)
			nl, err := s.d.dial(dctx, false)
			cancel()
			if err == nil {
				s.setState(nl, nil)
				break
			}
			if s.ctx.Err() != nil {
				return
			}
			if permanent(err) {
				s.setState(nil, err)
				return
			}
			select {
			case <-time.After(wait):
			case <-s.ctx.Done():
				return
			}
			wait = min(wait*2, backoffMax)
		}
	}
}

// permanent: retrying would fail the same way or needs the person.
func permanent(err error) bool {
	for _, e := range []error{ErrPINRefused, ErrHostKeyChanged, ErrHostKeyNotAccepted, ErrHostKeyRevoked, rpc.ErrVersionMismatch, ErrNoRPC} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// live returns the current connection, waiting while it reconnects.
func (s *Service) live(ctx context.Context) (*link, error) {
	for {
		s.mu.Lock()
		l, fatal, changed := s.cur, s.fatal, s.changed
		s.mu.Unlock()
		if fatal != nil {
			return nil, fmt.Errorf("reconnect to %s: %w (quit and connect again)", s.d.opts.Target, fatal)
		}
		if l != nil && !l.closed() {
			return l, nil
		}
		var done <-chan struct{}
		if l != nil {
			done = l.done
		}
		select {
		case <-changed:
		case <-done: // dropped: the supervisor is about to say so
			select {
			case <-changed:
			case <-ctx.Done():
				return nil, s.waitErr(ctx)
			case <-s.ctx.Done():
				return nil, rpc.ErrClosed
			}
		case <-ctx.Done():
			return nil, s.waitErr(ctx)
		case <-s.ctx.Done():
			return nil, rpc.ErrClosed
		}
	}
}

func (s *Service) waitErr(ctx context.Context) error {
	return fmt.Errorf("wait for the connection to %s (reconnecting): %w", s.d.opts.Target, context.Cause(ctx))
}

// dropped: the call failed because the connection went away.
func dropped(l *link, err error) bool {
	return errors.Is(err, rpc.ErrClosed) || errors.Is(err, core.ErrServiceShutdown) || l.closed()
}

// read makes a call that changes nothing, again after a reconnect if a
// drop cut it off.
func read[T any](ctx context.Context, s *Service, f func(*rpc.Client) (T, error)) (T, error) {
	for {
		l, err := s.live(ctx)
		if err != nil {
			var zero T
			return zero, err
		}
		v, err := f(l.rpc)
		if err == nil || ctx.Err() != nil || !dropped(l, err) {
			return v, err
		}
	}
}

// write makes a state-changing call once: after a drop nobody knows
// whether the daemon did it, so the person looks before trying again.
func write[T any](ctx context.Context, s *Service, method string, f func(*rpc.Client) (T, error)) (T, error) {
	l, err := s.live(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := f(l.rpc)
	if err != nil && ctx.Err() == nil && dropped(l, err) {
		return v, fmt.Errorf("%s: %w before the daemon answered; it may or may not have happened: look again once reconnected (%v)",
			method, ErrConnectionLost, err)
	}
	return v, err
}
