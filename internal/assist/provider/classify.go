package provider

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
)

func asOpenAIError(err error) (*openai.Error, bool) {
	var e *openai.Error
	return e, errors.As(err, &e)
}

func asAnthropicError(err error) (*anthropic.Error, bool) {
	var e *anthropic.Error
	return e, errors.As(err, &e)
}

func emptyAnswer(name, model string) error {
	return fmt.Errorf("ask %s (model %s): %w; try again or pick another model", name, model, ErrEmptyAnswer)
}

// classify turns an SDK error into one of the sentinel errors with a
// message that says what happened and what to do. The SDK has already
// retried what can be retried. status is 0 when no HTTP answer came.
func classify(ctx context.Context, name, model, key string, status int, msg string, err error) error {
	where := fmt.Sprintf("ask %s (model %s)", name, model)
	detail := redact(msg, key)
	if detail == "" {
		detail = redact(err.Error(), key)
	}
	var netErr net.Error
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", where, ctx.Err())
	case status == 429:
		return fmt.Errorf("%s: %w (HTTP 429) after the retries: %s; wait, or raise the provider's limit", where, ErrRateLimited, detail)
	case status == 401 || status == 403:
		return fmt.Errorf("%s: %w (HTTP %d): %s; check the key its api_key_env or api_key_file names", where, ErrAuth, status, detail)
	case status >= 500:
		return fmt.Errorf("%s: %w (HTTP %d) after the retries: %s; try again later", where, ErrServer, status, detail)
	case status >= 400:
		return fmt.Errorf("%s: %w (HTTP %d): %s", where, ErrRequest, status, detail)
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return fmt.Errorf("%s: %w: no complete answer within the provider's timeout; raise its timeout or ask for less", where, ErrTimeout)
	}
	return fmt.Errorf("%s: %s", where, detail)
}
