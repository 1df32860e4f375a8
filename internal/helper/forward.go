package helper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
)

// LoopbackDialer is a Conn that can open TCP connections to ports on the
// helper's own loopback (127.0.0.1): over SSH a "direct-tcpip" channel, so
// a server there never needs a public port; the local provider dials this
// machine's loopback directly.
type LoopbackDialer interface {
	DialLoopback(ctx context.Context, port int) (net.Conn, error)
}

func loopbackAddr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// DialLoopback opens a connection to 127.0.0.1:port as seen from the
// helper, through the SSH connection (sshd makes the TCP connection there).
func (c *sshConn) DialLoopback(ctx context.Context, port int) (net.Conn, error) {
	conn, err := c.client.DialContext(ctx, "tcp", loopbackAddr(port))
	if err != nil {
		return nil, fmt.Errorf("dial 127.0.0.1:%d on the helper through ssh: %w", port, err)
	}
	return conn, nil
}

// DialLoopback dials this machine's loopback: the local helper is this
// machine.
func (c *localConn) DialLoopback(ctx context.Context, port int) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", loopbackAddr(port))
	if err != nil {
		return nil, fmt.Errorf("dial 127.0.0.1:%d on the local helper: %w", port, err)
	}
	return conn, nil
}

// Forward is a local TCP forward: a listener on this machine's loopback
// whose connections are piped to 127.0.0.1:Port on the helper. It ends with
// Close, or when the helper is destroyed.
type Forward struct {
	Port int // the port on the helper's loopback
	ln   net.Listener
	dial func(ctx context.Context) (net.Conn, error)
	ctx  context.Context
	stop context.CancelFunc

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	dialErr error // the last failure to reach the port on the helper
	wg      sync.WaitGroup
}

// DialErr is why the last connection could not reach the port on the
// helper (nothing listens there yet, say), or nil: what a client of Addr
// sees only as a closed connection.
func (f *Forward) DialErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dialErr
}

// Forward opens a forward to 127.0.0.1:port on the helper. Requests to
// Addr() reach the server there through the helper's SSH connection.
func (h *Helper) Forward(ctx context.Context, port int) (*Forward, error) {
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("forward to helper port %d: %w: the port must be 1-65535", port, ErrBadConfig)
	}
	conn, err := h.usable()
	if err != nil {
		return nil, err
	}
	d, ok := conn.(LoopbackDialer)
	if !ok {
		return nil, fmt.Errorf("forward to helper port %d: %w: the %s provider cannot forward ports", port, ErrBadConfig, h.m.prov.Name())
	}
	return newForward(h.ctx, port, func(ctx context.Context) (net.Conn, error) { return d.DialLoopback(ctx, port) })
}

// newForward listens on 127.0.0.1:0 (never another interface) and pipes
// each connection to dial's; it stops when parent ends.
func newForward(parent context.Context, port int, dial func(context.Context) (net.Conn, error)) (*Forward, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("forward to helper port %d: %w", port, err)
	}
	f := &Forward{Port: port, ln: ln, dial: dial, conns: map[net.Conn]struct{}{}}
	f.ctx, f.stop = context.WithCancel(parent)
	context.AfterFunc(f.ctx, func() { f.shut() })
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

// Addr is the local end, host:port on 127.0.0.1.
func (f *Forward) Addr() string { return f.ln.Addr().String() }

// URL is the local end as an http URL with path appended (e.g. "/v1").
func (f *Forward) URL(path string) string { return "http://" + f.Addr() + path }

// Close stops listening and closes every piped connection.
func (f *Forward) Close() error {
	f.stop()
	f.shut()
	f.wg.Wait()
	return nil
}

func (f *Forward) shut() {
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		c.Close()
	}
}

func (f *Forward) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		c.Close()
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *Forward) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

func (f *Forward) serve() {
	defer f.wg.Done()
	for {
		local, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		if !f.track(local) {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.untrack(local)
			remote, err := f.dial(f.ctx)
			f.mu.Lock()
			f.dialErr = err
			f.mu.Unlock()
			if err != nil {
				return // the client sees the connection closed: the server is not there (yet)
			}
			if !f.track(remote) {
				return
			}
			defer f.untrack(remote)
			pipe(local, remote)
		}()
	}
}

// pipe copies both ways until either side ends, then closes both.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if err == nil || errors.Is(err, net.ErrClosed) {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite() // half-close: the other direction may still answer
				done <- struct{}{}
				return
			}
		}
		a.Close()
		b.Close()
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}
