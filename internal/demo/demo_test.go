package demo

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/gitops"
)

func git(t *testing.T, g *gitops.Git, dir string, args ...string) string {
	t.Helper()
	out, err := g.Run(context.Background(), dir, gitops.RunOpts{}, args...)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// TestSeededProjectBuildsAndPasses clones the seeded repository with git
// and runs the checks the embedded default configures.
func TestSeededProjectBuildsAndPasses(t *testing.T) {
	ctx := context.Background()
	g := gitops.New()
	bare := filepath.Join(t.TempDir(), "repos", "demo.git")
	created, err := Seed(ctx, g, bare)
	if err != nil || !created {
		t.Fatalf("Seed = %v, %v; want created", created, err)
	}
	clone := filepath.Join(t.TempDir(), "demo")
	git(t, g, "", "clone", "--quiet", bare, clone)
	if branch := git(t, g, clone, "rev-parse", "--abbrev-ref", "HEAD"); branch != "main" {
		t.Errorf("checked out %q, want main", branch)
	}
	if author := git(t, g, clone, "log", "-1", "--format=%an <%ae>"); author != "PatchGit Demo <demo@patchgit.local>" {
		t.Errorf("author = %q", author)
	}
	if n := git(t, g, clone, "rev-list", "--count", "HEAD"); n != "1" {
		t.Errorf("%s commits, want 1", n)
	}
	files := git(t, g, clone, "ls-files")
	if files != "README.md\ngo.mod\ngreet.go\ngreet_test.go\nmain.go" {
		t.Errorf("files:\n%s", files)
	}
	for _, check := range []string{`test -z "$(gofmt -l .)"`, "go vet ./...", "go test ./...", "go run . Ada | grep -qx 'Hello, Ada!'"} {
		cmd := exec.Command("sh", "-c", check)
		cmd.Dir = clone
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", check, err, out)
		}
	}
}

func TestSeedLeavesAnExistingRepositoryAlone(t *testing.T) {
	ctx := context.Background()
	g := gitops.New()
	bare := filepath.Join(t.TempDir(), "demo.git")
	if _, err := Seed(ctx, g, bare); err != nil {
		t.Fatal(err)
	}
	first := git(t, g, "", "--git-dir="+bare, "rev-parse", "main")
	// Someone moves main on; a second Seed must not notice or undo it.
	git(t, g, "", "--git-dir="+bare, "update-ref", "refs/heads/feature", first)
	created, err := Seed(ctx, g, bare)
	if err != nil || created {
		t.Fatalf("second Seed = %v, %v; want not created", created, err)
	}
	if refs := git(t, g, "", "--git-dir="+bare, "for-each-ref", "--format=%(refname)"); refs != "refs/heads/feature\nrefs/heads/main" {
		t.Errorf("refs changed: %s", refs)
	}
	// Seeding is reproducible: another install gets the same commit.
	other := filepath.Join(t.TempDir(), "demo.git")
	if _, err := Seed(ctx, g, other); err != nil {
		t.Fatal(err)
	}
	if sha := git(t, g, "", "--git-dir="+other, "rev-parse", "main"); sha != first {
		t.Errorf("second install seeded %s, first %s", sha, first)
	}
}

func TestSeedRefusesSomethingElse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	created, err := Seed(context.Background(), gitops.New(), dir)
	if created || !errors.Is(err, ErrNotRepository) {
		t.Fatalf("Seed on a plain directory = %v, %v", created, err)
	}
	if leftovers, _ := filepath.Glob(dir + ".seed-*"); len(leftovers) != 0 {
		t.Errorf("temp dirs left: %v", leftovers)
	}
}

func TestSeedIntoAnEmptyDirectory(t *testing.T) {
	dir := t.TempDir() // exists, empty: e.g. made by a config step
	created, err := Seed(context.Background(), gitops.New(), dir)
	if err != nil || !created {
		t.Fatalf("Seed = %v, %v", created, err)
	}
}
