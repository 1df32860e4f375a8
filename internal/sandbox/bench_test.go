package sandbox

// Fresh work dir creation on a repository with ~3,000 files:
//
//	go test -run '^$' -bench NewWorkDir -benchtime 10x ./internal/sandbox/

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/patchgit/patchgit/internal/gitops"
)

func BenchmarkNewWorkDir(b *testing.B) {
	files := map[string]string{}
	for i := range 3000 {
		files[fmt.Sprintf("pkg%02d/file%04d.go", i/50, i)] = fmt.Sprintf("package p%02d\n\n%s", i/50, strings.Repeat("// some realistic line of text in the file\n", 30))
	}
	f := newFixture(b, files, nil)
	ctx := context.Background()
	b.Run("init-alternates", func(b *testing.B) { // what Verify uses
		for range b.N {
			w, err := newWorkDir(ctx, f.g, filepath.Join(f.root, "work"), f.mirror, f.base)
			if err != nil {
				b.Fatal(err)
			}
			w.remove()
		}
	})
	b.Run("clone-shared", func(b *testing.B) {
		for range b.N {
			dir := b.TempDir()
			repo := filepath.Join(dir, "repo")
			run := func(dir string, args ...string) {
				if _, err := f.g.Run(ctx, dir, gitops.RunOpts{}, args...); err != nil {
					b.Fatal(err)
				}
			}
			run(dir, "clone", "--quiet", "--shared", "--no-checkout", "--", f.mirror, repo)
			run(repo, "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", f.base)
			run(repo, "remote", "remove", "origin")
			os.RemoveAll(dir)
		}
	})
	b.Run("go-git-clone-shared", func(b *testing.B) {
		for range b.N {
			dir := b.TempDir()
			repo, err := gogit.PlainClone(dir, false, &gogit.CloneOptions{URL: f.mirror, Shared: true, NoCheckout: true})
			if err != nil {
				b.Fatal(err)
			}
			wt, err := repo.Worktree()
			if err != nil {
				b.Fatal(err)
			}
			if err := wt.Checkout(&gogit.CheckoutOptions{Hash: plumbing.NewHash(f.base)}); err != nil {
				b.Fatal(err)
			}
			os.RemoveAll(dir)
		}
	})
}

// TestNewWorkDirChecksOutBase: the work tree holds exactly base's files,
// HEAD is base, and nothing is staged or modified.
func TestNewWorkDirChecksOutBase(t *testing.T) {
	f := newFixture(t, map[string]string{"a.txt": "a\n", "d/b.txt": "b\n"}, nil)
	w, err := newWorkDir(context.Background(), f.g, filepath.Join(f.root, "work"), f.mirror, f.base)
	if err != nil {
		t.Fatal(err)
	}
	defer w.remove()
	if head := git(t, f.g, w.repo, "rev-parse", "HEAD"); head != f.base {
		t.Errorf("HEAD = %s, want %s", head, f.base)
	}
	if st := git(t, f.g, w.repo, "status", "--porcelain"); st != "" {
		t.Errorf("work tree is not clean:\n%s", st)
	}
	if b, err := os.ReadFile(filepath.Join(w.repo, "d", "b.txt")); err != nil || string(b) != "b\n" {
		t.Errorf("d/b.txt = %q, %v", b, err)
	}
	if remotes := git(t, f.g, w.repo, "remote"); remotes != "" {
		t.Errorf("work dir has remotes: %s", remotes)
	}
}
