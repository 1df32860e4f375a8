package config

import (
	"strings"
	"testing"
	"time"
)

const assistantYAML = `assistant:
  providers:
    - name: local
      kind: openai
      base_url: http://127.0.0.1:11434/v1
    - name: claude
      kind: anthropic
      api_key_env: ANTHROPIC_API_KEY
      timeout: 90s
      max_retries: 3
  tiers:
    base: {provider: local, model: qwen2.5-coder:7b}
    external: {provider: claude, model: claude-sonnet-4-5}
  plan: {tier: base}
  patch: {tier: external, max_output_tokens: 8000}
  deny: ["config/prod.yaml"]
budget:
  models:
    - {model: qwen2.5-coder:7b, input: $0, output: $0, cached: $0}
    - {model: claude-sonnet-4-5, input: $3.00, output: $15.00, cached: $0.30}
`

func TestAssistantFromFile(t *testing.T) {
	cfg, err := Load(writeConfig(t, assistantYAML), true, []string{"HOME=/h"})
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Assistant
	if !a.Enabled() || len(a.Providers) != 2 || a.Providers[0].Timeout.Std() != 2*time.Minute || a.Providers[1].Timeout.Std() != 90*time.Second {
		t.Errorf("providers %+v", a.Providers)
	}
	if a.Plan.MaxOutputTokens != 1024 || a.Patch.MaxOutputTokens != 8000 || a.Patch.Tier != "external" || a.ContextTokens != 24000 {
		t.Errorf("stages %+v %+v", a.Plan, a.Patch)
	}
}

func TestAssistantOfflineByDefault(t *testing.T) {
	cfg, err := Load("", false, []string{"HOME=/h"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Assistant.Enabled() {
		t.Error("a provider is enabled with nothing configured")
	}
}

func TestAssistantValidation(t *testing.T) {
	cases := map[string]struct {
		edit func(string) string
		want string
	}{
		"unknown provider in a tier": {func(s string) string {
			return strings.Replace(s, "provider: local, model", "provider: lokal, model", 1)
		},
			`assistant.tiers.base.provider: "lokal" is not in assistant.providers (configured: local, claude)`},
		"bad kind": {func(s string) string { return strings.Replace(s, "kind: openai", "kind: gemini", 1) },
			`assistant.providers[0].kind: "gemini" is not valid (valid: openai, anthropic)`},
		"missing price": {func(s string) string {
			return strings.Replace(s, "model: claude-sonnet-4-5, input", "model: claude-opus, input", 1)
		},
			`assistant.patch.tier: model "claude-sonnet-4-5" has no price; add it to budget.models`},
		"an unused tier's model without a price": {func(s string) string {
			// An escalation may redraft on the external tier with its model.
			return strings.Replace(strings.Replace(s, "patch: {tier: external, max_output_tokens: 8000}", "patch: {tier: base}", 1),
				"model: claude-sonnet-4-5, input", "model: claude-opus, input", 1)
		},
			`assistant.tiers.external.model: model "claude-sonnet-4-5" has no price; add it to budget.models`},
		"anthropic without key": {func(s string) string { return strings.Replace(s, "      api_key_env: ANTHROPIC_API_KEY\n", "", 1) },
			`assistant.providers[1].api_key_env: is empty; Anthropic needs a key`},
		"stage on an empty tier": {func(s string) string { return strings.Replace(s, "plan: {tier: base}", "plan: {tier: helper}", 1) },
			`assistant.plan.tier: "helper" has no provider; set assistant.tiers.helper.provider`},
		"bad tier name": {func(s string) string { return strings.Replace(s, "plan: {tier: base}", "plan: {tier: cheap}", 1) },
			`assistant.plan.tier: "cheap" is not valid (valid: base, helper, external)`},
		"key in the URL": {func(s string) string {
			return strings.Replace(s, "http://127.0.0.1", "http://user:sk-123@127.0.0.1", 1)
		},
			`assistant.providers[0].base_url: holds a user or password`},
		"bad deny glob": {func(s string) string { return strings.Replace(s, `"config/prod.yaml"`, `"[x"`, 1) },
			`assistant.deny[0]: "[x" is not a glob`},
		"a key in the file is an unknown key": {func(s string) string { return strings.Replace(s, "      timeout: 90s\n", "      api_key: sk-123\n", 1) },
			`assistant.providers[1].api_key (line 9): unknown key`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeConfig(t, c.edit(assistantYAML)), true, []string{"HOME=/h"})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v\n does not contain %q", err, c.want)
			}
		})
	}
}
