package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bundle of an older commit (not a branch head) carries that commit and
// its history under one ref, nothing of the mirror's config, and leaves the
// mirror untouched; unbundling it into a fresh repository gives the same
// commit and tree.
func TestBundleCommitRoundTrip(t *testing.T) {
	g := New()
	ctx := context.Background()
	u := newUpstream(t, g, map[string]string{"a.txt": "one\n"})
	old := u.commit(t, g, "second", map[string]string{"b.txt": "two\n"})
	u.commit(t, g, "third", map[string]string{"c.txt": "three\n"})
	mirror := filepath.Join(t.TempDir(), "m.git")
	if err := g.SyncMirror(ctx, u.bare, mirror); err != nil {
		t.Fatal(err)
	}
	refsBefore := git(t, g, "", "--git-dir="+mirror, "for-each-ref")

	out := filepath.Join(t.TempDir(), "base.bundle")
	if err := g.BundleCommit(ctx, mirror, old, out); err != nil {
		t.Fatal(err)
	}
	if got := git(t, g, "", "--git-dir="+mirror, "for-each-ref"); got != refsBefore {
		t.Fatalf("the mirror's refs changed:\n%s\nwant:\n%s", got, refsBefore)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), u.bare) || strings.Contains(string(raw), "[remote") {
		t.Fatal("the bundle carries the mirror's remote config")
	}
	heads := git(t, g, filepath.Dir(out), "bundle", "list-heads", out)
	if heads != old+" "+BundleRef {
		t.Fatalf("bundle heads %q, want only %s at %s", heads, BundleRef, old)
	}

	fresh := filepath.Join(t.TempDir(), "fresh.git")
	if err := g.InitBare(ctx, fresh, "main"); err != nil {
		t.Fatal(err)
	}
	got, err := g.Unbundle(ctx, fresh, out)
	if err != nil || got != old {
		t.Fatalf("unbundle: %s, %v; want %s", got, err, old)
	}
	if files := git(t, g, "", "--git-dir="+fresh, "ls-tree", "--name-only", "-r", got); files != "a.txt\nb.txt" {
		t.Fatalf("tree %q", files)
	}

	if err := g.BundleCommit(ctx, mirror, "main", out); !errors.Is(err, ErrBadObjectID) {
		t.Fatalf("a ref name instead of an id: %v, want ErrBadObjectID", err)
	}
	if err := os.WriteFile(out, []byte("# v2 git bundle\ngarbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Unbundle(ctx, fresh, out); err == nil || !strings.Contains(err.Error(), "has no "+BundleRef) {
		t.Fatalf("a broken bundle: %v", err)
	}
}
