package main

import (
	"fmt"
	"log/slog"

	"github.com/patchgit/patchgit/internal/assist/chain"
	"github.com/patchgit/patchgit/internal/assist/provider"
	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/config"
	"github.com/patchgit/patchgit/internal/core"
)

// assistantParts builds the model chain from cfg.Assistant: the providers
// the plan and patch stages use (reading their keys now, so a missing key
// stops `serve` with the variable's or file's name) and the deny-list.
// nil when no provider is configured: the offline assistant answers.
func assistantParts(cfg config.Config, log *slog.Logger) (*core.Assistant, error) {
	a := cfg.Assistant
	if !a.Enabled() {
		return nil, nil
	}
	deny, err := chain.NewDeny(a.Deny)
	if err != nil {
		return nil, fmt.Errorf("assistant.deny: %w", err)
	}
	built := map[string]provider.Provider{}
	build := func(tierName, name string) (provider.Provider, error) {
		pc, ok := a.Provider(name)
		if !ok {
			return nil, fmt.Errorf("assistant.tiers.%s.provider: %q is not in assistant.providers", tierName, name)
		}
		p, ok := built[pc.Name]
		if !ok {
			p, err = provider.New(provider.Options{Name: pc.Name, Kind: provider.Kind(pc.Kind), BaseURL: pc.BaseURL,
				KeyEnv: pc.APIKeyEnv, KeyFile: pc.APIKeyFile, Timeout: pc.Timeout.Std(), MaxRetries: pc.MaxRetries})
			if err != nil {
				return nil, fmt.Errorf("assistant.providers %s: %w", pc.Name, err)
			}
			built[pc.Name] = p
		}
		return p, nil
	}
	stage := func(key string, sc config.StageConfig) (core.ModelStage, error) {
		tier, ok := a.Tier(sc.Tier)
		if !ok || tier.Provider == "" {
			return core.ModelStage{}, fmt.Errorf("assistant.%s.tier: %q has no provider; set assistant.tiers.%s.provider", key, sc.Tier, sc.Tier)
		}
		p, err := build(sc.Tier, tier.Provider)
		if err != nil {
			return core.ModelStage{}, err
		}
		pc, _ := a.Provider(tier.Provider)
		model := sc.Model
		if model == "" {
			model = tier.Model
		}
		log.Info("model stage", "stage", key, "tier", sc.Tier, "provider", pc.Name, "kind", pc.Kind, "model", model, "on_helper", tier.OnHelper != nil)
		return core.ModelStage{Tier: budget.Tier(sc.Tier), Provider: p, Model: model, MaxOutputTokens: sc.MaxOutputTokens,
			OnHelper: onHelperTier(tier.OnHelper)}, nil
	}
	plan, err := stage("plan", a.Plan)
	if err != nil {
		return nil, err
	}
	patch, err := stage("patch", a.Patch)
	if err != nil {
		return nil, err
	}
	// Every configured tier is a rung an escalation may redraft on, so its
	// provider (and key) is built now too.
	tiers := map[budget.Tier]core.TierModel{}
	for _, name := range []string{config.TierBase, config.TierHelper, config.TierExternal} {
		tier, _ := a.Tier(name)
		if tier.Provider == "" {
			continue
		}
		p, err := build(name, tier.Provider)
		if err != nil {
			return nil, err
		}
		tiers[budget.Tier(name)] = core.TierModel{Provider: p, Model: tier.Model, OnHelper: onHelperTier(tier.OnHelper)}
		log.Info("model tier", "tier", name, "provider", tier.Provider, "model", tier.Model)
	}
	return &core.Assistant{Plan: plan, Patch: patch, Deny: deny, ContextTokens: a.ContextTokens, Tiers: tiers}, nil
}
