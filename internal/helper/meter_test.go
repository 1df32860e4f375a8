package helper_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
)

// manualClock is the one clock of a test's manager and ledger.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// $36 an hour is $0.01 a second: a minute is $0.60, so the 60 s minimum
// is above the $0.01 one and shows.
const pricey = budget.Micros(36 * budget.Dollar)

// The settled cost is the per-second price from create to confirmed
// destroy, with the 60 s minimum; the ledger's entries name the helper
// and the job; nothing stays reserved.
func TestBudgetMeterSettlesPerSecondWithTheMinimum(t *testing.T) {
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	clk := &manualClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	ledger := budget.NewLedger(db, budget.Caps{Hour: 100 * budget.Dollar, Day: 100 * budget.Dollar}, clk.now, nil)
	meter, err := helper.NewBudgetMeter(ledger, 10*time.Minute)
	must(t, err)
	m := testManager(t, db, log, &helper.Local{Dir: t.TempDir(), PriceHourly: pricey}, meter, clk.now)
	ctx := context.Background()
	for _, tc := range []struct {
		ran  time.Duration
		want budget.Micros
	}{
		{95*time.Second + 300*time.Millisecond, 960_000}, // 96 started seconds at $0.01
		{10 * time.Second, 600_000},                      // the 60 s minimum
	} {
		h, err := m.Acquire(ctx, "job-7", helper.Need{})
		must(t, err)
		st, _ := ledger.Status()
		if st.Hour.Reserved != 6*budget.Dollar { // the first slice: 10 minutes
			t.Fatalf("reserved %s before it ran, want the first slice $6.00", st.Hour.Reserved)
		}
		clk.advance(tc.ran)
		must(t, h.Release(ctx))
		name := h.Record().Name
		if got := helperSpend(t, ledger, name); got != tc.want {
			t.Fatalf("ran %s, settled %s, want %s", tc.ran, got, tc.want)
		}
		st, _ = ledger.Status()
		if !strings.Contains(st.Recent[0].Purpose, "job job-7") || !strings.HasPrefix(st.Recent[0].Purpose, "helper "+name+" (local at $36.00/h)") {
			t.Fatalf("the spend's purpose %q does not name the helper and the job", st.Recent[0].Purpose)
		}
		if e := auditEntry(t, db, "helper.destroyed"); e.Data["cost"] != tc.want.String() {
			t.Fatalf("audited cost %s, settled %s", e.Data["cost"], tc.want)
		}
	}
}

// A start that does not fit the cap creates nothing and reserves nothing;
// with the job's spend approved (and the approval recorded) the same
// request runs, on a size above the allow-list too, metered against the
// approval.
func TestBudgetMeterRefusedStartCreatesNothingUnlessApproved(t *testing.T) {
	h := helpertest.NewDOHarness(t)
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	ledger := budget.NewLedger(db, budget.Caps{Hour: 5_000, Day: 5_000}, nil, nil) // below the $0.01 minimum
	meter, err := helper.NewBudgetMeter(ledger, 10*time.Minute)
	must(t, err)
	approved := false
	opt := helper.Options{Instance: "test", Audit: log, Meter: meter, TTL: time.Hour, ReadyTimeout: 20 * time.Second,
		Poll: 20 * time.Millisecond, ConfirmFor: 10 * time.Second, Logger: testLogger(t),
		JobSpend: func(job string) (string, bool) { return "proposal-" + job, approved }}
	m, err := helper.NewManager(db, h.Provider(t.TempDir()), opt)
	must(t, err)
	ctx := context.Background()

	_, err = m.Acquire(ctx, "job-1", helper.Need{MemoryMB: 2048})
	var ce *budget.CapError
	if !errors.As(err, &ce) || ce.Window != "hour" || !strings.Contains(err.Error(), "raise budget.hourly_cap") {
		t.Fatalf("err = %v, want the hourly cap's refusal", err)
	}
	if h.Fake.Created() != 0 || h.Fake.Count("POST /v2/droplets") != 0 {
		t.Fatal("a refused start created a droplet")
	}
	if st, _ := ledger.Status(); st.Hour.Spent != 0 || st.Hour.Reserved != 0 {
		t.Fatalf("a refused start left %+v in the ledger", st.Hour)
	}
	if recs, _ := helper.Records(db, false); len(recs) != 0 {
		t.Fatalf("open records %+v", recs)
	}

	// Above the allow-list: the decision carries its money.
	_, err = m.Acquire(ctx, "job-1", helper.Need{MemoryMB: 8192})
	var ae *helper.ApprovalError
	if !errors.As(err, &ae) || ae.PriceHourly != 71_430 || ae.Cost != 71_430 {
		t.Fatalf("err = %v, want an approval decision at $0.07143/h, at most $0.07143 for the 1 h TTL", err)
	}

	// Approved: the person consented to $1 for this proposal.
	approved = true
	must(t, db.Update(func(tx *bolt.Tx) error {
		return ledger.ApproveTx(tx, budget.Approval{Proposal: "proposal-job-1", Amount: budget.Dollar, Actor: "test"})
	}))
	hp, err := m.Acquire(ctx, "job-1", helper.Need{MemoryMB: 8192})
	must(t, err)
	if r := hp.Record(); r.Size != "s-4vcpu-8gb" || !r.Approved || r.Proposal != "proposal-job-1" {
		t.Fatalf("record %+v, want the approved larger size", r)
	}
	st, _ := ledger.Status()
	if len(st.Open) != 1 || !st.Open[0].Approved || st.Open[0].Proposal != "proposal-job-1" {
		t.Fatalf("open reservations %+v, want one against the approval", st.Open)
	}
	must(t, hp.Release(ctx))
	if got := helperSpend(t, ledger, hp.Record().Name); got != 10_000 {
		t.Fatalf("settled %s, want the $0.01 minimum", got)
	}
	approved = false
	if _, err := m.Acquire(ctx, "job-2", helper.Need{MemoryMB: 2048}); !errors.Is(err, budget.ErrOverCap) {
		t.Fatalf("after the approved job, an unapproved start: %v, want the cap's refusal", err)
	}
}

// A second helper while one runs is not asked for: the job waits for the
// slot (told once, with the holder), and gets it when the first is gone.
// With the job's spend approved it runs beside the first (which keeps the
// slot), and an unapproved third waits for both to be gone.
func TestSecondHelperWaitsForTheSlotUnlessApproved(t *testing.T) {
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	approved := map[string]bool{"job-2": true}
	m, err := helper.NewManager(db, &helper.Local{Dir: t.TempDir(), PriceHourly: pricey}, helper.Options{Instance: "test", Audit: log,
		TTL: time.Hour, Poll: time.Minute, Logger: testLogger(t), // only the freed slot wakes a waiter here
		JobSpend: func(job string) (string, bool) { return "p-" + job, approved[job] }})
	must(t, err)
	ctx := context.Background()
	h1, err := m.Acquire(ctx, "job-1", helper.Need{})
	must(t, err)

	type result struct {
		h   *helper.Helper
		err error
	}
	waiters := make(chan helper.Record, 4)
	acquire := func(job string) chan result {
		got := make(chan result, 1)
		wctx := helper.WithWaitNotice(ctx, func(holder helper.Record) { waiters <- holder })
		go func() { h, err := m.Acquire(wctx, job, helper.Need{}); got <- result{h, err} }()
		return got
	}
	third := acquire("job-3")
	if holder := <-waiters; holder.Job != "job-1" {
		t.Fatalf("job-3 was told it waits for %+v, want job-1's helper", holder)
	}
	h2, err := m.Acquire(ctx, "job-2", helper.Need{}) // approved: beside the first, at once
	must(t, err)
	must(t, h1.Release(ctx))
	select {
	case r := <-third:
		t.Fatalf("job-3 got a helper while the approved second still runs: %+v %v", r.h, r.err)
	case <-time.After(200 * time.Millisecond):
	}
	must(t, h2.Release(ctx))
	var r result
	select {
	case r = <-third:
	case <-time.After(10 * time.Second):
		t.Fatal("job-3 still waits after both helpers are gone")
	}
	must(t, r.err)
	if r.h.Record().Job != "job-3" {
		t.Fatalf("job-3 got %+v", r.h.Record())
	}
	must(t, r.h.Release(ctx))
	if recs, _ := helper.Records(db, false); len(recs) != 0 {
		t.Fatalf("open records left: %+v", recs)
	}
}

// The cap test: a helper whose metered cost reaches the hourly cap after a
// couple of slices is destroyed before the cap is crossed; the command
// running on it is stopped (its context cancelled with the reason) and
// the job's error says what happened and what to do.
//
// Time runs 20 times faster for the manager and the ledger: a 2-minute
// slice is 6 s, extended every 3 s. At $36/h, the first slice reserves
// $1.20; the cap of $2.50 refuses the extension once about 130 s have run
// (settled + next slice > $2.50), with about 60 s (3 real seconds) still
// reserved to destroy the helper in.
func TestCapStopsTheHelperBeforeItIsCrossed(t *testing.T) {
	h := helpertest.NewDOHarness(t)
	h.Fake.SetHourlyPrice(36) // a pricey catalog, so the cap comes in seconds
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	const speed = 20
	start, real0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), time.Now()
	now := func() time.Time { return start.Add(speed * time.Since(real0)) }
	hourCap := budget.Micros(2_500_000)
	ledger := budget.NewLedger(db, budget.Caps{Hour: hourCap, Day: 100 * budget.Dollar}, now, nil)
	slice := 2 * time.Minute
	meter, err := helper.NewBudgetMeter(ledger, slice)
	must(t, err)
	m, err := helper.NewManager(db, h.Provider(t.TempDir()), helper.Options{Instance: "test", Audit: log, Meter: meter, TTL: time.Hour,
		ReadyTimeout: 20 * time.Second, Poll: 20 * time.Millisecond, ConfirmFor: 10 * time.Second, Now: now,
		ExtendEvery: slice / 2 / speed, Logger: testLogger(t)})
	must(t, err)
	ctx := context.Background()
	hp, err := m.Acquire(ctx, "job-9", helper.Need{MemoryMB: 2048})
	must(t, err)
	if hp.Record().PriceHourly != pricey {
		t.Fatalf("price %s, want $36.00/h from the API", hp.Record().PriceHourly)
	}

	// The job's command: long enough to hit the cap.
	runErr := make(chan error, 1)
	go func() { runErr <- hp.Run(ctx, "echo started; sleep 60; echo finished", nil, nil) }()
	var err2 error
	select {
	case err2 = <-runErr:
	case <-time.After(30 * time.Second):
		t.Fatal("the command was not stopped within 30 s (10 simulated minutes)")
	}
	want := "the helper was stopped: the hourly cap $2.50 would be crossed; nothing was pushed; raise budget.hourly_cap or wait"
	if !errors.Is(err2, helper.ErrStopped) || !errors.Is(err2, budget.ErrStopMetering) || !errors.Is(err2, budget.ErrOverCap) ||
		!strings.Contains(err2.Error(), want) {
		t.Fatalf("the job's error: %v\nwant one that says %q", err2, want)
	}
	if cause := context.Cause(hp.Context()); !errors.Is(cause, helper.ErrStopped) {
		t.Fatalf("the helper's context ended with %v, want the budget's stop", cause)
	}
	// Destroyed (the command was stopped first; the destroy follows at
	// once), confirmed, and in time.
	var r helper.Record
	for deadline := time.Now().Add(10 * time.Second); r.State != helper.StateDestroyed && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		recs, _ := helper.Records(db, true)
		r = recs[0]
	}
	if n := len(h.Fake.Alive()); n != 0 {
		t.Fatalf("%d droplets alive after the budget's stop", n)
	}
	if r.State != helper.StateDestroyed || !strings.HasPrefix(r.Reason, "budget stop: "+want) {
		t.Fatalf("record %s %q, want destroyed with the budget's reason", r.State, r.Reason)
	}
	ran := r.DestroyedAt.Sub(r.StartedAt)
	cost := budget.NewHelperPrice(r.Size, r.PriceHourly, 0).Cost(ran)
	if cost > hourCap {
		t.Fatalf("it ran %s and cost %s: past the hourly cap %s", ran, cost, hourCap)
	}
	t.Logf("stopped after %s (simulated) at a cost of %s, hourly cap %s", ran, cost, hourCap)
	if ran < slice {
		t.Fatalf("stopped after %s: before the cap could be near (a slice is %s)", ran, slice)
	}
	var st budget.Status
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, err = ledger.Status(); err != nil || len(st.Open) == 0 { // the meter stops after the record
			break
		}
	}
	must(t, err)
	if st.Hour.Spent != cost || st.Hour.Reserved != 0 || st.Hour.Spent > hourCap {
		t.Fatalf("hour window %+v, want exactly the per-second cost %s of %s, nothing reserved, within the cap", st.Hour, cost, ran)
	}
	for _, s := range st.Recent {
		if strings.Contains(s.Note, "overran") {
			t.Fatalf("the helper overran its reservation: %+v", s)
		}
	}
	if e := auditEntry(t, db, "helper.destroyed"); !strings.Contains(e.Data["reason"], "hourly cap $2.50") || e.Data["cost"] != cost.String() {
		t.Fatalf("destroyed entry %v", e.Data)
	}
	// The job's next use says the same.
	if err := hp.Run(ctx, "true", nil, nil); !errors.Is(err, helper.ErrReleased) || !strings.Contains(err.Error(), want) {
		t.Fatalf("use after the stop: %v", err)
	}
	must(t, db.View(func(tx *bolt.Tx) error {
		if holder := helper.SlotHolder(tx); holder != "" {
			t.Errorf("the slot is still held by %s", holder)
		}
		return nil
	}))
}

// A job whose spend was approved runs past the cap, up to the approved
// amount: the extension that would cross it stops the helper the same way,
// and the command running on it (here on the local provider) is killed.
func TestApprovedHelperStopsAtTheApprovedAmount(t *testing.T) {
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	clk := &manualClock{t: time.Now().UTC()}
	ledger := budget.NewLedger(db, budget.Caps{Hour: 0, Day: 0}, clk.now, nil) // nothing without approval
	must(t, db.Update(func(tx *bolt.Tx) error {
		return ledger.ApproveTx(tx, budget.Approval{Proposal: "p-1", Amount: 1_500_000, Actor: "test"})
	}))
	meter, err := helper.NewBudgetMeter(ledger, time.Minute)
	must(t, err)
	dir := t.TempDir()
	m, err := helper.NewManager(db, &helper.Local{Dir: dir, PriceHourly: pricey}, helper.Options{Instance: "test", Audit: log,
		Meter: meter, TTL: time.Hour, Poll: 20 * time.Millisecond, Now: clk.now, Logger: testLogger(t),
		ExtendEvery: time.Hour, // extended by the test's Reconcile calls, on the test's clock
		JobSpend:    func(string) (string, bool) { return "p-1", true }})
	must(t, err)
	ctx := context.Background()
	h, err := m.Acquire(ctx, "job-1", helper.Need{})
	must(t, err)
	runErr := make(chan error, 1)
	go func() { runErr <- h.Run(ctx, "sleep 60", nil, nil) }()
	for i := 0; h.Context().Err() == nil; i++ {
		if i == 20 {
			t.Fatal("10 simulated minutes at $36/h did not cross a $1.50 approval")
		}
		clk.advance(30 * time.Second)
		must(t, m.Reconcile(ctx))
	}
	want := "the helper was stopped: the amount approved for this proposal would be crossed; nothing was pushed"
	select {
	case err = <-runErr:
	case <-time.After(10 * time.Second):
		t.Fatal("the command on the local helper was not stopped")
	}
	if !errors.Is(err, helper.ErrStopped) || !errors.Is(err, budget.ErrOverApproval) || !strings.Contains(err.Error(), want) {
		t.Fatalf("the job's error %v, want %q", err, want)
	}
	if got := helperSpend(t, ledger, h.Record().Name); got > 1_500_000 || got == 0 {
		t.Fatalf("settled %s against an approval of $1.50", got)
	}
	if ms, _ := (&helper.Local{Dir: dir}).ListByTag(ctx, m.InstanceTag()); len(ms) != 0 {
		t.Fatalf("the local helper was not destroyed: %+v", ms)
	}
}

// After a restart the meter settles the reservation its dead process left
// open: at the per-second cost when it fits, at the reservation with the
// excess noted when the helper ran on longer than was reserved; a helper
// never created releases its reservation.
func TestBudgetMeterAfterARestart(t *testing.T) {
	db, _ := openStore(t, t.TempDir())
	defer db.Close()
	clk := &manualClock{t: time.Now().UTC()}
	ledger := budget.NewLedger(db, budget.Caps{Hour: 100 * budget.Dollar, Day: 100 * budget.Dollar}, clk.now, nil)
	ctx := context.Background()
	charge := func(name string) helper.Charge {
		return helper.Charge{Helper: name, Job: "job-1", Size: "s", PriceHourly: pricey, At: clk.now()}
	}
	dead, err := helper.NewBudgetMeter(ledger, 10*time.Minute) // the process that died
	must(t, err)
	for _, name := range []string{"short", "long", "never"} {
		must(t, dead.Start(ctx, charge(name)))
	}
	restarted, err := helper.NewBudgetMeter(ledger, 10*time.Minute)
	must(t, err)
	created := clk.now()
	clk.advance(3 * time.Hour) // down for hours; the long one ran all along

	short := charge("short")
	short.Since, short.At = created, created.Add(90*time.Second)
	must(t, restarted.Stop(ctx, short))
	if got := helperSpend(t, ledger, "short"); got != 900_000 {
		t.Fatalf("short: settled %s, want 90 s at $0.01", got)
	}
	long := charge("long")
	long.Since = created
	must(t, restarted.Stop(ctx, long))
	if got := helperSpend(t, ledger, "long"); got != 6*budget.Dollar {
		t.Fatalf("long: settled %s, want the reserved slice $6.00", got)
	}
	st, _ := ledger.Status()
	if !strings.Contains(st.Recent[0].Note, "it cost $108.00, $102.00 more than was reserved") {
		t.Fatalf("the excess is not noted: %+v", st.Recent[0])
	}
	must(t, restarted.Stop(ctx, charge("never")))
	if got := helperSpend(t, ledger, "never"); got != 0 {
		t.Fatalf("never created: settled %s", got)
	}
	if open, _ := ledger.OpenReservations(); len(open) != 0 {
		t.Fatalf("open reservations %+v", open)
	}
}
