package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

// Report is the result of Verify. Problem is the first problem found, as a
// sentence for the person running `patchgit audit verify`.
type Report struct {
	OK       bool   `json:"ok"`
	Entries  uint64 `json:"entries"`
	HeadSeq  uint64 `json:"head_seq"` // last entry in the database
	HeadHash string `json:"head_hash"`
	FileSeq  uint64 `json:"file_seq"` // what the head file records (0: none)
	FileHash string `json:"file_hash"`
	Problem  string `json:"problem,omitempty"`
}

// resealHint says how to recover when the head file cannot be trusted.
const resealHint = "restore it from a backup, or, if you trust this database, recreate it with `patchgit audit reseal`"

// Verify walks the whole chain and compares its end with the head file. A
// damaged log is not an error: it is a Report with OK false. The error is
// for failures to read at all.
func (l *Log) Verify() (Report, error) {
	var r Report
	// Read the head file before the database: a commit that lands in
	// between moves the database ahead of the file, which is fine, whereas
	// the other order could see the file ahead of the database.
	fileSeq, fileHash, fileErr := readHeadFile(l.headPath)
	if fileErr == nil {
		r.FileSeq, r.FileHash = fileSeq, fileHash
	}
	var counter uint64
	var hashAtFileSeq string
	err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketAudit)
		counter = b.Sequence()
		w := walker{expect: 1, prev: GenesisHash}
		err := b.ForEach(func(k, v []byte) error {
			e, ok := w.step(k, v)
			if ok && e.Seq == fileSeq {
				hashAtFileSeq = e.Hash
			}
			return nil
		})
		r.Entries, r.HeadSeq, r.HeadHash, r.Problem = w.count, w.lastSeq, w.lastHash, w.problem
		return err
	})
	if err != nil {
		return Report{}, fmt.Errorf("verify audit log: %w", err)
	}
	if r.Problem == "" && counter > r.HeadSeq {
		r.Problem = fmt.Sprintf("audit %s missing from the end of the log (deleted): its counter is at %d", span(r.HeadSeq+1, counter), counter)
	}
	if r.Problem == "" {
		r.Problem = headFileProblem(l.headPath, r, fileErr, hashAtFileSeq)
	}
	r.OK = r.Problem == ""
	return r, nil
}

func headFileProblem(path string, r Report, fileErr error, hashAtFileSeq string) string {
	switch {
	case errors.Is(fileErr, os.ErrNotExist):
		if r.Entries == 0 {
			return "" // a fresh log has no head file yet
		}
		return fmt.Sprintf("the audit head file %s is missing although the log has %d entries (last: %d), so entries deleted from the end cannot be ruled out; %s", path, r.Entries, r.HeadSeq, resealHint)
	case fileErr != nil:
		return fmt.Sprintf("the audit head file cannot be used (%v) while the log's last entry is %d; %s", fileErr, r.HeadSeq, resealHint)
	case r.FileSeq > r.HeadSeq && r.HeadSeq == 0:
		return fmt.Sprintf("the head file records audit entry %d but the log is empty: %s deleted", r.FileSeq, span(1, r.FileSeq))
	case r.FileSeq > r.HeadSeq:
		return fmt.Sprintf("the head file records audit entry %d but the log ends at entry %d: %s deleted", r.FileSeq, r.HeadSeq, span(r.HeadSeq+1, r.FileSeq))
	case hashAtFileSeq != r.FileHash:
		return fmt.Sprintf("audit entry %d does not match the hash in the head file: the entry (or the head file) was replaced", r.FileSeq)
	}
	// The file may trail the database by the commits whose head write has
	// not happened yet (or was lost in a crash); the chain covers those.
	return ""
}

// walker checks entries one at a time in key order and keeps the first
// problem. After a problem it carries on from the stored values, so the
// counts stay right and one bad entry is reported once.
type walker struct {
	expect   uint64 // the seq the next key should have
	prev     string // the Hash the next entry's Prev should have
	count    uint64
	lastSeq  uint64
	lastHash string
	problem  string
}

func (w *walker) fail(format string, args ...any) {
	if w.problem == "" {
		w.problem = fmt.Sprintf(format, args...)
	}
}

// step checks one stored pair; ok is false when the value is unreadable.
func (w *walker) step(k, v []byte) (Entry, bool) {
	w.count++
	if len(k) != 8 {
		w.fail("the audit log holds a key of %d bytes after entry %d: it was edited outside PatchGit", len(k), w.lastSeq)
		return Entry{}, false
	}
	keySeq := binary.BigEndian.Uint64(k)
	defer func() { w.expect, w.lastSeq = keySeq+1, keySeq }()
	if keySeq > w.expect {
		w.fail("audit %s missing (deleted): the log jumps to entry %d", span(w.expect, keySeq-1), keySeq)
	}
	e, err := decodeEntry(k, v)
	if err != nil {
		w.fail("audit entry %d is unreadable (not valid JSON): it was damaged or edited outside PatchGit", keySeq)
		w.prev, w.lastHash = "", ""
		return Entry{}, false
	}
	switch {
	case e.Seq != keySeq:
		w.fail("the audit entry stored at seq %d says it is entry %d: entries were moved or swapped", keySeq, e.Seq)
	case e.Hash != computeHash(e):
		w.fail("audit entry %d was changed: its content does not match its hash", keySeq)
	case e.Prev != w.prev && w.prev != "":
		w.fail("audit entry %d does not follow entry %d (its prev hash differs): entry %d or one before it was replaced", keySeq, keySeq-1, keySeq-1)
	}
	w.prev, w.lastHash = e.Hash, e.Hash
	return e, true
}

// span names the entries a..b with their verb: "entry 3 is", "entries 3..5 are".
func span(a, b uint64) string {
	if a == b {
		return fmt.Sprintf("entry %d is", a)
	}
	return fmt.Sprintf("entries %d..%d are", a, b)
}
