// Package provider talks to model APIs behind one small interface: the
// OpenAI-compatible chat completions API (OpenAI, OpenRouter, Ollama,
// llama.cpp's server, vLLM) and Anthropic's Messages API, each through its
// official Go SDK. It owns timeouts, retries, streaming and token usage;
// what to ask is the chain's business.
package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Kind names an API protocol.
type Kind string

const (
	KindOpenAI    Kind = "openai"    // chat completions, POST {base_url}/chat/completions
	KindAnthropic Kind = "anthropic" // Messages, POST {base_url}/v1/messages
)

// Role is who wrote a message.
type Role string

const (
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role
	Content string
}

// Request is one call to a model.
type Request struct {
	Model           string
	System          string
	Messages        []Message
	MaxOutputTokens int64
}

// Response is a model's whole answer.
type Response struct {
	Text       string
	Usage      Usage
	StopReason string // "stop"/"end_turn", or "length"/"max_tokens" when cut at MaxOutputTokens
	Model      string // as the provider reports it
}

// Truncated says the answer was cut at MaxOutputTokens.
func (r Response) Truncated() bool { return r.StopReason == "length" || r.StopReason == "max_tokens" }

// OnDelta receives each piece of text as it streams in, so a chat can show
// progress. It is called from the goroutine that called Complete.
type OnDelta func(text string)

// Provider is a model API. Complete streams when onDelta is not nil.
type Provider interface {
	Name() string
	Kind() Kind
	Complete(ctx context.Context, req Request, onDelta OnDelta) (Response, error)
}

// Options configure one provider. The key itself never appears here: it is
// read from the environment variable or the file named.
type Options struct {
	Name       string
	Kind       Kind
	BaseURL    string        // empty: the vendor's public endpoint
	KeyEnv     string        // name of the environment variable holding the key
	KeyFile    string        // path of a file holding the key (mode 0600 or stricter)
	Timeout    time.Duration // per attempt, including a streamed body; 0: 2 minutes
	MaxRetries int           // extra attempts on 408, 409, 429, 5xx and connection errors
	Getenv     func(string) (string, bool)

	httpClient *http.Client // set by Via; nil: a plain client
}

const defaultTimeout = 2 * time.Minute

// New builds the provider the options describe, reading its key now.
func New(o Options) (Provider, error) {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.MaxRetries < 0 {
		return nil, fmt.Errorf("%w: provider %q: max_retries %d is negative", ErrConfig, o.Name, o.MaxRetries)
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: provider %q: base_url %q is not an http(s) URL", ErrConfig, o.Name, o.BaseURL)
		}
		if u.User != nil {
			return nil, fmt.Errorf("%w: provider %q: base_url carries a user or password; put the key in api_key_env or api_key_file", ErrConfig, o.Name)
		}
	}
	key, err := loadKey(o)
	if err != nil {
		return nil, err
	}
	switch o.Kind {
	case KindOpenAI:
		return newOpenAI(o, key), nil
	case KindAnthropic:
		if key == "" {
			return nil, fmt.Errorf("%w: provider %q: Anthropic needs a key; set api_key_env or api_key_file", ErrKey, o.Name)
		}
		return newAnthropic(o, key), nil
	}
	return nil, fmt.Errorf("%w: provider %q: kind %q is not valid (valid: openai, anthropic)", ErrConfig, o.Name, o.Kind)
}

// redact removes the key from a message that may echo it (an error body
// that quotes the request, say).
func redact(msg, key string) string {
	if key == "" {
		return msg
	}
	return strings.ReplaceAll(msg, key, "[redacted]")
}
