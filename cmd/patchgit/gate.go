package main

import (
	"log/slog"
	"time"

	"github.com/patchgit/patchgit/internal/config"
	"github.com/patchgit/patchgit/internal/gate"
	"github.com/patchgit/patchgit/internal/server"
)

// newGate builds the PIN gate every door shares from the config.
func newGate(cfg config.Config, p *parts, log *slog.Logger) (*gate.Gate, error) {
	g := cfg.Gate
	return gate.New(gate.Options{
		DB: p.db, Audit: p.audit, Verifier: pinChecker{p.db}, Logger: log,
		Policy: gate.Policy{
			FirstDelay: g.FirstDelay.Std(), MaxDelay: g.MaxDelay.Std(), MaxFailures: g.MaxFailures,
			LockFor: g.LockFor.Std(), KeyMaxFailures: g.KeyMaxFailures,
			PenaltyFirst: g.PenaltyFirst.Std(), PenaltyMax: g.PenaltyMax.Std(), Exempt: g.Exempt(),
		},
	})
}

func sshLimits(cfg config.Config) server.Limits {
	s := cfg.SSH
	return server.Limits{
		LoginGrace: time.Duration(s.LoginGrace), MaxStartups: s.MaxStartups, MaxStartupsPerNetwork: s.MaxStartupsPerNetwork,
		MaxAuthTries: s.MaxAuthTries, RequireKey: s.RequireKey, IdleTimeout: time.Duration(s.IdleTimeout),
		MaxSession: time.Duration(s.MaxSession), MaxSessions: s.MaxSessions,
	}
}
