// Package budget is PatchGit's money: prices, the ledger of reservations
// and spends in the store (reserve the worst case, settle the actual, or
// release), the rolling hourly and daily windows whose caps no race can
// pass, projections of a plan's cost, approvals of extra spend for one
// proposal, cheaper alternatives, and live metering of long-running spend.
// Pure logic over the store: no network.
package budget

import (
	"fmt"
	"math"
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

// ParsePrice reads a price in dollars like ParseMicros, but with any
// number of decimals: what is below the micro-dollar is rounded up (a
// catalog's price such as $0.0089286 per hour; a price never rounds in the
// spender's favour).
func ParsePrice(s string) (Micros, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "$")
	whole, frac, _ := strings.Cut(t, ".")
	if len(frac) <= 6 {
		return ParseMicros(s)
	}
	rest := frac[6:]
	m, err := ParseMicros(whole + "." + frac[:6])
	if err != nil || strings.Trim(rest, "0123456789") != "" {
		return 0, fmt.Errorf("%w: %q is not a price like $0.02679 (not negative)", ErrBadAmount, s)
	}
	if strings.Trim(rest, "0") != "" {
		m++
	}
	return m, nil
}

// PriceFromUSD converts a price that arrives as a float (DigitalOcean's
// price_hourly in JSON) once, at the boundary: its shortest decimal form
// is read exactly and rounded up to the micro-dollar, so 0.02679 is 26,790
// and not 26,789 or 26,791 through binary noise.
func PriceFromUSD(usd float64) (Micros, error) {
	if math.IsNaN(usd) || math.IsInf(usd, 0) || usd < 0 {
		return 0, fmt.Errorf("%w: price %v is not a non-negative number", ErrBadAmount, usd)
	}
	return ParsePrice(strconv.FormatFloat(usd, 'f', -1, 64))
}
