package budget

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

// clock is an injected clock tests move by hand.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func openDB(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, "patchgit.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newLedger(t *testing.T, caps Caps) (*Ledger, *clock, *store.DB) {
	t.Helper()
	db := openDB(t, t.TempDir())
	t.Cleanup(func() { db.Close() })
	c := newClock()
	return NewLedger(db, caps, c.now, nil), c, db
}

// checkInvariant reads one consistent snapshot: for both windows, settled
// + reserved <= cap + the approvals of the proposals that spent under one.
func checkInvariant(t *testing.T, l *Ledger) {
	t.Helper()
	err := l.db.View(func(tx *bolt.Tx) error {
		ws, us, _, _, _, err := l.load(tx, l.now(), "")
		if err != nil {
			return err
		}
		var approved Micros
		c := tx.Bucket(store.BucketLedger).Cursor()
		for k, v := c.Seek(prefixApproval); k != nil && string(k[:2]) == "a/"; k, v = c.Next() {
			var a Approval
			if err := jsonUnmarshal(v, &a); err != nil {
				return err
			}
			approved += a.Amount
		}
		for i, w := range ws {
			if got := us[i].Spent + us[i].Reserved; got > w.Cap+approved {
				t.Errorf("%s window holds %s (spent %s + reserved %s) over cap %s + approved %s",
					w.Name, got, us[i].Spent, us[i].Reserved, w.Cap, approved)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestInvariantUnderRandomInterleavings runs random reserve, settle,
// release and roll from many goroutines while the clock moves, and checks
// the invariant from concurrent readers throughout.
func TestInvariantUnderRandomInterleavings(t *testing.T) {
	l, clk, _ := newLedger(t, Caps{Hour: 500_000, Day: 2_000_000})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var checks atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				checkInvariant(t, l)
				checks.Add(1)
			}
		}
	}()
	var reserved, refused atomic.Int64
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			var mine []Reservation
			for range 60 {
				switch op := r.IntN(10); {
				case op < 5 || len(mine) == 0:
					res, err := l.Reserve(Request{Purpose: "test", Category: CategoryOther, Amount: Micros(1 + r.IntN(120_000))})
					switch {
					case errors.Is(err, ErrOverCap):
						refused.Add(1)
					case err != nil:
						t.Error(err)
						return
					default:
						reserved.Add(1)
						mine = append(mine, res)
					}
				case op < 7:
					i := r.IntN(len(mine))
					if err := l.Settle(mine[i].ID, Micros(r.Int64N(int64(mine[i].Amount)+1)), ""); err != nil {
						t.Error(err)
					}
					mine = append(mine[:i], mine[i+1:]...)
				case op < 8:
					i := r.IntN(len(mine))
					if err := l.Release(mine[i].ID); err != nil {
						t.Error(err)
					}
					mine = append(mine[:i], mine[i+1:]...)
				default:
					clk.advance(time.Duration(r.IntN(300)) * time.Second)
				}
			}
			for _, res := range mine {
				if err := l.Release(res.ID); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	checkInvariant(t, l)
	if reserved.Load() == 0 || refused.Load() == 0 {
		t.Fatalf("the interleaving never hit both outcomes: %d reserved, %d refused", reserved.Load(), refused.Load())
	}
	t.Logf("%d reserved, %d refused, %d invariant checks", reserved.Load(), refused.Load(), checks.Load())
}

// TestThousandConcurrentAt99Percent: with 99% of the cap spent, 1,000
// concurrent reservations of 1 micro-dollar each; exactly the 1% left is
// granted and the overspend is exactly $0.00.
func TestThousandConcurrentAt99Percent(t *testing.T) {
	const hourCap = 10 * Dollar
	l, _, _ := newLedger(t, Caps{Hour: hourCap, Day: 100 * Dollar})
	pre, err := l.Reserve(Request{Purpose: "earlier", Amount: hourCap * 99 / 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Settle(pre.ID, hourCap*99/100, ""); err != nil {
		t.Fatal(err)
	}
	const each = Micros(200) // 1% of $10 is 100,000 micros: room for 500 of 1,000
	var wg sync.WaitGroup
	var granted atomic.Int64
	start := make(chan struct{})
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := l.Reserve(Request{Purpose: "race", Amount: each})
			if errors.Is(err, ErrOverCap) {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			granted.Add(1)
		}()
	}
	close(start)
	wg.Wait()
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	if over := st.Hour.Spent + st.Hour.Reserved - hourCap; over != 0 {
		t.Fatalf("overspend %s, want exactly $0.00 (spent %s, reserved %s, %d granted)", over, st.Hour.Spent, st.Hour.Reserved, granted.Load())
	}
	if granted.Load() != int64((hourCap/100)/each) {
		t.Fatalf("%d reservations granted, want %d", granted.Load(), (hourCap/100)/each)
	}
}

func TestWindowBoundaries(t *testing.T) {
	l, clk, _ := newLedger(t, Caps{Hour: 1000, Day: 1500})
	spend := func(amount Micros) {
		t.Helper()
		res, err := l.Reserve(Request{Purpose: "x", Amount: amount})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Settle(res.ID, amount, ""); err != nil {
			t.Fatal(err)
		}
	}
	spend(1000)
	if _, err := l.Reserve(Request{Amount: 1}); !errors.Is(err, ErrOverCap) {
		t.Fatalf("a full hour took more: %v", err)
	}
	clk.advance(time.Hour) // the spend is exactly one hour old: still in
	if _, err := l.Reserve(Request{Amount: 1}); !errors.Is(err, ErrOverCap) {
		t.Fatalf("at exactly 60 minutes the spend must still count: %v", err)
	}
	clk.advance(time.Nanosecond)
	if _, err := l.Reserve(Request{Amount: 501}); !errors.Is(err, ErrOverCap) {
		t.Fatalf("the day window has 500 left, 501 must not fit: %v", err)
	}
	spend(500)
	st, _ := l.Status()
	if st.Hour.Spent != 500 || st.Day.Spent != 1500 || st.Day.Remaining != 0 {
		t.Fatalf("status %+v %+v", st.Hour, st.Day)
	}
	clk.advance(23*time.Hour - time.Nanosecond) // the first spend is exactly 24 h old
	if _, err := l.Reserve(Request{Amount: 1}); !errors.Is(err, ErrOverCap) {
		t.Fatalf("at exactly 24 hours the spend must still count: %v", err)
	}
	clk.advance(time.Nanosecond)
	if _, err := l.Reserve(Request{Amount: 1000}); err != nil {
		t.Fatalf("after 24 hours the day has 1000 left: %v", err)
	}
}

func TestCalendarDayWindow(t *testing.T) {
	loc := time.FixedZone("UTC+2", 2*3600)
	l, clk, _ := newLedger(t, Caps{Hour: 10_000, Day: 1000, CalendarDay: true, Location: loc})
	// 10:00 UTC is 12:00 local; go to 23:30 local.
	clk.advance(11*time.Hour + 30*time.Minute)
	res, err := l.Reserve(Request{Amount: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Settle(res.ID, 1000, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Reserve(Request{Amount: 1}); !errors.Is(err, ErrOverCap) {
		t.Fatalf("the day is spent: %v", err)
	}
	clk.advance(30 * time.Minute) // local midnight: a new day, but the hour still holds it
	st, _ := l.Status()
	if st.Day.Spent != 0 || st.Hour.Spent != 1000 {
		t.Fatalf("after local midnight: day %+v hour %+v", st.Day, st.Hour)
	}
}

// TestMeteredSpendFallsIntoWindowsPerSecond: a two-hour run's cost is
// spread over its interval, so the hour window holds only its last hour.
func TestMeteredSpendFallsIntoWindowsPerSecond(t *testing.T) {
	l, clk, _ := newLedger(t, Caps{Hour: 10 * Dollar, Day: 100 * Dollar})
	price := NewHelperPrice("local", 3600_000, 0) // $3.60/hour = $0.001/second
	m, err := l.StartMeter(Request{Purpose: "run"}, price, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for range 24 { // 2 hours in 5-minute ticks
		clk.advance(5 * time.Minute)
		if err := m.Tick(); err != nil {
			t.Fatal(err)
		}
	}
	total, err := m.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if total != 7_200_000 {
		t.Fatalf("2 hours at $3.60 cost %s, want $7.20", total)
	}
	st, _ := l.Status()
	if st.Hour.Spent != 3_600_000 || st.Day.Spent != 7_200_000 || st.Hour.Reserved != 0 {
		t.Fatalf("hour %+v day %+v", st.Hour, st.Day)
	}
	clk.advance(30 * time.Minute)
	if st, _ = l.Status(); st.Hour.Spent != 1_800_000 {
		t.Fatalf("half an hour later the hour holds %s, want $1.80", st.Hour.Spent)
	}
}

// TestMeterStopsBeforeTheCap: the extension that would cross the cap is
// refused and the owner told to stop; the settled total stays in the cap.
func TestMeterStopsBeforeTheCap(t *testing.T) {
	l, clk, _ := newLedger(t, Caps{Hour: 1_000_000, Day: 10 * Dollar})
	price := NewHelperPrice("local", 3600_000, 0)                          // $0.001/second
	m, err := l.StartMeter(Request{Purpose: "run"}, price, 10*time.Minute) // reserves $0.60
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(5 * time.Minute)
	err = m.Tick() // settles $0.30, next slice $0.60 -> $0.90 <= $1.00
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(5 * time.Minute)
	err = m.Tick() // settles $0.60 total, next $0.60 -> $1.20 > $1.00: stop
	if !errors.Is(err, ErrOverCap) {
		t.Fatalf("the extension past the cap was not refused: %v", err)
	}
	clk.advance(time.Minute) // the owner stops within the remaining reservation
	total, err := m.Stop()
	if err != nil || total != 660_000 {
		t.Fatalf("stop: %s %v", total, err)
	}
	checkInvariant(t, l)
}

func TestApprovalRaisesTheCapForOneProposalOnly(t *testing.T) {
	l, _, db := newLedger(t, Caps{Hour: 100, Day: 1000})
	if _, err := l.Reserve(Request{Proposal: "p1", Amount: 101}); !errors.Is(err, ErrOverCap) {
		t.Fatalf("over the cap without approval: %v", err)
	}
	if _, err := l.Reserve(Request{Proposal: "p1", Amount: 50, Approved: true}); !errors.Is(err, ErrOverApproval) {
		t.Fatalf("approved spend without an approval: %v", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return l.ApproveTx(tx, Approval{Proposal: "p1", Revision: 1, Amount: 150, Actor: "alice", Reason: "test"})
	}); err != nil {
		t.Fatal(err)
	}
	a, err := l.Reserve(Request{Proposal: "p1", Amount: 120, Approved: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Reserve(Request{Proposal: "p1", Amount: 31, Approved: true}); !errors.Is(err, ErrOverApproval) {
		t.Fatalf("crossing the approved amount: %v", err)
	}
	if _, err := l.Reserve(Request{Proposal: "p2", Amount: 1}); !errors.Is(err, ErrOverCap) {
		t.Fatalf("another proposal rode on p1's approval: %v", err)
	}
	if err := l.Settle(a.ID, 120, ""); err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, l)
}

// TestRestartWithOpenReservations: a reservation left open by a crash
// counts in full after reopening, until reconciliation settles it.
func TestRestartWithOpenReservations(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	clk := newClock()
	l := NewLedger(db, Caps{Hour: 1000, Day: 1000}, clk.now, nil)
	if _, err := l.Reserve(Request{Purpose: "left open", Amount: 700}); err != nil {
		t.Fatal(err)
	}
	db.Close() // the process dies with the reservation open

	db = openDB(t, dir)
	defer db.Close()
	clk.advance(3 * time.Hour) // an open reservation does not age out
	l = NewLedger(db, Caps{Hour: 1000, Day: 1000}, clk.now, nil)
	if _, err := l.Reserve(Request{Amount: 301}); !errors.Is(err, ErrOverCap) {
		t.Fatalf("the open reservation did not count after restart: %v", err)
	}
	n, err := l.Reconcile()
	if err != nil || n != 1 {
		t.Fatalf("reconcile: %d %v", n, err)
	}
	st, _ := l.Status()
	if st.Hour.Reserved != 0 || st.Hour.Spent != 700 || len(st.Recent) != 1 || st.Recent[0].Note == "" {
		t.Fatalf("after reconcile: %+v", st)
	}
}

func TestSettleAboveReservationIsRefused(t *testing.T) {
	l, _, _ := newLedger(t, Caps{Hour: 1000, Day: 1000})
	res, err := l.Reserve(Request{Amount: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Settle(res.ID, 101, ""); !errors.Is(err, ErrSettleAboveReserve) {
		t.Fatalf("settle above the reservation: %v", err)
	}
	if err := l.Settle(res.ID, 40, ""); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(res.ID); !errors.Is(err, ErrUnknownReservation) {
		t.Fatalf("release after settle: %v", err)
	}
}

// A cap's refusal says which window and cap, for the one who must explain
// it (a helper stopped at the hourly cap).
func TestCapErrorNamesTheWindow(t *testing.T) {
	l, _, _ := newLedger(t, Caps{Hour: 100, Day: 1000})
	_, err := l.Reserve(Request{Amount: 101})
	var ce *CapError
	if !errors.As(err, &ce) || !errors.Is(err, ErrOverCap) || ce.Window != "hour" || ce.Cap != 100 || ce.CapKey() != "hourly_cap" {
		t.Fatalf("err = %#v", err)
	}
	if !strings.Contains(err.Error(), "the hour window has $0.0001 left (cap $0.0001") || !strings.Contains(err.Error(), "raise budget.hourly_cap") {
		t.Fatalf("message %q", err)
	}
}

// Begin moves the metered start to when the billed thing really began;
// StopAt settles up to its end: the cost is the per-second price of
// exactly that span, with the minimum.
func TestMeterBeginAndStopAt(t *testing.T) {
	l, clk, _ := newLedger(t, Caps{Hour: 10 * Dollar, Day: 100 * Dollar})
	price := NewHelperPrice("s", 3600_000, 0) // $0.001/second
	m, err := l.StartMeter(Request{Purpose: "run"}, price, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(7 * time.Second) // the create call
	m.Begin(clk.now())
	clk.advance(100 * time.Second)
	end := clk.now()
	clk.advance(3 * time.Second) // confirming the deletion
	total, err := m.StopAt(end)
	if err != nil || total != 100_000 {
		t.Fatalf("stop: %s %v, want $0.10 for 100 s", total, err)
	}
	m2, err := l.StartMeter(Request{Purpose: "short"}, price, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	m2.Begin(clk.now().Add(-time.Hour)) // before the reservation: ignored
	clk.advance(5 * time.Second)
	if total, err := m2.StopAt(clk.now()); err != nil || total != 60_000 {
		t.Fatalf("short run: %s %v, want the 60 s minimum $0.06", total, err)
	}
	checkInvariant(t, l)
}
