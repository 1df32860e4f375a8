package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/gate"
)

// newKey returns a signer, writes its public key to an authorized_keys
// file in dir and its private key to id_ed25519 there (for OpenSSH).
func newKey(t *testing.T, dir string) (gossh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "id_ed25519"), pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(path, append([]byte("# the owner\n"), gossh.MarshalAuthorizedKey(signer.PublicKey())...), 0o600); err != nil {
		t.Fatal(err)
	}
	return signer, path
}

// dialFrom dials from a chosen loopback source address (127.x.y.z are all
// local on Linux), so tests can play many sources.
func dialFrom(t *testing.T, addr, from, user string, banner *string, methods ...gossh.AuthMethod) (*gossh.Client, error) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	cfg := &gossh.ClientConfig{User: user, Auth: methods, Timeout: 10 * time.Second,
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), //nolint:gosec // test server with a fresh key
		BannerCallback: func(msg string) error {
			mu.Lock()
			defer mu.Unlock()
			if banner != nil {
				*banner += msg
			}
			return nil
		},
	}
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	c, chans, reqs, err := gossh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	client := gossh.NewClient(c, chans, reqs)
	t.Cleanup(func() { _ = client.Close() })
	return client, nil
}

func TestKeyHolderGetsInWhileAnonymousGateIsLocked(t *testing.T) {
	signer, keys := newKey(t, t.TempDir())
	notices := make(chan string, 1)
	ts := startServer(t, func(o *Options) {
		o.AuthorizedKeysPath = keys
		o.App = func(sess ssh.Session, actor string) tea.Model {
			notices <- RecentFailures(sess)
			return greeter{actor: actor}
		}
	})
	for i := range 10 {
		if _, err := dialWith(t, ts.addr, "mallory", (&pinAuth{pin: "00000" + string(rune('0'+i%10))}).method()); err == nil {
			t.Fatal("a wrong PIN got in")
		}
	}
	var banner string
	_, err := dialFrom(t, ts.addr, "127.0.0.1", "alice", &banner, (&pinAuth{pin: testPIN}).method())
	if err == nil || !strings.Contains(banner, "locked until") || !strings.Contains(banner, "patchgit pin unlock") {
		t.Fatalf("right PIN without the key while locked: err %v, banner %q; want refused with the lock message", err, banner)
	}
	calls := ts.pin.Calls()
	c, err := dialWith(t, ts.addr, "alice", gossh.PublicKeys(signer), (&pinAuth{pin: testPIN}).method())
	if err != nil {
		t.Fatalf("key holder with the right PIN during the lock: %v", err)
	}
	if got := ts.pin.Calls(); got != calls+1 {
		t.Errorf("key holder login evaluated %d PINs, want 1", got-calls)
	}
	res := run(t, c, "help", nil)
	if res.code != 0 {
		t.Errorf("key holder session: exit %d, stderr %q", res.code, res.stderr)
	}
	if !strings.Contains(ts.logs.String(), `method=key+pin`) {
		t.Errorf("log does not say key+pin:\n%s", ts.logs.String())
	}
	// The app gets the failures since the last login.
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	select {
	case notice := <-notices:
		// 10 evaluated; the refused attempt during the lock was not.
		if !strings.Contains(notice, "10 wrong PIN(s) since the last login, from [127.0.0.0/24], between ") {
			t.Errorf("notice %q, want the 10 failures and their network", notice)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the app was not built")
	}
}

func TestRequireKeyRefusesPINAlone(t *testing.T) {
	signer, keys := newKey(t, t.TempDir())
	ts := startServer(t, func(o *Options) {
		o.AuthorizedKeysPath = keys
		o.Limits.RequireKey = true
	})
	if _, err := dialWith(t, ts.addr, "alice", (&pinAuth{pin: testPIN}).method()); err == nil {
		t.Fatal("the PIN alone got in with require_key on")
	}
	if ts.pin.Calls() != 0 {
		t.Errorf("a PIN was evaluated without a key")
	}
	if _, err := dialWith(t, ts.addr, "alice", gossh.PublicKeys(signer)); err == nil {
		t.Fatal("the key alone got in")
	}
	if _, err := dialWith(t, ts.addr, "alice", gossh.PublicKeys(signer), (&pinAuth{pin: testPIN}).method()); err != nil {
		t.Fatalf("key and PIN: %v", err)
	}
}

func TestRequireKeyWithoutKeysIsRefusedAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	g, _, _ := newTestGate(t, &fakePIN{pin: testPIN}, newFakeClock(), nil)
	_, err = New(Options{Listener: ln, HostKeyPath: filepath.Join(t.TempDir(), "k"), Service: newFakeService(), Gate: g,
		App: func(ssh.Session, string) tea.Model { return nil }, AuthorizedKeysPath: filepath.Join(t.TempDir(), "authorized_keys"),
		Limits: Limits{RequireKey: true}})
	if err == nil || !strings.Contains(err.Error(), "holds no usable key") {
		t.Errorf("require_key with no keys: %v", err)
	}
}

// A wrong PIN puts the source's /24 on a penalty: its next connections are
// dropped before the key exchange; other networks are not.
func TestPenalizedNetworkIsDroppedBeforeKeyExchange(t *testing.T) {
	ts := startServer(t, func(o *Options) {
		o.Gate, _, _ = newTestGate(t, &fakePIN{pin: testPIN}, newFakeClock(), func(p *gate.Policy) { p.Exempt = nil })
	})
	if _, err := dialFrom(t, ts.addr, "127.0.7.1", "mallory", nil, (&pinAuth{pin: "000000"}).method()); err == nil {
		t.Fatal("wrong PIN got in")
	}
	_, err := dialFrom(t, ts.addr, "127.0.7.99", "mallory", nil, (&pinAuth{pin: testPIN}).method())
	if err == nil || strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("same /24 during its penalty: %v; want the connection dropped before authentication", err)
	}
	if _, err := dialFrom(t, ts.addr, "127.0.8.1", "alice", nil, (&pinAuth{pin: testPIN}).method()); err != nil {
		t.Fatalf("another network: %v", err)
	}
}

func TestSessionCap(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.Limits.MaxSessions = 1 })
	c := ts.dial(t, "alice")
	first, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := first.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if err := first.Shell(); err != nil {
		t.Fatal(err)
	}
	<-ts.actors // the first session holds the only slot
	res := run(t, ts.dial(t, "bob"), "help", nil)
	if res.code != 1 || !strings.Contains(res.stderr, "ssh.max_sessions") {
		t.Errorf("second session: exit %d, stderr %q; want refused", res.code, res.stderr)
	}
}

func TestPreauthEvictsOldestOfBusiestNetwork(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	p := newPreauth(4, 2)
	dial := func(from string) *pending {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		// The server side sees the client's address as remote; a client
		// conn's LocalAddr plays that role here.
		return p.admit(swapped{c})
	}
	a1, a2 := dial("127.0.1.1"), dial("127.0.1.2")
	a3 := dial("127.0.1.3") // per-network cap 2: a1 goes
	if !closed(a1) || closed(a2) || closed(a3) {
		t.Fatalf("per-network cap: a1 closed %v, a2 %v, a3 %v", closed(a1), closed(a2), closed(a3))
	}
	b1, c1 := dial("127.0.2.1"), dial("127.0.3.1")
	d1 := dial("127.0.4.1") // total cap 4: the busiest network (127.0.1.0/24) loses its oldest, a2
	if !closed(a2) || closed(b1) || closed(c1) || closed(d1) || closed(a3) {
		t.Fatalf("total cap evicted the wrong one: a2 %v b1 %v c1 %v d1 %v a3 %v", closed(a2), closed(b1), closed(c1), closed(d1), closed(a3))
	}
	// A connection that reached authentication outlives older stalled ones.
	b1.atAuth.Store(true)
	e1 := dial("127.0.5.1") // all networks hold 1 now but 127.0.1.0/24 (a3); a3 is the busiest... of one
	if !closed(a3) || closed(b1) {
		t.Fatalf("stage ignored: a3 closed %v, b1 %v", closed(a3), closed(b1))
	}
	f1 := dial("127.0.6.1") // c1 is now the oldest stage-0 connection
	if !closed(c1) || closed(b1) || closed(e1) || closed(f1) {
		t.Fatalf("second eviction: c1 %v b1 %v e1 %v f1 %v", closed(c1), closed(b1), closed(e1), closed(f1))
	}
	d1.done() // authenticated: leaves the table
	if n := p.count(); n != 3 || p.evicted.Load() != 4 {
		t.Errorf("count %d, evicted %d; want 3, 4", n, p.evicted.Load())
	}
}

// swapped presents a client conn as the server would see it.
type swapped struct{ net.Conn }

func (s swapped) RemoteAddr() net.Addr { return s.Conn.LocalAddr() }

func closed(p *pending) bool {
	_ = p.Conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, err := p.Conn.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// A connection that stays silent past the idle timeout is closed, and so is
// one older than the maximum session length, however busy.
func TestIdleAndMaxSessionTimeouts(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.Limits.IdleTimeout = 300 * time.Millisecond })
	c := ts.dial(t, "alice")
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("an idle connection outlived the 300 ms idle timeout by seconds")
	}

	ts = startServer(t, func(o *Options) { o.Limits.MaxSession = 700 * time.Millisecond })
	c = ts.dial(t, "alice")
	start := time.Now()
	for time.Since(start) < 5*time.Second {
		if _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil {
			if took := time.Since(start); took < 500*time.Millisecond {
				t.Errorf("closed after %v, before the maximum session length", took)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("a busy connection outlived the 700 ms maximum session length by seconds")
}
