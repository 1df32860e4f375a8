package main

import (
	"github.com/patchgit/patchgit/internal/config"
	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/helper"
)

// onHelperTier is the stage's view of assistant.tiers.helper.on_helper:
// nil when the tier's server is reached directly.
func onHelperTier(o *config.OnHelperConfig) *core.OnHelperTier {
	if o == nil {
		return nil
	}
	return &core.OnHelperTier{Port: o.Port, MemoryMB: o.MemoryMB, ReadyTimeout: o.ReadyTimeout.Std()}
}

// modelServer is what cloud-init installs on a helper that serves the
// helper tier: Ollama and the tier's model, the configured packages and
// runcmd, or nothing (install: none, or no on_helper).
func modelServer(cfg config.Config) *helper.ModelServer {
	t := cfg.Assistant.Tiers.Helper
	o := t.OnHelper
	if o == nil {
		return nil
	}
	switch o.Install {
	case config.InstallOllama:
		ms := helper.OllamaSetup(o.Port, t.Model)
		return &ms
	case config.InstallRunCmd:
		return &helper.ModelServer{Port: o.Port, Packages: o.Packages, RunCmd: o.RunCmd}
	}
	return nil
}
