package config

import (
	"fmt"
	"net/netip"
	"time"
)

// GateConfig is the PIN gate's policy, shared by every door that asks the
// PIN (SSH, the web mirror's login). docs/security.md explains each value.
type GateConfig struct {
	FirstDelay     Duration `yaml:"first_delay"`      // wait after the first wrong PIN; doubles per failure
	MaxDelay       Duration `yaml:"max_delay"`        // cap on that wait
	MaxFailures    int      `yaml:"max_failures"`     // consecutive wrong PINs that lock the gate (1..100)
	LockFor        Duration `yaml:"lock_for"`         // automatic unlock after this
	KeyMaxFailures int      `yaml:"key_max_failures"` // budget of connections that proved an authorized key
	PenaltyFirst   Duration `yaml:"penalty_first"`    // a failing source network is refused this long; doubles
	PenaltyMax     Duration `yaml:"penalty_max"`      // cap on that refusal
	// ExemptNetworks never get source penalties, e.g. ["192.168.1.0/24"]
	// (file only; the global budget still counts their failures).
	ExemptNetworks []string `yaml:"exempt_networks,omitempty"`
}

func defaultGate() GateConfig {
	return GateConfig{
		FirstDelay: Duration(250 * time.Millisecond), MaxDelay: Duration(8 * time.Second),
		MaxFailures: 10, LockFor: Duration(15 * time.Minute), KeyMaxFailures: 3,
		PenaltyFirst: Duration(5 * time.Second), PenaltyMax: Duration(10 * time.Minute),
	}
}

// Exempt parses ExemptNetworks (Validate has checked them).
func (g GateConfig) Exempt() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range g.ExemptNetworks {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func (c *Config) validateGate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	g, s := c.Gate, c.SSH
	if g.FirstDelay < 0 || g.MaxDelay < g.FirstDelay {
		bad("gate.max_delay", "%v is below gate.first_delay %v; the delay doubles from first up to max", g.MaxDelay, g.FirstDelay)
	}
	if g.MaxFailures < 1 || g.MaxFailures > 100 {
		bad("gate.max_failures", "%d is out of range; use 1 to 100 (NIST SP 800-63B allows at most 100)", g.MaxFailures)
	}
	if g.KeyMaxFailures < 1 || g.KeyMaxFailures > 100 {
		bad("gate.key_max_failures", "%d is out of range; use 1 to 100", g.KeyMaxFailures)
	}
	if g.LockFor <= 0 {
		bad("gate.lock_for", "must be greater than zero, e.g. 15m")
	}
	if g.PenaltyFirst < 0 || g.PenaltyMax < g.PenaltyFirst {
		bad("gate.penalty_max", "%v is below gate.penalty_first %v", g.PenaltyMax, g.PenaltyFirst)
	}
	for i, n := range g.ExemptNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			bad(fmt.Sprintf("gate.exempt_networks[%d]", i), "%q is not a network like 192.168.1.0/24 or 2001:db8::/48", n)
		}
	}
	for _, p := range []struct {
		key string
		val int64
	}{
		{"ssh.login_grace", int64(s.LoginGrace)}, {"ssh.max_startups", int64(s.MaxStartups)},
		{"ssh.max_startups_per_network", int64(s.MaxStartupsPerNetwork)}, {"ssh.max_auth_tries", int64(s.MaxAuthTries)},
		{"ssh.idle_timeout", int64(s.IdleTimeout)}, {"ssh.max_session", int64(s.MaxSession)},
		{"ssh.max_sessions", int64(s.MaxSessions)},
	} {
		if p.val <= 0 {
			bad(p.key, "must be greater than zero")
		}
	}
	if s.MaxStartupsPerNetwork > s.MaxStartups {
		bad("ssh.max_startups_per_network", "%d is above ssh.max_startups %d", s.MaxStartupsPerNetwork, s.MaxStartups)
	}
	return errs
}
