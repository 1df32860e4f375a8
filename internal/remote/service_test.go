package remote

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/gate"
	"github.com/patchgit/patchgit/internal/server"
	"github.com/patchgit/patchgit/internal/store"
)

const testPIN = "274913"

// daemonService is the few core.Service methods these tests call; the
// embedded nil interface panics on any other, which the test would see.
type daemonService struct {
	core.Service
	mu        sync.Mutex
	sends     []string // actor: text
	holdSend  chan struct{}
	decisions []string // DecideSpend: "actor id rREV approve=BOOL"
	subs      []chan core.Event
}

func (f *daemonService) Repos(context.Context) ([]core.Repo, error) {
	return []core.Repo{{Name: "demo"}}, nil
}

func (f *daemonService) Send(ctx context.Context, actor, _, text string) (core.Message, error) {
	f.mu.Lock()
	f.sends = append(f.sends, actor+": "+text)
	hold := f.holdSend
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return core.Message{}, ctx.Err()
		}
	}
	return core.Message{Text: text}, nil
}

// DecideSpend records who the daemon was told decided.
func (f *daemonService) DecideSpend(_ context.Context, actor, proposalID string, rev int, approve bool) (core.Proposal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decisions = append(f.decisions, fmt.Sprintf("%s %s r%d approve=%v", actor, proposalID, rev, approve))
	return core.Proposal{ID: proposalID, State: core.StateDraft}, nil
}

func (f *daemonService) Subscribe(ctx context.Context) (<-chan core.Event, error) {
	ch := make(chan core.Event, 8)
	f.mu.Lock()
	f.subs = append(f.subs, ch)
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, c := range f.subs {
			if c == ch {
				f.subs = append(f.subs[:i], f.subs[i+1:]...)
				close(ch)
			}
		}
	}()
	return ch, nil
}

func (f *daemonService) emit(ev core.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.subs {
		c <- ev
	}
}

// pinBox is the daemon's PIN, which a test may change.
type pinBox struct {
	mu  sync.Mutex
	pin string
}

func (p *pinBox) CheckPIN(_ context.Context, pin string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return subtle.ConstantTimeCompare([]byte(pin), []byte(p.pin)) == 1, nil
}

func (p *pinBox) set(pin string) {
	p.mu.Lock()
	p.pin = pin
	p.mu.Unlock()
}

// cutter forwards TCP to the daemon until cut, like a network dropping.
type cutter struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func (c *cutter) serve() {
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", c.target)
		if err != nil {
			conn.Close()
			continue
		}
		c.mu.Lock()
		c.conns = append(c.conns, conn, up)
		c.mu.Unlock()
		go func() { io.Copy(up, conn); up.Close() }()
		go func() { io.Copy(conn, up); conn.Close() }()
	}
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

type rig struct {
	svc    *daemonService
	pin    *pinBox
	cutter *cutter
	remote *Service
	prompt *script
}

// startRig runs the real SSH server on loopback behind a cutter and
// connects to it, answering yes to the host key and the PIN.
func startRig(t testing.TB) *rig {
	t.Helper()
	r := &rig{svc: &daemonService{}, pin: &pinBox{pin: testPIN}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{
		Listener: ln, HostKeyPath: filepath.Join(t.TempDir(), "host_ed25519"), Service: r.svc, Gate: testGate(t, r.pin),
		App:    func(ssh.Session, string) tea.Model { return nil },
		Logger: slog.New(slog.DiscardHandler), Version: "test-daemon",
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.cutter = &cutter{ln: pl, target: srv.Addr().String()}
	go r.cutter.serve()
	t.Cleanup(func() { pl.Close(); r.cutter.cut() })

	port := pl.Addr().(*net.TCPAddr).Port
	r.prompt = &script{answers: []string{"yes", testPIN}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.remote, err = Connect(ctx, Options{
		Target: Target{User: "alice", Host: "127.0.0.1", Port: port}, KnownHosts: filepath.Join(t.TempDir(), "known_hosts"),
		Prompt: r.prompt, Version: "test-client",
	})
	if err != nil {
		t.Fatalf("Connect: %v (asked %q)", err, r.prompt.shown)
	}
	t.Cleanup(func() { r.remote.Close() })
	return r
}

func next(t *testing.T, ch <-chan core.Event) core.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event channel closed")
		}
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event")
		return core.Event{}
	}
}

func TestReconnectsAndResumesEvents(t *testing.T) {
	r := startRig(t)
	ctx := t.Context()
	if v := r.remote.ServerVersion(); v != "test-daemon" {
		t.Errorf("server version %q", v)
	}
	events, err := r.remote.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.svc.emit(core.Event{Kind: core.EventProposal, ID: "p1"})
	if ev := next(t, events); ev.ID != "p1" {
		t.Fatalf("event %+v", ev)
	}

	r.cutter.cut()
	if ev := next(t, events); ev.Kind != core.EventNotice || !strings.Contains(ev.Text, "lost: reconnecting") {
		t.Fatalf("after the cut: %+v, want a notice", ev)
	}
	if ev := next(t, events); ev.Kind != core.EventResync || !strings.Contains(ev.Text, "reconnected") {
		t.Fatalf("after reconnecting: %+v, want a resync", ev)
	}
	// The new subscription is live, and calls work; nothing was asked.
	r.svc.emit(core.Event{Kind: core.EventJob, ID: "j1"})
	if ev := next(t, events); ev.ID != "j1" {
		t.Fatalf("event after reconnect %+v", ev)
	}
	if repos, err := r.remote.Repos(ctx); err != nil || len(repos) != 1 {
		t.Fatalf("Repos after reconnect: %v %v", repos, err)
	}
	if len(r.prompt.answers) != 0 || strings.Count(strings.Join(r.prompt.shown, "\n"), "PIN") != 1 {
		t.Fatalf("the reconnect asked the person: %q", r.prompt.shown)
	}
}

func TestChangeCutOffByDropIsNotRepeated(t *testing.T) {
	r := startRig(t)
	r.svc.holdSend = make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := r.remote.Send(t.Context(), "mallory", "c1", "hello")
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r.svc.mu.Lock()
		n := len(r.svc.sends)
		r.svc.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Send never reached the daemon")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.cutter.cut()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Send did not return after the drop")
	}
	if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "may or may not have happened") {
		t.Fatalf("Send cut off: %v", err)
	}
	close(r.svc.holdSend)
	// Reads work again once reconnected; the change was made once, by
	// the ssh user whatever the client claimed.
	if _, err := r.remote.Repos(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.svc.mu.Lock()
	defer r.svc.mu.Unlock()
	if len(r.svc.sends) != 1 || r.svc.sends[0] != "alice: hello" {
		t.Fatalf("sends %q, want one by alice", r.svc.sends)
	}
}

func TestChangedPINStopsReconnecting(t *testing.T) {
	r := startRig(t)
	events, err := r.remote.Subscribe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r.pin.set("999999")
	r.cutter.cut()
	if ev := next(t, events); ev.Kind != core.EventNotice {
		t.Fatalf("after the cut: %+v", ev)
	}
	ev := next(t, events)
	if ev.Kind != core.EventNotice || !strings.Contains(ev.Text, "refused the PIN") || !strings.Contains(ev.Text, "connect again") {
		t.Fatalf("with a changed PIN: %+v, want a notice that says so", ev)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := r.remote.Repos(ctx); !errors.Is(err, ErrPINRefused) {
		t.Fatalf("call after giving up: %v", err)
	}
}

// testGate is the real PIN gate on a fresh store, judging with v; loopback
// is exempt from source penalties so reconnections are not refused.
func testGate(t testing.TB, v gate.Verifier) *gate.Gate {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "patchgit.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p := gate.DefaultPolicy()
	p.Exempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	g, err := gate.New(gate.Options{DB: db, Audit: audit.New(db, filepath.Join(dir, "audit.head")), Verifier: v,
		Policy: p, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// The spend decision reaches the daemon under the SSH login's name,
// whatever actor the client sends: the audit log names who approved.
func TestDecideSpendActorIsTheSSHLogin(t *testing.T) {
	r := startRig(t)
	p, err := r.remote.DecideSpend(t.Context(), "mallory", "p-1", 2, true)
	if err != nil || p.ID != "p-1" {
		t.Fatalf("DecideSpend over ssh: %+v %v", p, err)
	}
	r.svc.mu.Lock()
	defer r.svc.mu.Unlock()
	if want := []string{"alice p-1 r2 approve=true"}; !slices.Equal(r.svc.decisions, want) {
		t.Fatalf("the daemon saw %q, want %q", r.svc.decisions, want)
	}
}
