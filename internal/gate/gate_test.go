package gate

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/store"
)

const rightPIN = "482915"

// countingVerifier compares in constant time and counts evaluations.
type countingVerifier struct{ calls atomic.Int32 }

func (v *countingVerifier) CheckPIN(_ context.Context, pin string) (bool, error) {
	v.calls.Add(1)
	return subtle.ConstantTimeCompare([]byte(pin), []byte(rightPIN)) == 1, nil
}

// fakeClock advances only when told to, or by the sleeps it is asked for.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	return nil
}

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	gate   *Gate
	db     *store.DB
	log    *audit.Log
	clock  *fakeClock
	verify *countingVerifier
	path   string
}

func newFixture(t *testing.T, tweak func(*Policy)) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{clock: &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}, verify: &countingVerifier{},
		path: filepath.Join(dir, "patchgit.db")}
	f.open(t, tweak)
	return f
}

func (f *fixture) open(t *testing.T, tweak func(*Policy)) {
	t.Helper()
	db, err := store.Open(f.path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.db, f.log = db, audit.New(db, filepath.Join(filepath.Dir(f.path), "audit.head"))
	p := DefaultPolicy()
	if tweak != nil {
		tweak(&p)
	}
	f.gate, err = New(Options{DB: db, Audit: f.log, Verifier: f.verify, Policy: p, Logger: slog.New(slog.DiscardHandler), Now: f.clock.Now, Sleep: f.clock.Sleep})
	if err != nil {
		t.Fatal(err)
	}
}

func addr(s string) net.Addr {
	ap := netip.MustParseAddrPort(s)
	return net.TCPAddrFromAddrPort(ap)
}

func TestBackoffDoublesUpToCap(t *testing.T) {
	p := DefaultPolicy()
	want := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
		2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for n, w := range want {
		if got := p.Backoff(n); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, w)
		}
	}
	if got := p.Backoff(1 << 20); got != p.MaxDelay {
		t.Errorf("Backoff after a million failures = %v, want the %v cap", got, p.MaxDelay)
	}
	if got := p.Penalty(30); got != 10*time.Minute {
		t.Errorf("Penalty(30) = %v, want the 10m cap", got)
	}
}

func TestLocksAfterMaxFailuresAndEvaluatesNoMore(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for i := range 10 {
		ok, err := f.gate.CheckPIN(ctx, addr("198.51.100.7:40000"), "000000")
		if ok || err != nil {
			t.Fatalf("guess %d: ok %v, err %v", i+1, ok, err)
		}
	}
	// The delays before guesses 2..10 doubled from 250 ms to the 8 s cap.
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second,
		4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	if got := f.clock.sleeps; len(got) != len(want) || got[0] != want[0] || got[8] != want[8] {
		t.Errorf("waits %v, want %v", got, want)
	}
	ok, err := f.gate.CheckPIN(ctx, addr("203.0.113.9:1"), rightPIN)
	if ok || !errors.Is(err, ErrLocked) {
		t.Fatalf("right PIN while locked: ok %v, err %v; want ErrLocked", ok, err)
	}
	for _, want := range []string{"locked until 12:15:", "after 10 wrong PINs", "patchgit pin unlock", "authorized key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("locked message %q lacks %q", err, want)
		}
	}
	if n := f.verify.calls.Load(); n != 10 {
		t.Errorf("%d PINs evaluated, want 10", n)
	}
	if f.gate.Closed(Anonymous, nil) == nil || f.gate.Closed(KeyHolder, nil) != nil {
		t.Errorf("Closed: anonymous %v, key holder %v; want locked, open", f.gate.Closed(Anonymous, nil), f.gate.Closed(KeyHolder, nil))
	}
}

func TestStateSurvivesReopen(t *testing.T) {
	f := newFixture(t, func(p *Policy) { p.MaxFailures = 3 })
	for range 2 {
		_, _ = f.gate.CheckPIN(context.Background(), addr("198.51.100.7:1"), "111111")
	}
	f.db.Close()
	f.open(t, func(p *Policy) { p.MaxFailures = 3 })
	st, err := f.gate.Status()
	if err != nil || st.Failures != 2 {
		t.Fatalf("after reopening: failures %d, err %v; want 2", st.Failures, err)
	}
	_, _ = f.gate.CheckPIN(context.Background(), addr("198.51.100.7:1"), "111111")
	if _, err := f.gate.CheckPIN(context.Background(), addr("198.51.100.7:1"), rightPIN); !errors.Is(err, ErrLocked) {
		t.Errorf("third failure after a reopen did not lock: %v", err)
	}
}

func TestAutoUnlockAllowsOneGuessPerLockPeriod(t *testing.T) {
	f := newFixture(t, func(p *Policy) { p.MaxFailures = 2 })
	ctx := context.Background()
	for range 2 {
		_, _ = f.gate.CheckPIN(ctx, addr("198.51.100.7:1"), "111111")
	}
	f.clock.advance(15*time.Minute + time.Second)
	if ok, err := f.gate.CheckPIN(ctx, addr("198.51.100.7:1"), "222222"); ok || err != nil {
		t.Fatalf("guess after the lock ran out: ok %v, err %v", ok, err)
	}
	if _, err := f.gate.CheckPIN(ctx, addr("198.51.100.7:1"), rightPIN); !errors.Is(err, ErrLocked) {
		t.Fatalf("one wrong guess after an automatic unlock did not lock again: %v", err)
	}
	f.clock.advance(15*time.Minute + time.Second)
	res, err := f.gate.Check(ctx, Anonymous, addr("198.51.100.7:1"), rightPIN)
	if !res.OK || err != nil {
		t.Fatalf("right PIN after the second lock ran out: %+v, %v", res, err)
	}
	if res.Recent.Count != 3 || len(res.Recent.Sources) != 1 || res.Recent.Sources[0] != "198.51.100.0/24" {
		t.Errorf("recent failures %+v, want 3 from 198.51.100.0/24", res.Recent)
	}
	if st, _ := f.gate.Status(); st.Failures != 0 || st.Recent.Count != 0 {
		t.Errorf("a right PIN left %+v", st)
	}
}

func TestUnlockClearsEverything(t *testing.T) {
	f := newFixture(t, func(p *Policy) { p.MaxFailures = 2; p.KeyMaxFailures = 1 })
	ctx := context.Background()
	for range 2 {
		_, _ = f.gate.CheckPIN(ctx, addr("198.51.100.7:1"), "111111")
	}
	_, _ = f.gate.Check(ctx, KeyHolder, addr("192.0.2.1:1"), "111111")
	var u Unlocked
	err := f.db.Update(func(tx *bolt.Tx) error {
		var err error
		u, err = Unlock(tx, f.log, "operator", f.clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !u.WasLocked || u.Failures != 2 || !u.KeyWasLocked || u.KeyFailures != 1 || u.Penalties != 1 {
		t.Errorf("unlock reported %+v", u)
	}
	// No delay is owed any more: the right PIN is evaluated at once.
	sleeps := len(f.clock.sleeps)
	if ok, err := f.gate.CheckPIN(ctx, addr("198.51.100.7:1"), rightPIN); !ok || err != nil {
		t.Fatalf("right PIN after unlock: ok %v, err %v", ok, err)
	}
	if len(f.clock.sleeps) != sleeps {
		t.Errorf("waited %v after an unlock", f.clock.sleeps[sleeps:])
	}
	if _, refused := f.gate.Refused(addr("198.51.100.7:1")); refused {
		t.Error("the source is still penalized after an unlock")
	}
}

// An attacker without the key cannot lock the owner out: the key holders'
// door has its own budget and its own lock.
func TestKeyHolderDoorIsSeparate(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for range 10 {
		_, _ = f.gate.CheckPIN(ctx, addr("198.51.100.7:1"), "000000")
	}
	if _, err := f.gate.CheckPIN(ctx, addr("198.51.100.7:1"), rightPIN); !errors.Is(err, ErrLocked) {
		t.Fatalf("anonymous door not locked: %v", err)
	}
	before := len(f.clock.sleeps)
	if res, err := f.gate.Check(ctx, KeyHolder, addr("192.0.2.1:1"), rightPIN); !res.OK || err != nil {
		t.Fatalf("key holder with the right PIN during the lock: %+v, %v", res, err)
	}
	if len(f.clock.sleeps) != before {
		t.Errorf("the key holder waited out the attacker's delay: %v", f.clock.sleeps[before:])
	}
	for range 3 {
		_, _ = f.gate.Check(ctx, KeyHolder, addr("192.0.2.1:1"), "000000")
	}
	_, err := f.gate.Check(ctx, KeyHolder, addr("192.0.2.1:1"), rightPIN)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "for key holders") {
		t.Errorf("3 wrong PINs from a key holder: %v, want the key holders' lock", err)
	}
}

func TestSourcePenalties(t *testing.T) {
	f := newFixture(t, func(p *Policy) { p.Exempt = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	ctx := context.Background()
	_, _ = f.gate.CheckPIN(ctx, addr("198.51.100.7:1"), "000000")
	// The whole /24 serves the penalty, not just the one address.
	if left, refused := f.gate.Refused(addr("198.51.100.200:5")); !refused || left != 5*time.Second {
		t.Errorf("neighbour of a failing address: refused %v for %v, want 5s", refused, left)
	}
	if _, refused := f.gate.Refused(addr("198.51.101.1:5")); refused {
		t.Error("the next /24 is refused too")
	}
	f.clock.advance(time.Second) // the next guess owes 250 ms, already waited
	_, _ = f.gate.CheckPIN(ctx, addr("198.51.100.8:1"), "000000")
	if left, _ := f.gate.Refused(addr("198.51.100.1:5")); left != 10*time.Second {
		t.Errorf("second failure: penalty %v, want 10s", left)
	}
	_, _ = f.gate.CheckPIN(ctx, addr("[2001:db8:1:2:3::4]:22"), "000000")
	if _, refused := f.gate.Refused(addr("[2001:db8:1:2:ffff::1]:22")); !refused {
		t.Error("IPv6 penalty does not cover the /64")
	}
	_, _ = f.gate.CheckPIN(ctx, addr("10.1.2.3:1"), "000000")
	if _, refused := f.gate.Refused(addr("10.1.2.3:1")); refused {
		t.Error("an exempt network was penalized")
	}
	f.clock.advance(time.Minute)
	if _, refused := f.gate.Refused(addr("198.51.100.7:1")); refused {
		t.Error("penalty did not run out")
	}
}

func TestAuditHasBurstsLocksAndNoPIN(t *testing.T) {
	f := newFixture(t, func(p *Policy) { p.MaxFailures = 3 })
	ctx := context.Background()
	for range 4 {
		_, _ = f.gate.CheckPIN(ctx, addr("198.51.100.7:1"), "918273")
	}
	_ = f.db.Update(func(tx *bolt.Tx) error { _, err := Unlock(tx, f.log, "operator", f.clock.Now()); return err })
	_, _ = f.gate.CheckPIN(ctx, addr("198.51.100.7:1"), "918273")
	_, _ = f.gate.CheckPIN(ctx, addr("198.51.100.7:1"), rightPIN)
	entries, err := f.log.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range entries {
		kinds = append(kinds, e.Kind)
		for k, v := range e.Data {
			if strings.Contains(v, "918273") || strings.Contains(v, rightPIN) || strings.Contains(k, rightPIN) {
				t.Errorf("entry %s carries a PIN: %v", e.Kind, e.Data)
			}
		}
	}
	want := "gate.failures_started gate.penalty gate.locked gate.unlocked gate.failures_started gate.penalty gate.burst_ended"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("audit kinds\n got %s\nwant %s", got, want)
	}
}

func TestEndedContextChangesNothing(t *testing.T) {
	f := newFixture(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.gate.CheckPIN(ctx, addr("198.51.100.7:1"), "000000"); !errors.Is(err, context.Canceled) {
		t.Fatalf("ended context: %v", err)
	}
	if f.verify.calls.Load() != 0 {
		t.Error("a PIN was evaluated for an abandoned attempt")
	}
}

func TestBadPolicyIsExplained(t *testing.T) {
	p := DefaultPolicy()
	p.MaxFailures = 1000
	_, err := New(Options{DB: &store.DB{}, Audit: &audit.Log{}, Verifier: &countingVerifier{}, Policy: p})
	if !errors.Is(err, ErrBadPolicy) || !strings.Contains(err.Error(), "NIST") {
		t.Errorf("max failures 1000: %v", err)
	}
}

// Penalty records are bounded: forgotten ones are pruned, and past the cap
// new networks are not recorded (the global budget still holds).
func TestPenaltyRecordsAreBounded(t *testing.T) {
	f := newFixture(t, func(p *Policy) { p.MaxFailures = 1 })
	ctx := context.Background()
	_, _ = f.gate.CheckPIN(ctx, addr("198.51.100.1:1"), "000000") // locks; one record
	for i := range 20 {                                           // knocks on the locked gate from 20 networks
		_, _ = f.gate.CheckPIN(ctx, addr(fmt.Sprintf("10.%d.0.1:1", i)), "000000")
	}
	if st, _ := f.gate.Status(); st.Penalties != 21 {
		t.Fatalf("%d penalty records, want 21", st.Penalties)
	}
	f.gate.penaltyRecords.Store(maxPenaltyRecords) // as if full
	f.gate.lastPrune.Store(f.clock.Now().UnixNano())
	_, _ = f.gate.CheckPIN(ctx, addr("203.0.113.1:1"), "000000")
	if _, refused := f.gate.Refused(addr("203.0.113.1:1")); refused {
		t.Error("a new network was recorded past the cap")
	}
	// An hour later every record is forgotten and the next sweep drops them.
	f.clock.advance(time.Hour)
	_, _ = f.gate.CheckPIN(ctx, addr("192.0.2.1:1"), "000000")
	if st, _ := f.gate.Status(); st.Penalties != 1 || f.gate.penaltyRecords.Load() != 1 {
		t.Errorf("after the sweep: %d records stored, %d counted; want 1, 1", st.Penalties, f.gate.penaltyRecords.Load())
	}
}
