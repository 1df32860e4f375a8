// Package store is PatchGit's one bbolt file: opened with a timeout (so a
// second process says who holds it instead of hanging), sync on, buckets
// created by ordered migrations keyed on a schema version, values as JSON.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names. A new bucket is added by a new migration, never by editing
// an old one.
var (
	BucketMeta          = []byte("meta")
	BucketAudit         = []byte("audit")         // seq (8 bytes BE) -> audit entry
	BucketConversations = []byte("conversations") // id -> Conversation
	BucketMessages      = []byte("messages")      // conversation id + seq -> Message
	BucketProposals     = []byte("proposals")     // id -> Proposal
	BucketJobs          = []byte("jobs")          // id -> Job
	BucketQueue         = []byte("queue")         // seq -> job id (queued jobs only)
	BucketLeases        = []byte("leases")        // repo -> Lease
	BucketPRs           = []byte("prs")           // repo + number -> PR (local forge)
	BucketSettings      = []byte("settings")      // pin hash and other small settings
	BucketGate          = []byte("gate")          // PIN gate: failure counts, locks, source penalties
	BucketLedger        = []byte("ledger")        // budget: reservations and settled spends
	BucketHelpers       = []byte("helpers")       // helper VMs: intent records and lifecycle
	BucketWebSessions   = []byte("web_sessions")  // web mirror: sessions and one-time links
)

var keySchema = []byte("schema_version")

// ErrLocked is returned when another process holds the database.
var ErrLocked = errors.New("database is locked")

// ErrNewerSchema is returned when the file was written by a newer PatchGit.
var ErrNewerSchema = errors.New("database schema is newer than this binary")

// Migration moves the schema from version N-1 to N (N = index+1).
type Migration func(tx *bolt.Tx) error

// migrations in order; migrations[i] brings the schema to version i+1.
var migrations = []Migration{
	func(tx *bolt.Tx) error { // 1: the walking skeleton's buckets
		for _, b := range [][]byte{BucketMeta, BucketAudit, BucketConversations, BucketMessages,
			BucketProposals, BucketJobs, BucketQueue, BucketLeases, BucketPRs, BucketSettings} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	},
	func(tx *bolt.Tx) error { // 2: buckets for the gate, the budget, helpers and the web mirror
		for _, b := range [][]byte{BucketGate, BucketLedger, BucketHelpers, BucketWebSessions} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	},
}

// SchemaVersion is the version this binary writes.
func SchemaVersion() int { return len(migrations) }

// Options for Open.
type Options struct {
	// Timeout for the file lock; 0 means 2 s.
	Timeout time.Duration
	// ReadOnly opens with a shared lock; no migrations are run.
	ReadOnly bool
}

// DB is the open store.
type DB struct {
	bolt *bolt.DB
	path string
}

// Open opens (creating if needed) the database at path and migrates it.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, ReadOnly: opts.ReadOnly})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open store: another patchgit is using %s? (%w: no lock within %s)", path, ErrLocked, opts.Timeout)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path}
	if !opts.ReadOnly {
		if err := db.migrate(); err != nil {
			b.Close()
			return nil, err
		}
	}
	return db, nil
}

func (db *DB) migrate() error {
	return db.bolt.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(BucketMeta)
		if err != nil {
			return err
		}
		have := 0
		if v := meta.Get(keySchema); len(v) == 8 {
			have = int(binary.BigEndian.Uint64(v))
		}
		if have > len(migrations) {
			return fmt.Errorf("open store %s: %w (file has version %d, this binary knows %d): upgrade patchgit", db.path, ErrNewerSchema, have, len(migrations))
		}
		for v := have; v < len(migrations); v++ {
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("migrate store to version %d: %w", v+1, err)
			}
		}
		return meta.Put(keySchema, U64(uint64(len(migrations))))
	})
}

// Version reads the stored schema version.
func (db *DB) Version() (int, error) {
	v := 0
	err := db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(BucketMeta); b != nil {
			if raw := b.Get(keySchema); len(raw) == 8 {
				v = int(binary.BigEndian.Uint64(raw))
			}
		}
		return nil
	})
	return v, err
}

// Path is the database file's path.
func (db *DB) Path() string { return db.path }

// Update runs fn in a read-write transaction (fsynced on commit).
func (db *DB) Update(fn func(tx *bolt.Tx) error) error { return db.bolt.Update(fn) }

// View runs fn in a read-only transaction.
func (db *DB) View(fn func(tx *bolt.Tx) error) error { return db.bolt.View(fn) }

// Close closes the database.
func (db *DB) Close() error { return db.bolt.Close() }

// U64 encodes n as 8 big-endian bytes, so keys sort numerically.
func U64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// GetJSON decodes key's value from bucket into v; found is false when absent.
func GetJSON(tx *bolt.Tx, bucket, key []byte, v any) (found bool, err error) {
	raw := tx.Bucket(bucket).Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("decode %s/%s: %w", bucket, key, err)
	}
	return true, nil
}

// PutJSON encodes v and stores it under key in bucket.
func PutJSON(tx *bolt.Tx, bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", bucket, key, err)
	}
	return tx.Bucket(bucket).Put(key, raw)
}

// NextSeq returns the bucket's next sequence number.
func NextSeq(tx *bolt.Tx, bucket []byte) (uint64, error) {
	return tx.Bucket(bucket).NextSequence()
}
