package server

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestBackoffDoublesUpToCap(t *testing.T) {
	want := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
		2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for n, w := range want {
		if got := backoff(n); got != w {
			t.Errorf("backoff(%d) = %v, want %v", n, got, w)
		}
	}
	if got := backoff(1 << 20); got != maxDelay {
		t.Errorf("backoff after a million failures = %v, want the %v cap", got, maxDelay)
	}
}

func newTestGate(checker PINChecker) (*pinGate, *fakeClock) {
	g := newPINGate(checker)
	c := newFakeClock()
	g.clock = c
	return g, c
}

func TestGateWaitCountsFromLastFailure(t *testing.T) {
	g, clock := newTestGate(&fakePIN{pin: testPIN})
	ctx := context.Background()
	for range 2 {
		if ok, err := g.Check(ctx, "000000"); ok || err != nil {
			t.Fatalf("wrong PIN: ok %v, err %v", ok, err)
		}
	}
	clock.advance(200 * time.Millisecond) // of the 500 ms owed, 300 remain
	if ok, err := g.Check(ctx, testPIN); !ok || err != nil {
		t.Fatalf("right PIN: ok %v, err %v", ok, err)
	}
	if got, want := clock.Sleeps(), []time.Duration{250 * time.Millisecond, 300 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}

	// After a quiet spell longer than the delay, nothing is owed.
	_, _ = g.Check(ctx, "000000")
	clock.advance(time.Hour)
	_, _ = g.Check(ctx, "000000")
	if got := len(clock.Sleeps()); got != 2 {
		t.Errorf("a guess after a quiet hour waited: %v", clock.Sleeps())
	}
}

func TestGateEmptyAnswerIsAFailureWithoutHashing(t *testing.T) {
	checker := &fakePIN{pin: testPIN}
	g, _ := newTestGate(checker)
	if ok, err := g.Check(context.Background(), ""); ok || err != nil {
		t.Fatalf("empty PIN: ok %v, err %v", ok, err)
	}
	if checker.Calls() != 0 || g.Failures() != 1 {
		t.Errorf("empty PIN: checker calls %d, failures %d; want 0, 1", checker.Calls(), g.Failures())
	}
}

func TestGateErrorsLeaveCountAlone(t *testing.T) {
	g, _ := newTestGate(errChecker{})
	if _, err := g.Check(context.Background(), "123456"); !errors.Is(err, errStoreDown) {
		t.Fatalf("checker error: %v, want it wrapped", err)
	}
	if g.Failures() != 0 {
		t.Errorf("a checker error counted as a wrong PIN")
	}

	g, _ = newTestGate(&fakePIN{pin: testPIN})
	_, _ = g.Check(context.Background(), "000000")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Check(ctx, "000000"); !errors.Is(err, context.Canceled) {
		t.Errorf("check with an ended context: %v, want context.Canceled", err)
	}
	if g.Failures() != 1 {
		t.Errorf("failures %d after an abandoned check, want 1", g.Failures())
	}
}

// While one PIN is being evaluated no other evaluation may start: that is
// what makes the backoff global rather than per connection.
func TestGateEvaluatesOneAtATime(t *testing.T) {
	blocking := &blockingChecker{entered: make(chan struct{}), release: make(chan struct{})}
	g, _ := newTestGate(blocking)
	first := make(chan error, 1)
	go func() {
		_, err := g.Check(context.Background(), "000000")
		first <- err
	}()
	<-blocking.entered

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // it cannot get the turn, so it must give up rather than evaluate
	if _, err := g.Check(ctx, "111111"); !errors.Is(err, context.Canceled) {
		t.Errorf("second check during the first: %v, want context.Canceled", err)
	}
	close(blocking.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := blocking.calls.Load(); n != 1 {
		t.Errorf("checker ran %d times, want 1", n)
	}
}

var errStoreDown = errors.New("store is down")

type errChecker struct{}

func (errChecker) CheckPIN(context.Context, string) (bool, error) { return false, errStoreDown }

// blockingChecker holds the first evaluation until released; any other
// evaluation returns at once so a broken gate fails the test, not hangs it.
type blockingChecker struct {
	entered, release chan struct{}
	calls            atomic.Int32
}

func (b *blockingChecker) CheckPIN(context.Context, string) (bool, error) {
	if b.calls.Add(1) == 1 {
		close(b.entered)
		<-b.release
	}
	return false, nil
}
