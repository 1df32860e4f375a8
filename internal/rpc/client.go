package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/patchgit/patchgit/internal/core"
)

// streamBuffer is how many events a subscriber may fall behind before it
// loses events (and then gets an EventResync).
const streamBuffer = 64

// Client speaks the protocol to a daemon. It implements core.Service and
// core.Admin; it is safe for concurrent use.
type Client struct {
	conn   io.ReadWriteCloser
	r      *frameReader
	w      *frameWriter
	server string

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan *frame
	streams map[uint64]*stream
	err     error         // why the connection ended; set before done closes
	done    chan struct{} // closed when the connection is gone
	reader  sync.WaitGroup
}

var (
	_ core.Service = (*Client)(nil)
	_ core.Admin   = (*Client)(nil)
)

// NewClient does the handshake on conn and returns a client that owns
// conn. ctx bounds the handshake only.
func NewClient(ctx context.Context, conn io.ReadWriteCloser, clientVersion string) (*Client, error) {
	return newClient(ctx, conn, clientVersion, ProtocolVersion)
}

func newClient(ctx context.Context, conn io.ReadWriteCloser, clientVersion string, proto int) (*Client, error) {
	c := &Client{
		conn:    conn,
		r:       newFrameReader(conn, MaxFrameSize),
		w:       &frameWriter{w: conn, max: MaxFrameSize},
		pending: map[uint64]chan *frame{},
		streams: map[uint64]*stream{},
		done:    make(chan struct{}),
	}
	// Closing conn is the only way to interrupt a blocked read.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err := c.handshake(clientVersion, proto)
	if !stop() || ctx.Err() != nil {
		err = fmt.Errorf("connect to the patchgit daemon: %w", context.Cause(ctx))
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	c.reader.Go(c.readLoop)
	return c, nil
}

func (c *Client) handshake(clientVersion string, proto int) error {
	greet, err := c.r.next()
	var malformed *malformedError
	if err != nil && !errors.As(err, &malformed) {
		return fmt.Errorf("read greeting: %w", closedIfEOF(err))
	}
	if err != nil || greet.Proto != ProtocolName {
		return fmt.Errorf("read greeting: the other end does not speak %s (is this a patchgit control socket?): %w", ProtocolName, ErrBadRequest)
	}
	c.server = greet.Server
	if err := c.w.write(&frame{Hello: &hello{Version: proto, Client: clientVersion}}); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	ack, err := c.r.next()
	switch {
	case err != nil:
		return fmt.Errorf("read handshake answer: %w", closedIfEOF(err))
	case ack.Error != nil:
		return ack.Error
	case !ack.Ready:
		return fmt.Errorf("read handshake answer: want ready, got something else: %w", ErrBadRequest)
	}
	return nil
}

// ServerVersion is the daemon's version string from its greeting.
func (c *Client) ServerVersion() string { return c.server }

// Close hangs up; calls in flight fail with ErrClosed and subscriptions
// end.
func (c *Client) Close() error {
	err := c.conn.Close()
	c.reader.Wait()
	if isClosed(err) { // already hung up by the daemon
		err = nil
	}
	return err
}

// isClosed: the connection was closed on this side.
func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe)
}

// readLoop routes frames to waiting calls and streams until the
// connection ends.
func (c *Client) readLoop() {
	for {
		f, err := c.r.next()
		if err != nil {
			var malformed *malformedError
			if errors.As(err, &malformed) {
				continue // framing is intact; a newer daemon may say more
			}
			c.fail(closedIfEOF(err))
			c.conn.Close()
			return
		}
		switch {
		case f.ID == 0 && f.Error != nil: // about the whole connection
			c.fail(f.Error)
			c.conn.Close()
			return
		case f.ID == 0:
			// Unknown connection-level frame: ignore for forward compatibility.
		case f.Event != nil:
			c.deliver(f.ID, f.Event)
		case f.End:
			c.endStream(f.ID)
		default:
			c.mu.Lock()
			ch := c.pending[f.ID]
			delete(c.pending, f.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- f // buffered: never blocks the reader
			}
		}
	}
}

// fail ends the connection: waiting calls return err, streams close.
func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	close(c.done)
	for id, s := range c.streams {
		delete(c.streams, id)
		s.close()
	}
}

// closedIfEOF names a hang-up for what it is.
func closedIfEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isClosed(err) {
		return fmt.Errorf("%w (%v)", ErrClosed, err)
	}
	return err
}

// connErr is the error calls return once the connection is gone.
func (c *Client) connErr(method string) error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	return wrapConnErr(method, err)
}

func wrapConnErr(method string, err error) error {
	var remote *RemoteError
	if errors.As(err, &remote) {
		return remote // e.g. "patchgit is shutting down": show as is
	}
	return fmt.Errorf("call %s: %w", method, err)
}

// call sends one request and decodes its result into out (nil: ignore).
func (c *Client) call(ctx context.Context, method string, out any, params ...any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	id, ch, err := c.register(method)
	if err != nil {
		return err
	}
	if err := c.send(ctx, method, id, params); err != nil {
		c.unregister(id)
		return err
	}
	f, err := c.await(ctx, method, id, ch)
	if err != nil {
		return err
	}
	if out != nil && len(f.Result) > 0 {
		if err := json.Unmarshal(f.Result, out); err != nil {
			return fmt.Errorf("decode result of %s: %w", method, err)
		}
	}
	return nil
}

func (c *Client) register(method string) (uint64, chan *frame, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, nil, wrapConnErr(method, c.err)
	}
	c.nextID++
	ch := make(chan *frame, 1)
	c.pending[c.nextID] = ch
	return c.nextID, ch, nil
}

func (c *Client) unregister(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

func (c *Client) send(ctx context.Context, method string, id uint64, params []any) error {
	if params == nil {
		params = []any{}
	}
	raw, err := marshal(params)
	if err != nil {
		return fmt.Errorf("encode params of %s: %w", method, err)
	}
	if err := c.w.write(&frame{ID: id, Method: method, Params: raw}); err != nil {
		var size *sizeError
		if errors.As(err, &size) {
			return fmt.Errorf("send %s: the request is %v: %w", method, size, ErrFrameTooLarge)
		}
		// A failed write means the connection is going; the reader is about
		// to say why (the daemon may have sent "shutting down" first).
		select {
		case <-c.done:
			return c.connErr(method)
		case <-ctx.Done():
		case <-time.After(farewellWait):
			c.conn.Close()
		}
		return fmt.Errorf("send %s: %w", method, closedIfEOF(err))
	}
	return nil
}

// await waits for the answer to id. A cancelled ctx tells the server to
// stop working on it.
func (c *Client) await(ctx context.Context, method string, id uint64, ch chan *frame) (*frame, error) {
	answer := func(f *frame) (*frame, error) {
		if f.Error != nil {
			return nil, f.Error
		}
		return f, nil
	}
	select {
	case f := <-ch:
		return answer(f)
	case <-c.done:
		select {
		case f := <-ch: // the answer beat the hang-up
			return answer(f)
		default:
		}
		return nil, c.connErr(method)
	case <-ctx.Done():
		c.unregister(id)
		go c.w.write(&frame{Cancel: id}) //nolint:errcheck // a dead connection needs no cancel
		return nil, ctx.Err()
	}
}
