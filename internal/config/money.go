package config

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/patchgit/patchgit/internal/budget"
)

// Money is an amount written as dollars ("$1.50", "0.25") in the file and
// the environment, kept as integer micro-dollars.
type Money budget.Micros

// Micros returns m as budget.Micros.
func (m Money) Micros() budget.Micros { return budget.Micros(m) }

// MarshalText writes m as "$1.50".
func (m Money) MarshalText() ([]byte, error) { return []byte(budget.Micros(m).String()), nil }

// UnmarshalText reads "$1.50", "1.50" or "2".
func (m *Money) UnmarshalText(text []byte) error {
	v, err := budget.ParseMicros(string(text))
	if err != nil {
		return fmt.Errorf("%q is not an amount of dollars like $1.50 or 0.25", text)
	}
	*m = Money(v)
	return nil
}

// MarshalYAML writes m as a string.
func (m Money) MarshalYAML() (any, error) { return budget.Micros(m).String(), nil }

// UnmarshalYAML reads a scalar amount.
func (m *Money) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected an amount like $1.50")
	}
	return m.UnmarshalText([]byte(n.Value))
}

// Price is a rate in dollars, like Money, from a number with any decimals
// ("0.05", "$0.0089286", or a YAML float as written before prices became
// money): what is below the micro-dollar is rounded up, never refused.
type Price budget.Micros

// Micros returns p as budget.Micros.
func (p Price) Micros() budget.Micros { return budget.Micros(p) }

// MarshalText writes p as "$0.05".
func (p Price) MarshalText() ([]byte, error) { return []byte(budget.Micros(p).String()), nil }

// UnmarshalText reads "$0.05", "0.05" or "0.0089286" (rounded up).
func (p *Price) UnmarshalText(text []byte) error {
	v, err := budget.ParsePrice(string(text))
	if err != nil {
		return fmt.Errorf("%q is not a price in dollars like $0.05 or 0.0089 (not negative)", text)
	}
	*p = Price(v)
	return nil
}

// MarshalYAML writes p as a string.
func (p Price) MarshalYAML() (any, error) { return budget.Micros(p).String(), nil }

// UnmarshalYAML reads a scalar price.
func (p *Price) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a price like $0.05")
	}
	return p.UnmarshalText([]byte(n.Value))
}
