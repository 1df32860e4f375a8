package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/config"
	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/demo"
	"github.com/patchgit/patchgit/internal/forge"
	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helperrun"
	"github.com/patchgit/patchgit/internal/rpc"
	"github.com/patchgit/patchgit/internal/sandbox"
	"github.com/patchgit/patchgit/internal/store"
	"github.com/patchgit/patchgit/internal/websession"
)

// Files in the data dir.
const (
	dbFile      = "patchgit.db"
	auditHead   = "audit.head"
	socketFile  = "patchgit.sock"
	hostKeyFile = "ssh_host_ed25519"
	pinFile     = "initial-pin"
	// authorizedKeysFile is optional: its keys, then the PIN, reach the key
	// holders' door of the PIN gate.
	authorizedKeysFile = "authorized_keys"
)

// globalFlags are the flags every state-touching subcommand takes.
type globalFlags struct {
	dataDir, config string
	// overrides maps flag-set config keys to environment names; flags win
	// over the environment, which wins over the file.
	overrides map[string]string
}

func addGlobalFlags(fs *flag.FlagSet) *globalFlags {
	g := &globalFlags{overrides: map[string]string{}}
	fs.StringVar(&g.dataDir, "data-dir", "", "data directory (default $PATCHGIT_DATA_DIR or $XDG_DATA_HOME/patchgit)")
	fs.StringVar(&g.config, "config", "", "config file (default <data-dir>/patchgit.yaml)")
	return g
}

func (g *globalFlags) load() (config.Config, error) {
	env := os.Environ()
	if g.dataDir != "" {
		env = append(env, "PATCHGIT_DATA_DIR="+g.dataDir)
	}
	for k, v := range g.overrides {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	cfg, err := config.Load(g.config, g.config != "", env)
	if err != nil {
		return config.Config{}, err
	}
	return cfg, nil
}

// parts is everything the daemon and a direct (no-daemon) CLI need.
type parts struct {
	cfg     config.Config
	db      *store.DB
	audit   *audit.Log
	git     *gitops.Git
	sandbox *sandbox.Sandbox
	core    *core.Core
	web     *websession.Store // web mirror sessions and one-time links
	helpers *helper.Manager   // the daemon's helper slot; nil in a CLI
}

func (p *parts) close() {
	if p.db != nil {
		p.db.Close()
	}
}

func dataPath(cfg config.Config, name string) string { return filepath.Join(cfg.DataDir, name) }

// openParts opens the store and builds core. daemon says whether this is
// `serve` (seed the demo, sweep the sandbox) or a CLI on a stopped daemon.
func openParts(ctx context.Context, cfg config.Config, log *slog.Logger, daemon bool, fault func(string) error) (*parts, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	timeout := 2 * time.Second
	if !daemon {
		timeout = 500 * time.Millisecond
	}
	db, err := store.Open(dataPath(cfg, dbFile), store.Options{Timeout: timeout})
	if err != nil {
		return nil, err
	}
	p := &parts{cfg: cfg, db: db, audit: audit.New(db, dataPath(cfg, auditHead)), git: gitops.New()}
	ok := false
	defer func() {
		if !ok {
			p.close()
		}
	}()
	repos := cfg.EffectiveRepos()
	demoRepo := cfg.DemoRepo()
	local := map[string]string{}
	var specs []core.RepoSpec
	for _, r := range repos {
		if daemon && r.Name == demoRepo.Name && r.URL == demoRepo.URL {
			created, err := demo.Seed(ctx, p.git, r.URL)
			if err != nil {
				return nil, fmt.Errorf("seed demo repository: %w", err)
			}
			if created {
				log.Info("demo repository created", "path", r.URL)
			}
		}
		if r.Forge == "local" {
			local[r.Name] = r.URL
		}
		specs = append(specs, core.RepoSpec{
			Repo:      core.Repo{Name: r.Name, BaseBranch: r.BaseBranch, Forge: r.Forge, Checks: r.Checks, Operations: r.Operations},
			URL:       r.URL,
			MirrorDir: dataPath(cfg, filepath.Join("mirrors", r.Name+".git")),
			Helper:    core.HelperNeed{MemoryMB: r.Helper.MemoryMB, VCPUs: r.Helper.VCPUs, Required: r.Helper.Required},
		})
	}
	github, gitea := remoteForges(repos, specs)
	p.sandbox, err = sandbox.Open(dataPath(cfg, "sandbox"), p.git, sandbox.Options{Isolation: cfg.Sandbox.Isolation})
	if err != nil {
		return nil, err
	}
	if daemon {
		if err := p.sandbox.Sweep(); err != nil {
			return nil, fmt.Errorf("sweep sandbox: %w", err)
		}
	}
	p.web = websession.New(db, websession.Options{})
	ledger, prices, policy, err := budgetParts(cfg, db, p.audit)
	if err != nil {
		return nil, err
	}
	var pool core.HelperPool // stays a nil interface in a CLI, which runs no jobs
	var runner *helperrun.Runner
	if daemon {
		// The manager asks core which proposal a job spends for and whether
		// its spend is approved; core is built below, before any job runs.
		jobSpend := func(job string) (string, bool) { return p.core.JobSpend(job) }
		if p.helpers, runner, err = helperParts(cfg, db, p.audit, p.git, log, ledger, jobSpend); err != nil {
			return nil, err
		}
		pool = p.helpers
	}
	var asst *core.Assistant // the model chain runs in the daemon only
	if daemon {
		if asst, err = assistantParts(cfg, log); err != nil {
			return nil, err
		}
	}
	localForge := forge.NewLocal(db, p.git, local)
	localForge.SetWebURL(cfg.HTTP.PublicURL) // a local PR's URL is the mirror's page for it
	p.core, err = core.New(core.Options{
		Budget: ledger, Prices: prices, Policy: policy, MeterSlice: cfg.Budget.MeterSlice.Std(), CheaperPlan: cfg.Budget.CheaperPlan,
		DB: db, Audit: p.audit, Git: p.git, Sandbox: p.sandbox,
		Forges:        map[string]forge.Forge{"local": localForge, "github": github, "gitea": gitea},
		Repos:         specs,
		Author:        core.Author{Name: cfg.Author.Name, Email: cfg.Author.Email},
		Limits:        sandbox.Limits{MaxPatchBytes: cfg.Sandbox.MaxPatchBytes, MaxFiles: cfg.Sandbox.MaxFiles, MaxLines: cfg.Sandbox.MaxLines},
		CheckTimeout:  time.Duration(cfg.Sandbox.CheckTimeout),
		MaxInputBytes: cfg.Sandbox.MaxPasteBytes,
		Concurrency:   cfg.Jobs.Concurrency,
		LeaseTTL:      time.Duration(cfg.Jobs.LeaseTTL),
		Logger:        log,
		Fault:         fault,
		WebLinks:      p.web,
		ProposalURL:   p.web.ProposalURL, // PR bodies link the proposal on the web mirror
		Assistant:     asst,
		Helpers:       pool,
		HelperRunner:  runner,
	})
	if err != nil {
		return nil, err
	}
	ok = true
	return p, nil
}

// withService runs fn against the running daemon through its control
// socket, or directly on the store when no daemon runs.
func withService(g *globalFlags, fn func(ctx context.Context, svc core.Service, admin core.Admin) error) error {
	cfg, err := g.load()
	if err != nil {
		return err
	}
	ctx := context.Background()
	sock := dataPath(cfg, socketFile)
	if cl, err := rpc.Dial(ctx, sock, version); err == nil {
		defer cl.Close()
		return fn(ctx, cl, cl)
	}
	p, err := openParts(ctx, cfg, slog.New(slog.DiscardHandler), false, nil)
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("a patchgit daemon holds %s but its control socket %s does not answer; is it still starting? (%w)",
			dataPath(cfg, dbFile), sock, err)
	}
	if err != nil {
		return err
	}
	defer p.close()
	return fn(ctx, p.core, p.core)
}
