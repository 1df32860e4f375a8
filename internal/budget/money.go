// Package budget is PatchGit's money: prices, the ledger of reservations
// and spends in the store (reserve the worst case, settle the actual, or
// release), the rolling hourly and daily windows whose caps no race can
// pass, projections of a plan's cost, approvals of extra spend for one
// proposal, cheaper alternatives, and live metering of long-running spend.
// Pure logic over the store: no network.
package budget

import (
	"fmt"
	"strconv"
	"strings"
)

// Micros is an amount of money in micro-dollars (1 USD = 1,000,000).
// Money is never a float.
type Micros int64

// Dollar is one US dollar.
const Dollar Micros = 1_000_000

// String writes m as dollars with at least cents: 1500000 -> $1.50,
// 1234 -> $0.001234.
func (m Micros) String() string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	frac := strings.TrimRight(fmt.Sprintf("%06d", int64(m%Dollar)), "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return sign + "$" + strconv.FormatInt(int64(m/Dollar), 10) + "." + frac
}

// ParseMicros reads "$1.50", "1.50", "0.000001" or "2" (dollars) exactly,
// with at most six decimals.
func ParseMicros(s string) (Micros, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "$")
	whole, frac, _ := strings.Cut(t, ".")
	if whole == "" && frac == "" || len(frac) > 6 || strings.ContainsAny(whole+frac, "+-") {
		return 0, fmt.Errorf("%w: %q is not an amount like $1.50 (at most 6 decimals, not negative)", ErrBadAmount, s)
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 9_000_000 {
		return 0, fmt.Errorf("%w: %q is not an amount like $1.50 (at most $9,000,000)", ErrBadAmount, s)
	}
	f := int64(0)
	if frac != "" {
		f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %q is not an amount like $1.50", ErrBadAmount, s)
		}
	}
	return Micros(w*int64(Dollar) + f), nil
}

// ceilDiv is a/b rounded up, for non-negative a and positive b: prices
// round against spending, never in its favour.
func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}
