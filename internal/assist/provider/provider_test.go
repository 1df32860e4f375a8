package provider_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/assist/provider"
	"github.com/patchgit/patchgit/internal/assist/providertest"
)

const secretKey = "sk-test-very-secret-123"

// both runs a test against each protocol, through its real SDK.
func both(t *testing.T, f func(t *testing.T, start func(...providertest.Reply) (*providertest.Server, provider.Provider))) {
	for _, kind := range []provider.Kind{provider.KindOpenAI, provider.KindAnthropic} {
		t.Run(string(kind), func(t *testing.T) {
			f(t, func(replies ...providertest.Reply) (*providertest.Server, provider.Provider) {
				var srv *providertest.Server
				if kind == provider.KindOpenAI {
					srv = providertest.NewOpenAI(t, replies...)
				} else {
					srv = providertest.NewAnthropic(t, replies...)
				}
				p, err := provider.New(provider.Options{Name: "test-" + string(kind), Kind: kind, BaseURL: srv.URL,
					KeyEnv: "TEST_KEY", Getenv: func(string) (string, bool) { return secretKey, true },
					Timeout: 2 * time.Second, MaxRetries: 2})
				if err != nil {
					t.Fatal(err)
				}
				return srv, p
			})
		})
	}
}

var req = provider.Request{Model: "m1", System: "be brief", Messages: []provider.Message{{Role: provider.RoleUser, Content: "hello"}}, MaxOutputTokens: 100}

func TestCompleteAndStream(t *testing.T) {
	both(t, func(t *testing.T, start func(...providertest.Reply) (*providertest.Server, provider.Provider)) {
		answer := "Hello there, this answer arrives in several pieces."
		srv, p := start(providertest.Reply{Text: answer, Usage: &providertest.Usage{Input: 120, Cached: 30, Output: 17}})
		for _, stream := range []bool{false, true} {
			var deltas []string
			var onDelta provider.OnDelta
			if stream {
				onDelta = func(s string) { deltas = append(deltas, s) }
			}
			res, err := p.Complete(context.Background(), req, onDelta)
			if err != nil {
				t.Fatal(err)
			}
			if res.Text != answer {
				t.Errorf("stream=%v: text %q", stream, res.Text)
			}
			want := provider.Usage{InputTokens: 120, CachedInputTokens: 30, OutputTokens: 17}
			if res.Usage != want {
				t.Errorf("stream=%v: usage %+v, want %+v", stream, res.Usage, want)
			}
			if stream && (len(deltas) < 3 || strings.Join(deltas, "") != answer) {
				t.Errorf("deltas %q do not add up to the answer", deltas)
			}
		}
		reqs := srv.Requests()
		if len(reqs) != 2 {
			t.Fatalf("%d requests, want 2", len(reqs))
		}
		h := reqs[0].Header
		if h.Get("Authorization") != "Bearer "+secretKey && h.Get("X-Api-Key") != secretKey {
			t.Errorf("key not sent: %v", h)
		}
		if got := reqs[1].Text(); !strings.Contains(got, "be brief") || !strings.Contains(got, "hello") {
			t.Errorf("request text %q lacks the system prompt or the message", got)
		}
		if reqs[1].Body["model"] != "m1" {
			t.Errorf("model %v", reqs[1].Body["model"])
		}
	})
}

func TestMissingUsageIsEstimated(t *testing.T) {
	both(t, func(t *testing.T, start func(...providertest.Reply) (*providertest.Server, provider.Provider)) {
		_, p := start(providertest.Reply{Text: strings.Repeat("x", 90)})
		for _, onDelta := range []provider.OnDelta{nil, func(string) {}} {
			res, err := p.Complete(context.Background(), req, onDelta)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Usage.Estimated || res.Usage.OutputTokens != 30 || res.Usage.InputTokens <= 0 {
				t.Errorf("usage %+v, want an estimate with 30 output tokens", res.Usage)
			}
		}
	})
}

func TestRetriesOn429And5xx(t *testing.T) {
	both(t, func(t *testing.T, start func(...providertest.Reply) (*providertest.Server, provider.Provider)) {
		fast := map[string]string{"retry-after-ms": "20"}
		srv, p := start(providertest.Reply{Status: 429, Text: "slow down", Headers: fast},
			providertest.Reply{Status: 503, Text: "overloaded", Headers: fast},
			providertest.Reply{Text: "ok", Usage: &providertest.Usage{Input: 1, Output: 1}})
		res, err := p.Complete(context.Background(), req, func(string) {})
		if err != nil || res.Text != "ok" {
			t.Fatalf("after a 429 and a 503: %q, %v", res.Text, err)
		}
		if n := len(srv.Requests()); n != 3 {
			t.Errorf("%d attempts, want 3", n)
		}
		// Always 429: the retries run out (1 attempt + 2 retries) and the error says so.
		srv2, p2 := start(providertest.Reply{Status: 429, Text: "quota", Headers: fast})
		_, err = p2.Complete(context.Background(), req, nil)
		if !errors.Is(err, provider.ErrRateLimited) || !strings.Contains(err.Error(), "quota") {
			t.Errorf("err = %v, want ErrRateLimited with the provider's message", err)
		}
		if n := len(srv2.Requests()); n != 3 {
			t.Errorf("%d attempts on a steady 429, want 3", n)
		}
	})
}

func TestTimeout(t *testing.T) {
	both(t, func(t *testing.T, start func(...providertest.Reply) (*providertest.Server, provider.Provider)) {
		_, p := start(providertest.Reply{Hang: time.Minute, Text: "late"})
		begin := time.Now()
		_, err := p.Complete(context.Background(), req, func(string) {})
		if !errors.Is(err, provider.ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
		if d := time.Since(begin); d > 20*time.Second {
			t.Errorf("took %v; the per-attempt timeout is 2s", d)
		}
	})
}

func TestKeyNeverInErrors(t *testing.T) {
	both(t, func(t *testing.T, start func(...providertest.Reply) (*providertest.Server, provider.Provider)) {
		_, p := start(providertest.Reply{Status: 401, Text: "invalid key " + secretKey})
		_, err := p.Complete(context.Background(), req, nil)
		if !errors.Is(err, provider.ErrAuth) {
			t.Fatalf("err = %v, want ErrAuth", err)
		}
		if strings.Contains(err.Error(), secretKey) {
			t.Errorf("error leaks the key: %v", err)
		}
	})
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	if err := os.WriteFile(path, []byte(secretKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := providertest.NewOpenAI(t, providertest.Reply{Text: "ok"})
	o := provider.Options{Name: "f", Kind: provider.KindOpenAI, BaseURL: srv.URL, KeyFile: path}
	_, err := provider.New(o)
	if !errors.Is(err, provider.ErrKey) || !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), secretKey) {
		t.Errorf("a 0644 key file: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := provider.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Complete(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[0].Header.Get("Authorization"); got != "Bearer "+secretKey {
		t.Errorf("Authorization %q", got)
	}
	_, err = provider.New(provider.Options{Name: "e", Kind: provider.KindOpenAI, KeyEnv: "PATCHGIT_TEST_NO_SUCH_VAR"})
	if !errors.Is(err, provider.ErrKey) || !strings.Contains(err.Error(), "PATCHGIT_TEST_NO_SUCH_VAR") {
		t.Errorf("unset variable: %v", err)
	}
}

// The SDKs must not pick up OPENAI_*/ANTHROPIC_* from the daemon's
// environment: only what the config names is used.
func TestAmbientEnvironmentIgnored(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-ambient")
	t.Setenv("OPENAI_CUSTOM_HEADERS", "X-Ambient: yes")
	srv := providertest.NewOpenAI(t, providertest.Reply{Text: "ok"})
	p, err := provider.New(provider.Options{Name: "local", Kind: provider.KindOpenAI, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Complete(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	h := srv.Requests()[0].Header
	if strings.Contains(h.Get("Authorization"), "ambient") || h.Get("X-Ambient") != "" {
		t.Errorf("ambient environment leaked into the request: %v", h)
	}
}
