package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// patchFixture is a mirror at base plus a diff made by real git in a work
// clone: one file changed, one added, one deleted, one in a subdirectory.
type patchFixture struct {
	mirror, base string
	diff         []byte
}

func newPatchFixture(t *testing.T, g *Git) patchFixture {
	t.Helper()
	u := newUpstream(t, g, map[string]string{
		"greet.go":     "package demo\n\nfunc Greet() string {\n\treturn \"hi\"\n}\n",
		"old.txt":      "to be removed\n",
		"docs/a.md":    "# A\n\nline\n",
		"keep/same.go": "package keep\n",
	})
	mirror := filepath.Join(t.TempDir(), "m.git")
	if err := g.SyncMirror(context.Background(), u.bare, mirror); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, u.work, map[string]string{
		"greet.go":  "package demo\n\nfunc Greet() string {\n\treturn \"hello\"\n}\n",
		"new.txt":   "brand new\n",
		"docs/a.md": "# A\n\nline\nmore\n",
	})
	if err := os.Remove(filepath.Join(u.work, "old.txt")); err != nil {
		t.Fatal(err)
	}
	git(t, g, u.work, "add", "-A")
	diff := git(t, g, u.work, "diff", "--cached", "--no-color") + "\n"
	git(t, g, u.work, "reset", "--quiet", "--hard")
	return patchFixture{mirror: mirror, base: git(t, g, u.work, "rev-parse", "HEAD"), diff: []byte(diff)}
}

func TestCommitPatchGivesExactlyTheDiff(t *testing.T) {
	ctx := context.Background()
	g := New()
	f := newPatchFixture(t, g)
	sha, err := g.CommitPatch(ctx, f.mirror, "main", f.diff, testCommitInfo())
	if err != nil {
		t.Fatal(err)
	}
	got := git(t, g, "", "--git-dir="+f.mirror, "diff", "--no-color", f.base, sha) + "\n"
	if got != string(f.diff) {
		t.Errorf("git diff base commit:\n%s\nwant the input diff:\n%s", got, f.diff)
	}
	if parent := git(t, g, "", "--git-dir="+f.mirror, "rev-parse", sha+"^"); parent != f.base {
		t.Errorf("parent = %s, want base %s", parent, f.base)
	}
	raw := git(t, g, "", "--git-dir="+f.mirror, "cat-file", "commit", sha)
	for _, want := range []string{
		"author PatchGit <bot@patchgit.local> 1772359200 +0200",
		"committer PatchGit <bot@patchgit.local> 1772359200 +0200",
		"\n\nFix greeting\n\nBody.",
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("commit object lacks %q:\n%s", want, raw)
		}
	}
	// No ref was created: the commit is published only by Push.
	if refs := git(t, g, "", "--git-dir="+f.mirror, "for-each-ref", "--points-at", sha); refs != "" {
		t.Errorf("CommitPatch created refs: %s", refs)
	}
}

func TestCommitPatchIsDeterministic(t *testing.T) {
	ctx := context.Background()
	g := New()
	f := newPatchFixture(t, g)
	a, err := g.CommitPatch(ctx, f.mirror, f.base, f.diff, testCommitInfo())
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.CommitPatch(ctx, f.mirror, "main", f.diff, testCommitInfo())
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("same inputs gave %s and %s", a, b)
	}
	later := testCommitInfo()
	later.When = later.When.Add(time.Second)
	c, err := g.CommitPatch(ctx, f.mirror, f.base, f.diff, later)
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Errorf("a different time gave the same commit %s", c)
	}
}

func TestCommitPatchRefusesANonApplyingDiff(t *testing.T) {
	ctx := context.Background()
	g := New()
	f := newPatchFixture(t, g)
	bad := strings.Replace(string(f.diff), "\treturn \"hi\"", "\treturn \"howdy\"", 1)
	_, err := g.CommitPatch(ctx, f.mirror, f.base, []byte(bad), testCommitInfo())
	if !errors.Is(err, ErrPatchDoesNotApply) {
		t.Fatalf("err = %v, want ErrPatchDoesNotApply", err)
	}
	if !strings.Contains(err.Error(), "greet.go") {
		t.Errorf("error does not name the file: %v", err)
	}
}

func TestCommitPatchRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	g := New()
	f := newPatchFixture(t, g)
	noName := testCommitInfo()
	noName.AuthorName = " "
	injected := testCommitInfo()
	injected.AuthorEmail = "a@b>\ncommitter evil"
	noTime := testCommitInfo()
	noTime.When = time.Time{}
	for _, tc := range []struct {
		name string
		base string
		diff []byte
		info CommitInfo
		want error
	}{
		{"empty diff", f.base, []byte("\n"), testCommitInfo(), ErrEmptyPatch},
		{"missing base", "no-such-branch", f.diff, testCommitInfo(), ErrRefNotFound},
		{"option as base", "--output=/tmp/x", f.diff, testCommitInfo(), ErrBadArgument},
		{"empty author", f.base, f.diff, noName, ErrBadCommitInfo},
		{"header injection", f.base, f.diff, injected, ErrBadCommitInfo},
		{"no time", f.base, f.diff, noTime, ErrBadCommitInfo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.CommitPatch(ctx, f.mirror, tc.base, tc.diff, tc.info)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestResolveRef(t *testing.T) {
	ctx := context.Background()
	g := New()
	f := newPatchFixture(t, g)
	if got, err := g.ResolveRef(ctx, f.mirror, "refs/heads/main"); err != nil || got != f.base {
		t.Errorf("ResolveRef(main) = %q, %v; want %s", got, err, f.base)
	}
	if got, err := g.ResolveRef(ctx, f.mirror, f.base[:10]); err != nil || got != f.base {
		t.Errorf("ResolveRef(short sha) = %q, %v", got, err)
	}
	_, err := g.ResolveRef(ctx, f.mirror, "nope")
	if !errors.Is(err, ErrRefNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing ref: %v", err)
	}
	_, err = g.ResolveRef(ctx, filepath.Join(t.TempDir(), "missing.git"), "main")
	if err == nil || errors.Is(err, ErrRefNotFound) {
		t.Errorf("missing repository should be an error of its own, got %v", err)
	}
}

func TestInitBare(t *testing.T) {
	ctx := context.Background()
	g := New()
	dir := filepath.Join(t.TempDir(), "new.git")
	if err := g.InitBare(ctx, dir, "trunk"); err != nil {
		t.Fatal(err)
	}
	if head := git(t, g, "", "--git-dir="+dir, "symbolic-ref", "HEAD"); head != "refs/heads/trunk" {
		t.Errorf("HEAD = %s", head)
	}
	if bare := git(t, g, "", "--git-dir="+dir, "rev-parse", "--is-bare-repository"); bare != "true" {
		t.Errorf("not bare")
	}
	if err := g.InitBare(ctx, dir, "bad..name"); !errors.Is(err, ErrBadBranchName) {
		t.Errorf("bad branch: %v", err)
	}
}
