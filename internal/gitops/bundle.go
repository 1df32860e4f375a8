package gitops

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// BundleRef is the one ref a bundle made by BundleCommit carries.
const BundleRef = "refs/heads/patchgit-base"

// BundleCommit writes to out a git bundle of commit and its history from
// the repository at gitDir, under the single ref BundleRef. A bundle holds
// objects and that ref only: no config, no remote, no credential. gitDir
// is not written to: the ref lives in a throwaway repository that borrows
// gitDir's objects (git refuses to bundle a bare object id).
func (g *Git) BundleCommit(ctx context.Context, gitDir, commit, out string) error {
	if !isObjectID(commit) {
		return fmt.Errorf("bundle commit: %w: %q is not a full object id", ErrBadObjectID, commit)
	}
	objects, err := filepath.Abs(filepath.Join(gitDir, "objects"))
	if err != nil {
		return fmt.Errorf("bundle commit: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".bundle-repo-")
	if err != nil {
		return fmt.Errorf("bundle commit: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := g.run(ctx, "", RunOpts{}, nil, "init", "--bare", "--quiet", "--", tmp); err != nil {
		return fmt.Errorf("bundle commit: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "objects", "info", "alternates"), []byte(objects+"\n"), 0o600); err != nil {
		return fmt.Errorf("bundle commit: %w", err)
	}
	if _, err := g.runGitDir(ctx, tmp, RunOpts{}, "update-ref", BundleRef, commit); err != nil {
		return fmt.Errorf("bundle commit %s: %w", shortSHA(commit), err)
	}
	if _, err := g.runGitDir(ctx, tmp, RunOpts{}, "bundle", "create", "--quiet", out, BundleRef); err != nil {
		return fmt.Errorf("bundle commit %s: %w", shortSHA(commit), err)
	}
	return nil
}

// Unbundle fetches BundleRef from the bundle at path into the bare
// repository gitDir (which must exist) and returns the commit it names.
func (g *Git) Unbundle(ctx context.Context, gitDir, path string) (string, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("unbundle: %w", err)
	}
	if _, err := g.runGitDir(ctx, gitDir, RunOpts{}, "bundle", "verify", "--quiet", path); err != nil {
		return "", fmt.Errorf("unbundle %s: not a complete git bundle: %w", filepath.Base(path), err)
	}
	heads, err := g.runGitDir(ctx, gitDir, RunOpts{}, "bundle", "list-heads", path, BundleRef)
	if err != nil || len(heads) == 0 {
		return "", fmt.Errorf("unbundle %s: %w: the bundle has no %s (make it with BundleCommit)", filepath.Base(path), ErrRefNotFound, BundleRef)
	}
	if _, err := g.runGitDir(ctx, gitDir, RunOpts{}, "fetch", "--quiet", "--no-tags", path, "+"+BundleRef+":"+BundleRef); err != nil {
		return "", fmt.Errorf("unbundle %s: %w", filepath.Base(path), err)
	}
	return g.ResolveRef(ctx, gitDir, BundleRef)
}
