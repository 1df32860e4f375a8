package gitops

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
)

func TestListTreeAndReadFile(t *testing.T) {
	g := New()
	u := newUpstream(t, g, map[string]string{"main.go": "package main\n", "docs/a.md": "# A\n", "big.txt": "0123456789\n"})
	git(t, g, u.work, "rm", "-q", "--cached", "docs/a.md")
	git(t, g, u.work, "commit", "-qm", "drop a.md from the index")
	git(t, g, u.work, "push", "-q", "origin", "HEAD:main")
	mirror := filepath.Join(t.TempDir(), "m.git")
	ctx := context.Background()
	if err := g.SyncMirror(ctx, u.bare, mirror); err != nil {
		t.Fatal(err)
	}
	head, err := g.ResolveRef(ctx, mirror, "refs/heads/main")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := g.ListTree(ctx, mirror, head)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tree.Paths, []string{"big.txt", "main.go"}) {
		t.Fatalf("paths %v", tree.Paths)
	}
	if b, err := tree.ReadFile(ctx, "main.go", 100); err != nil || string(b) != "package main\n" {
		t.Fatalf("main.go: %q %v", b, err)
	}
	if _, err := tree.ReadFile(ctx, "docs/a.md", 100); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a removed file: %v", err)
	}
	if _, err := tree.ReadFile(ctx, "big.txt", 5); !errors.Is(err, ErrBadArgument) {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := g.ListTree(ctx, mirror, "main"); !errors.Is(err, ErrBadObjectID) {
		t.Fatalf("a ref name instead of a commit id: %v", err)
	}
}
