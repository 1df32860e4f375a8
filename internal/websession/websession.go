// Package websession keeps the web mirror's sessions and one-time sign-in
// links in the store (bucket web_sessions), so a restart keeps people
// signed in and a link works exactly once even across processes.
//
// Only a SHA-256 of each token is stored: a copy of the database does not
// give anyone a session. Tokens are 256-bit random values; they are looked
// up by their hash, so no token is ever compared byte by byte.
package websession

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/store"
)

// Default lifetimes.
const (
	DefaultIdle     = 30 * time.Minute // a session unused this long ends
	DefaultAbsolute = 12 * time.Hour   // a session ends this long after sign-in, used or not
	DefaultLinkTTL  = 5 * time.Minute  // a one-time link not used within this is void

	// touchEvery bounds writes: LastSeen is saved at most this often.
	touchEvery = time.Minute
)

// Key prefixes inside the bucket.
const (
	prefixSession = "s/"
	prefixLink    = "l/"
)

// Session is a signed-in browser.
type Session struct {
	Actor    string    `json:"actor"`
	Via      string    `json:"via"` // "pin" or "link"
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
}

type link struct {
	Actor   string    `json:"actor"`
	Expires time.Time `json:"expires"`
}

// Options tunes a Store; zero values take the defaults.
type Options struct {
	Idle, Absolute, LinkTTL time.Duration
	Now                     func() time.Time
}

// Store is the session and link store.
type Store struct {
	db   *store.DB
	opt  Options
	base atomic.Pointer[string] // the mirror's public base URL once it listens
}

// New returns a Store over db.
func New(db *store.DB, opt Options) *Store {
	if opt.Idle <= 0 {
		opt.Idle = DefaultIdle
	}
	if opt.Absolute <= 0 {
		opt.Absolute = DefaultAbsolute
	}
	if opt.LinkTTL <= 0 {
		opt.LinkTTL = DefaultLinkTTL
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Store{db: db, opt: opt}
}

// Idle and Absolute report the session lifetimes (for cookie Max-Age).
func (s *Store) Idle() time.Duration     { return s.opt.Idle }
func (s *Store) Absolute() time.Duration { return s.opt.Absolute }

// SetBaseURL records where the mirror is reachable (public_url, or the
// address it listens on); links are minted against it.
func (s *Store) SetBaseURL(base string) {
	base = strings.TrimRight(base, "/")
	s.base.Store(&base)
}

// ProposalURL is a proposal's page on the mirror, for links in PR bodies;
// "" until the mirror serves (no base URL yet).
func (s *Store) ProposalURL(id string) string {
	base := s.base.Load()
	if base == nil || *base == "" {
		return ""
	}
	return *base + "/proposals/" + url.PathEscape(id)
}

// NewToken returns a 256-bit random token, URL-safe.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func key(prefix, token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return []byte(prefix + hex.EncodeToString(sum[:]))
}

// Create starts a session for actor and returns its token.
func (s *Store) Create(actor, via string) (string, error) {
	token, err := NewToken()
	if err != nil {
		return "", err
	}
	now := s.opt.Now()
	err = s.db.Update(func(tx *bolt.Tx) error {
		s.sweep(tx, now)
		return store.PutJSON(tx, store.BucketWebSessions, key(prefixSession, token),
			Session{Actor: actor, Via: via, Created: now, LastSeen: now})
	})
	if err != nil {
		return "", fmt.Errorf("create web session: %w", err)
	}
	return token, nil
}

// Lookup returns the live session for token, refreshing its idle timer.
// An expired one is deleted and reported as ErrExpired.
func (s *Store) Lookup(token string) (Session, error) {
	if token == "" {
		return Session{}, ErrNoSession
	}
	k := key(prefixSession, token)
	now := s.opt.Now()
	var sess Session
	found, err := s.view(k, &sess)
	if err != nil {
		return Session{}, err
	}
	if !found {
		return Session{}, ErrNoSession
	}
	if now.Sub(sess.LastSeen) > s.opt.Idle || now.Sub(sess.Created) > s.opt.Absolute {
		if err := s.delete(k); err != nil {
			return Session{}, err
		}
		return Session{}, ErrExpired
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		sess.LastSeen = now
		if err := s.db.Update(func(tx *bolt.Tx) error {
			return store.PutJSON(tx, store.BucketWebSessions, k, sess)
		}); err != nil {
			return Session{}, fmt.Errorf("touch web session: %w", err)
		}
	}
	return sess, nil
}

// Delete ends the session for token (logout). Unknown tokens are fine.
func (s *Store) Delete(token string) error {
	if token == "" {
		return nil
	}
	return s.delete(key(prefixSession, token))
}

// MintLink implements core.WebLinks: a single-use sign-in link for actor.
func (s *Store) MintLink(_ context.Context, actor string) (core.WebLink, error) {
	base := s.base.Load()
	if base == nil || *base == "" {
		return core.WebLink{}, ErrNotServing
	}
	token, err := NewToken()
	if err != nil {
		return core.WebLink{}, err
	}
	now := s.opt.Now()
	expires := now.Add(s.opt.LinkTTL)
	err = s.db.Update(func(tx *bolt.Tx) error {
		s.sweep(tx, now)
		return store.PutJSON(tx, store.BucketWebSessions, key(prefixLink, token), link{Actor: actor, Expires: expires})
	})
	if err != nil {
		return core.WebLink{}, fmt.Errorf("mint web link: %w", err)
	}
	return core.WebLink{URL: *base + "/login?link=" + url.QueryEscape(token), Expires: expires}, nil
}

// LinkActor says whom a link would sign in, without using it (the page
// that asks "continue as alice?").
func (s *Store) LinkActor(token string) (string, error) {
	var l link
	found, err := s.view(key(prefixLink, token), &l)
	if err != nil {
		return "", err
	}
	if !found || token == "" || !s.opt.Now().Before(l.Expires) {
		return "", ErrLinkInvalid
	}
	return l.Actor, nil
}

// RedeemLink uses a link: it is deleted in the same transaction that
// reads it, so two browsers racing on one link get one session.
func (s *Store) RedeemLink(token string) (string, error) {
	if token == "" {
		return "", ErrLinkInvalid
	}
	k := key(prefixLink, token)
	now := s.opt.Now()
	var actor string
	err := s.db.Update(func(tx *bolt.Tx) error {
		var l link
		found, err := store.GetJSON(tx, store.BucketWebSessions, k, &l)
		if err != nil {
			return err
		}
		if !found {
			return ErrLinkInvalid
		}
		if err := tx.Bucket(store.BucketWebSessions).Delete(k); err != nil {
			return err
		}
		if !now.Before(l.Expires) {
			return nil // deleted as void; reported below
		}
		actor = l.Actor
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("redeem web link: %w", err)
	}
	if actor == "" {
		return "", fmt.Errorf("redeem web link: %w", ErrLinkInvalid)
	}
	return actor, nil
}

func (s *Store) view(k []byte, v any) (bool, error) {
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		found, err = store.GetJSON(tx, store.BucketWebSessions, k, v)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("read web session: %w", err)
	}
	return found, nil
}

func (s *Store) delete(k []byte) error {
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(store.BucketWebSessions).Delete(k) }); err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	return nil
}

// sweep drops expired sessions and links so the bucket stays small; it
// runs inside the writes that add entries.
func (s *Store) sweep(tx *bolt.Tx, now time.Time) {
	b := tx.Bucket(store.BucketWebSessions)
	var dead [][]byte
	_ = b.ForEach(func(k, v []byte) error {
		switch {
		case strings.HasPrefix(string(k), prefixSession):
			var sess Session
			if json.Unmarshal(v, &sess) != nil || now.Sub(sess.LastSeen) > s.opt.Idle || now.Sub(sess.Created) > s.opt.Absolute {
				dead = append(dead, append([]byte(nil), k...))
			}
		case strings.HasPrefix(string(k), prefixLink):
			var l link
			if json.Unmarshal(v, &l) != nil || !now.Before(l.Expires) {
				dead = append(dead, append([]byte(nil), k...))
			}
		}
		return nil
	})
	for _, k := range dead {
		_ = b.Delete(k)
	}
}
