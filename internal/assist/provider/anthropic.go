package provider

import (
	"context"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// anthropicProvider speaks the Messages API. WithoutEnvironmentDefaults
// keeps ANTHROPIC_* variables of the daemon's environment out of it.
type anthropicProvider struct {
	name string
	key  string
	opts Options // as built, for Via
	msgs anthropic.MessageService
}

// defaultAnthropicMaxTokens: the Messages API requires max_tokens.
const defaultAnthropicMaxTokens = 4096

func newAnthropic(o Options, key string) *anthropicProvider {
	opts := []option.RequestOption{
		option.WithoutEnvironmentDefaults(),
		option.WithHTTPClient(o.client()),
		option.WithAPIKey(key),
		option.WithMaxRetries(o.MaxRetries),
		option.WithRequestTimeout(o.Timeout),
	}
	if o.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(o.BaseURL))
	}
	c := anthropic.NewClient(opts...)
	return &anthropicProvider{name: o.Name, key: key, opts: o, msgs: c.Messages}
}

func (p *anthropicProvider) Name() string { return p.name }
func (p *anthropicProvider) Kind() Kind   { return KindAnthropic }

func (p *anthropicProvider) params(req Request) anthropic.MessageNewParams {
	params := anthropic.MessageNewParams{Model: anthropic.Model(req.Model), MaxTokens: req.MaxOutputTokens}
	if params.MaxTokens <= 0 {
		params.MaxTokens = defaultAnthropicMaxTokens
	}
	if req.System != "" {
		params.System = []anthropic.TextBlockParam{{Text: req.System}}
	}
	for _, m := range req.Messages {
		if m.Role == RoleAssistant {
			params.Messages = append(params.Messages, anthropic.NewAssistantMessage(anthropic.NewTextBlock(m.Content)))
		} else {
			params.Messages = append(params.Messages, anthropic.NewUserMessage(anthropic.NewTextBlock(m.Content)))
		}
	}
	return params
}

func (p *anthropicProvider) Complete(ctx context.Context, req Request, onDelta OnDelta) (Response, error) {
	var msg anthropic.Message
	if onDelta == nil {
		res, err := p.msgs.New(ctx, p.params(req))
		if err != nil {
			return Response{}, p.fail(ctx, req, err)
		}
		msg = *res
	} else {
		s := p.msgs.NewStreaming(ctx, p.params(req))
		defer s.Close()
		for s.Next() {
			ev := s.Current()
			if err := msg.Accumulate(ev); err != nil {
				return Response{}, p.fail(ctx, req, err)
			}
			if ev.Type == "content_block_delta" && ev.Delta.Type == "text_delta" && ev.Delta.Text != "" {
				onDelta(ev.Delta.Text)
			}
		}
		if err := s.Err(); err != nil {
			return Response{}, p.fail(ctx, req, err)
		}
	}
	var text strings.Builder
	for _, b := range msg.Content {
		if b.Type == "text" {
			text.WriteString(b.Text)
		}
	}
	out := Response{Text: text.String(), StopReason: string(msg.StopReason), Model: string(msg.Model)}
	if out.Text == "" {
		return Response{}, emptyAnswer(p.name, req.Model)
	}
	u := msg.Usage
	if msg.JSON.Usage.Valid() && (u.JSON.InputTokens.Valid() || u.JSON.OutputTokens.Valid()) {
		// input_tokens excludes cache reads and cache writes; writes are
		// billed at (more than) the input price, so they count as input.
		out.Usage = Usage{InputTokens: u.InputTokens + u.CacheCreationInputTokens, CachedInputTokens: u.CacheReadInputTokens, OutputTokens: u.OutputTokens}
	} else {
		out.Usage = estimateUsage(req, out.Text)
	}
	return out, nil
}

func (p *anthropicProvider) fail(ctx context.Context, req Request, err error) error {
	var status int
	var msg string
	if apiErr, ok := asAnthropicError(err); ok {
		status, msg = apiErr.StatusCode, apiErr.Message
	}
	return classify(ctx, p.name, req.Model, p.key, status, msg, err)
}
