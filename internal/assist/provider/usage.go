package provider

import (
	"math"
	"math/bits"
)

// Usage is the tokens one call used, split the way prices are.
type Usage struct {
	InputTokens       int64 // prompt tokens billed at the input price (cache reads excluded)
	CachedInputTokens int64 // prompt tokens read from the provider's cache
	OutputTokens      int64
	// Estimated is true when the provider did not report usage and these
	// are EstimateTokens of the prompt and the answer.
	Estimated bool
}

// Add sums two usages; the sum is estimated if either part is.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		InputTokens:       u.InputTokens + v.InputTokens,
		CachedInputTokens: u.CachedInputTokens + v.CachedInputTokens,
		OutputTokens:      u.OutputTokens + v.OutputTokens,
		Estimated:         u.Estimated || v.Estimated,
	}
}

// EstimateTokens is a deliberately high guess of a text's token count: one
// token per 3 bytes, rounded up. Tokenizers average 3.5 to 4 bytes per
// token on English and code, so this overstates cost rather than hide it;
// no offline tokenizer is exact for every provider.
func EstimateTokens(text string) int64 { return int64((len(text) + 2) / 3) }

// estimateUsage stands in for usage a provider left out.
func estimateUsage(req Request, answer string) Usage {
	in := EstimateTokens(req.System)
	for _, m := range req.Messages {
		in += EstimateTokens(m.Content) + 4 // role and separators
	}
	return Usage{InputTokens: in, OutputTokens: EstimateTokens(answer), Estimated: true}
}

// Price is a model's price in micro-dollars (1e-6 USD) per million tokens.
type Price struct {
	Input  int64
	Output int64
	Cached int64
}

// Cost is what usage costs at price p, in micro-dollars, rounded up so a
// sum of costs never understates spend.
func (p Price) Cost(u Usage) int64 {
	return perMillion(u.InputTokens, p.Input) + perMillion(u.CachedInputTokens, p.Cached) + perMillion(u.OutputTokens, p.Output)
}

// perMillion is ceil(tokens*price/1e6) without overflow for any int64
// inputs that fit a real bill.
func perMillion(tokens, price int64) int64 {
	if tokens <= 0 || price <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(tokens), uint64(price))
	if hi >= 1_000_000 {
		return math.MaxInt64 // beyond any bill; Div64 would panic
	}
	q, r := bits.Div64(hi, lo, 1_000_000)
	if r > 0 {
		q++
	}
	return int64(q)
}
