// Package sandbox verifies a change before anyone sees it as a Proposed
// Execution: it admits the patch (path, mode and size rules), applies it
// all-or-nothing to a fresh checkout of the base commit, computes the
// canonical diff from the resulting tree, and runs the repository's checks
// with a scrubbed environment, a timeout that kills the whole process
// group, and capped output.
//
// This first cut runs checks as plain processes ("plain" mode); a later
// mode adds namespaces or bubblewrap (no network, read-only system).
package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/patchgit/patchgit/internal/gitops"
)

// DefaultCheckTimeout applies when a Request sets none.
const DefaultCheckTimeout = 10 * time.Minute

// Request is one change to verify: either Diff or Edits.
type Request struct {
	MirrorDir, Base string   // bare mirror and the commit (or ref) to start from
	Diff            []byte   // a unified diff ...
	Edits           []Edit   // ... or search/replace edits, applied in order
	Checks          []string // sh -c commands run in the work tree, in order
	CheckTimeout    time.Duration
	Limits          Limits
}

// Result of Verify. Failure is the user-facing reason the change did not
// apply or a check failed; "" means verified.
type Result struct {
	Base           string // the full sha the change was applied to
	Diff           []byte // canonical: `git diff` of Base against the new tree
	Files          []string
	Added, Deleted int
	Checks         []CheckResult
	Failure        string
}

// Sandbox owns root/work (one directory per Verify) and root/cache (Go's
// caches, one directory per repository).
type Sandbox struct {
	git       *gitops.Git
	workRoot  string
	cacheRoot string
}

// New prepares root/work and root/cache.
func New(root string, g *gitops.Git) (*Sandbox, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open sandbox: %w", err)
	}
	s := &Sandbox{git: g, workRoot: filepath.Join(root, "work"), cacheRoot: filepath.Join(root, "cache")}
	for _, d := range []string{s.workRoot, s.cacheRoot} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open sandbox: %w", err)
		}
	}
	return s, nil
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
// mirror, a cancelled ctx). The work dir is always removed.
func (s *Sandbox) Verify(ctx context.Context, req Request) (Result, error) {
	if err := req.validate(); err != nil {
		return Result{}, fmt.Errorf("verify: %w", err)
	}
	lim := req.Limits.withDefaults()
	var admitted summary
	var err error
	if req.Diff != nil {
		admitted, err = admit(req.Diff, lim)
	} else {
		err = admitEdits(req.Edits, lim)
		for _, e := range req.Edits {
			admitted.files = append(admitted.files, e.Path)
		}
	}
	if err != nil {
		if msg, ok := failure(err); ok {
			return Result{Failure: msg}, nil
		}
		return Result{}, fmt.Errorf("verify: %w", err)
	}
	base, err := s.git.ResolveRef(ctx, req.MirrorDir, req.Base)
	if err != nil {
		return Result{}, fmt.Errorf("verify: %w", err)
	}
	w, err := newWorkDir(ctx, s.git, s.workRoot, req.MirrorDir, base)
	if err != nil {
		return Result{}, fmt.Errorf("verify: %w", err)
	}
	defer w.remove()

	res := Result{Base: base}
	if msg, err := s.apply(ctx, w, req, lim, admitted.files, base); err != nil || msg != "" {
		res.Failure = msg
		return res, err
	}
	if msg, err := s.canonical(ctx, w, base, lim, &res); err != nil || msg != "" {
		res.Failure = msg
		return res, err
	}
	cache := s.CacheDir(req.MirrorDir)
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	timeout := req.CheckTimeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	// Checks run last: they may rewrite anything in the work dir,
	// .git/config included, so no git command runs there after them.
	env := checkEnv(w, cache)
	for _, command := range req.Checks {
		r, err := runCheck(ctx, w.repo, env, command, timeout)
		if err != nil {
			return res, fmt.Errorf("verify: %w", err)
		}
		res.Checks = append(res.Checks, r)
		if !r.Passed {
			res.Failure = checkFailure(r, timeout)
			break
		}
	}
	return res, nil
}

func (r Request) validate() error {
	switch {
	case r.MirrorDir == "" || r.Base == "":
		return fmt.Errorf("%w: MirrorDir and Base are required", ErrBadRequest)
	case r.Diff != nil && r.Edits != nil:
		return fmt.Errorf("%w: give either Diff or Edits, not both", ErrBadRequest)
	case r.Diff == nil && r.Edits == nil:
		return fmt.Errorf("%w: there is no change to verify (no Diff, no Edits)", ErrBadRequest)
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
	for _, args := range [][]string{
		{"apply", "--check", "--whitespace=nowarn", "-"}, // all or nothing: nothing is written unless every hunk fits
		{"apply", "--whitespace=nowarn", "-"},
	} {
		_, err := s.git.Run(ctx, w.repo, gitops.RunOpts{Stdin: bytes.NewReader(req.Diff)}, args...)
		if err == nil {
			continue
		}
		var gerr *gitops.Error
		if ctx.Err() == nil && errors.As(err, &gerr) && gerr.ExitCode > 0 {
			why := strings.ReplaceAll(gerr.Stderr, "error: ", "")
			return fmt.Sprintf("the patch does not apply to %s: %s", base[:12], why), nil
		}
		return "", fmt.Errorf("verify: apply patch: %w", err)
	}
	return "", nil
}

// canonical stages everything and diffs Base against it, so the diff the
// person sees is exactly what will be committed and always applies to
// Base. It is admitted again: the tree, not the input, is what counts.
func (s *Sandbox) canonical(ctx context.Context, w *workDir, base string, lim Limits, res *Result) (string, error) {
	// --force: a new file that .gitignore matches is still part of the change.
	if _, err := s.git.Run(ctx, w.repo, gitops.RunOpts{}, "add", "--all", "--force"); err != nil {
		return "", fmt.Errorf("verify: stage change: %w", err)
	}
	diff, err := s.git.Run(ctx, w.repo, gitops.RunOpts{}, "diff", "--cached", "--binary", "--no-color",
		"--no-ext-diff", "--no-textconv", "--find-renames", "--src-prefix=a/", "--dst-prefix=b/", base, "--")
	if err != nil {
		return "", fmt.Errorf("verify: compute diff: %w", err)
	}
	if len(diff) == 0 {
		return "the change makes no difference to the files", nil
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
