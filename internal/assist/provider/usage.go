package provider

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
