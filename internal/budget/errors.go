package budget

import "errors"

// Sentinel errors; the wrapped message says which cap, by how much, and
// what to do.
var (
	// ErrOverCap: the spend does not fit a window's cap (or the approved
	// amount); nothing was reserved.
	ErrOverCap = errors.New("over budget")
	// ErrOverApproval: the spend would cross the amount approved for the
	// proposal; the work must stop.
	ErrOverApproval = errors.New("over the approved amount")
	// ErrUnknownReservation: no open reservation has that id (settled,
	// released or never made).
	ErrUnknownReservation = errors.New("no such open reservation")
	// ErrSettleAboveReserve: the actual cost is higher than what was
	// reserved; extend the reservation first.
	ErrSettleAboveReserve = errors.New("actual cost above the reservation")
	// ErrBadAmount: a money value that cannot be read or is negative.
	ErrBadAmount = errors.New("bad amount")
	// ErrStopMetering is the cause given to a metered run's context when
	// the next slice does not fit: stop before the cap is crossed.
	ErrStopMetering = errors.New("budget: stop now, the next slice of time does not fit")
)

// ErrNoPrice: a plan names a helper size or model that has no price.
var ErrNoPrice = errors.New("no price")
