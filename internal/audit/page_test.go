package audit

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

func seqs(es []Entry) []uint64 {
	out := []uint64{}
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func span64(from, to uint64) []uint64 { // from down to to, inclusive
	var out []uint64
	for s := from; s >= to && s > 0; s-- {
		out = append(out, s)
	}
	return out
}

func TestPageWalksBackAndForth(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, db, 120, 7)

	newest, err := l.Page(0, 50, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(newest.Entries); !slices.Equal(got, span64(120, 71)) || newest.Older != 71 || newest.HasNewer {
		t.Fatalf("newest page: %v older %d newer %v", got, newest.Older, newest.HasNewer)
	}
	mid, err := l.Page(newest.Older, 50, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(mid.Entries); !slices.Equal(got, span64(70, 21)) || mid.Older != 21 || !mid.HasNewer || mid.Newer != 0 {
		t.Fatalf("middle page: %v older %d newer %v/%d", got, mid.Older, mid.HasNewer, mid.Newer)
	}
	last, err := l.Page(mid.Older, 50, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(last.Entries); !slices.Equal(got, span64(20, 1)) || last.Older != 0 || !last.HasNewer || last.Newer != 71 {
		t.Fatalf("oldest page: %v older %d newer %v/%d", got, last.Older, last.HasNewer, last.Newer)
	}
	// "newer" from the oldest page is the middle page again.
	back, err := l.Page(last.Newer, 50, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs(back.Entries), seqs(mid.Entries)) {
		t.Fatalf("newer of the oldest page: %v, want %v", seqs(back.Entries), seqs(mid.Entries))
	}
	// A before past the end is the newest page; before=1 is empty.
	past, _ := l.Page(10_000, 50, Filter{})
	if !slices.Equal(seqs(past.Entries), seqs(newest.Entries)) {
		t.Fatalf("before past the end: %v", seqs(past.Entries))
	}
	none, _ := l.Page(1, 50, Filter{})
	if len(none.Entries) != 0 || none.Older != 0 || !none.HasNewer {
		t.Fatalf("before=1: %+v", none)
	}
	if _, err := l.Page(0, 0, Filter{}); err == nil {
		t.Fatal("limit 0 accepted")
	}
}

func TestPageFilters(t *testing.T) {
	l, db := newTestLog(t)
	err := db.Update(func(tx *bolt.Tx) error {
		for i := 1; i <= 30; i++ {
			kind := "proposal.created"
			if i%3 == 0 {
				kind = "job.done"
			}
			if _, err := l.Append(tx, kind, "pin:ssh", fmt.Sprintf("s-%d", i), map[string]string{"Repo": fmt.Sprintf("r%d", i%2)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := l.Page(0, 4, Filter{Kind: "job."})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(jobs.Entries); !slices.Equal(got, []uint64{30, 27, 24, 21}) || jobs.Older != 21 {
		t.Fatalf("job. page: %v older %d", got, jobs.Older)
	}
	older, _ := l.Page(jobs.Older, 4, Filter{Kind: "job."})
	if got := seqs(older.Entries); !slices.Equal(got, []uint64{18, 15, 12, 9}) || !older.HasNewer || older.Newer != 0 {
		t.Fatalf("older job. page: %v newer %v/%d", got, older.HasNewer, older.Newer)
	}
	// The word is matched in data, case-insensitively, with the kind.
	r1, _ := l.Page(0, 100, Filter{Kind: "job.", Text: "REPO=R1"})
	if got := seqs(r1.Entries); !slices.Equal(got, []uint64{27, 21, 15, 9, 3}) || r1.Older != 0 {
		t.Fatalf("job. with repo=r1: %v", got)
	}
}

func TestBackStopsAtTheStartingEntry(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, db, 40, 5) // subjects p-1 .. p-40
	var read []uint64
	trail, err := l.Back(func(e Entry) bool { read = append(read, e.Seq); return e.Subject == "p-30" },
		func(e Entry) bool { return e.Seq%2 == 0 })
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(trail); !slices.Equal(got, []uint64{30, 32, 34, 36, 38, 40}) {
		t.Fatalf("trail: %v", got)
	}
	if !slices.Equal(read, span64(40, 30)) {
		t.Fatalf("Back read %v, want only 40..30", read)
	}
}

func TestVerifyCachedFollowsTheHead(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, db, 10, 3)
	r, err := l.VerifyCached()
	if err != nil || !r.OK || r.Entries != 10 {
		t.Fatalf("first: %+v %v", r, err)
	}
	// An edit in the middle that keeps the head is not seen by the cache
	// (documented), but is by Verify.
	tamper := func(seq uint64) {
		t.Helper()
		err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(store.BucketAudit)
			var e Entry
			if err := json.Unmarshal(b.Get(store.U64(seq)), &e); err != nil {
				return err
			}
			e.Actor = "mallory"
			raw, _ := json.Marshal(e)
			return b.Put(store.U64(seq), raw)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	tamper(5)
	if r, _ := l.VerifyCached(); !r.OK {
		t.Fatalf("cache recomputed without a head change: %+v", r)
	}
	if r, _ := l.Verify(); r.OK {
		t.Fatal("Verify missed the edit")
	}
	// A change at the head is seen at once.
	tamper(10)
	if r, _ := l.VerifyCached(); r.OK {
		t.Fatal("cache kept an OK report after the last entry changed")
	}
	// So is a new entry (and with it the earlier edit).
	appendN(t, l, db, 1, 1)
	r, err = l.VerifyCached()
	if err != nil || r.OK || r.HeadSeq != 11 {
		t.Fatalf("after append: %+v %v", r, err)
	}
}

func TestVerifyCachedSeesHeadFileChange(t *testing.T) {
	l, db := newTestLog(t)
	appendN(t, l, db, 3, 1)
	if r, _ := l.VerifyCached(); !r.OK {
		t.Fatalf("%+v", r)
	}
	if err := writeHeadFile(l.HeadPath(), 9, GenesisHash); err != nil {
		t.Fatal(err)
	}
	if r, _ := l.VerifyCached(); r.OK {
		t.Fatal("cache missed a rewritten head file")
	}
}

// benchLog fills a log with n entries.
func benchLog(b *testing.B, n int) *Log {
	l, db := newTestLog(b)
	appendN(b, l, db, n, 1000)
	return l
}

// BenchmarkAuditPage reads the newest 50 entries from logs of 100 and
// 100,000 entries: the ratio shows a page costs the same however long
// the log is (bench/auditpage.sh prints it).
func BenchmarkAuditPage(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		l := benchLog(b, n)
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := l.Page(0, 50, Filter{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
