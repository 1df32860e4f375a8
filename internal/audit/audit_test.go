package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

// newTestLog opens a real store in a temp dir with a head file beside it.
func newTestLog(t testing.TB) (*Log, *store.DB) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "patchgit.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return New(db, filepath.Join(dir, "audit.head")), db
}

// appendN appends n entries, perTx to a transaction.
func appendN(t testing.TB, l *Log, db *store.DB, n, perTx int) {
	t.Helper()
	for done := 0; done < n; {
		err := db.Update(func(tx *bolt.Tx) error {
			for i := 0; i < perTx && done < n; i++ {
				done++
				data := map[string]string{"n": fmt.Sprint(done), "repo": "demo"}
				if _, err := l.Append(tx, "proposal.state", "pin:ssh", fmt.Sprintf("p-%d", done), data); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func readHead(t *testing.T, l *Log) string {
	t.Helper()
	raw, err := os.ReadFile(l.HeadPath())
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestAppendChainsEntries(t *testing.T) {
	l, db := newTestLog(t)
	var got []Entry
	for i := range 3 {
		err := db.Update(func(tx *bolt.Tx) error {
			e, err := l.Append(tx, "test", "alice", fmt.Sprint("s", i), nil)
			got = append(got, e)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, e := range got {
		if e.Seq != uint64(i+1) {
			t.Errorf("entry %d: seq %d", i, e.Seq)
		}
		wantPrev := GenesisHash
		if i > 0 {
			wantPrev = got[i-1].Hash
		}
		if e.Prev != wantPrev {
			t.Errorf("entry %d: prev %s, want %s", e.Seq, e.Prev, wantPrev)
		}
		if e.Hash != computeHash(e) || len(e.Hash) != 64 {
			t.Errorf("entry %d: hash %q is not the hash of its content", e.Seq, e.Hash)
		}
		if e.Time.Location() != time.UTC {
			t.Errorf("entry %d: time %v is not UTC", e.Seq, e.Time)
		}
	}
	if head, want := readHead(t, l), fmt.Sprintf("3 %s\n", got[2].Hash); head != want {
		t.Errorf("head file %q, want %q", head, want)
	}
	fi, err := os.Stat(l.HeadPath())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("head file mode %v, want 0600", fi.Mode().Perm())
	}
	seq, hash, err := l.Head()
	if err != nil || seq != 3 || hash != got[2].Hash {
		t.Errorf("Head() = %d %s %v", seq, hash, err)
	}
}

func TestAppendSeveralInOneTransaction(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, db, 5, 5)
	list, err := l.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 || list[4].Seq != 5 || list[4].Prev != list[3].Hash {
		t.Fatalf("list = %+v", list)
	}
	if head := readHead(t, l); head != "5 "+list[4].Hash+"\n" {
		t.Errorf("head file %q after one transaction of 5", head)
	}
}

func TestRolledBackAppendDoesNotMoveHead(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, db, 1, 1)
	before := readHead(t, l)
	boom := errors.New("state change failed")
	err := db.Update(func(tx *bolt.Tx) error {
		if _, err := l.Append(tx, "test", "bob", "x", nil); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update error %v", err)
	}
	if after := readHead(t, l); after != before {
		t.Errorf("head file moved on rollback: %q -> %q", before, after)
	}
	appendN(t, l, db, 1, 1)
	list, _ := l.List(0, 0)
	if len(list) != 2 || list[1].Seq != 2 {
		t.Errorf("after rollback the next entry is %+v, want seq 2", list[len(list)-1])
	}
	if r, err := l.Verify(); err != nil || !r.OK {
		t.Errorf("Verify after rollback: %+v %v", r, err)
	}
}

func TestThousandEntriesVerify(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, db, 1000, 50)
	r, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Entries != 1000 || r.HeadSeq != 1000 || r.FileSeq != 1000 || r.FileHash != r.HeadHash {
		t.Fatalf("report %+v", r)
	}
}

func TestVerifyEmptyLog(t *testing.T) {
	l, _ := newTestLog(t)
	r, err := l.Verify()
	if err != nil || !r.OK || r.Entries != 0 {
		t.Fatalf("empty log: %+v %v", r, err)
	}
}

func TestVerifyAfterReopen(t *testing.T) {
	dir := t.TempDir()
	dbPath, headPath := filepath.Join(dir, "patchgit.db"), filepath.Join(dir, "audit.head")
	for round := range 2 {
		db, err := store.Open(dbPath, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		l := New(db, headPath)
		appendN(t, l, db, 3, 1)
		r, err := l.Verify()
		db.Close()
		if err != nil || !r.OK || r.HeadSeq != uint64(3*(round+1)) {
			t.Fatalf("round %d: %+v %v", round, r, err)
		}
	}
}

func TestConcurrentAppendsKeepHeadFileCurrent(t *testing.T) {
	l, db := newTestLog(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 10 {
				err := db.Update(func(tx *bolt.Tx) error {
					_, err := l.Append(tx, "test", fmt.Sprint("g", g), fmt.Sprint(i), nil)
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	r, err := l.Verify()
	if err != nil || !r.OK || r.FileSeq != 40 || r.HeadSeq != 40 {
		t.Fatalf("after concurrent appends: %+v %v", r, err)
	}
	if err := l.HeadFileError(); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidUTF8IsStoredAsReturned(t *testing.T) {
	l, db := newTestLog(t)
	var appended Entry
	err := db.Update(func(tx *bolt.Tx) error {
		var err error
		appended, err = l.Append(tx, "k\xff", "a", "s", map[string]string{"x\xfe": "v\xff"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := l.List(1, 1)
	a, _ := json.Marshal(appended)
	b, _ := json.Marshal(list[0])
	if !bytes.Equal(a, b) {
		t.Errorf("stored %s, returned %s", b, a)
	}
	if r, _ := l.Verify(); !r.OK {
		t.Errorf("verify: %s", r.Problem)
	}
}

func TestListAndExport(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, db, 12, 4)
	page, err := l.List(5, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 3 || page[0].Seq != 5 || page[2].Seq != 7 {
		t.Errorf("List(5, 3) = %d entries from %d", len(page), page[0].Seq)
	}
	if rest, _ := l.List(11, 0); len(rest) != 2 {
		t.Errorf("List(11, 0) = %d entries, want 2", len(rest))
	}
	var buf bytes.Buffer
	if err := l.Export(&buf); err != nil {
		t.Fatal(err)
	}
	all, _ := l.List(0, 0)
	sc := bufio.NewScanner(&buf)
	n := 0
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if e.Seq != all[n].Seq || e.Hash != all[n].Hash || e.Hash != computeHash(e) {
			t.Errorf("line %d: %+v", n+1, e)
		}
		n++
	}
	if n != 12 {
		t.Errorf("export has %d lines, want 12", n)
	}
}

func TestHashIsDeterministicAndCoversEveryField(t *testing.T) {
	base := Entry{Seq: 7, Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Kind: "k", Actor: "a",
		Subject: "s", Data: map[string]string{"b": "2", "a": "1"}, Prev: GenesisHash}
	h := computeHash(base)
	same := base
	same.Data = map[string]string{"a": "1", "b": "2"}
	same.Time = base.Time.In(time.FixedZone("X", 3600))
	if computeHash(same) != h {
		t.Error("the same entry hashed differently (map order or time zone)")
	}
	mutations := map[string]func(e *Entry){
		"seq":     func(e *Entry) { e.Seq++ },
		"time":    func(e *Entry) { e.Time = e.Time.Add(time.Nanosecond) },
		"kind":    func(e *Entry) { e.Kind = "K" },
		"actor":   func(e *Entry) { e.Actor = "b" },
		"subject": func(e *Entry) { e.Subject = "t" },
		"data":    func(e *Entry) { e.Data = map[string]string{"a": "1", "b": "3"} },
		"prev":    func(e *Entry) { e.Prev = strings.Repeat("1", 64) },
	}
	for field, mutate := range mutations {
		e := base
		mutate(&e)
		if computeHash(e) == h {
			t.Errorf("changing %s does not change the hash", field)
		}
	}
	if computeHash(Entry{}) != computeHash(Entry{Data: map[string]string{}}) {
		t.Error("nil and empty data hash differently, but storage does not keep the difference")
	}
}

func TestResealRecreatesHeadFile(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, db, 3, 1)
	if err := os.Remove(l.HeadPath()); err != nil {
		t.Fatal(err)
	}
	if r, _ := l.Verify(); r.OK {
		t.Fatal("verify passed without a head file")
	}
	if err := l.Reseal(); err != nil {
		t.Fatal(err)
	}
	if r, err := l.Verify(); err != nil || !r.OK || r.FileSeq != 3 {
		t.Fatalf("after reseal: %+v %v", r, err)
	}
}

func BenchmarkAppend(b *testing.B) {
	l, db := newTestLog(b)
	data := map[string]string{"proposal": "p-1", "state": "proposed", "revision": "3"}
	for b.Loop() {
		err := db.Update(func(tx *bolt.Tx) error {
			_, err := l.Append(tx, "proposal.state", "pin:ssh", "p-1", data)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendBatched(b *testing.B) {
	l, db := newTestLog(b)
	data := map[string]string{"proposal": "p-1", "state": "proposed", "revision": "3"}
	err := db.Update(func(tx *bolt.Tx) error {
		for b.Loop() {
			if _, err := l.Append(tx, "proposal.state", "pin:ssh", "p-1", data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
