package config

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
)

// AssistantConfig is the model chain: providers, the three tiers, which
// tier and model each stage uses, and what never leaves the machine.
// Model prices are budget.models: every model a tier or stage names needs
// one there. With no providers the offline assistant is used.
type AssistantConfig struct {
	Providers []ProviderConfig `yaml:"providers,omitempty"` // file only
	Tiers     TiersConfig      `yaml:"tiers"`
	Plan      StageConfig      `yaml:"plan"`
	Patch     StageConfig      `yaml:"patch"`
	// Deny adds file patterns never sent to a model to the built-in list
	// (file only; docs/assistant.md lists the built-in ones).
	Deny []string `yaml:"deny,omitempty"`
	// ContextTokens bounds the tree and file contents one stage sends.
	ContextTokens int64 `yaml:"context_tokens"`
}

// ProviderConfig is one model API. The key is never in the config: it is
// read from the environment variable or the file named here.
type ProviderConfig struct {
	Name       string   `yaml:"name"`
	Kind       string   `yaml:"kind"`     // openai | anthropic
	BaseURL    string   `yaml:"base_url"` // empty: the vendor's public API
	APIKeyEnv  string   `yaml:"api_key_env"`
	APIKeyFile string   `yaml:"api_key_file"`
	Timeout    Duration `yaml:"timeout"`     // per attempt; default 2m
	MaxRetries int      `yaml:"max_retries"` // on 408/409/429/5xx; default 2
}

// TiersConfig names the provider and default model of each tier.
type TiersConfig struct {
	Base     TierConfig `yaml:"base"`     // cheap or local
	Helper   TierConfig `yaml:"helper"`   // an OpenAI-compatible server on the helper VM
	External TierConfig `yaml:"external"` // a paid API; always needs approval
}

// TierConfig is one tier.
type TierConfig struct {
	Provider string `yaml:"provider"` // a name from providers; empty: tier not configured
	Model    string `yaml:"model"`
	// OnHelper (helper tier only, file only): the provider's model server
	// runs on the helper machine and is reached through SSH channels (no
	// listener, no public port); see onhelper.go.
	OnHelper *OnHelperConfig `yaml:"on_helper,omitempty"`
}

// StageConfig says which tier a stage uses, and optionally another model.
type StageConfig struct {
	Tier            string `yaml:"tier"`              // base | helper | external
	Model           string `yaml:"model"`             // empty: the tier's model
	MaxOutputTokens int64  `yaml:"max_output_tokens"` // cap on the answer
}

// Tier names.
const (
	TierBase     = "base"
	TierHelper   = "helper"
	TierExternal = "external"
)

func defaultAssistant() AssistantConfig {
	return AssistantConfig{
		Plan:          StageConfig{Tier: TierBase, MaxOutputTokens: 1024},
		Patch:         StageConfig{Tier: TierBase, MaxOutputTokens: 4096},
		ContextTokens: 24000,
	}
}

// Enabled says whether a model provider is configured; otherwise the
// offline assistant answers.
func (a AssistantConfig) Enabled() bool { return len(a.Providers) > 0 }

// Tier returns the named tier.
func (a AssistantConfig) Tier(name string) (TierConfig, bool) {
	switch name {
	case TierBase:
		return a.Tiers.Base, true
	case TierHelper:
		return a.Tiers.Helper, true
	case TierExternal:
		return a.Tiers.External, true
	}
	return TierConfig{}, false
}

// Provider returns the provider named name.
func (a AssistantConfig) Provider(name string) (ProviderConfig, bool) {
	for _, p := range a.Providers {
		if p.Name == name {
			return p, true
		}
	}
	return ProviderConfig{}, false
}

var providerKinds = []string{"openai", "anthropic"}

func (c *Config) validateAssistant() []error {
	a := &c.Assistant
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: "assistant." + key, Msg: fmt.Sprintf(format, args...)})
	}
	names := map[string]int{}
	for i := range a.Providers {
		p := &a.Providers[i]
		key := fmt.Sprintf("providers[%d]", i)
		if !repoName.MatchString(p.Name) {
			bad(key+".name", "%q is not valid: use lower-case letters, digits, '.', '_' or '-'", p.Name)
		} else if j, dup := names[p.Name]; dup {
			bad(key+".name", "%q is already used by providers[%d]", p.Name, j)
		} else {
			names[p.Name] = i
		}
		if !slices.Contains(providerKinds, p.Kind) {
			bad(key+".kind", "%q is not valid (valid: %s)", p.Kind, strings.Join(providerKinds, ", "))
		}
		if p.BaseURL != "" {
			u, err := url.Parse(p.BaseURL)
			switch {
			case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
				bad(key+".base_url", "%q is not an http(s) URL like http://127.0.0.1:11434/v1", p.BaseURL)
			case u.User != nil:
				bad(key+".base_url", "holds a user or password; put the key in api_key_env or api_key_file")
			}
		}
		if p.APIKeyEnv != "" && p.APIKeyFile != "" {
			bad(key+".api_key_file", "is set together with api_key_env; keep one")
		}
		if p.Kind == "anthropic" && p.APIKeyEnv == "" && p.APIKeyFile == "" {
			bad(key+".api_key_env", "is empty; Anthropic needs a key: name the variable that holds it (e.g. ANTHROPIC_API_KEY) or set api_key_file")
		}
		if p.APIKeyFile != "" {
			p.APIKeyFile = expandHome(p.APIKeyFile)
			if !path.IsAbs(p.APIKeyFile) {
				bad(key+".api_key_file", "%q is not an absolute path", p.APIKeyFile)
			}
		}
		if p.Timeout == 0 {
			p.Timeout = Duration(2 * time.Minute)
		}
		if p.Timeout < 0 {
			bad(key+".timeout", "must be greater than zero, e.g. 2m")
		}
		if p.MaxRetries < 0 || p.MaxRetries > 10 {
			bad(key+".max_retries", "%d is out of range; use 0 to 10", p.MaxRetries)
		}
	}
	for _, t := range []struct {
		name string
		tier TierConfig
	}{{TierBase, a.Tiers.Base}, {TierHelper, a.Tiers.Helper}, {TierExternal, a.Tiers.External}} {
		key := "tiers." + t.name
		switch {
		case t.tier.Provider == "" && t.tier.Model != "":
			bad(key+".provider", "is empty but the tier names model %q; name a provider from assistant.providers", t.tier.Model)
		case t.tier.Provider == "":
		case !a.hasProvider(t.tier.Provider):
			bad(key+".provider", "%q is not in assistant.providers (configured: %s)", t.tier.Provider, a.providerNames())
		case t.tier.Model == "":
			bad(key+".model", "is empty; name the model this tier uses")
		case !c.hasModelPrice(t.tier.Model):
			// An escalation may redraft on any configured tier with its model.
			bad(key+".model", "model %q has no price; add it to budget.models (input, output and cached per million tokens; $0 for a local model)", t.tier.Model)
		}
		if t.tier.OnHelper != nil {
			errs = append(errs, c.validateOnHelper(t.name, t.tier)...) // onhelper.go
		}
	}
	for _, s := range []struct {
		name  string
		stage StageConfig
	}{{"plan", a.Plan}, {"patch", a.Patch}} {
		tier, ok := a.Tier(s.stage.Tier)
		switch {
		case !ok:
			bad(s.name+".tier", "%q is not valid (valid: base, helper, external)", s.stage.Tier)
		case a.Enabled() && tier.Provider == "":
			bad(s.name+".tier", "%q has no provider; set assistant.tiers.%s.provider", s.stage.Tier, s.stage.Tier)
		}
		if s.stage.MaxOutputTokens <= 0 {
			bad(s.name+".max_output_tokens", "must be greater than zero")
		}
		if !ok || tier.Provider == "" {
			continue
		}
		model := s.stage.Model
		if model == "" {
			model = tier.Model
		}
		if !c.hasModelPrice(model) && model != "" {
			bad(s.name+".tier", "model %q has no price; add it to budget.models (input, output and cached per million tokens; $0 for a local model)", model)
		}
	}
	for i, d := range a.Deny {
		if _, err := path.Match(d, ""); err != nil || strings.TrimSpace(d) == "" {
			bad(fmt.Sprintf("deny[%d]", i), "%q is not a glob like *.pem or config/prod.yaml", d)
		}
	}
	if a.ContextTokens <= 0 {
		bad("context_tokens", "must be greater than zero")
	}
	return errs
}

func (c *Config) hasModelPrice(model string) bool {
	for _, m := range c.Budget.Models {
		if m.Model == model {
			return true
		}
	}
	return false
}

func (a *AssistantConfig) hasProvider(name string) bool {
	_, ok := a.Provider(name)
	return ok
}

func (a *AssistantConfig) providerNames() string {
	if len(a.Providers) == 0 {
		return "none"
	}
	var names []string
	for _, p := range a.Providers {
		names = append(names, p.Name)
	}
	return strings.Join(names, ", ")
}
