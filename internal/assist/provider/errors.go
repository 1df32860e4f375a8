package provider

import "errors"

// Sentinel errors. The wrapping error names the provider, the model and
// what to do.
var (
	// ErrRateLimited means the provider still answered 429 after the retries.
	ErrRateLimited = errors.New("rate limited by the provider")
	// ErrServer means the provider still answered 5xx after the retries.
	ErrServer = errors.New("provider server error")
	// ErrAuth means the provider refused the key (401 or 403).
	ErrAuth = errors.New("provider refused the API key")
	// ErrRequest means the provider refused the request itself (another 4xx).
	ErrRequest = errors.New("provider refused the request")
	// ErrTimeout means one attempt took longer than the provider's timeout.
	ErrTimeout = errors.New("provider timed out")
	// ErrEmptyAnswer means the answer held no text.
	ErrEmptyAnswer = errors.New("provider returned no text")
	// ErrKey means the API key could not be read.
	ErrKey = errors.New("cannot read API key")
	// ErrConfig means the provider's options are unusable.
	ErrConfig = errors.New("bad provider options")
)
