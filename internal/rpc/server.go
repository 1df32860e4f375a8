package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"sync"
	"syscall"
	"time"

	"github.com/patchgit/patchgit/internal/core"
)

const (
	// maxInFlight bounds concurrent requests per connection; past it the
	// server stops reading until one finishes (backpressure, not an error).
	maxInFlight = 64
	// maxStreams bounds open subscriptions per connection.
	maxStreams = 16
	// farewellWait bounds the last frame written to a peer that may have
	// stopped reading.
	farewellWait = time.Second
)

// Serve speaks the protocol on conn until the peer leaves or ctx ends, then
// closes conn. admin nil: Admin methods answer ErrUnauthorized. It returns
// nil when the peer hung up or ctx ended, and the reason otherwise.
func Serve(ctx context.Context, conn io.ReadWriteCloser, svc core.Service, admin core.Admin, serverVersion string) error {
	return serve(ctx, conn, svc, admin, serverVersion, ProtocolVersion)
}

// session is one served connection.
type session struct {
	conn    io.ReadWriteCloser
	r       *frameReader
	w       *frameWriter
	methods map[string]*method
	svc     reflect.Value // core.Service
	admin   reflect.Value // core.Admin, invalid when nil
	serve   context.Context
	slots   chan struct{}

	closeOnce sync.Once
	mu        sync.Mutex
	inflight  map[uint64]context.CancelFunc
	streams   int
	wg        sync.WaitGroup
}

func serve(ctx context.Context, conn io.ReadWriteCloser, svc core.Service, admin core.Admin, serverVersion string, proto int) error {
	if svc == nil {
		conn.Close()
		return errors.New("serve control connection: no service")
	}
	methods, err := methodTable()
	if err != nil {
		conn.Close()
		return err
	}
	s := &session{
		conn:     conn,
		r:        newFrameReader(conn, MaxFrameSize),
		w:        &frameWriter{w: conn, max: MaxFrameSize},
		methods:  methods,
		svc:      reflect.ValueOf(&svc).Elem(),
		serve:    ctx,
		slots:    make(chan struct{}, maxInFlight),
		inflight: map[uint64]context.CancelFunc{},
	}
	if admin != nil {
		s.admin = reflect.ValueOf(&admin).Elem()
	}
	// The daemon is stopping: say so, then hang up (which also ends a
	// blocked read below).
	stop := context.AfterFunc(ctx, func() {
		s.farewell(&RemoteError{Code: CodeShutdown, Message: core.ErrServiceShutdown.Error()})
	})
	defer stop()

	connCtx, cancel := context.WithCancel(ctx)
	err = s.handshake(serverVersion, proto)
	if err == nil {
		err = s.loop(connCtx)
	}
	cancel()
	s.close()
	s.wg.Wait()
	if ctx.Err() != nil || hungUp(err) {
		return nil
	}
	return err
}

// hungUp: the peer went away, which ends a connection normally.
func hungUp(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

func (s *session) handshake(serverVersion string, proto int) error {
	if err := s.w.write(&frame{Proto: ProtocolName, Version: proto, Server: serverVersion}); err != nil {
		return fmt.Errorf("send greeting: %w", err)
	}
	f, err := s.r.next()
	if err != nil {
		return s.readFailed(err)
	}
	if f.Hello == nil {
		s.farewell(&RemoteError{Code: CodeBadRequest, Message: `the first frame must be {"hello":{"version":N}}`})
		return fmt.Errorf("read hello: got another frame first: %w", ErrBadRequest)
	}
	if f.Hello.Version != proto {
		err := versionMismatch(proto, serverVersion, f.Hello.Version, f.Hello.Client)
		s.farewell(toWire(err))
		return err
	}
	if err := s.w.write(&frame{Ready: true}); err != nil {
		return fmt.Errorf("send ready: %w", err)
	}
	return nil
}

// versionMismatch says which side to upgrade.
func versionMismatch(server int, serverVersion string, client int, clientVersion string) error {
	if client < server {
		return fmt.Errorf("the patchgit client (%s) speaks control protocol version %d, the daemon (%s) speaks %d: upgrade the client to the daemon's version: %w",
			orUnknown(clientVersion), client, orUnknown(serverVersion), server, ErrVersionMismatch)
	}
	return fmt.Errorf("the patchgit daemon (%s) speaks control protocol version %d, the client (%s) speaks %d: upgrade the daemon and restart it, or use a client of the daemon's version: %w",
		orUnknown(serverVersion), server, orUnknown(clientVersion), client, ErrVersionMismatch)
}

func orUnknown(v string) string {
	if v == "" {
		return "unknown version"
	}
	return v
}

func (s *session) loop(ctx context.Context) error {
	for {
		f, err := s.r.next()
		var malformed *malformedError
		switch {
		case errors.As(err, &malformed):
			s.send(&frame{Error: toWire(malformed)})
			continue
		case err != nil:
			return s.readFailed(err)
		}
		switch {
		case f.Method != "":
			if f.ID == 0 {
				s.send(&frame{Error: &RemoteError{Code: CodeBadRequest, Message: "a request needs an id of 1 or more"}})
				continue
			}
			s.start(ctx, f)
		case f.Cancel != 0:
			s.mu.Lock()
			if cancel := s.inflight[f.Cancel]; cancel != nil {
				cancel()
			}
			s.mu.Unlock()
		default:
			s.send(&frame{ID: f.ID, Error: &RemoteError{Code: CodeBadRequest, Message: "unknown frame: want a request or a cancel"}})
		}
	}
}

// readFailed answers an oversize frame before giving up on the connection.
func (s *session) readFailed(err error) error {
	if errors.Is(err, ErrFrameTooLarge) {
		s.farewell(toWire(err))
	}
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) {
		return io.EOF // we hung up ourselves
	}
	return err
}

// start runs one request in its own goroutine.
func (s *session) start(ctx context.Context, f *frame) {
	m := s.methods[f.Method]
	if m == nil {
		s.send(&frame{ID: f.ID, Error: &RemoteError{Code: CodeBadRequest,
			Message: fmt.Sprintf("unknown method %q: the daemon may be older than this client", f.Method)}})
		return
	}
	reqCtx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	if _, dup := s.inflight[f.ID]; dup {
		s.mu.Unlock()
		cancel()
		s.send(&frame{ID: f.ID, Error: &RemoteError{Code: CodeBadRequest, Message: fmt.Sprintf("request id %d is already in flight", f.ID)}})
		return
	}
	s.inflight[f.ID] = cancel
	s.mu.Unlock()

	s.slots <- struct{}{}
	s.wg.Go(func() {
		defer func() {
			s.mu.Lock()
			delete(s.inflight, f.ID)
			s.mu.Unlock()
			cancel()
		}()
		s.handle(reqCtx, m, f)
	})
}

func (s *session) handle(ctx context.Context, m *method, f *frame) {
	release := sync.OnceFunc(func() { <-s.slots })
	defer release()

	result, err := s.invoke(ctx, m, f.Params)
	if err != nil {
		s.reply(f.ID, m, nil, err)
		return
	}
	if !m.stream {
		s.reply(f.ID, m, result, nil)
		return
	}
	release() // a stream is long-lived: it must not hold a request slot
	s.stream(ctx, f.ID, result)
}

// invoke decodes the params and calls the method, turning a panic into an
// internal error so one bad request does not stop the daemon.
func (s *session) invoke(ctx context.Context, m *method, params json.RawMessage) (result any, err error) {
	recv := s.svc
	if m.admin {
		if !s.admin.IsValid() {
			return nil, ErrUnauthorized
		}
		recv = s.admin
	}
	args, err := m.decodeParams(params)
	if err != nil {
		return nil, err
	}
	if m.stream {
		s.mu.Lock()
		full := s.streams >= maxStreams
		if !full {
			s.streams++
		}
		s.mu.Unlock()
		if full {
			return nil, fmt.Errorf("open stream %s: %d are open on this connection already; cancel one first: %w", m.name, maxStreams, ErrBadRequest)
		}
		defer func() {
			if err != nil {
				s.endStream()
			}
		}()
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error in %s: %v", m.name, p)
		}
	}()
	v, err := m.call(ctx, recv, args)
	if err != nil {
		return nil, err
	}
	if !v.IsValid() {
		return nil, nil
	}
	return v.Interface(), nil
}

func (s *session) endStream() {
	s.mu.Lock()
	s.streams--
	s.mu.Unlock()
}

// reply sends a method's result or error. An answer too large for one frame
// becomes a too_large error for that request alone.
func (s *session) reply(id uint64, m *method, result any, err error) {
	if err != nil {
		if s.serve.Err() != nil {
			err = fmt.Errorf("%s: %w", m.name, core.ErrServiceShutdown)
		}
		s.send(&frame{ID: id, Error: toWire(err)})
		return
	}
	raw, err := marshal(result)
	if err != nil {
		s.send(&frame{ID: id, Error: toWire(fmt.Errorf("encode result of %s: %w", m.name, err))})
		return
	}
	err = s.w.write(&frame{ID: id, Result: raw})
	var size *sizeError
	if errors.As(err, &size) {
		s.send(&frame{ID: id, Error: toWire(fmt.Errorf(
			"the answer to %s is %v: ask for less (filter by repository or state, or page with a limit): %w",
			m.name, size, ErrFrameTooLarge))})
	}
}

// stream forwards a subscription's values as event frames until the
// service closes its channel or the client cancels.
func (s *session) stream(ctx context.Context, id uint64, ch any) {
	if err := s.w.write(&frame{ID: id, Result: json.RawMessage("null")}); err != nil {
		s.endStream()
		return
	}
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)},
	}
	for {
		chosen, v, ok := reflect.Select(cases)
		if chosen == 0 || !ok {
			break
		}
		raw, err := marshal(v.Interface())
		if err != nil || s.w.write(&frame{ID: id, Event: raw}) != nil {
			break
		}
	}
	s.endStream() // before End: a client that saw End may open another
	s.send(&frame{ID: id, End: true})
}

// send writes a frame whose failure needs no handling: a broken connection
// is noticed by the read loop.
func (s *session) send(f *frame) { _ = s.w.write(f) }

// farewell writes a last connection-level error and hangs up, waiting at
// most farewellWait for a peer that does not read.
func (s *session) farewell(e *RemoteError) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.send(&frame{Error: e})
	}()
	select {
	case <-done:
	case <-time.After(farewellWait):
	}
	s.close()
}

func (s *session) close() { s.closeOnce.Do(func() { s.conn.Close() }) }
