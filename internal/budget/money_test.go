package budget

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func TestParseAndFormatMicros(t *testing.T) {
	for in, want := range map[string]Micros{"$1.50": 1_500_000, "1.5": 1_500_000, "0.000001": 1, "2": 2 * Dollar, ".25": 250_000, "$0": 0} {
		got, err := ParseMicros(in)
		if err != nil || got != want {
			t.Errorf("ParseMicros(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "$", "1.0000001", "-1", "abc", "1e3"} {
		if _, err := ParseMicros(bad); !errors.Is(err, ErrBadAmount) {
			t.Errorf("ParseMicros(%q) = %v, want ErrBadAmount", bad, err)
		}
	}
	for m, want := range map[Micros]string{1_500_000: "$1.50", 1234: "$0.001234", 0: "$0.00", -250_000: "-$0.25"} {
		if got := m.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int64(m), got, want)
		}
	}
}

func TestHelperCostPerSecondWithMinimums(t *testing.T) {
	h := NewHelperPrice("s-2vcpu-4gb", 35_715, 4096)
	cases := []struct {
		d    time.Duration
		want Micros
	}{
		{0, 0},
		{time.Second, 10_000},             // 60 s minimum is $0.000595: the $0.01 minimum wins
		{time.Hour, 35_715},               // one hour is the hourly price
		{90 * time.Minute, 53_573},        // 5400 s * 35715 / 3600 = 53572.5, rounded up
		{1500 * time.Millisecond, 10_000}, // a started second counts
	}
	for _, c := range cases {
		if got := h.Cost(c.d); got != c.want {
			t.Errorf("Cost(%s) = %d, want %d", c.d, got, c.want)
		}
	}
	free := NewHelperPrice(LocalHelperSize, 0, 0)
	if free.Cost(time.Hour) != 0 {
		t.Error("a free helper cost money")
	}
	tok := TokenPrice{Model: "m", Input: 3 * Dollar, Output: 15 * Dollar, Cached: 300_000}
	if got := tok.Cost(1000, 500, 2000); got != 3000+7500+600 {
		t.Errorf("token cost %d", got)
	}
}

// Prices read from a catalog or a config with more decimals than the
// micro-dollar are rounded up, once; a float from JSON is read through its
// shortest decimal form, so binary noise never moves it.
func TestParsePriceRoundsUp(t *testing.T) {
	for in, want := range map[string]Micros{"0.02679": 26_790, "$0.0089286": 8_929, "0.0089280000": 8_928,
		"1": Dollar, "0.0000001": 1, "$0.05": 50_000} {
		got, err := ParsePrice(in)
		if err != nil || got != want {
			t.Errorf("ParsePrice(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-0.01", "0.0000001x", "abc", "1e-3"} {
		if _, err := ParsePrice(bad); !errors.Is(err, ErrBadAmount) {
			t.Errorf("ParsePrice(%q) = %v, want ErrBadAmount", bad, err)
		}
	}
	for in, want := range map[float64]Micros{0.02679: 26_790, 0.00893: 8_930, 0.07143: 71_430, 0.30000000000000004: 300_001, 0: 0, 1e-7: 1} {
		got, err := PriceFromUSD(in)
		if err != nil || got != want {
			t.Errorf("PriceFromUSD(%v) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := PriceFromUSD(-0.5); !errors.Is(err, ErrBadAmount) {
		t.Errorf("a negative price: %v", err)
	}
}
