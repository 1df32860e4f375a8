// Package demo seeds the bare repository that the embedded default serves:
// a small Go project on branch main, so PatchGit works out of the box.
package demo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/patchgit/patchgit/internal/gitops"
)

// ErrNotRepository is returned when bareDir holds something else.
var ErrNotRepository = errors.New("exists but is not a git repository")

// Author of the demo commit. The date is fixed, so every install seeds the
// same commit sha.
const (
	authorName  = "PatchGit Demo"
	authorEmail = "demo@patchgit.local"
	commitDate  = "1767225600 +0000" // 2026-01-01T00:00:00Z
	commitMsg   = "Demo project: greet\n"
	branch      = "main"
)

// Seed creates the demo repository at bareDir when nothing is there yet
// (created = true). An existing repository is left untouched; anything
// else at bareDir is an error. The repository is built in a temporary
// sibling and renamed into place, so a crash never leaves half of it.
func Seed(ctx context.Context, g *gitops.Git, bareDir string) (created bool, err error) {
	bareDir, err = filepath.Abs(bareDir)
	if err != nil {
		return false, fmt.Errorf("seed demo repository: %w", err)
	}
	entries, err := os.ReadDir(bareDir)
	switch {
	case err == nil && len(entries) > 0:
		if _, err := g.Run(ctx, "", gitEnv(bareDir), "rev-parse", "--git-dir"); err != nil {
			return false, fmt.Errorf("seed demo repository: %s %w: move it away or point the config elsewhere", bareDir, ErrNotRepository)
		}
		return false, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return false, fmt.Errorf("seed demo repository: %w", err)
	}
	parent, base := filepath.Split(bareDir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return false, fmt.Errorf("seed demo repository: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, base+".seed-")
	if err != nil {
		return false, fmt.Errorf("seed demo repository: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	if err := g.InitBare(ctx, tmp, branch); err != nil {
		return false, fmt.Errorf("seed demo repository: %w", err)
	}
	if err := writeProject(ctx, g, tmp); err != nil {
		return false, fmt.Errorf("seed demo repository: %w", err)
	}
	_ = os.Remove(bareDir) // an empty directory, if any: os.Rename will not replace it
	if err := os.Rename(tmp, bareDir); err != nil {
		if entries, statErr := os.ReadDir(bareDir); statErr == nil && len(entries) > 0 {
			return false, nil // another process seeded it first
		}
		return false, fmt.Errorf("seed demo repository: %w", err)
	}
	return true, nil
}

// writeProject writes the blobs, one tree and one commit, and points main
// at it: plumbing only, no work tree.
func writeProject(ctx context.Context, g *gitops.Git, gitDir string) error {
	var tree strings.Builder
	for _, name := range slices.Sorted(maps.Keys(projectFiles)) {
		opt := gitEnv(gitDir)
		opt.Stdin = strings.NewReader(projectFiles[name])
		out, err := g.Run(ctx, "", opt, "hash-object", "-w", "--stdin")
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		fmt.Fprintf(&tree, "100644 blob %s\t%s\n", strings.TrimSpace(string(out)), name)
	}
	opt := gitEnv(gitDir)
	opt.Stdin = strings.NewReader(tree.String())
	treeID, err := g.Run(ctx, "", opt, "mktree")
	if err != nil {
		return fmt.Errorf("write tree: %w", err)
	}
	opt = gitEnv(gitDir)
	opt.Env = append(opt.Env,
		"GIT_AUTHOR_NAME="+authorName, "GIT_AUTHOR_EMAIL="+authorEmail, "GIT_AUTHOR_DATE="+commitDate,
		"GIT_COMMITTER_NAME="+authorName, "GIT_COMMITTER_EMAIL="+authorEmail, "GIT_COMMITTER_DATE="+commitDate)
	opt.Stdin = strings.NewReader(commitMsg)
	commit, err := g.Run(ctx, "", opt, "commit-tree", "--no-gpg-sign", strings.TrimSpace(string(treeID)))
	if err != nil {
		return fmt.Errorf("write commit: %w", err)
	}
	if _, err := g.Run(ctx, "", gitEnv(gitDir), "update-ref", "refs/heads/"+branch, strings.TrimSpace(string(commit)), ""); err != nil {
		return fmt.Errorf("create branch %s: %w", branch, err)
	}
	return nil
}

func gitEnv(gitDir string) gitops.RunOpts {
	return gitops.RunOpts{Env: []string{"GIT_DIR=" + gitDir}}
}
