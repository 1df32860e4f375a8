package budget

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

// BenchmarkReserveSettle measures a reservation plus its settlement (two
// transactions, each reading both windows) with 100 open reservations and
// 1,000 spends in the day, against a baseline measured in the same run:
// two bare bbolt transactions that each write one JSON value. The ratio
// is what the invariant check costs over the fsyncs it cannot avoid.
//
//	go test -run - -bench ReserveSettle ./internal/budget
func BenchmarkReserveSettle(b *testing.B) {
	db, err := store.Open(b.TempDir()+"/patchgit.db", store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	clk := newClock()
	l := NewLedger(db, Caps{Hour: 1 << 50, Day: 1 << 50}, clk.now, nil)
	for i := range 1000 {
		r, err := l.Reserve(Request{Purpose: "fill", Amount: 10})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Settle(r.ID, 10, ""); err != nil {
			b.Fatal(err)
		}
		if i%10 == 0 {
			clk.advance(time.Minute)
		}
	}
	for range 100 {
		if _, err := l.Reserve(Request{Purpose: "open", Amount: 1}); err != nil {
			b.Fatal(err)
		}
	}
	var ledgerNS, bareNS time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		for k := range 2 {
			err := db.Update(func(tx *bolt.Tx) error {
				raw, _ := json.Marshal(Spend{Seq: uint64(i), Purpose: "bare", Amount: 10})
				return tx.Bucket(store.BucketLedger).Put([]byte(fmt.Sprintf("x/%d/%d", i, k)), raw)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		r, err := l.Reserve(Request{Purpose: "bench", Amount: 10})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Settle(r.ID, 10, ""); err != nil {
			b.Fatal(err)
		}
		ledgerNS += time.Since(t1)
		bareNS += t1.Sub(t0)
	}
	b.ReportMetric(float64(ledgerNS.Nanoseconds())/float64(b.N), "ledger-ns/op")
	b.ReportMetric(float64(bareNS.Nanoseconds())/float64(b.N), "bare-ns/op")
	b.ReportMetric(float64(ledgerNS)/float64(bareNS), "ratio")
}
