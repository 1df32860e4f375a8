package provider

import (
	"context"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// openAIProvider speaks the chat completions API. It builds the chat
// completions service with explicit options instead of openai.NewClient,
// which would also read OPENAI_* variables from the daemon's environment.
type openAIProvider struct {
	name string
	key  string
	opts Options // as built, for Via
	chat openai.ChatCompletionService
}

func newOpenAI(o Options, key string) *openAIProvider {
	base := o.BaseURL
	if base == "" {
		base = "https://api.openai.com/v1"
	}
	opts := []option.RequestOption{
		option.WithBaseURL(base),
		option.WithHTTPClient(o.client()),
		option.WithMaxRetries(o.MaxRetries),
		option.WithRequestTimeout(o.Timeout),
	}
	if key != "" {
		opts = append(opts, option.WithAPIKey(key))
	}
	o.BaseURL = base
	return &openAIProvider{name: o.Name, key: key, opts: o, chat: openai.NewChatCompletionService(opts...)}
}

func (p *openAIProvider) Name() string { return p.name }
func (p *openAIProvider) Kind() Kind   { return KindOpenAI }

func (p *openAIProvider) params(req Request) openai.ChatCompletionNewParams {
	var msgs []openai.ChatCompletionMessageParamUnion
	if req.System != "" {
		msgs = append(msgs, openai.SystemMessage(req.System))
	}
	for _, m := range req.Messages {
		if m.Role == RoleAssistant {
			msgs = append(msgs, openai.AssistantMessage(m.Content))
		} else {
			msgs = append(msgs, openai.UserMessage(m.Content))
		}
	}
	params := openai.ChatCompletionNewParams{Model: req.Model, Messages: msgs}
	if req.MaxOutputTokens > 0 {
		params.MaxCompletionTokens = openai.Int(req.MaxOutputTokens)
	}
	return params
}

func (p *openAIProvider) Complete(ctx context.Context, req Request, onDelta OnDelta) (Response, error) {
	if onDelta == nil {
		return p.complete(ctx, req)
	}
	return p.stream(ctx, req, onDelta)
}

func (p *openAIProvider) complete(ctx context.Context, req Request) (Response, error) {
	res, err := p.chat.New(ctx, p.params(req))
	if err != nil {
		return Response{}, p.fail(ctx, req, err)
	}
	if len(res.Choices) == 0 || res.Choices[0].Message.Content == "" {
		return Response{}, emptyAnswer(p.name, req.Model)
	}
	out := Response{Text: res.Choices[0].Message.Content, StopReason: res.Choices[0].FinishReason, Model: res.Model}
	out.Usage = openAIUsage(res.Usage, res.JSON.Usage.Valid() && res.Usage.JSON.PromptTokens.Valid(), req, out.Text)
	return out, nil
}

func (p *openAIProvider) stream(ctx context.Context, req Request, onDelta OnDelta) (Response, error) {
	params := p.params(req)
	// Without include_usage the stream carries no token counts at all.
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	s := p.chat.NewStreaming(ctx, params)
	defer s.Close()
	var text strings.Builder
	var out Response
	var usage openai.CompletionUsage
	haveUsage := false
	for s.Next() {
		chunk := s.Current()
		if out.Model == "" {
			out.Model = chunk.Model
		}
		if chunk.JSON.Usage.Valid() && chunk.Usage.JSON.PromptTokens.Valid() {
			usage, haveUsage = chunk.Usage, true
		}
		for _, c := range chunk.Choices {
			if c.Index != 0 {
				continue
			}
			if d := c.Delta.Content; d != "" {
				text.WriteString(d)
				onDelta(d)
			}
			if c.FinishReason != "" {
				out.StopReason = c.FinishReason
			}
		}
	}
	if err := s.Err(); err != nil {
		return Response{}, p.fail(ctx, req, err)
	}
	out.Text = text.String()
	if out.Text == "" {
		return Response{}, emptyAnswer(p.name, req.Model)
	}
	out.Usage = openAIUsage(usage, haveUsage, req, out.Text)
	return out, nil
}

// openAIUsage maps chat completions usage: prompt_tokens includes the
// cached ones, which are billed at the cached price.
func openAIUsage(u openai.CompletionUsage, present bool, req Request, answer string) Usage {
	if !present {
		return estimateUsage(req, answer)
	}
	cached := u.PromptTokensDetails.CachedTokens
	return Usage{InputTokens: u.PromptTokens - cached, CachedInputTokens: cached, OutputTokens: u.CompletionTokens}
}

func (p *openAIProvider) fail(ctx context.Context, req Request, err error) error {
	var status int
	var msg string
	if apiErr, ok := asOpenAIError(err); ok {
		status, msg = apiErr.StatusCode, apiErr.Message
	}
	return classify(ctx, p.name, req.Model, p.key, status, msg, err)
}
