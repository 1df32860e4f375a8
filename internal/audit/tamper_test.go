package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

// Each tamper edits the raw bbolt values of a 10-entry log the way an
// attacker with the file would; Verify must fail and name the right seq.
func TestVerifyDetectsTampering(t *testing.T) {
	type tamper func(t *testing.T, l *Log, b *bolt.Bucket)
	flip := func(seq uint64, from, to string) tamper {
		return func(t *testing.T, _ *Log, b *bolt.Bucket) {
			raw := b.Get(store.U64(seq))
			if !bytes.Contains(raw, []byte(from)) {
				t.Fatalf("entry %d has no %q: %s", seq, from, raw)
			}
			put(t, b, seq, bytes.Replace(raw, []byte(from), []byte(to), 1))
		}
	}
	del := func(seqs ...uint64) tamper {
		return func(t *testing.T, _ *Log, b *bolt.Bucket) {
			for _, s := range seqs {
				if err := b.Delete(store.U64(s)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	setCounter := func(n uint64) tamper {
		return func(t *testing.T, _ *Log, b *bolt.Bucket) {
			if err := b.SetSequence(n); err != nil {
				t.Fatal(err)
			}
		}
	}
	both := func(ts ...tamper) tamper {
		return func(t *testing.T, l *Log, b *bolt.Bucket) {
			for _, f := range ts {
				f(t, l, b)
			}
		}
	}
	// rewrite replaces an entry by a self-consistent one (hash recomputed),
	// as an attacker who knows the format would.
	rewrite := func(seq uint64) tamper {
		return func(t *testing.T, _ *Log, b *bolt.Bucket) {
			var e Entry
			if err := json.Unmarshal(b.Get(store.U64(seq)), &e); err != nil {
				t.Fatal(err)
			}
			e.Actor = "mallory"
			e.Hash = computeHash(e)
			raw, _ := json.Marshal(e)
			put(t, b, seq, raw)
		}
	}
	cases := []struct {
		name   string
		tamper tamper
		want   string
	}{
		{"flip a byte in kind", flip(4, `"kind":"proposal.state"`, `"kind":"proposal.statf"`),
			"audit entry 4 was changed"},
		{"flip a byte in data", flip(5, `"repo":"demo"`, `"repo":"dema"`), "audit entry 5 was changed"},
		{"change the time", flip(6, `"time":"20`, `"time":"19`), "audit entry 6 was changed"},
		{"change the prev link", flip(7, `"prev":"`, `"prev":"f`), "audit entry 7 was changed"},
		{"change the seq field", flip(8, `"seq":8`, `"seq":9`), "stored at seq 8 says it is entry 9"},
		{"break the JSON", flip(3, `{`, `[`), "audit entry 3 is unreadable"},
		{"delete one entry", del(3), "audit entry 3 is missing (deleted): the log jumps to entry 4"},
		{"delete the first entries", del(1, 2), "audit entries 1..2 are missing"},
		{"swap two values", swap(2, 7), "the audit entry stored at seq 2 says it is entry 7"},
		{"rewrite an entry consistently", rewrite(5), "entry 5 or one before it was replaced"},
		{"rewrite the last entry consistently", rewrite(10), "audit entry 10 does not match the hash in the head file"},
		{"delete the last entries", del(9, 10), "audit entries 9..10 are missing from the end"},
		{"delete the last entries and reset the counter", both(del(9, 10), setCounter(8)),
			"the head file records audit entry 10 but the log ends at entry 8: entries 9..10 are deleted"},
		{"delete the last entry and reset the counter", both(del(10), setCounter(9)),
			"log ends at entry 9: entry 10 is deleted"},
		{"delete everything and reset the counter", both(del(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), setCounter(0)),
			"the head file records audit entry 10 but the log is empty"},
		{"remove the head file", func(t *testing.T, l *Log, _ *bolt.Bucket) { os.Remove(l.HeadPath()) },
			"is missing although the log has 10 entries (last: 10)"},
		{"garble the head file", func(t *testing.T, l *Log, _ *bolt.Bucket) {
			os.WriteFile(l.HeadPath(), []byte("ten\n"), 0o600)
		}, "cannot be used"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, db := newTestLog(t)
			appendN(t, l, db, 10, 3)
			if r, err := l.Verify(); err != nil || !r.OK {
				t.Fatalf("before tampering: %+v %v", r, err)
			}
			err := db.Update(func(tx *bolt.Tx) error {
				tc.tamper(t, l, tx.Bucket(store.BucketAudit))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			r, err := l.Verify()
			if err != nil {
				t.Fatal(err)
			}
			if r.OK {
				t.Fatalf("tampering went unnoticed: %+v", r)
			}
			if !strings.Contains(r.Problem, tc.want) {
				t.Errorf("problem %q\n does not contain %q", r.Problem, tc.want)
			}
		})
	}
}

func TestMissingHeadFileProblemSaysHowToFix(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, db, 2, 1)
	os.Remove(l.HeadPath())
	r, _ := l.Verify()
	for _, want := range []string{l.HeadPath(), "restore it from a backup", "patchgit audit reseal"} {
		if !strings.Contains(r.Problem, want) {
			t.Errorf("problem %q does not mention %q", r.Problem, want)
		}
	}
}

// A head file that trails the database (a crash between commit and the
// head write) is not tampering as long as its hash matches.
func TestTrailingHeadFileIsAccepted(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, db, 3, 1)
	old := readHead(t, l)
	appendN(t, l, db, 2, 1)
	if err := os.WriteFile(l.HeadPath(), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := l.Verify()
	if err != nil || !r.OK || r.FileSeq != 3 || r.HeadSeq != 5 {
		t.Fatalf("trailing head file: %+v %v", r, err)
	}
}

func TestAppendAfterTruncationLeavesAGap(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, db, 5, 5)
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(store.BucketAudit).Delete(store.U64(5)) })
	appendN(t, l, db, 1, 1) // also rewrites the head file
	r, _ := l.Verify()
	if r.OK || !strings.Contains(r.Problem, "audit entry 5 is missing") {
		t.Fatalf("report %+v", r)
	}
}

func put(t *testing.T, b *bolt.Bucket, seq uint64, raw []byte) {
	t.Helper()
	if err := b.Put(store.U64(seq), raw); err != nil {
		t.Fatal(err)
	}
}

func swap(a, c uint64) func(t *testing.T, _ *Log, b *bolt.Bucket) {
	return func(t *testing.T, _ *Log, b *bolt.Bucket) {
		va := bytes.Clone(b.Get(store.U64(a)))
		vc := bytes.Clone(b.Get(store.U64(c)))
		put(t, b, a, vc)
		put(t, b, c, va)
	}
}
