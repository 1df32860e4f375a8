package helper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/patchgit/patchgit/internal/budget"
)

// BudgetMeter meters helpers into the budget's ledger with the budget's
// own live metering (budget.Meter): Start reserves the first slice (at
// least the 60 s / $0.01 minimum charge) before anything is created and
// refuses when it does not fit the hourly or daily cap, unless the job's
// spend is approved; Extend settles what has run and reserves the next
// slice, and refuses (budget.ErrStopMetering) when that would cross a cap;
// Stop settles per second from create to confirmed destroy. The ledger
// entries name the helper and the job. A free helper (price 0) is not
// metered.
type BudgetMeter struct {
	ledger *budget.Ledger
	slice  time.Duration

	mu   sync.Mutex
	runs map[string]*budget.Meter // by helper name
}

// NewBudgetMeter meters into l, reserving slice at a time (the budget's
// budget.meter_slice). The Manager extends every half slice, so a refused
// extension leaves half a slice reserved to destroy the helper in.
func NewBudgetMeter(l *budget.Ledger, slice time.Duration) (*BudgetMeter, error) {
	if l == nil || slice <= 0 {
		return nil, fmt.Errorf("new budget meter: %w: a ledger and a positive slice are required", ErrBadConfig)
	}
	return &BudgetMeter{ledger: l, slice: slice, runs: map[string]*budget.Meter{}}, nil
}

// ExtendEvery is how often the Manager should extend: half a slice.
func (b *BudgetMeter) ExtendEvery() time.Duration { return b.slice / 2 }

// purposePrefix starts every ledger entry of a helper: how a restart finds
// a reservation its dead process left open.
func purposePrefix(helper string) string { return "helper " + helper + " " }

func purpose(c Charge) string {
	return fmt.Sprintf("%s(%s at %s/h) for job %s", purposePrefix(c.Helper), c.Size, c.PriceHourly, c.Job)
}

func helperPrice(c Charge) budget.HelperPrice {
	return budget.NewHelperPrice(c.Size, c.PriceHourly, 0)
}

// Start reserves the helper's first slice; an error means: do not create it.
func (b *BudgetMeter) Start(_ context.Context, c Charge) error {
	if c.PriceHourly <= 0 {
		return nil
	}
	run, err := b.ledger.StartMeter(budget.Request{Proposal: c.Proposal, Purpose: purpose(c), Approved: c.Approved},
		helperPrice(c), b.slice)
	if err != nil {
		return fmt.Errorf("meter helper %s: %w", c.Helper, err)
	}
	b.mu.Lock()
	b.runs[c.Helper] = run
	b.mu.Unlock()
	return nil
}

func (b *BudgetMeter) run(helper string) *budget.Meter {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.runs[helper]
}

// Extend settles what has run and reserves the next slice. An error
// wrapping budget.ErrStopMetering (and budget.ErrOverCap with a
// *budget.CapError, or budget.ErrOverApproval) means: destroy it now.
func (b *BudgetMeter) Extend(_ context.Context, c Charge) error {
	run := b.run(c.Helper)
	if run == nil {
		return nil
	}
	if !c.Since.IsZero() {
		run.Begin(c.Since) // billed from its create, not from the reservation
	}
	err := run.Tick()
	if errors.Is(err, budget.ErrOverCap) || errors.Is(err, budget.ErrOverApproval) {
		return fmt.Errorf("extend helper %s: %w: %w", c.Helper, budget.ErrStopMetering, err)
	}
	if err != nil {
		return fmt.Errorf("extend helper %s: %w", c.Helper, err)
	}
	return nil
}

// Stop settles the helper's time from c.Since (its create) to c.At (its
// confirmed destroy), per second with the minimum charge; a helper never
// created (Since zero) costs nothing and its reservation is released. After
// a restart the run is not in memory: the reservation the dead process left
// open is found by the helper's name and settled the same way (unless the
// ledger's own reconcile settled it already, at its full amount).
func (b *BudgetMeter) Stop(_ context.Context, c Charge) error {
	b.mu.Lock()
	run := b.runs[c.Helper]
	delete(b.runs, c.Helper)
	b.mu.Unlock()
	if run == nil {
		return b.settleOrphan(c)
	}
	if c.Since.IsZero() {
		if err := b.ledger.Release(run.ID()); err != nil {
			return fmt.Errorf("stop metering helper %s: %w", c.Helper, err)
		}
		return nil
	}
	run.Begin(c.Since)
	if _, err := run.StopAt(c.At); err != nil {
		return fmt.Errorf("stop metering helper %s: %w", c.Helper, err)
	}
	return nil
}

// settleOrphan settles a reservation left open by a process that died
// while the helper ran. What ran beyond the reservation is noted, not
// charged, as budget.Meter.Stop does: the helper record's audit entry
// (helper.destroyed) holds the full cost.
func (b *BudgetMeter) settleOrphan(c Charge) error {
	open, err := b.ledger.OpenReservations()
	if err != nil {
		return fmt.Errorf("stop metering helper %s: %w", c.Helper, err)
	}
	var cost budget.Micros
	if !c.Since.IsZero() {
		cost = helperPrice(c).Cost(c.At.Sub(c.Since))
	}
	for _, r := range open {
		if !strings.HasPrefix(r.Purpose, purposePrefix(c.Helper)) {
			continue
		}
		total, note := max(cost, r.Accrued), "settled after a restart from the helper's create and confirmed destroy"
		if limit := r.Accrued + r.Amount; total > limit {
			note += fmt.Sprintf("; it cost %s, %s more than was reserved", total, total-limit)
			total = limit
		}
		err := b.ledger.Settle(r.ID, total, note)
		if err != nil && !errors.Is(err, budget.ErrUnknownReservation) { // settled meanwhile by the ledger's reconcile
			return fmt.Errorf("stop metering helper %s: %w", c.Helper, err)
		}
	}
	return nil
}
