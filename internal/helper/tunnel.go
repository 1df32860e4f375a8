package helper

import (
	"context"
	"fmt"
	"net"
	"net/http"
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

// Tunnel reaches 127.0.0.1:Port on the helper without listening anywhere:
// each connection is opened on demand through the helper's SSH connection
// (a direct-tcpip channel; the local provider dials directly), so no other
// process on this machine can reach the server through it. It ends with
// Close, or when the helper is destroyed: its connections are closed and
// new dials fail.
type Tunnel struct {
	Port      int // the port on the helper's loopback
	dial      func(ctx context.Context) (net.Conn, error)
	ctx       context.Context
	stop      context.CancelFunc
	transport *http.Transport

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// Tunnel opens a tunnel to 127.0.0.1:port on the helper. Nothing is
// dialed until a request needs a connection.
func (h *Helper) Tunnel(port int) (*Tunnel, error) {
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("tunnel to helper port %d: %w: the port must be 1-65535", port, ErrBadConfig)
	}
	conn, err := h.usable()
	if err != nil {
		return nil, err
	}
	d, ok := conn.(LoopbackDialer)
	if !ok {
		return nil, fmt.Errorf("tunnel to helper port %d: %w: the %s provider cannot reach ports on the helper", port, ErrBadConfig, h.m.prov.Name())
	}
	return newTunnel(h.ctx, port, func(ctx context.Context) (net.Conn, error) { return d.DialLoopback(ctx, port) }), nil
}

func newTunnel(parent context.Context, port int, dial func(context.Context) (net.Conn, error)) *Tunnel {
	t := &Tunnel{Port: port, dial: dial, conns: map[net.Conn]struct{}{}}
	t.ctx, t.stop = context.WithCancel(parent)
	context.AfterFunc(t.ctx, t.shut)
	// Proxy stays nil: HTTP_PROXY must never catch the tunnel's requests.
	t.transport = &http.Transport{DialContext: t.DialContext}
	return t
}

// Target is the server's address as the helper sees it, 127.0.0.1:Port:
// the host of the URLs sent through the tunnel.
func (t *Tunnel) Target() string { return loopbackAddr(t.Port) }

// URL is http://Target with path appended (e.g. "/v1").
func (t *Tunnel) URL(path string) string { return "http://" + t.Target() + path }

// HTTPClient sends its requests through the tunnel: give it URLs whose
// host is Target. It keeps connections for reuse until Close.
func (t *Tunnel) HTTPClient() *http.Client { return &http.Client{Transport: t.transport} }

// DialContext opens a connection to the server on the helper; addr must be
// Target (a URL naming any other host is refused, not sent to the helper).
func (t *Tunnel) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" || addr != t.Target() {
		return nil, fmt.Errorf("tunnel to helper port %d: %w: it reaches only %s, not %s %s", t.Port, ErrBadConfig, t.Target(), network, addr)
	}
	if err := t.ctx.Err(); err != nil {
		return nil, fmt.Errorf("tunnel to helper port %d: %w", t.Port, ErrTunnelClosed)
	}
	// The dial ends with the caller's context or the tunnel's.
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(t.ctx, cancel)()
	c, err := t.dial(dctx)
	if err != nil {
		return nil, err
	}
	tc := &tunnelConn{Conn: c, t: t}
	if !t.track(tc) {
		return nil, fmt.Errorf("tunnel to helper port %d: %w", t.Port, ErrTunnelClosed)
	}
	return tc, nil
}

// Close closes every connection of the tunnel; later dials fail.
func (t *Tunnel) Close() error {
	t.stop()
	t.shut()
	return nil
}

func (t *Tunnel) shut() {
	t.transport.CloseIdleConnections()
	t.mu.Lock()
	conns := make([]net.Conn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (t *Tunnel) track(c *tunnelConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx.Err() != nil {
		c.Conn.Close()
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

// tunnelConn leaves the tunnel's set when closed.
type tunnelConn struct {
	net.Conn
	t    *Tunnel
	once sync.Once
	err  error
}

func (c *tunnelConn) Close() error {
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
		c.err = c.Conn.Close()
	})
	return c.err
}
