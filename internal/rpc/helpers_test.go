package rpc

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/core"
)

// guard only stops a hung test with a message; nothing asserts speed.
const guard = 30 * time.Second

// transport connects a client to svc over one kind of byte stream.
type transport struct {
	name    string
	connect func(t testing.TB, svc core.Service, admin core.Admin) *Client
}

var transports = []transport{
	{"pipe", connectPipe},
	{"unix", connectUnix},
}

func forEachTransport(t *testing.T, test func(t *testing.T, tr transport)) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { test(t, tr) })
	}
}

// connectPipe serves svc on one end of a net.Pipe.
func connectPipe(t testing.TB, svc core.Service, admin core.Admin) *Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	server, client := net.Pipe()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, server, svc, admin, "server-test") }()
	c, err := NewClient(ctx, client, "client-test")
	if err != nil {
		cancel()
		t.Fatalf("NewClient over a pipe: %v", err)
	}
	t.Cleanup(func() {
		c.Close()
		if err := waitErr(t, served); err != nil {
			t.Errorf("Serve returned %v after the client hung up, want nil", err)
		}
		cancel()
	})
	return c
}

// connectUnix serves svc on a real control socket and dials it.
func connectUnix(t testing.TB, svc core.Service, admin core.Admin) *Client {
	t.Helper()
	path, stop := serveSocket(t, svc, admin, nil)
	c, err := Dial(context.Background(), path, "client-test")
	if err != nil {
		t.Fatalf("Dial %s: %v", path, err)
	}
	t.Cleanup(func() {
		c.Close()
		stop()
	})
	return c
}

// serveSocket runs ServeListener on a fresh socket; stop ends it and
// checks it returned nil.
func serveSocket(t testing.TB, svc core.Service, admin core.Admin, log *slog.Logger) (path string, stop func()) {
	t.Helper()
	return serveSocketAt(t, filepath.Join(t.TempDir(), "control.sock"), svc, admin, log)
}

func serveSocketAt(t testing.TB, path string, svc core.Service, admin core.Admin, log *slog.Logger) (string, func()) {
	t.Helper()
	l, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen %s: %v", path, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ServeListener(ctx, l, svc, admin, "server-test", log) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := waitErr(t, served); err != nil {
				t.Errorf("ServeListener returned %v after shutdown, want nil", err)
			}
		})
	}
	t.Cleanup(stop)
	return path, stop
}

func waitErr(t testing.TB, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(guard):
		t.Fatal("still running: the server did not stop")
		return nil
	}
}

// waitFor waits until a signal arrives on ch.
func waitFor[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(guard):
		t.Fatalf("never happened: %s", what)
		var zero T
		return zero
	}
}

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func bufferLogger() (*slog.Logger, *lockedBuffer) {
	buf := &lockedBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}
