package main

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/config"
)

func onHelperConfig(t *testing.T, o *config.OnHelperConfig) config.Config {
	t.Helper()
	c := config.Default()
	c.Assistant.Providers = []config.ProviderConfig{{Name: "ollama", Kind: "openai", BaseURL: "http://127.0.0.1:11434/v1"}}
	c.Assistant.Tiers.Base = config.TierConfig{Provider: "ollama", Model: "small"}
	c.Assistant.Tiers.Helper = config.TierConfig{Provider: "ollama", Model: "qwen2.5-coder:7b", OnHelper: o}
	c.Assistant.Plan.Tier = "helper"
	c.Budget.Models = []config.ModelPrice{{Model: "small"}, {Model: "qwen2.5-coder:7b"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// serve builds the helper tier's stage with its on_helper settings and the
// cloud-init model server from install.
func TestOnHelperWiring(t *testing.T) {
	cfg := onHelperConfig(t, &config.OnHelperConfig{MemoryMB: 4096})
	a, err := assistantParts(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if o := a.Plan.OnHelper; o == nil || o.Port != 11434 || o.MemoryMB != 4096 || o.ReadyTimeout != 15*time.Minute {
		t.Fatalf("plan stage on helper: %+v", a.Plan.OnHelper)
	}
	if a.Patch.OnHelper != nil {
		t.Fatalf("the base tier's patch stage runs on the helper: %+v", a.Patch.OnHelper)
	}
	// An escalation onto the helper tier runs there too.
	if tm := a.Tiers[budget.TierHelper]; tm.OnHelper == nil || tm.OnHelper.Port != 11434 {
		t.Fatalf("the helper tier an escalation redrafts on: %+v", tm.OnHelper)
	}
	if tm := a.Tiers[budget.TierBase]; tm.OnHelper != nil {
		t.Fatalf("the base tier runs on the helper: %+v", tm.OnHelper)
	}
	ms := modelServer(cfg)
	if ms == nil || ms.Port != 11434 || !slices.Contains(ms.RunCmd, "OLLAMA_HOST=127.0.0.1:11434 ollama pull 'qwen2.5-coder:7b'") {
		t.Fatalf("ollama setup %+v", ms)
	}
	if ms := modelServer(onHelperConfig(t, &config.OnHelperConfig{Install: "none"})); ms != nil {
		t.Fatalf("install none: %+v", ms)
	}
	ms = modelServer(onHelperConfig(t, &config.OnHelperConfig{Install: "runcmd", Port: 8080, Packages: []string{"llama.cpp"},
		RunCmd: []string{"llama-server --host 127.0.0.1 --port 8080 --alias qwen2.5-coder:7b -m /m.gguf &"}}))
	if ms == nil || ms.Port != 8080 || !slices.Equal(ms.Packages, []string{"llama.cpp"}) || !strings.HasPrefix(ms.RunCmd[0], "llama-server") {
		t.Fatalf("runcmd: %+v", ms)
	}
	if modelServer(onHelperConfig(t, nil)) != nil {
		t.Fatal("a model server without on_helper")
	}
}
