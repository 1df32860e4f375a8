package server

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Backoff bounds for wrong PINs: the delay before the next evaluation
// doubles with every consecutive failure, from firstDelay up to maxDelay.
const (
	firstDelay = 250 * time.Millisecond
	maxDelay   = 8 * time.Second
)

// clock is the gate's view of time, replaced in tests so backoff is
// asserted on computed delays rather than measured ones.
type clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pinGate evaluates PINs one at a time, across all connections, and makes
// each evaluation wait out the backoff earned by the consecutive failures
// before it. Serializing is what makes the backoff global: parallel
// connections cannot each spend the same delay guessing at once.
type pinGate struct {
	checker PINChecker
	clock   clock
	turn    chan struct{} // a one-slot semaphore; a channel so waiting honours ctx

	mu          sync.Mutex
	failures    int       // consecutive wrong PINs, all connections
	lastFailure time.Time // when the latest wrong PIN was evaluated
}

func newPINGate(checker PINChecker) *pinGate {
	return &pinGate{checker: checker, clock: realClock{}, turn: make(chan struct{}, 1)}
}

// backoff is the delay owed after n consecutive failures.
func backoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := firstDelay
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

// NextDelay is the backoff the next PIN evaluation owes, counted from the
// latest failure.
func (g *pinGate) NextDelay() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return backoff(g.failures)
}

// Failures is the number of consecutive wrong PINs so far.
func (g *pinGate) Failures() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failures
}

// Check waits for its turn and the backoff, then asks the checker. A wrong
// PIN extends the backoff; a right one resets it. An error (ctx ended while
// waiting, checker failure) leaves the counter as it was.
func (g *pinGate) Check(ctx context.Context, pin string) (bool, error) {
	select {
	case g.turn <- struct{}{}:
	case <-ctx.Done():
		return false, fmt.Errorf("wait for pin check: %w", ctx.Err())
	}
	defer func() { <-g.turn }()

	g.mu.Lock()
	wait := g.lastFailure.Add(backoff(g.failures)).Sub(g.clock.Now())
	g.mu.Unlock()
	if wait > 0 {
		if err := g.clock.Sleep(ctx, wait); err != nil {
			return false, fmt.Errorf("wait for pin backoff: %w", err)
		}
	}

	ok := false
	if pin != "" { // an empty answer is wrong without spending a hash on it
		var err error
		if ok, err = g.checker.CheckPIN(ctx, pin); err != nil {
			return false, fmt.Errorf("check pin: %w", err)
		}
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	if ok {
		g.failures = 0
		g.lastFailure = time.Time{}
		return true, nil
	}
	g.failures++
	g.lastFailure = g.clock.Now()
	return false, nil
}
