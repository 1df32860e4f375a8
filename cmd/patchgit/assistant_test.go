package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/config"
)

func assistantConfig() config.Config {
	return config.Config{Assistant: config.AssistantConfig{
		Providers: []config.ProviderConfig{
			{Name: "local", Kind: "openai", BaseURL: "http://127.0.0.1:11434/v1"},
			{Name: "claude", Kind: "anthropic", APIKeyEnv: "PATCHGIT_TEST_ANTHROPIC_KEY"},
		},
		Tiers: config.TiersConfig{
			Base:     config.TierConfig{Provider: "local", Model: "qwen2.5-coder:7b"},
			External: config.TierConfig{Provider: "claude", Model: "claude-sonnet-4-5"},
		},
		Plan:          config.StageConfig{Tier: "base", MaxOutputTokens: 1024},
		Patch:         config.StageConfig{Tier: "external", Model: "claude-opus-4-1", MaxOutputTokens: 4096},
		Deny:          []string{"config/prod.yaml"},
		ContextTokens: 24000,
	}}
}

func TestAssistantPartsBuildsTheStagesWithoutLoggingTheKey(t *testing.T) {
	const key = "sk-ant-test-0123456789abcdef-secret"
	t.Setenv("PATCHGIT_TEST_ANTHROPIC_KEY", key)
	var logs bytes.Buffer
	a, err := assistantParts(assistantConfig(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if a.Plan.Tier != budget.TierBase || a.Plan.Model != "qwen2.5-coder:7b" || a.Plan.Provider.Name() != "local" || a.Plan.MaxOutputTokens != 1024 {
		t.Errorf("plan stage %+v", a.Plan)
	}
	if a.Patch.Tier != budget.TierExternal || a.Patch.Model != "claude-opus-4-1" || a.Patch.Provider.Name() != "claude" || a.ContextTokens != 24000 {
		t.Errorf("patch stage %+v", a.Patch)
	}
	// Every configured tier is a rung for an escalation, with its own model.
	if b, x := a.Tiers[budget.TierBase], a.Tiers[budget.TierExternal]; len(a.Tiers) != 2 || b.Provider.Name() != "local" ||
		b.Model != "qwen2.5-coder:7b" || x.Provider.Name() != "claude" || x.Model != "claude-sonnet-4-5" {
		t.Errorf("tiers %+v", a.Tiers)
	}
	if _, denied := a.Deny.Path("config/prod.yaml"); !denied {
		t.Error("assistant.deny was not added to the deny-list")
	}
	if strings.Contains(logs.String(), key) || !strings.Contains(logs.String(), "claude-opus-4-1") {
		t.Errorf("log: %s", logs.String())
	}
}

func TestAssistantPartsNamesAMissingKeyVariable(t *testing.T) {
	_, err := assistantParts(assistantConfig(), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "PATCHGIT_TEST_ANTHROPIC_KEY is not set") {
		t.Fatalf("err = %v", err)
	}
	if a, err := assistantParts(config.Config{}, slog.New(slog.DiscardHandler)); a != nil || err != nil {
		t.Fatalf("no providers: %+v %v, want the offline assistant (nil)", a, err)
	}
}
