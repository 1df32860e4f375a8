package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSyncMirrorPicksUpNewCommitsAndPrunes(t *testing.T) {
	ctx := context.Background()
	g := New()
	u := newUpstream(t, g, map[string]string{"a.txt": "one\n"})
	git(t, g, u.work, "push", "--quiet", "origin", "HEAD:refs/heads/old-feature")
	mirror := filepath.Join(t.TempDir(), "mirrors", "demo.git")

	if err := g.SyncMirror(ctx, u.bare, mirror); err != nil {
		t.Fatal(err)
	}
	first := git(t, g, u.work, "rev-parse", "HEAD")
	if got, err := g.ResolveRef(ctx, mirror, "main"); err != nil || got != first {
		t.Fatalf("mirror main = %q, %v; want %s", got, err, first)
	}
	if url := git(t, g, "", "--git-dir="+mirror, "config", "remote.origin.url"); url != u.bare {
		t.Errorf("mirror origin = %q, want %q", url, u.bare)
	}

	second := u.commit(t, g, "second", map[string]string{"a.txt": "two\n"})
	git(t, g, u.work, "push", "--quiet", "origin", ":refs/heads/old-feature")
	if err := g.SyncMirror(ctx, u.bare, mirror); err != nil {
		t.Fatal(err)
	}
	if got, err := g.ResolveRef(ctx, mirror, "main"); err != nil || got != second {
		t.Fatalf("after sync mirror main = %q, %v; want %s", got, err, second)
	}
	if _, err := g.ResolveRef(ctx, mirror, "refs/heads/old-feature"); !errors.Is(err, ErrRefNotFound) {
		t.Errorf("deleted branch still in mirror: %v", err)
	}
	if leftovers, _ := filepath.Glob(mirror + ".clone-*"); len(leftovers) != 0 {
		t.Errorf("clone temp dirs left: %v", leftovers)
	}
}

func TestSyncMirrorFollowsChangedRemote(t *testing.T) {
	ctx := context.Background()
	g := New()
	a := newUpstream(t, g, map[string]string{"a.txt": "a\n"})
	b := newUpstream(t, g, map[string]string{"b.txt": "b\n"})
	mirror := filepath.Join(t.TempDir(), "m.git")
	if err := g.SyncMirror(ctx, a.bare, mirror); err != nil {
		t.Fatal(err)
	}
	if err := g.SyncMirror(ctx, b.bare, mirror); err != nil {
		t.Fatal(err)
	}
	want := git(t, g, b.work, "rev-parse", "HEAD")
	if got, _ := g.ResolveRef(ctx, mirror, "main"); got != want {
		t.Errorf("mirror main = %s, want the new remote's %s", got, want)
	}
}

func TestSyncMirrorRefusesADirectoryThatIsNotAMirror(t *testing.T) {
	g := New()
	u := newUpstream(t, g, map[string]string{"a.txt": "a\n"})
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"notes.txt": "mine"})
	err := g.SyncMirror(context.Background(), u.bare, dir)
	if !errors.Is(err, ErrNotMirror) {
		t.Fatalf("err = %v, want ErrNotMirror", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, "notes.txt")); statErr != nil {
		t.Errorf("the directory was touched: %v", statErr)
	}
}

func TestSyncMirrorWaitsForTheLock(t *testing.T) {
	g := New()
	u := newUpstream(t, g, map[string]string{"a.txt": "a\n"})
	mirror := filepath.Join(t.TempDir(), "m.git")
	unlock, err := LockMirror(context.Background(), mirror)
	if err != nil {
		t.Fatal(err)
	}
	// The lock is held for the whole deadline, so the sync must give up.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = g.SyncMirror(ctx, u.bare, mirror)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "another job holds it") {
		t.Fatalf("sync under a held lock: %v", err)
	}
	if _, statErr := os.Stat(mirror); !os.IsNotExist(statErr) {
		t.Errorf("mirror was created while the lock was held")
	}
	unlock()
	if err := g.SyncMirror(context.Background(), u.bare, mirror); err != nil {
		t.Fatalf("sync after unlock: %v", err)
	}
}

func TestConcurrentSyncsOfOneMirror(t *testing.T) {
	g := New()
	u := newUpstream(t, g, map[string]string{"a.txt": "a\n"})
	mirror := filepath.Join(t.TempDir(), "m.git")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = g.SyncMirror(context.Background(), u.bare, mirror) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("sync %d: %v", i, err)
		}
	}
	git(t, g, "", "--git-dir="+mirror, "fsck", "--no-progress")
}

func TestSyncMirrorRefusesCredentialsInTheURL(t *testing.T) {
	g := New()
	for _, remote := range []string{
		"https://user:hunter2-secret@example.com/r.git",
		"https://ghp_tokenlookingthing@example.com/r.git",
		"-uhack",
	} {
		err := g.SyncMirror(context.Background(), remote, filepath.Join(t.TempDir(), "m.git"))
		if err == nil {
			t.Fatalf("%s: accepted", remote)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "ghp_") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}
