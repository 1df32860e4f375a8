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
