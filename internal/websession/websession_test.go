package websession_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/store"
	"github.com/patchgit/patchgit/internal/websession"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newStore(t *testing.T) (*websession.Store, *clock, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "patchgit.db")
	db, err := store.Open(path, store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	s := websession.New(db, websession.Options{Idle: 30 * time.Minute, Absolute: 2 * time.Hour, LinkTTL: 5 * time.Minute, Now: c.Now})
	return s, c, path
}

func TestSessionIdleAndAbsoluteExpiry(t *testing.T) {
	s, c, _ := newStore(t)
	token, err := s.Create("web", "pin")
	if err != nil {
		t.Fatal(err)
	}
	if len(token) != 43 { // 32 random bytes, unpadded base64url
		t.Fatalf("token %q is not 256 bits", token)
	}
	// Used every 20 minutes it outlives the idle limit...
	for range 5 {
		c.add(20 * time.Minute)
		if sess, err := s.Lookup(token); err != nil || sess.Actor != "web" || sess.Via != "pin" {
			t.Fatalf("lookup after 20 idle minutes: %+v %v", sess, err)
		}
	}
	// ...but not the absolute one.
	c.add(25 * time.Minute)
	if _, err := s.Lookup(token); !errors.Is(err, websession.ErrExpired) {
		t.Fatalf("after 2h05m: %v, want ErrExpired", err)
	}
	if _, err := s.Lookup(token); !errors.Is(err, websession.ErrNoSession) {
		t.Fatalf("an expired session must be gone: %v", err)
	}

	idle, _ := s.Create("web", "pin")
	c.add(31 * time.Minute)
	if _, err := s.Lookup(idle); !errors.Is(err, websession.ErrExpired) {
		t.Fatalf("after 31 idle minutes: %v, want ErrExpired", err)
	}
}

func TestLogoutAndUnknownTokens(t *testing.T) {
	s, _, _ := newStore(t)
	token, _ := s.Create("web", "pin")
	if err := s.Delete(token); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{token, "", "nonsense"} {
		if _, err := s.Lookup(tok); !errors.Is(err, websession.ErrNoSession) {
			t.Fatalf("lookup %q: %v, want ErrNoSession", tok, err)
		}
	}
}

func TestLinkWorksOnceAndExpires(t *testing.T) {
	s, c, _ := newStore(t)
	ctx := context.Background()
	if _, err := s.MintLink(ctx, "alice"); !errors.Is(err, websession.ErrNotServing) {
		t.Fatalf("mint before the mirror listens: %v", err)
	}
	s.SetBaseURL("https://pg.example.com/")
	l, err := s.MintLink(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	token, ok := strings.CutPrefix(l.URL, "https://pg.example.com/login?link=")
	if !ok || len(token) != 43 || !l.Expires.Equal(c.Now().Add(5*time.Minute)) {
		t.Fatalf("link %+v", l)
	}
	if actor, err := s.LinkActor(token); err != nil || actor != "alice" {
		t.Fatalf("peek: %q %v", actor, err)
	}
	if actor, err := s.RedeemLink(token); err != nil || actor != "alice" {
		t.Fatalf("first use: %q %v", actor, err)
	}
	if _, err := s.RedeemLink(token); !errors.Is(err, websession.ErrLinkInvalid) {
		t.Fatalf("second use: %v, want ErrLinkInvalid", err)
	}

	late, _ := s.MintLink(ctx, "bob")
	c.add(5 * time.Minute)
	lateToken := late.URL[strings.Index(late.URL, "=")+1:]
	if _, err := s.LinkActor(lateToken); !errors.Is(err, websession.ErrLinkInvalid) {
		t.Fatalf("peek at an expired link: %v", err)
	}
	if _, err := s.RedeemLink(lateToken); !errors.Is(err, websession.ErrLinkInvalid) {
		t.Fatalf("expired link: %v, want ErrLinkInvalid", err)
	}
}

// Two browsers racing on one link get one session between them.
func TestLinkRaceGivesOneSession(t *testing.T) {
	s, _, _ := newStore(t)
	s.SetBaseURL("http://127.0.0.1:8080")
	l, _ := s.MintLink(context.Background(), "alice")
	token := l.URL[strings.Index(l.URL, "=")+1:]
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Go(func() {
			if _, err := s.RedeemLink(token); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d redemptions of one link, want 1", wins)
	}
}

// The database holds only hashes: a copy of it gives no session or link.
func TestTokensAreNotStored(t *testing.T) {
	s, _, path := newStore(t)
	s.SetBaseURL("http://127.0.0.1:8080")
	session, _ := s.Create("web", "pin")
	l, _ := s.MintLink(context.Background(), "alice")
	link := l.URL[strings.Index(l.URL, "=")+1:]
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{session, link} {
		if strings.Contains(string(raw), tok) {
			t.Fatalf("token %s is in the database file", tok)
		}
	}
}

func TestProposalURLFollowsTheBaseURL(t *testing.T) {
	s, _, _ := newStore(t)
	if got := s.ProposalURL("abc"); got != "" {
		t.Fatalf("before the mirror serves: %q, want no link", got)
	}
	s.SetBaseURL("https://pg.example.com/")
	if got, want := s.ProposalURL("0123abcd"), "https://pg.example.com/proposals/0123abcd"; got != want {
		t.Fatalf("ProposalURL = %q, want %q", got, want)
	}
}
