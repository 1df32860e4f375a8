// Package audit is PatchGit's append-only, hash-chained audit log. Entries
// live in the store's audit bucket keyed by sequence number; each entry's
// Hash covers all its other fields, including Prev (the previous entry's
// Hash), so editing, deleting or reordering any entry breaks the chain. A
// small head file beside the database records the last committed seq and
// hash, so cutting entries off the end is detected too.
package audit

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

// Entry is one audit record. Its fields and JSON tags match core.AuditEntry
// (core imports this package, so the type cannot be shared).
type Entry struct {
	Seq     uint64            `json:"seq"`
	Time    time.Time         `json:"time"`
	Kind    string            `json:"kind"`
	Actor   string            `json:"actor"`
	Subject string            `json:"subject"`
	Data    map[string]string `json:"data,omitempty"`
	Prev    string            `json:"prev"`
	Hash    string            `json:"hash"`
}

// Log appends to and reads the audit log.
type Log struct {
	db       *store.DB
	headPath string
	now      func() time.Time

	// mu orders head file writes: bbolt runs commit handlers after it has
	// released its writer lock, so two commits' handlers may overlap.
	mu          sync.Mutex
	headWritten uint64 // highest seq written to the head file by this Log
	headErr     error  // last head file write error, nil once a write succeeds

	verifyMu    sync.Mutex // guards the VerifyCached result
	verified    *Report
	verifiedKey *verifyKey
}

// New returns a Log over db whose head file is headPath (for example
// <data dir>/audit.head).
func New(db *store.DB, headPath string) *Log {
	return &Log{db: db, headPath: headPath, now: time.Now}
}

// HeadPath is the head file's path.
func (l *Log) HeadPath() string { return l.headPath }

// Append adds an entry inside the caller's read-write transaction, so a
// state change and its audit entry commit or roll back together. Seq is the
// previous seq + 1 (never reused, even if entries were cut off the end),
// Time is now in UTC, Prev is the previous entry's Hash (GenesisHash for the
// first). After the transaction commits, the head file is rewritten.
func (l *Log) Append(tx *bolt.Tx, kind, actor, subject string, data map[string]string) (Entry, error) {
	b := tx.Bucket(store.BucketAudit)
	if b == nil {
		return Entry{}, fmt.Errorf("append audit entry: bucket %q is missing (store not migrated?)", store.BucketAudit)
	}
	prev := GenesisHash
	lastSeq := uint64(0)
	if k, v := b.Cursor().Last(); k != nil {
		last, err := decodeEntry(k, v)
		if err != nil {
			return Entry{}, fmt.Errorf("append audit entry: %w", err)
		}
		lastSeq, prev = last.Seq, last.Hash
	}
	// The bucket sequence remembers the highest seq ever written, so a
	// truncated log leaves a gap that Verify keeps reporting.
	seq := max(lastSeq, b.Sequence()) + 1
	if err := b.SetSequence(seq); err != nil {
		return Entry{}, fmt.Errorf("append audit entry: %w", err)
	}
	e := Entry{
		Seq:     seq,
		Time:    l.now().UTC().Round(0),
		Kind:    validUTF8(kind),
		Actor:   validUTF8(actor),
		Subject: validUTF8(subject),
		Data:    cleanData(data),
		Prev:    prev,
	}
	e.Hash = computeHash(e)
	raw, err := json.Marshal(e)
	if err != nil {
		return Entry{}, fmt.Errorf("append audit entry: %w", err)
	}
	if err := b.Put(store.U64(seq), raw); err != nil {
		return Entry{}, fmt.Errorf("append audit entry: %w", err)
	}
	tx.OnCommit(func() { l.advanceHead(e.Seq, e.Hash) })
	return e, nil
}

// HeadFileError is the last error from rewriting the head file after a
// commit (commit handlers cannot return errors), or nil.
func (l *Log) HeadFileError() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.headErr
}

func (l *Log) advanceHead(seq uint64, hash string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq <= l.headWritten {
		return // a later commit's handler already ran
	}
	if err := writeHeadFile(l.headPath, seq, hash); err != nil {
		l.headErr = err
		return
	}
	l.headWritten, l.headErr = seq, nil
}

// List returns entries with Seq >= from in order, at most limit (0: all).
func (l *Log) List(from uint64, limit int) ([]Entry, error) {
	var out []Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(store.BucketAudit).Cursor()
		for k, v := c.Seek(store.U64(from)); k != nil; k, v = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			e, err := decodeEntry(k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return out, nil
}

// Head returns the last entry's seq and hash from the database; (0, "")
// for an empty log.
func (l *Log) Head() (seq uint64, hash string, err error) {
	err = l.db.View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(store.BucketAudit).Cursor().Last()
		if k == nil {
			return nil
		}
		e, err := decodeEntry(k, v)
		if err != nil {
			return err
		}
		seq, hash = e.Seq, e.Hash
		return nil
	})
	if err != nil {
		return 0, "", fmt.Errorf("read audit head: %w", err)
	}
	return seq, hash, nil
}

// Export writes every entry as one JSON object per line, in seq order, from
// one consistent snapshot.
func (l *Log) Export(w io.Writer) error {
	err := l.db.View(func(tx *bolt.Tx) error {
		enc := json.NewEncoder(w)
		return tx.Bucket(store.BucketAudit).ForEach(func(k, v []byte) error {
			e, err := decodeEntry(k, v)
			if err != nil {
				return err
			}
			return enc.Encode(e)
		})
	})
	if err != nil {
		return fmt.Errorf("export audit log: %w", err)
	}
	return nil
}

// decodeEntry reads a stored value; the error names the key's seq.
func decodeEntry(k, v []byte) (Entry, error) {
	if len(k) != 8 {
		return Entry{}, fmt.Errorf("%w: key %x is not an 8-byte sequence number", ErrCorrupt, k)
	}
	var e Entry
	if err := json.Unmarshal(v, &e); err != nil {
		return Entry{}, fmt.Errorf("%w: entry stored at seq %d is unreadable: %v", ErrCorrupt, binary.BigEndian.Uint64(k), err)
	}
	return e, nil
}

func cleanData(data map[string]string) map[string]string {
	if len(data) == 0 {
		return nil
	}
	out := make(map[string]string, len(data))
	for k, v := range data {
		out[validUTF8(k)] = validUTF8(v)
	}
	return out
}
