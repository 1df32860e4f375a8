package chain

import (
	"context"

	"github.com/patchgit/patchgit/internal/assist/provider"
)

// Stage is one model call's setting: which provider and model, how much
// it may write, and where streamed text goes (nil: no streaming).
type Stage struct {
	Provider        provider.Provider
	Model           string
	MaxOutputTokens int64
	OnDelta         provider.OnDelta
}

// Call is one request and what it cost, kept so core can account for
// every token and show what was sent.
type Call struct {
	Request  provider.Request
	Response provider.Response
}

func (s Stage) ask(ctx context.Context, system string, msgs []provider.Message) (Call, error) {
	req := provider.Request{Model: s.Model, System: system, Messages: msgs, MaxOutputTokens: s.MaxOutputTokens}
	res, err := s.Provider.Complete(ctx, req, s.OnDelta)
	return Call{Request: req, Response: res}, err
}

// Usage sums the usage of calls.
func Usage(calls []Call) provider.Usage {
	var u provider.Usage
	for _, c := range calls {
		u = u.Add(c.Response.Usage)
	}
	return u
}
