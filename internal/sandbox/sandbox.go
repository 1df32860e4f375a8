// Package sandbox verifies a change before anyone sees it as a Proposed
// Execution: it admits the patch (path, mode and size rules), applies it
// all-or-nothing to a fresh checkout of the base commit, computes the
// canonical diff from the resulting tree, and runs the repository's checks
// with a scrubbed environment, a timeout that kills the whole process
// group, and capped output.
//
// Checks run through a Runner: bubblewrap, the built-in namespaces
// fallback, or (only when the operator says so) plain processes; see
// runner.go and docs/security.md.
package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/patchgit/patchgit/internal/gitops"
)

// DefaultCheckTimeout applies when a Request sets none.
const DefaultCheckTimeout = 10 * time.Minute

// Request is one change to verify: Diff, Edits or Command.
type Request struct {
	MirrorDir, Base string // bare mirror and the commit (or ref) to start from
	Diff            []byte // a unified diff ...
	Edits           []Edit // ... or search/replace edits, applied in order ...
	// ... or a repository-wide operation: a configured command (never chat
	// text) run in the work tree with the checks' isolation; the change is
	// whatever it wrote (operation.go).
	Command    string
	Checks     []string // plain commands, named "check N" (the YAML config's `checks: [cmd, ...]`)
	CheckSpecs []Check  // named checks with their own timeouts, run after Checks
	// Prepare commands run before the checks with network but no
	// credential, writing only the repository's dependency cache.
	Prepare      []string
	CheckTimeout time.Duration
	Limits       Limits
}

// Result of Verify. Failure is the user-facing reason the change did not
// apply or a check failed; "" means verified.
type Result struct {
	Base           string // the full sha the change was applied to
	Diff           []byte // canonical: `git diff` of Base against the new tree
	Files          []string
	Added, Deleted int
	// TouchesChecks lists changed files the checks depend on (tests, CI,
	// check config, build files): the risk score counts them.
	TouchesChecks []string
	Prepare       []CheckResult // the prepare phase, when it ran
	Operation     *CheckResult  // the operation's run (Request.Command), when it ran
	Checks        []CheckResult
	Mode          string // the isolation mode the checks ran under
	Failure       string
	Refused       bool // Failure is admission's: the patch broke a rule or did not parse
}

// Sandbox owns root/work (one directory per Verify) and root/cache (Go's
// caches, one directory per repository).
type Sandbox struct {
	git       *gitops.Git
	workRoot  string
	cacheRoot string
	opts      Options
	// pristineRoot holds cached checkouts for layered work dirs; "" when
	// layered work dirs are off (not root, no overlayfs).
	pristineRoot string
	runner       Runner
	runnerErr    error // why no runner could be chosen; reported when a check must run
}

// New prepares root/work and root/cache with the default options: the
// strongest isolation available here (bwrap, else namespaces).
func New(root string, g *gitops.Git) (*Sandbox, error) {
	return Open(root, g, Options{})
}

// Open prepares root/work and root/cache and chooses the runner. A
// machine without isolation still opens (admission and apply work); Verify
// fails when it has checks to run, saying what to install.
func Open(root string, g *gitops.Git, opts Options) (*Sandbox, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open sandbox: %w", err)
	}
	s := &Sandbox{git: g, workRoot: filepath.Join(root, "work"), cacheRoot: filepath.Join(root, "cache"), opts: opts}
	for _, d := range []string{s.workRoot, s.cacheRoot} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open sandbox: %w", err)
		}
		// Searchable (not listable) so the unprivileged check uid can
		// reach its own run dir in the namespaces and plain modes.
		if err := os.Chmod(d, 0o711); err != nil {
			return nil, fmt.Errorf("open sandbox: %w", err)
		}
	}
	if !opts.NoLayers && layeredUsable() {
		s.pristineRoot = filepath.Join(root, "pristine")
		if err := os.MkdirAll(s.pristineRoot, 0o700); err != nil {
			return nil, fmt.Errorf("open sandbox: %w", err)
		}
	}
	if opts.Runner != nil {
		s.runner = opts.Runner
	} else {
		s.runner, s.runnerErr = NewRunner(opts)
	}
	if errors.Is(s.runnerErr, ErrBadIsolation) {
		return nil, fmt.Errorf("open sandbox: %w", s.runnerErr)
	}
	return s, nil
}

// Mode is the isolation mode checks run under, or the error that says
// why none is available.
func (s *Sandbox) Mode() (string, error) {
	if s.runner == nil {
		return "", s.runnerErr
	}
	return s.runner.Mode(), nil
}

// CacheDir is where checks of the repository mirrored at mirrorDir keep
// GOCACHE (go-build) and GOMODCACHE (gomod). Repositories do not share
// caches, so one repository's checks cannot poison another's builds.
func (s *Sandbox) CacheDir(mirrorDir string) string {
	abs, _ := filepath.Abs(mirrorDir)
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(s.cacheRoot, hex.EncodeToString(sum[:8]))
}

// Verify applies the change to a fresh checkout of Base and runs the
// checks. Anything wrong with the change itself ends up in
// Result.Failure; the error is for internal failures only (a missing
// mirror, a cancelled ctx, no isolation). The work dir is always removed.
func (s *Sandbox) Verify(ctx context.Context, req Request) (Result, error) {
	if err := req.validate(); err != nil {
		return Result{}, fmt.Errorf("verify: %w", err)
	}
	lim := req.Limits.withDefaults()
	var admitted summary
	var err error
	switch {
	case req.Command != "":
		// Nothing to admit yet: the tree the command leaves is admitted.
	case req.Diff != nil:
		admitted, err = admit(req.Diff, lim)
	default:
		err = admitEdits(req.Edits, lim)
		for _, e := range req.Edits {
			admitted.files = append(admitted.files, e.Path)
		}
	}
	if err != nil {
		if msg, ok := failure(err); ok {
			return Result{Failure: msg, Refused: true}, nil
		}
		return Result{}, fmt.Errorf("verify: %w", err)
	}
	base, err := s.git.ResolveRef(ctx, req.MirrorDir, req.Base)
	if err != nil {
		return Result{}, fmt.Errorf("verify: %w", err)
	}
	timeout := req.CheckTimeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	// The checks come from the BASE commit's config, never the patch's.
	checks, prepare, err := s.checksFor(ctx, req, base)
	if errors.Is(err, ErrRepoConfig) {
		return Result{Base: base, Failure: err.Error()}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("verify: %w", err)
	}
	checks = named(checks, timeout)

	if s.pristineRoot == "" {
		w, err := newWorkDir(ctx, s.git, s.workRoot, req.MirrorDir, base)
		if err != nil {
			return Result{}, fmt.Errorf("verify: %w", err)
		}
		defer w.remove()
		return s.verifyIn(ctx, w, req, lim, admitted, base, checks, prepare, timeout)
	}
	pristine, err := s.pristineTree(ctx, req.MirrorDir, base)
	if err != nil {
		return Result{}, fmt.Errorf("verify: %w", err)
	}
	var res Result
	var w *workDir
	err = inPrivateMounts(func() error {
		var err error
		w, err = s.newLayeredWorkDir(pristine, s.opts.Resources.withDefaults(timeout).WorkBytes)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		res, err = s.verifyIn(ctx, w, req, lim, admitted, base, checks, prepare, timeout)
		return err
	})
	if w != nil {
		w.remove() // outside: the mounts went with the thread
	}
	return res, err
}

// verifyIn applies, diffs and checks in the work dir w.
func (s *Sandbox) verifyIn(ctx context.Context, w *workDir, req Request, lim Limits, admitted summary, base string, checks []Check, prepare []string, timeout time.Duration) (Result, error) {
	res := Result{Base: base}
	if req.Command != "" {
		if err := s.operate(ctx, w, req, lim, base, prepare, timeout, &res); err != nil || res.Failure != "" {
			return res, err
		}
		prepare = nil // it ran before the operation
	} else {
		if msg, err := s.apply(ctx, w, req, lim, admitted.files, base); err != nil || msg != "" {
			res.Failure = msg
			return res, err
		}
		if msg, err := s.canonical(ctx, w, base, lim, &res); err != nil || msg != "" {
			res.Failure = msg
			return res, err
		}
	}
	res.TouchesChecks = TouchesChecks(res.Files)
	if len(checks) == 0 && len(prepare) == 0 {
		return res, nil
	}
	if s.runner == nil {
		return res, fmt.Errorf("verify: %w", s.runnerErr)
	}
	res.Mode = s.runner.Mode()
	// Checks run last: they may rewrite anything in the work dir,
	// .git/config included, so no git command runs there after them.
	cache, err := s.prepareCache(req.MirrorDir)
	if err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	if err := s.handOver(w); err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	objects, err := objectsDir(req.MirrorDir)
	if err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	tmp := w.tmp
	if res.Mode == ModeBwrap {
		tmp = "/tmp" // private and size-capped
	}
	env := checkEnv(w, tmp, cache)
	if len(prepare) > 0 {
		penv := prepareEnv(env)
		for i, command := range prepare {
			r, err := s.runner.Run(ctx, Job{Name: fmt.Sprintf("prepare %d", i+1), Command: command, Dir: w.repo,
				Writable: []string{w.home, w.tmp, cache}, ReadOnly: []string{objects}, Env: penv, Timeout: timeout,
				Network: true, Limits: s.opts.Resources})
			if err != nil {
				return res, fmt.Errorf("verify: %w", err)
			}
			res.Prepare = append(res.Prepare, r)
			if !r.Passed {
				res.Failure = "prepare: " + checkFailure(r, timeout)
				return res, nil
			}
		}
	}
	for _, c := range checks {
		r, err := s.runner.Run(ctx, Job{Name: c.Name, Command: c.Command, Dir: w.repo,
			Writable: []string{w.home, w.tmp, filepath.Join(cache, "go-build")},
			ReadOnly: []string{objects, filepath.Join(cache, "gomod")},
			Env:      env, Timeout: c.Timeout, Limits: s.opts.Resources})
		if err != nil {
			return res, fmt.Errorf("verify: %w", err)
		}
		res.Checks = append(res.Checks, r)
		if !r.Passed {
			res.Failure = checkFailure(r, c.Timeout)
			break
		}
	}
	return res, nil
}

// checksFor: the Request's checks (the operator's config) when it has
// any, else the base commit's .patchgit.yaml.
func (s *Sandbox) checksFor(ctx context.Context, req Request, base string) ([]Check, []string, error) {
	var checks []Check
	for _, c := range req.Checks {
		checks = append(checks, Check{Command: c})
	}
	checks = append(checks, req.CheckSpecs...)
	prepare := req.Prepare
	if len(checks) > 0 && len(prepare) > 0 {
		return checks, prepare, nil
	}
	rc, err := readRepoConfig(ctx, s.git, req.MirrorDir, base)
	if err != nil {
		return nil, nil, err
	}
	if len(checks) == 0 {
		checks = rc.Checks
	}
	if len(prepare) == 0 {
		prepare = rc.Prepare
	}
	return checks, prepare, nil
}

// prepareCache makes the repository's cache dirs, owned by the check uid.
func (s *Sandbox) prepareCache(mirror string) (string, error) {
	cache := s.CacheDir(mirror)
	for _, d := range []string{cache, filepath.Join(cache, "go-build"), filepath.Join(cache, "gomod")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", fmt.Errorf("create cache: %w", err)
		}
		if c := s.opts.cred(); c != nil {
			if err := os.Lchown(d, int(c.Uid), int(c.Gid)); err != nil {
				return "", fmt.Errorf("create cache: %w", err)
			}
		}
	}
	return cache, nil
}

// handOver gives the run dir to the check uid, so a check can write its
// work tree but nothing of ours.
func (s *Sandbox) handOver(w *workDir) error {
	c := s.opts.cred()
	if c == nil {
		return nil
	}
	uid, gid := int(c.Uid), int(c.Gid)
	if w.upper == "" {
		return chownTree(w.dir, uid, gid)
	}
	// Layered: the pristine tree is the check uid's already; only what the
	// change wrote (the upper dir, whose root is the tree's root) is ours.
	for _, d := range []string{w.dir, w.home, w.tmp} {
		if err := os.Lchown(d, uid, gid); err != nil {
			return fmt.Errorf("hand over work dir: %w", err)
		}
	}
	// Walk the upper dir to find what is ours, but chown through the
	// overlay: overlayfs caches owners, so a change made beneath it would
	// not count. These paths are in the upper dir already: no copy-up.
	err := filepath.WalkDir(w.upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(w.upper, p)
		err = os.Lchown(filepath.Join(w.repo, rel), uid, gid)
		if errors.Is(err, fs.ErrNotExist) { // a whiteout: the change deleted it
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("hand over work dir: %w", err)
	}
	return nil
}

func (r Request) validate() error {
	switch {
	case r.MirrorDir == "" || r.Base == "":
		return fmt.Errorf("%w: MirrorDir and Base are required", ErrBadRequest)
	case (r.Diff != nil && r.Edits != nil) || (r.Command != "" && (r.Diff != nil || r.Edits != nil)):
		return fmt.Errorf("%w: give one of Diff, Edits or Command", ErrBadRequest)
	case r.Diff == nil && r.Edits == nil && strings.TrimSpace(r.Command) == "":
		return fmt.Errorf("%w: there is no change to verify (no Diff, no Edits, no Command)", ErrBadRequest)
	}
	return nil
}

// apply writes the change into the work tree, all or nothing. It returns
// a user-facing failure, or an error for internal trouble.
func (s *Sandbox) apply(ctx context.Context, w *workDir, req Request, lim Limits, files []string, base string) (string, error) {
	root, err := os.OpenRoot(w.repo)
	if err != nil {
		return "", fmt.Errorf("verify: open work tree: %w", err)
	}
	defer root.Close()
	for _, f := range files {
		if err := checkNoSymlinks(root, f, lim.AllowSymlinks); err != nil {
			return err.Error(), nil
		}
	}
	if req.Edits != nil {
		err := applyEdits(w.repo, req.Edits, lim)
		var ef *editFailure
		var rej *Rejection
		if errors.As(err, &ef) || errors.As(err, &rej) {
			return err.Error(), nil
		}
		return "", err
	}
	// git apply is all or nothing without --reject: it checks every hunk
	// before it writes a file (TestVerifyDiffThatDoesNotApply).
	_, err = s.git.Run(ctx, w.repo, gitops.RunOpts{Stdin: bytes.NewReader(req.Diff)}, "apply", "--whitespace=nowarn", "-")
	if err == nil {
		return "", nil
	}
	var gerr *gitops.Error
	if ctx.Err() == nil && errors.As(err, &gerr) && gerr.ExitCode > 0 {
		why := strings.ReplaceAll(gerr.Stderr, "error: ", "")
		return fmt.Sprintf("the patch does not apply to %s: %s", base[:12], why), nil
	}
	return "", fmt.Errorf("verify: apply patch: %w", err)
}

// msgNoDifference is canonical's failure for an empty change.
const msgNoDifference = "the change makes no difference to the files"

// canonical stages everything and diffs Base against it, so the diff the
// person sees is exactly what will be committed and always applies to
// Base. It is admitted again: the tree, not the input, is what counts.
func (s *Sandbox) canonical(ctx context.Context, w *workDir, base string, lim Limits, res *Result, gitDir ...string) (string, error) {
	// gitDir: "--git-dir=D", "--work-tree=T" when the work tree's own .git
	// cannot be trusted (after an operation ran there).
	// --force: a new file that .gitignore matches is still part of the change.
	if _, err := s.git.Run(ctx, w.repo, gitops.RunOpts{}, append(gitDir, "add", "--all", "--force")...); err != nil {
		return "", fmt.Errorf("verify: stage change: %w", err)
	}
	diff, err := s.git.Run(ctx, w.repo, gitops.RunOpts{}, append(gitDir, "diff", "--cached", "--binary", "--no-color",
		"--no-ext-diff", "--no-textconv", "--find-renames", "--src-prefix=a/", "--dst-prefix=b/", base, "--")...)
	if err != nil {
		return "", fmt.Errorf("verify: compute diff: %w", err)
	}
	if len(diff) == 0 {
		return msgNoDifference, nil
	}
	sum, err := admit(diff, lim)
	if msg, ok := failure(err); ok {
		return msg, nil
	}
	if err != nil {
		return "", fmt.Errorf("verify: admit canonical diff: %w", err)
	}
	res.Diff, res.Files, res.Added, res.Deleted = diff, sum.files, sum.added, sum.deleted
	return "", nil
}
