package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/forge"
	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/helperrun"
	"github.com/patchgit/patchgit/internal/sandbox"
	"github.com/patchgit/patchgit/internal/store"
)

// RepoSpec is a configured repository as core needs it.
type RepoSpec struct {
	Repo
	URL       string // remote URL or local path; never carries credentials
	MirrorDir string // the persistent mirror for this repository
	// Auth returns the https credentials for URL, read on each use (a
	// rotated token needs no restart); nil means none. They reach git only
	// through GIT_ASKPASS, never a URL, an argument or the sandbox.
	Auth func() (*gitops.Credentials, error)
	// Pull request options (config: draft, labels, auto_merge).
	Draft  bool
	Labels []string
	// AutoMerge is the documented opt-in, and the only way GO merges.
	AutoMerge bool
	// Helper is what the checks need from a helper machine (helper.go).
	Helper HelperNeed
}

// Author signs PatchGit's commits.
type Author struct{ Name, Email string }

// Options wires core to its parts. DB, Audit, Git, Sandbox, Forges and
// Repos are required; the rest have defaults or are off when nil.
type Options struct {
	DB      *store.DB
	Audit   *audit.Log
	Git     *gitops.Git
	Sandbox *sandbox.Sandbox
	Forges  map[string]forge.Forge // by RepoSpec.Forge
	Repos   []RepoSpec
	Author  Author
	Limits  sandbox.Limits
	// ProposalURL links a proposal on the web mirror in PR bodies; nil
	// when no public URL is configured.
	ProposalURL func(id string) string
	// CheckTimeout bounds each check command in the sandbox.
	CheckTimeout time.Duration
	// MaxInputBytes caps a chat message or a proposed patch.
	MaxInputBytes int64
	// Concurrency is how many jobs run at once (different repositories).
	Concurrency int
	// LeaseTTL is how long a repository lease lasts without renewal.
	LeaseTTL time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
	// Budget, when set, prices and meters spend; nil: nothing is priced.
	Budget *budget.Ledger
	// Prices and Policy price execution plans and decide what needs
	// approval; MeterSlice is how much helper time is reserved at a time.
	Prices     budget.Prices
	Policy     budget.Policy
	MeterSlice time.Duration
	// CheaperPlan offers the no-helper plan beside the full re-verify.
	CheaperPlan bool
	// Fault, when set, is called after each journaled step completes
	// ("commit", "push", "pr"). Crash tests kill the process there, or
	// return ErrAbandonJob to leave the job Running as a dead process
	// would. Nil in production.
	Fault func(step string) error
	// WebLinks mints the web mirror's one-time sign-in links (nil: no web).
	WebLinks WebLinks
	// Assistant is the model chain that drafts a change from a request in
	// prose (nil: the offline assistant only).
	Assistant *Assistant
	// Helpers and HelperRunner, both set, run verifies on a helper machine
	// when a repository needs one or the provider is not local (helper.go);
	// nil: every verify runs in the local sandbox.
	Helpers      HelperPool
	HelperRunner *helperrun.Runner
}

// Core implements Service and Admin.
type Core struct {
	opt      Options
	repos    map[string]RepoSpec
	order    []string
	log      *slog.Logger
	now      func() time.Time
	broker   *broker
	instance string // this process's lease holder id

	wake     chan struct{}
	stopLoop context.CancelFunc // workers stop taking jobs
	stopJobs context.CancelFunc // running jobs are interrupted
	wg       sync.WaitGroup

	held sync.Map // job ID -> *heldHelper: the helper a draft job keeps across stages (helpertier.go)
}

var _ Service = (*Core)(nil)
var _ Admin = (*Core)(nil)

// New builds a Core. It does not start workers: a CLI that opened the
// store directly uses it as a plain Service; the daemon calls Start.
func New(opt Options) (*Core, error) {
	if opt.DB == nil || opt.Audit == nil {
		return nil, fmt.Errorf("new core: store and audit log are required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Concurrency < 1 {
		opt.Concurrency = 1
	}
	if opt.LeaseTTL <= 0 {
		opt.LeaseTTL = 10 * time.Minute
	}
	if opt.CheckTimeout <= 0 {
		opt.CheckTimeout = 5 * time.Minute
	}
	if opt.MeterSlice <= 0 {
		opt.MeterSlice = 10 * time.Minute
	}
	if opt.Policy == (budget.Policy{}) {
		opt.Policy = budget.DefaultPolicy()
	}
	if opt.MaxInputBytes <= 0 {
		opt.MaxInputBytes = 1 << 20
	}
	c := &Core{
		opt:      opt,
		repos:    map[string]RepoSpec{},
		log:      opt.Logger,
		now:      func() time.Time { return opt.Now().UTC() },
		broker:   newBroker(),
		instance: "pid-" + newID(),
		wake:     make(chan struct{}, 1),
	}
	for _, r := range opt.Repos {
		if _, dup := c.repos[r.Name]; dup {
			return nil, fmt.Errorf("new core: repository %q configured twice", r.Name)
		}
		c.repos[r.Name] = r
		c.order = append(c.order, r.Name)
	}
	return c, nil
}

// Start recovers jobs left by a dead process and starts the workers.
func (c *Core) Start(ctx context.Context) error {
	if err := c.recover(); err != nil {
		return fmt.Errorf("start core: %w", err)
	}
	if err := c.reconcileBudget(); err != nil {
		return fmt.Errorf("start core: %w", err)
	}
	var loop, jobs context.Context
	loop, c.stopLoop = context.WithCancel(ctx)
	jobs, c.stopJobs = context.WithCancel(context.WithoutCancel(ctx))
	for i := 0; i < c.opt.Concurrency; i++ {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.worker(loop, jobs)
		}()
	}
	c.poke()
	return nil
}

// Shutdown stops taking jobs and waits for running ones until ctx ends;
// a job interrupted then is resumed at the next start.
func (c *Core) Shutdown(ctx context.Context) error {
	defer c.broker.close()
	if c.stopLoop == nil {
		return nil // never started
	}
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	// Workers finish their current job; idle ones return at once.
	c.stopLoop()
	select {
	case <-done:
		c.stopJobs()
		return nil
	case <-ctx.Done():
	}
	// Out of time: interrupt the jobs; they stay Running and are resumed
	// from their journal at the next start.
	c.stopJobs()
	<-done
	return fmt.Errorf("shutdown core: running jobs interrupted: %w", ctx.Err())
}

// poke wakes a worker to look at the queue.
func (c *Core) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Core) repo(name string) (RepoSpec, error) {
	r, ok := c.repos[name]
	if !ok {
		return RepoSpec{}, fmt.Errorf("%w %q: configured repositories are %v", ErrUnknownRepo, name, c.order)
	}
	return r, nil
}

// newID returns 16 random hex digits; the first 8 name branches.
func newID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}

// ShortID is the 8-digit prefix of an id, used in branch names and lists.
func ShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
