package forge_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/demo"
	"github.com/patchgit/patchgit/internal/forge"
	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/store"
)

// setup seeds a bare demo repo and returns a local forge serving it.
func setup(t *testing.T) (*forge.Local, string) {
	t.Helper()
	dir := t.TempDir()
	bare := filepath.Join(dir, "demo.git")
	if _, err := demo.Seed(ctx, gitops.New(), bare); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return forge.NewLocal(db, gitops.New(), map[string]string{"demo": bare}), bare
}

// pushBranch commits file=content on top of base in a clone and pushes it as branch.
func pushBranch(t *testing.T, bare, base, branch, file, content string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	git(t, t.TempDir(), "clone", "-q", bare, dir)
	git(t, dir, "checkout", "-q", "-B", branch, "origin/"+base)
	if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "change "+file)
	git(t, dir, "push", "-q", "origin", branch)
}

func TestOpenIsIdempotentOnTheHeadBranch(t *testing.T) {
	f, bare := setup(t)
	pushBranch(t, bare, "main", "patchgit/a", "A.md", "a\n")
	req := forge.OpenRequest{Repo: "demo", Title: "A", Body: "body", Base: "main", Head: "patchgit/a"}
	first, err := f.OpenPR(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.OpenPR(ctx, req)
	if err != nil || again.Number != first.Number {
		t.Fatalf("second open gave #%d (%v), want #%d", again.Number, err, first.Number)
	}
	pushBranch(t, bare, "main", "patchgit/b", "B.md", "b\n")
	other, err := f.OpenPR(ctx, forge.OpenRequest{Repo: "demo", Title: "B", Base: "main", Head: "patchgit/b"})
	if err != nil || other.Number != first.Number+1 {
		t.Fatalf("other head got #%d (%v)", other.Number, err)
	}
	prs, err := f.List(ctx, "demo")
	if err != nil || len(prs) != 2 || prs[0].Number != other.Number {
		t.Fatalf("list %+v %v: want two, newest first", prs, err)
	}
}

func TestOpenRefusesAnUnpushedHeadAndUnknownRepo(t *testing.T) {
	f, _ := setup(t)
	_, err := f.OpenPR(ctx, forge.OpenRequest{Repo: "demo", Title: "x", Base: "main", Head: "patchgit/nope"})
	if err == nil || !strings.Contains(err.Error(), "push it first") {
		t.Fatalf("err = %v", err)
	}
	_, err = f.OpenPR(ctx, forge.OpenRequest{Repo: "other", Head: "x"})
	if !errors.Is(err, forge.ErrUnknownRepo) {
		t.Fatalf("err = %v", err)
	}
}

func TestMergeIsAnExplicitActAndCloseEndsAPR(t *testing.T) {
	f, bare := setup(t)
	pushBranch(t, bare, "main", "patchgit/a", "A.md", "a\n")
	pr, err := f.OpenPR(ctx, forge.OpenRequest{Repo: "demo", Title: "A", Base: "main", Head: "patchgit/a"})
	if err != nil {
		t.Fatal(err)
	}
	before := git(t, bare, "rev-parse", "main")
	merged, err := f.Merge(ctx, "demo", pr.Number)
	if err != nil || merged.State != forge.StateMerged {
		t.Fatalf("merge: %+v %v", merged, err)
	}
	// git says main now has both parents and the file.
	if parents := git(t, bare, "rev-list", "--parents", "-n1", "main"); !strings.Contains(parents, before) || len(strings.Fields(parents)) != 3 {
		t.Fatalf("main is not a merge of the old main and the branch: %s", parents)
	}
	if got := git(t, bare, "show", "main:A.md"); got != "a" {
		t.Fatalf("A.md on main = %q", got)
	}
	if _, err := f.Merge(ctx, "demo", pr.Number); !errors.Is(err, forge.ErrNotOpen) {
		t.Fatalf("second merge: %v", err)
	}
	pushBranch(t, bare, "main", "patchgit/b", "B.md", "b\n")
	b, _ := f.OpenPR(ctx, forge.OpenRequest{Repo: "demo", Title: "B", Base: "main", Head: "patchgit/b"})
	closed, err := f.Close(ctx, "demo", b.Number)
	if err != nil || closed.State != forge.StateClosed {
		t.Fatalf("close: %+v %v", closed, err)
	}
	if _, err := f.Close(ctx, "demo", 99); !errors.Is(err, forge.ErrNoSuchPR) {
		t.Fatalf("close #99: %v", err)
	}
}

func TestConflictingMergeChangesNothing(t *testing.T) {
	f, bare := setup(t)
	pushBranch(t, bare, "main", "patchgit/a", "README.md", "mine\n")
	pr, _ := f.OpenPR(ctx, forge.OpenRequest{Repo: "demo", Title: "A", Base: "main", Head: "patchgit/a"})
	pushBranch(t, bare, "main", "main", "README.md", "theirs\n")
	before := git(t, bare, "rev-parse", "main")
	_, err := f.Merge(ctx, "demo", pr.Number)
	if !errors.Is(err, forge.ErrMergeConflict) {
		t.Fatalf("err = %v, want a merge conflict", err)
	}
	if after := git(t, bare, "rev-parse", "main"); after != before {
		t.Fatal("a failed merge moved main")
	}
	prs, _ := f.List(ctx, "demo")
	if prs[0].State != forge.StateOpen {
		t.Fatalf("a failed merge changed the PR state to %s", prs[0].State)
	}
}

// With the mirror's public URL set, a new PR's URL is its mirror page;
// Change reads the PR's diff from its merge base, also after base moved
// on.
func TestLocalPRURLAndChange(t *testing.T) {
	f, bare := setup(t)
	pushBranch(t, bare, "main", "patchgit/a", "A.md", "a\n")
	before, err := f.OpenPR(ctx, forge.OpenRequest{Repo: "demo", Title: "A", Base: "main", Head: "patchgit/a"})
	if err != nil || before.URL != "local:demo#1" {
		t.Fatalf("without a web URL: %q %v", before.URL, err)
	}
	f.SetWebURL("https://patchgit.example.com/")
	pushBranch(t, bare, "main", "patchgit/b", "B.md", "b\n")
	pr, err := f.OpenPR(ctx, forge.OpenRequest{Repo: "demo", Title: "B", Base: "main", Head: "patchgit/b"})
	if err != nil || pr.URL != "https://patchgit.example.com/prs/local/demo/2" {
		t.Fatalf("with a web URL: %q %v", pr.URL, err)
	}
	if _, err := f.Merge(ctx, "demo", 1); err != nil { // base moves on
		t.Fatal(err)
	}
	c, err := f.Change(ctx, "demo", 2)
	if err != nil {
		t.Fatal(err)
	}
	if c.HeadSHA != strings.TrimSpace(git(t, bare, "rev-parse", "refs/heads/patchgit/b")) ||
		!strings.Contains(c.Diff, "+++ b/B.md") || strings.Contains(c.Diff, "A.md") {
		t.Fatalf("change of #2: head %s\n%s", c.HeadSHA, c.Diff)
	}
	// Once merged, base holds the head: nothing is left to show (the
	// page says so).
	merged, err := f.Change(ctx, "demo", 1)
	if err != nil || merged.PR.State != forge.StateMerged || merged.Diff != "" {
		t.Fatalf("change of merged #1: %+v %v", merged, err)
	}
	if _, err := f.Change(ctx, "demo", 9); !errors.Is(err, forge.ErrNoSuchPR) {
		t.Fatalf("unknown PR: %v", err)
	}
	if _, err := f.Change(ctx, "nope", 1); !errors.Is(err, forge.ErrUnknownRepo) {
		t.Fatalf("unknown repo: %v", err)
	}
}
