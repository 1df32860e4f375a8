package rpc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/patchgit/patchgit/internal/core"
)

// probeWait bounds the check whether a daemon still answers on an existing
// socket file.
const probeWait = 2 * time.Second

// Listen creates the control socket at socketPath, mode 0600, and returns a
// listener that drops connections from any other uid than this process's.
// It removes a stale socket file (nothing answers on it) and refuses when a
// live daemon answers there.
func Listen(socketPath string) (net.Listener, error) {
	if err := checkSocketDir(filepath.Dir(socketPath)); err != nil {
		return nil, err
	}
	if err := removeStale(socketPath); err != nil {
		return nil, err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: socketPath, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on control socket %s: %w", socketPath, err)
	}
	// bind(2) applies the umask; set the mode explicitly. The 0700 parent
	// keeps others out during the moment between the two calls.
	if err := os.Chmod(socketPath, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("restrict control socket %s to its owner: %w", socketPath, err)
	}
	ul := &uidListener{UnixListener: l, uid: uint32(os.Getuid())}
	ul.log.Store(slog.Default())
	return ul, nil
}

// checkSocketDir refuses a directory other users may write to: they could
// swap the socket for their own.
func checkSocketDir(dir string) error {
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("check control socket directory: %w (create the data directory with mode 0700 first)", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("check control socket directory: %s is not a directory", dir)
	}
	if perm := info.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("check control socket directory: %s has mode %04o, which lets other users replace the socket: run chmod 700 %s", dir, perm, dir)
	}
	return nil
}

// removeStale deletes a socket file nothing answers on, and refuses a path
// that is in use or is not a socket.
func removeStale(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check control socket %s: %w", path, err)
	}
	if info.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("check control socket %s: the path exists and is not a socket; move it away or choose another data directory", path)
	}
	conn, err := net.DialTimeout("unix", path, probeWait)
	if err == nil {
		conn.Close()
		return fmt.Errorf("listen on %s: %w", path, ErrAlreadyRunning)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("check control socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale control socket %s: %w", path, err)
	}
	return nil
}

// uidListener accepts only peers that run as uid.
type uidListener struct {
	*net.UnixListener
	uid uint32
	log atomic.Pointer[slog.Logger]
}

// Accept returns the next connection from the same user; others are
// logged and closed without a word.
func (l *uidListener) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil, err
		}
		pid, uid, err := peerCred(c)
		switch {
		case err != nil:
			l.log.Load().Warn("control socket: refused a connection", "err", err)
		case uid != l.uid:
			l.log.Load().Warn("control socket: refused a connection from another user",
				"peer_uid", uid, "peer_pid", pid, "allowed_uid", l.uid)
		default:
			return c, nil
		}
		c.Close()
	}
}

// Dial connects to the daemon's control socket and does the handshake. It
// refuses a socket served by another user's process.
func Dial(ctx context.Context, socketPath string, clientVersion string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socketPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("dial %s: %w: start it with `patchgit serve`", socketPath, ErrNotRunning)
		}
		return nil, fmt.Errorf("dial %s: %w", socketPath, err)
	}
	uc := conn.(*net.UnixConn)
	_, uid, err := peerCred(uc)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dial %s: %w", socketPath, err)
	}
	if me := uint32(os.Getuid()); uid != me {
		conn.Close()
		return nil, fmt.Errorf("dial %s: the daemon runs as uid %d, you are uid %d; run this command as the daemon's user: %w",
			socketPath, uid, me, ErrNotOurs)
	}
	return NewClient(ctx, conn, clientVersion)
}

// ServeListener serves every connection l accepts until ctx ends, then
// closes l, tells connected clients the daemon is shutting down and waits
// for their connections to end. It owns l.
func ServeListener(ctx context.Context, l net.Listener, svc core.Service, admin core.Admin, version string, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	if ul, ok := l.(*uidListener); ok {
		ul.log.Store(log)
	}
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()

	var conns sync.WaitGroup
	defer conns.Wait()
	// Whatever ends the accept loop ends the connections too.
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var backoff time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !isTemporary(err) {
				l.Close()
				return fmt.Errorf("accept control connection: %w", err)
			}
			// Out of file descriptors and the like: wait, do not spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			log.Warn("control socket: accept failed; retrying", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		conns.Go(func() {
			log.Debug("control socket: connection opened")
			if err := Serve(connCtx, conn, svc, admin, version); err != nil {
				log.Warn("control socket: connection ended", "err", err)
				return
			}
			log.Debug("control socket: connection closed")
		})
	}
}

// isTemporary: accept errors worth retrying (running out of descriptors
// or memory, a connection aborted before it was accepted).
func isTemporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
