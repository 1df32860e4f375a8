package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/gate"
	"github.com/patchgit/patchgit/internal/pin"
)

// argon2Checker is the real PIN check: argon2id (OWASP parameters) and a
// constant-time compare, counting evaluations.
type argon2Checker struct {
	hash  string
	calls atomic.Int64
}

func (c *argon2Checker) CheckPIN(_ context.Context, guess string) (bool, error) {
	c.calls.Add(1)
	return pin.Verify(c.hash, guess)
}

// unthrottledServer is the baseline: an SSH server that checks every PIN
// it is sent at once, as a wish server with a plain keyboard-interactive
// handler does.
func unthrottledServer(b *testing.B, checker *argon2Checker) string {
	b.Helper()
	signer := hostSigner(b)
	cfg := &gossh.ServerConfig{
		KeyboardInteractiveCallback: func(_ gossh.ConnMetadata, ch gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
			answers, err := ch("", "", []string{pinQuestion}, []bool{false})
			if err != nil || len(answers) != 1 {
				return nil, errWrongPIN
			}
			if ok, _ := checker.CheckPIN(context.Background(), answers[0]); ok {
				return &gossh.Permissions{}, nil
			}
			return nil, errWrongPIN
		},
	}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if sc, chans, reqs, err := gossh.NewServerConn(c, cfg); err == nil {
					go gossh.DiscardRequests(reqs)
					for ch := range chans {
						_ = ch.Reject(gossh.Prohibited, "benchmark")
					}
					sc.Close()
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func hostSigner(b *testing.B) gossh.Signer {
	b.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// bruteForce runs workers that guess wrong PINs from many loopback
// networks against addr for window, and returns the PINs they sent.
func bruteForce(addr string, workers int, window time.Duration) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	var sent, guess atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i += workers {
				from := fmt.Sprintf("127.%d.%d.3", 1+(i/4)%200, 1+i%4)
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: time.Second}
				conn, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					continue
				}
				context.AfterFunc(ctx, func() { conn.Close() })
				kbd := gossh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
					out := make([]string, len(qs))
					for j := range out {
						sent.Add(1)
						out[j] = fmt.Sprintf("%06d", 100000+guess.Add(1))
					}
					return out, nil
				})
				c, _, _, err := gossh.NewClientConn(conn, addr, &gossh.ClientConfig{User: "mallory", Auth: []gossh.AuthMethod{kbd},
					HostKeyCallback: gossh.InsecureIgnoreHostKey()}) //nolint:gosec // benchmark server
				if err == nil {
					c.Close()
				}
				conn.Close()
			}
		}()
	}
	wg.Wait()
	return sent.Load()
}

// BenchmarkBruteForce attacks an unthrottled server (the baseline) and the
// gated one for the same window with the same workers from 200 loopback
// networks, both verifying with real argon2id, and reports PINs evaluated
// per second for each and their ratio. Run: bench/gate.sh
func BenchmarkBruteForce(b *testing.B) {
	const workers = 16 // each in-flight argon2id holds 19 MiB
	window := 5 * time.Second
	hash, err := pin.Hash(testPIN)
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		base := &argon2Checker{hash: hash}
		baseSent := bruteForce(unthrottledServer(b, base), workers, window)

		gated := &argon2Checker{hash: hash}
		// The default policy, penalties on, the real clock.
		g, _, _ := newTestGate(b, gated, nil, func(p *gate.Policy) { p.Exempt = nil })
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		srv, err := New(Options{Listener: ln, HostKeyPath: filepath.Join(b.TempDir(), "hostkey"), Service: newFakeService(), Gate: g,
			App: func(ssh.Session, string) tea.Model { return nil }, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = srv.Serve() }()
		gatedSent := bruteForce(srv.Addr().String(), workers, window)
		_ = srv.Shutdown(context.Background())

		baseRate := float64(base.calls.Load()) / window.Seconds()
		gatedRate := float64(gated.calls.Load()) / window.Seconds()
		b.ReportMetric(baseRate, "baseline-evals/s")
		b.ReportMetric(gatedRate, "gated-evals/s")
		b.ReportMetric(baseRate/max(gatedRate, 1/window.Seconds()), "x-fewer")
		// Expected time to hit a random 6-digit PIN (half the space): the
		// baseline at its measured rate; the gate by its policy (10 guesses,
		// then one per lock period).
		b.ReportMetric(500_000/max(baseRate, 1e-9)/3600, "baseline-hours-to-find")
		p := g.Policy()
		b.ReportMetric(float64(500_000-p.MaxFailures)*p.LockFor.Hours()/24/365.25, "gated-years-to-find")
		b.Logf("window %v, %d workers from 200 networks: baseline evaluated %d of %d PINs sent; gated evaluated %d of %d sent",
			window, workers, base.calls.Load(), baseSent, gated.calls.Load(), gatedSent)
	}
}
