package helperrun

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/sandbox"
)

// VerifyHere is the helper's side: it unbundles the base into a fresh bare
// repository root/mirrors/<repo>.git and runs sandbox.Verify on it with a
// sandbox at root/sandbox (its check caches survive on a host that is
// kept, such as helper.provider ssh). Anything wrong with the change is in
// the Result's Failure; the error is for a bad request or a broken helper.
func VerifyHere(ctx context.Context, g *gitops.Git, root string, req Request, bundle string) (sandbox.Result, error) {
	if err := req.Validate(); err != nil {
		return sandbox.Result{}, err
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: %w", err)
	}
	if _, err := os.Stat(bundle); err != nil {
		return sandbox.Result{}, fmt.Errorf("%w: bundle: %v", ErrBadRequest, err)
	}
	sb, err := sandbox.Open(filepath.Join(root, "sandbox"), g, sandbox.Options{Isolation: req.Isolation, Resources: req.Resources})
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: %w", err)
	}
	if err := sb.Sweep(); err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: %w", err)
	}
	mirror := filepath.Join(root, "mirrors", req.Repo+".git")
	unlock, err := gitops.LockMirror(ctx, mirror)
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: %w", err)
	}
	defer unlock()
	// Fresh every time: nothing of an earlier job's objects or refs counts.
	if err := os.RemoveAll(mirror); err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: %w", err)
	}
	defer os.RemoveAll(mirror)
	if err := g.InitBare(ctx, mirror, "main"); err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: %w", err)
	}
	got, err := g.Unbundle(ctx, mirror, bundle)
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if got != req.Base {
		return sandbox.Result{}, fmt.Errorf("%w: the bundle holds %s, the request names base %s", ErrBadRequest, got, req.Base)
	}
	return sb.Verify(ctx, req.Sandbox(mirror))
}
