package chain

import (
	"errors"
	"testing"
)

func TestDenyPaths(t *testing.T) {
	d, err := NewDeny([]string{"config/prod.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	denied := []string{".env", ".env.local", "app/.env.production", "certs/server.pem", "id_rsa", "home/id_ed25519.pub",
		"deploy/prod.key", "x/.git-credentials", "infra/terraform.tfstate", "config/prod.yaml", "k8s/db-secret.yaml",
		"SECRETS.json", "aws/credentials", "a/../.env"}
	for _, p := range denied {
		if _, ok := d.Path(p); !ok {
			t.Errorf("%s is not denied", p)
		}
	}
	allowed := []string{"main.go", "envelope.go", "docs/environment.md", "pem.go", "identity.go", "key.go",
		"config/dev.yaml", "prod.yaml", "internal/keys/keys.go"}
	for _, p := range allowed {
		if pat, ok := d.Path(p); ok {
			t.Errorf("%s is denied by %q", p, pat)
		}
	}
	if _, err := NewDeny([]string{"[oops"}); !errors.Is(err, ErrBadPattern) {
		t.Errorf("bad pattern: %v", err)
	}
}

func TestDenyContent(t *testing.T) {
	d, _ := NewDeny(nil)
	secrets := map[string]string{
		"private key": "x := `-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n`",
		"aws":         "key = \"AKIAIOSFODNN7EXAMPLE\"",
		"github":      "token: ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789",
		"openai":      "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx",
		"anthropic":   "k := \"sk-ant-api03-abcdefghijklmnopqrstuvwxyz\"",
	}
	for name, s := range secrets {
		if _, ok := d.Content([]byte(s)); !ok {
			t.Errorf("%s not found in %q", name, s)
		}
	}
	for _, s := range []string{"package main\nfunc main() {}\n", "// see the task-list and sk-1 in docs", "PRIVATE KEY handling lives in pin.go"} {
		if what, ok := d.Content([]byte(s)); ok {
			t.Errorf("%q taken for %s", s, what)
		}
	}
}
