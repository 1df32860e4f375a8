package provider_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/assist/provider"
	"github.com/patchgit/patchgit/internal/assist/providertest"
)

// Via sends a provider's requests through the given client to another
// loopback address, keeping its base URL's path, its key and its name: the
// configured host (here one that does not resolve) is never used, and the
// connections are the client's (its dialer reaches the server; nothing
// listens at the address the URL names).
func TestViaSendsToTheForwardKeepingPathAndKey(t *testing.T) {
	for _, kind := range []provider.Kind{provider.KindOpenAI, provider.KindAnthropic} {
		t.Run(string(kind), func(t *testing.T) {
			srv, base := providertest.NewOpenAI(t, providertest.Reply{Text: "hi", Usage: &providertest.Usage{Input: 3, Output: 1}}), "http://models.invalid:11434/v1"
			if kind == provider.KindAnthropic {
				srv, base = providertest.NewAnthropic(t, providertest.Reply{Text: "hi", Usage: &providertest.Usage{Input: 3, Output: 1}}), "https://models.invalid"
			}
			p, err := provider.New(provider.Options{Name: "onhelper", Kind: kind, BaseURL: base, KeyEnv: "K",
				Getenv: func(string) (string, bool) { return "sk-via-key", true }, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(srv.URL)
			var dialed []string
			client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dialed = append(dialed, addr)
				var d net.Dialer
				return d.DialContext(ctx, network, u.Host)
			}}}
			q, err := provider.Via(p, "127.0.0.1:9", client)
			if err != nil {
				t.Fatal(err)
			}
			res, err := q.Complete(context.Background(), provider.Request{Model: "m", Messages: []provider.Message{{Role: provider.RoleUser, Content: "x"}}, MaxOutputTokens: 5}, nil)
			if err != nil || res.Text != "hi" || q.Name() != "onhelper" || q.Kind() != kind {
				t.Fatalf("via: %+v %v", res, err)
			}
			if len(dialed) != 1 || dialed[0] != "127.0.0.1:9" {
				t.Errorf("the client dialed %v, want 127.0.0.1:9 once", dialed)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			h := reqs[0].Header
			if reqs[0].Host != "127.0.0.1:9" {
				t.Errorf("Host %q, want the address Via was given", reqs[0].Host)
			}
			if !strings.Contains(h.Get("Authorization")+h.Get("X-Api-Key"), "sk-via-key") {
				t.Errorf("the key did not travel: %v", h)
			}
			// The original still points at its (unresolvable) host.
			if _, err := p.Complete(context.Background(), provider.Request{Model: "m", Messages: []provider.Message{{Role: provider.RoleUser, Content: "x"}}, MaxOutputTokens: 5}, nil); err == nil {
				t.Error("the original provider reached a server")
			}
		})
	}
	p, _ := provider.New(provider.Options{Name: "x", Kind: provider.KindOpenAI})
	for _, addr := range []string{"203.0.113.5:11434", "example.com:80", "127.0.0.1"} {
		if _, err := provider.Via(p, addr, http.DefaultClient); err == nil || !strings.Contains(err.Error(), "not a loopback") {
			t.Errorf("Via(%q): %v", addr, err)
		}
	}
	if _, err := provider.Via(p, "127.0.0.1:9", nil); err == nil || !strings.Contains(err.Error(), "HTTP client") {
		t.Errorf("Via without a client: %v", err)
	}
}
