package budget

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Meter reserves a helper's time in slices while it runs: the first slice
// before it starts, and at every tick (half a slice) it settles what has
// accrued and reserves the next slice. When the next slice does not fit a
// window's cap or the approved amount, the owner is told to stop, with
// half a slice still reserved to stop in.
type Meter struct {
	l     *Ledger
	price HelperPrice
	slice time.Duration
	start time.Time

	mu       sync.Mutex
	id       string
	accrued  Micros // settled so far
	reserved Micros // still reserved
	closed   bool
}

// StartMeter makes the first reservation (the first slice, with the
// billing minimums); req.Amount is ignored. It fails without reserving
// anything when that slice does not fit.
func (l *Ledger) StartMeter(req Request, price HelperPrice, slice time.Duration) (*Meter, error) {
	if slice <= 0 {
		return nil, fmt.Errorf("start meter: slice must be positive, got %s", slice)
	}
	req.Category = CategoryHelper
	req.Amount = price.Cost(slice)
	res, err := l.Reserve(req)
	if err != nil {
		return nil, fmt.Errorf("start meter: %w", err)
	}
	return &Meter{l: l, price: price, slice: slice, start: res.Created, id: res.ID, reserved: res.Amount}, nil
}

// ID is the reservation's id.
func (m *Meter) ID() string { return m.id }

// Begin moves the start of the metered time to t, when what is paid for
// really began (a droplet bills from its create, which comes after its
// first slice was reserved). Call it before the first Tick; a t before the
// reservation or after a Tick changes nothing, so the metered time never
// shrinks below what was already settled.
func (m *Meter) Begin(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.accrued == 0 && !m.closed && t.After(m.start) {
		m.start = t
	}
}

// Tick settles what has accrued and reserves the coming slice. An error
// wrapping ErrOverCap or ErrOverApproval means: stop now.
func (m *Meter) Tick() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	elapsed := m.l.now().Sub(m.start)
	total := m.price.Cost(elapsed)
	next := m.price.Cost(elapsed+m.slice) - total
	if total-m.accrued > m.reserved {
		total = m.accrued + m.reserved // overran between ticks: Stop records it
	}
	err := m.l.Roll(m.id, total, next)
	if err != nil && !errors.Is(err, ErrOverCap) && !errors.Is(err, ErrOverApproval) {
		return err
	}
	m.reserved -= total - m.accrued
	m.accrued = total
	if err == nil {
		m.reserved = next
	}
	return err
}

// Run ticks every half slice until ctx ends; when a tick says stop, it
// calls stop with an error wrapping ErrStopMetering and the reason, and
// returns.
func (m *Meter) Run(ctx context.Context, stop context.CancelCauseFunc) {
	t := time.NewTicker(m.slice / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Tick(); err != nil {
				stop(fmt.Errorf("%w: %w", ErrStopMetering, err))
				return
			}
		}
	}
}

// Stop settles the run: what it cost from start to now, with the billing
// minimums. If it ran past what was reserved (it did not stop in time),
// the reserved amount is settled and the overrun is returned as an error
// and noted, so it is visible rather than silently charged past the cap.
func (m *Meter) Stop() (Micros, error) { return m.StopAt(m.l.now()) }

// StopAt is Stop for a run that ended at end (a helper's confirmed
// deletion, settled a moment later); an end in the future counts as now.
func (m *Meter) StopAt(end time.Time) (Micros, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return m.accrued, nil
	}
	m.closed = true
	if now := m.l.now(); end.After(now) {
		end = now
	}
	total := max(m.price.Cost(end.Sub(m.start)), m.accrued) // a tick after end settled more already
	var overrun error
	note := ""
	if total-m.accrued > m.reserved {
		overrun = fmt.Errorf("stop meter: ran %s past its reservation", total-m.accrued-m.reserved)
		note = "overran its reservation by " + (total - m.accrued - m.reserved).String()
		total = m.accrued + m.reserved
	}
	if err := m.l.Settle(m.id, total, note); err != nil {
		return m.accrued, err
	}
	m.accrued, m.reserved = total, 0
	return total, overrun
}
