package config

import (
	"strings"
	"testing"
	"time"
)

func onHelperConfig(o *OnHelperConfig) Config {
	c := Default()
	c.Assistant.Providers = []ProviderConfig{{Name: "ollama", Kind: "openai", BaseURL: "http://127.0.0.1:11434/v1"}}
	c.Assistant.Tiers.Base = TierConfig{Provider: "ollama", Model: "small"}
	c.Assistant.Tiers.Helper = TierConfig{Provider: "ollama", Model: "qwen2.5-coder:7b", OnHelper: o}
	c.Budget.Models = []ModelPrice{{Model: "small"}, {Model: "qwen2.5-coder:7b"}}
	return c
}

func TestOnHelperDefaultsAndValidation(t *testing.T) {
	c := onHelperConfig(&OnHelperConfig{MemoryMB: 4096})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	o := c.Assistant.Tiers.Helper.OnHelper
	if o.Port != 11434 || o.Install != InstallOllama || o.ReadyTimeout.Std() != 15*time.Minute {
		t.Fatalf("defaults %+v", o)
	}
	for _, tc := range []struct {
		name string
		o    OnHelperConfig
		base bool // set on the base tier instead
		key  string
	}{
		{"port", OnHelperConfig{Port: 70000}, false, "assistant.tiers.helper.on_helper.port"},
		{"install", OnHelperConfig{Install: "docker"}, false, "assistant.tiers.helper.on_helper.install"},
		{"runcmd missing", OnHelperConfig{Install: "runcmd"}, false, "assistant.tiers.helper.on_helper.runcmd"},
		{"runcmd without install", OnHelperConfig{RunCmd: []string{"llama-server --port 8080"}}, false, "assistant.tiers.helper.on_helper.install"},
		{"package", OnHelperConfig{Install: "runcmd", RunCmd: []string{"x"}, Packages: []string{"rm -rf /"}}, false, "assistant.tiers.helper.on_helper.packages[0]"},
		{"memory", OnHelperConfig{MemoryMB: -1}, false, "assistant.tiers.helper.on_helper.memory_mb"},
		{"base tier", OnHelperConfig{}, true, "assistant.tiers.base.on_helper"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			c := onHelperConfig(nil)
			if tc.base {
				c.Assistant.Tiers.Base.OnHelper = &o
			} else {
				c.Assistant.Tiers.Helper.OnHelper = &o
			}
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error %v does not name %s", err, tc.key)
			}
		})
	}
	ok := onHelperConfig(&OnHelperConfig{Install: "runcmd", Packages: []string{"llama.cpp", "libc6=2.36-9"},
		RunCmd: []string{"llama-server --host 127.0.0.1 --port 8080 -m /models/m.gguf --alias qwen2.5-coder:7b &"}, Port: 8080})
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}
