package audit

import (
	"fmt"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

// Filter picks entries: Kind is a prefix of the kind ("job."), Text a word
// found, case-insensitively, in the actor, subject, kind or data. The zero
// Filter keeps every entry.
type Filter struct {
	Kind string `json:"kind,omitempty"`
	Text string `json:"q,omitempty"`
}

// Keep reports whether e passes the filter.
func (f Filter) Keep(e Entry) bool {
	if f.Kind != "" && !strings.HasPrefix(e.Kind, f.Kind) {
		return false
	}
	if f.Text == "" {
		return true
	}
	word := strings.ToLower(f.Text)
	if strings.Contains(strings.ToLower(e.Actor+" "+e.Subject+" "+e.Kind), word) {
		return true
	}
	for k, v := range e.Data {
		if strings.Contains(strings.ToLower(k+"="+v), word) {
			return true
		}
	}
	return false
}

// Page is a run of entries, newest first, and where the pages beside it
// start. Before values are exclusive: "before=SEQ" shows entries older
// than SEQ; before=0 is the newest page.
type Page struct {
	Entries []Entry `json:"entries"`
	// Older is the before value of the next older page; 0: none.
	Older uint64 `json:"older_before,omitempty"`
	// HasNewer says a newer page exists; Newer is its before value (0:
	// the newest page).
	HasNewer bool   `json:"has_newer"`
	Newer    uint64 `json:"newer_before,omitempty"`
}

// Page reads up to limit entries that pass f with Seq < before (before 0:
// from the end), newest first, walking a bbolt cursor back from before:
// an unfiltered page reads limit+1 entries however long the log is, and a
// filtered one reads until it has found limit+1 matches (or the log ends).
// The newer page is found the same way forwards.
func (l *Log) Page(before uint64, limit int, f Filter) (Page, error) {
	if limit <= 0 {
		return Page{}, fmt.Errorf("read audit page: limit %d: want at least 1", limit)
	}
	p := Page{Entries: []Entry{}}
	err := l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(store.BucketAudit).Cursor()
		var k, v []byte
		if before == 0 {
			k, v = c.Last()
		} else if k, _ = c.Seek(store.U64(before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil; k, v = c.Prev() {
			e, err := decodeEntry(k, v)
			if err != nil {
				return err
			}
			if !f.Keep(e) {
				continue
			}
			if len(p.Entries) == limit {
				p.Older = p.Entries[limit-1].Seq
				break
			}
			p.Entries = append(p.Entries, e)
		}
		if before == 0 {
			return nil
		}
		// Forwards from before: the newer page is the limit matches just
		// above this one; with fewer than limit+1 of them it is the newest.
		n := 0
		for k, v = c.Seek(store.U64(before)); k != nil; k, v = c.Next() {
			e, err := decodeEntry(k, v)
			if err != nil {
				return err
			}
			if !f.Keep(e) {
				continue
			}
			p.HasNewer = true
			if n++; n == limit+1 {
				p.Newer = e.Seq
				break
			}
		}
		return nil
	})
	if err != nil {
		return Page{}, fmt.Errorf("read audit page: %w", err)
	}
	return p, nil
}

// Back reads the log from its end back to the newest entry for which stop
// is true (that entry included), and returns the entries that pass keep,
// oldest first. It reads only the entries after the stop point, so a
// proposal's trail costs what has happened since it was created, not the
// whole log.
func (l *Log) Back(stop, keep func(Entry) bool) ([]Entry, error) {
	var out []Entry
	err := l.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(store.BucketAudit).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			e, err := decodeEntry(k, v)
			if err != nil {
				return err
			}
			if keep(e) {
				out = append(out, e)
			}
			if stop(e) {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read audit trail: %w", err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// verifyKey is what a cached Report depends on: the log's last entry and
// counter, and the head file's bytes.
type verifyKey struct {
	counter    uint64
	last, file string // the last stored key and value; the head file
	fileErr    bool
}

// VerifyCached is Verify, recomputed only when the log's head (its last
// entry's seq and hash, its counter) or the head file changed since the
// last call; otherwise it returns the last Report. It is for pages that
// show the chain's status on every request. An edit to an entry in the
// middle of the log that leaves the head alone is seen at the next append
// or by Verify (`patchgit audit verify`), which always walks the whole log.
func (l *Log) VerifyCached() (Report, error) {
	var key verifyKey
	raw, err := os.ReadFile(l.headPath)
	key.file, key.fileErr = string(raw), err != nil
	err = l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketAudit)
		key.counter = b.Sequence()
		k, v := b.Cursor().Last()
		if k == nil {
			return nil
		}
		key.last = string(k) + "\x00" + string(v) // the whole entry: any change to it shows
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("verify audit log: %w", err)
	}
	l.verifyMu.Lock()
	defer l.verifyMu.Unlock()
	if l.verified != nil && *l.verifiedKey == key {
		return *l.verified, nil
	}
	r, err := l.Verify()
	if err != nil {
		return Report{}, err
	}
	l.verified, l.verifiedKey = &r, &key
	return r, nil
}
