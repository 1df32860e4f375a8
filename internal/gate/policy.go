package gate

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Policy is how the gate throttles wrong PINs. DefaultPolicy is the
// documented default; the config file can change each field.
type Policy struct {
	// FirstDelay is the wait owed after the first wrong PIN; each further
	// consecutive failure doubles it, up to MaxDelay.
	FirstDelay, MaxDelay time.Duration
	// MaxFailures consecutive wrong PINs (all doors, all sources) lock the
	// anonymous gate for LockFor.
	MaxFailures int
	LockFor     time.Duration
	// KeyMaxFailures is the separate budget of connections that first
	// proved an authorized key; it locks only the key holders' gate.
	KeyMaxFailures int
	// PenaltyFirst is how long a source network that sent a wrong PIN is
	// refused before the key exchange; each further failure from it
	// doubles that, up to PenaltyMax.
	PenaltyFirst, PenaltyMax time.Duration
	// Exempt networks never get source penalties (the global budget still
	// counts their failures).
	Exempt []netip.Prefix
}

// DefaultPolicy: 250 ms doubling to 8 s, lock after 10 for 15 minutes, 3
// for key holders, source penalties from 5 s doubling to 10 minutes
// (OpenSSH's PerSourcePenalties authfail:5s, max 600s).
func DefaultPolicy() Policy {
	return Policy{
		FirstDelay:     250 * time.Millisecond,
		MaxDelay:       8 * time.Second,
		MaxFailures:    10,
		LockFor:        15 * time.Minute,
		KeyMaxFailures: 3,
		PenaltyFirst:   5 * time.Second,
		PenaltyMax:     10 * time.Minute,
	}
}

func (p Policy) validate() error {
	var problems []error
	if p.FirstDelay < 0 || p.MaxDelay < p.FirstDelay {
		problems = append(problems, fmt.Errorf("delays %v..%v: need 0 <= first <= max", p.FirstDelay, p.MaxDelay))
	}
	if p.MaxFailures < 1 || p.MaxFailures > 100 {
		problems = append(problems, fmt.Errorf("max failures %d: use 1 to 100 (NIST SP 800-63B allows at most 100)", p.MaxFailures))
	}
	if p.KeyMaxFailures < 1 || p.KeyMaxFailures > 100 {
		problems = append(problems, fmt.Errorf("key holder max failures %d: use 1 to 100", p.KeyMaxFailures))
	}
	if p.LockFor <= 0 {
		problems = append(problems, fmt.Errorf("lock time %v: must be positive", p.LockFor))
	}
	if p.PenaltyFirst < 0 || p.PenaltyMax < p.PenaltyFirst {
		problems = append(problems, fmt.Errorf("penalties %v..%v: need 0 <= first <= max", p.PenaltyFirst, p.PenaltyMax))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %w", ErrBadPolicy, errors.Join(problems...))
	}
	return nil
}

// doubling is first * 2^(n-1), capped at limit; 0 for n <= 0.
func doubling(n int, first, limit time.Duration) time.Duration {
	if n <= 0 || first <= 0 {
		return 0
	}
	d := first
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Backoff is the wait owed before the next evaluation after n consecutive
// failures.
func (p Policy) Backoff(n int) time.Duration { return doubling(n, p.FirstDelay, p.MaxDelay) }

// Penalty is how long a network is refused after its n-th failure.
func (p Policy) Penalty(n int) time.Duration { return doubling(n, p.PenaltyFirst, p.PenaltyMax) }

// exempt reports whether addr is in an exempt network.
func (p Policy) exempt(addr netip.Addr) bool {
	for _, n := range p.Exempt {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// SourceNetwork is the network a penalty covers: the /24 of an IPv4
// address, the /64 of an IPv6 one (OpenSSH's PerSourceNetBlockSize
// defaults), so an attacker cannot dodge it by hopping addresses in one
// subnet.
func SourceNetwork(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := 64
	if addr.Is4() {
		bits = 24
	}
	p, _ := addr.Prefix(bits)
	return p
}
