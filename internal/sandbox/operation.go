package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/patchgit/patchgit/internal/gitops"
)

// Repository-wide operations (Request.Command): a configured command such
// as `gofmt -w .` or `go mod tidy` runs in the fresh work tree of Base in
// WRITE mode, with exactly the checks' isolation (runner, uid, no network,
// no credential, limits, timeout). The change is whatever it wrote: the
// canonical diff is computed from the tree and admitted like a patch's,
// then the checks run on that tree.
//
// The command may rewrite anything in the work tree, the work tree's own
// .git included (index, config, alternates), so the diff is computed
// through a git dir of ours that it never sees: a locked run dir under
// root/work (0711, owned by us) holding a copy of the index made before the
// command ran, with --work-tree pointing at the tree. Git ignores any
// `.git` the command leaves in the tree; a nested repository becomes a
// gitlink, which admission refuses.

// operationName names the operation's run in Result.Operation.
const operationName = "operation"

// MsgOperationChangedNothing is the Failure of an operation that left the
// tree as it was.
const MsgOperationChangedNothing = "the operation changed nothing"

// operate runs prepare (network, as before checks) and then req.Command in
// w, and puts the canonical diff of what it wrote into res. A user-facing
// problem ends up in res.Failure; the error is for internal trouble.
func (s *Sandbox) operate(ctx context.Context, w *workDir, req Request, lim Limits, base string, prepare []string, timeout time.Duration, res *Result) error {
	if s.runner == nil {
		return fmt.Errorf("verify: %w", s.runnerErr)
	}
	own, err := newRunDir(s.workRoot)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer own.remove()
	gitDir, err := s.snapshotGitDir(ctx, w, own.dir, base)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	res.Mode = s.runner.Mode()
	cache, err := s.prepareCache(req.MirrorDir)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if err := s.handOver(w); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	objects, err := objectsDir(req.MirrorDir)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	tmp := w.tmp
	if res.Mode == ModeBwrap {
		tmp = "/tmp"
	}
	env := checkEnv(w, tmp, cache)
	penv := prepareEnv(env)
	for i, command := range prepare {
		r, err := s.runner.Run(ctx, Job{Name: fmt.Sprintf("prepare %d", i+1), Command: command, Dir: w.repo,
			Writable: []string{w.home, w.tmp, cache}, ReadOnly: []string{objects}, Env: penv, Timeout: timeout,
			Network: true, Limits: s.opts.Resources})
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		res.Prepare = append(res.Prepare, r)
		if !r.Passed {
			res.Failure = "prepare: " + checkFailure(r, timeout)
			return nil
		}
	}
	// The same Job as a check: no network, the module cache read-only.
	r, err := s.runner.Run(ctx, Job{Name: operationName, Command: req.Command, Dir: w.repo,
		Writable: []string{w.home, w.tmp, filepath.Join(cache, "go-build")},
		ReadOnly: []string{objects, filepath.Join(cache, "gomod")},
		Env:      env, Timeout: timeout, Limits: s.opts.Resources})
	if err != nil {
		return fmt.Errorf("verify: run operation: %w", err)
	}
	res.Operation = &r
	if !r.Passed {
		res.Failure = operationFailure(r, timeout)
		return nil
	}
	msg, err := s.canonical(ctx, w, base, lim, res, "--git-dir="+gitDir, "--work-tree="+w.repo)
	switch {
	case err != nil:
		return err
	case msg == msgNoDifference:
		res.Failure = MsgOperationChangedNothing
	case msg != "":
		res.Failure, res.Refused = "the operation's change was refused: "+msg, true
	}
	return nil
}

// snapshotGitDir makes dir/git: a git dir of ours that borrows the work
// tree's objects (the mirror's) and starts from a copy of its index, so
// `git add` re-hashes only what the operation touched.
func (s *Sandbox) snapshotGitDir(ctx context.Context, w *workDir, dir, base string) (string, error) {
	gitDir := filepath.Join(dir, "git")
	if _, err := s.git.Run(ctx, dir, gitops.RunOpts{}, "init", "--quiet", "--bare", "--template=", "--", gitDir); err != nil {
		return "", fmt.Errorf("snapshot git dir: %w", err)
	}
	objects, err := os.ReadFile(filepath.Join(w.repo, ".git", "objects", "info", "alternates"))
	if err != nil { // a layered tree's .git is the pristine one's: same alternates
		return "", fmt.Errorf("snapshot git dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(gitDir, "objects", "info", "alternates"), objects, 0o644); err != nil {
		return "", fmt.Errorf("snapshot git dir: %w", err)
	}
	index, err := os.ReadFile(filepath.Join(w.repo, ".git", "index"))
	if err == nil {
		err = os.WriteFile(filepath.Join(gitDir, "index"), index, 0o600)
	} else {
		_, err = s.git.Run(ctx, dir, gitops.RunOpts{}, "--git-dir="+gitDir, "read-tree", base)
	}
	if err != nil {
		return "", fmt.Errorf("snapshot git dir: %w", err)
	}
	return gitDir, nil
}

// operationFailure is the user-facing reason a failed operation gives,
// with the tail of its output (the end usually says why).
func operationFailure(r CheckResult, timeout time.Duration) string {
	why := strings.Replace(checkFailure(r, timeout), "check ", "operation ", 1)
	if tail := outputTail(r.Output, 20, 2000); tail != "" {
		why += "; its output ends:\n" + tail
	}
	return why
}

// outputTail is the last lines of out (at most maxLines lines and about
// maxBytes bytes).
func outputTail(out string, maxLines, maxBytes int) string {
	out = strings.TrimRight(out, "\n")
	if len(out) > maxBytes {
		out = out[len(out)-maxBytes:]
		if i := strings.IndexByte(out, '\n'); i >= 0 {
			out = out[i+1:]
		}
	}
	lines := strings.Split(out, "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.ToValidUTF8(strings.Join(lines, "\n"), "\uFFFD")
}
