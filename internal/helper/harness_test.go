package helper_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/store"
)

// openStore opens the control plane's store and audit log in dir.
func openStore(t testing.TB, dir string) (*store.DB, *audit.Log) {
	db, err := store.Open(filepath.Join(dir, "patchgit.db"), store.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db, audit.New(db, filepath.Join(dir, "audit.head"))
}

func testManager(t testing.TB, db *store.DB, log *audit.Log, p helper.Provider, meter helper.Meter, now func() time.Time) *helper.Manager {
	m, err := helper.NewManager(db, p, helper.Options{Instance: "test", Audit: log, Meter: meter, TTL: time.Hour,
		ReadyTimeout: 20 * time.Second, Poll: 20 * time.Millisecond, ConfirmFor: 10 * time.Second, Now: now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// recordingMeter records the meter calls.
type recordingMeter struct {
	mu     sync.Mutex
	calls  []string
	refuse error // for Start
	stop   error // for Extend: the budget's stop signal
}

func (r *recordingMeter) add(kind string, c helper.Charge) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, kind+" "+c.Size)
	if kind == "start" {
		return r.refuse
	}
	if kind == "extend" {
		return r.stop
	}
	return nil
}
func (r *recordingMeter) Start(_ context.Context, c helper.Charge) error  { return r.add("start", c) }
func (r *recordingMeter) Extend(_ context.Context, c helper.Charge) error { return r.add("extend", c) }
func (r *recordingMeter) Stop(_ context.Context, c helper.Charge) error   { return r.add("stop", c) }

func (r *recordingMeter) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// helperSpend is what the ledger settled for one helper (its entries
// name it), and that nothing of it is still reserved.
func helperSpend(t testing.TB, l *budget.Ledger, name string) budget.Micros {
	t.Helper()
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Open {
		if strings.HasPrefix(r.Purpose, helper.PurposePrefix(name)) {
			t.Fatalf("reservation %+v still open", r)
		}
	}
	if len(st.Recent) >= 10 { // Status shows the last 10: the sum would miss some
		t.Fatalf("%d recent spends: too many to sum here", len(st.Recent))
	}
	var sum budget.Micros
	for _, s := range st.Recent {
		if strings.HasPrefix(s.Purpose, helper.PurposePrefix(name)) {
			sum += s.Amount
		}
	}
	return sum
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
