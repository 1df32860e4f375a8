package budget

import (
	"fmt"
	"time"
)

// Tier is where a stage's work runs, which decides how it is priced and
// whether it needs approval.
type Tier string

const (
	TierBase     Tier = "base"     // the control plane or a local/cheap model: free
	TierHelper   Tier = "helper"   // the helper VM (or the local helper): per second
	TierExternal Tier = "external" // an external model API: per token, always needs approval
)

// HelperPrice prices one helper size. DigitalOcean bills droplets per
// second since 2026-01-01 with a minimum of 60 seconds or $0.01.
type HelperPrice struct {
	Size       string `json:"size"`
	Hourly     Micros `json:"hourly"`
	MemoryMB   int    `json:"memory_mb"`
	MinSeconds int64  `json:"min_seconds"`
	MinCharge  Micros `json:"min_charge"`
}

// Cost is what running for d costs: per started second, rounded up, with
// the minimums. Zero time costs nothing; a free helper costs nothing.
func (h HelperPrice) Cost(d time.Duration) Micros {
	if d <= 0 || h.Hourly == 0 {
		return 0
	}
	secs := max(ceilDiv(int64(d), int64(time.Second)), h.MinSeconds)
	return max(Micros(ceilDiv(secs*int64(h.Hourly), 3600)), h.MinCharge)
}

// TokenPrice prices one model per million tokens.
type TokenPrice struct {
	Model  string `json:"model"`
	Input  Micros `json:"input"`
	Output Micros `json:"output"`
	Cached Micros `json:"cached"`
}

// Cost of a call, rounded up.
func (t TokenPrice) Cost(input, output, cached int64) Micros {
	return Micros(ceilDiv(input*int64(t.Input)+output*int64(t.Output)+cached*int64(t.Cached), 1_000_000))
}

// Prices is every price the budget knows.
type Prices struct {
	// Local is the local helper of the embedded default: the sandbox runs
	// on this machine, metered like a helper (free unless configured).
	Local   HelperPrice   `json:"local"`
	Helpers []HelperPrice `json:"helpers"`
	Models  []TokenPrice  `json:"models"`
}

// LocalHelperSize names the local helper in plans.
const LocalHelperSize = "local"

// DO's per-second billing rule, for every helper.
const (
	doMinSeconds = 60
	doMinCharge  = Micros(10_000) // $0.01
)

// NewHelperPrice applies DigitalOcean's billing minimums to an hourly price.
func NewHelperPrice(size string, hourly Micros, memoryMB int) HelperPrice {
	return HelperPrice{Size: size, Hourly: hourly, MemoryMB: memoryMB, MinSeconds: doMinSeconds, MinCharge: doMinCharge}
}

// DefaultPrices are DigitalOcean's basic droplets at their monthly list
// price / 672 hours (their hourly cap), and no model prices: a model
// provider's prices come from its config. A provider may refresh Helpers
// from the sizes API's price_hourly.
func DefaultPrices() Prices {
	return Prices{
		Local: NewHelperPrice(LocalHelperSize, 0, 0),
		Helpers: []HelperPrice{
			NewHelperPrice("s-1vcpu-1gb", 8_929, 1024),
			NewHelperPrice("s-1vcpu-2gb", 17_857, 2048),
			NewHelperPrice("s-2vcpu-2gb", 26_786, 2048),
			NewHelperPrice("s-2vcpu-4gb", 35_715, 4096),
			NewHelperPrice("s-4vcpu-8gb", 71_429, 8192),
		},
	}
}

// Helper finds a helper size's price.
func (p Prices) Helper(size string) (HelperPrice, error) {
	if size == LocalHelperSize {
		return p.Local, nil
	}
	for _, h := range p.Helpers {
		if h.Size == size {
			return h, nil
		}
	}
	return HelperPrice{}, fmt.Errorf("price helper: %w: size %q has no price; add it under budget.helpers", ErrNoPrice, size)
}

// Model finds a model's price.
func (p Prices) Model(name string) (TokenPrice, error) {
	for _, m := range p.Models {
		if m.Model == name {
			return m, nil
		}
	}
	return TokenPrice{}, fmt.Errorf("price model: %w: model %q has no price; add it under budget.models", ErrNoPrice, name)
}
