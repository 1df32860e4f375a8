package gitops

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestPushToALocalBareRepository(t *testing.T) {
	ctx := context.Background()
	g := New()
	f := newPatchFixture(t, g)
	target := filepath.Join(t.TempDir(), "target.git")
	if err := g.InitBare(ctx, target, "main"); err != nil {
		t.Fatal(err)
	}
	sha, err := g.CommitPatch(ctx, f.mirror, f.base, f.diff, testCommitInfo())
	if err != nil {
		t.Fatal(err)
	}
	const branch = "patchgit/abc123-fix-greeting"
	if _, ok, err := g.RemoteBranch(ctx, target, branch); err != nil || ok {
		t.Fatalf("branch before push: ok=%v err=%v", ok, err)
	}
	if err := g.Push(ctx, f.mirror, target, sha, branch, PushOpts{}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := g.RemoteBranch(ctx, target, branch)
	if err != nil || !ok || got != sha {
		t.Fatalf("RemoteBranch = %q %v %v; want %s", got, ok, err, sha)
	}
	// A retry of the same push is a no-op success.
	if err := g.Push(ctx, f.mirror, target, sha, branch, PushOpts{}); err != nil {
		t.Fatalf("repeated push: %v", err)
	}
	// ls-remote patterns match tails; a branch named like our suffix must
	// not be mistaken for ours.
	if _, ok, _ := g.RemoteBranch(ctx, target, "fix-greeting"); ok {
		t.Errorf("RemoteBranch matched a tail of another branch")
	}
}

func TestPushRefusesWhatIsNotAFastForwardUnlessTheLeaseHolds(t *testing.T) {
	ctx := context.Background()
	g := New()
	f := newPatchFixture(t, g)
	target := filepath.Join(t.TempDir(), "target.git")
	if err := g.InitBare(ctx, target, "main"); err != nil {
		t.Fatal(err)
	}
	first, err := g.CommitPatch(ctx, f.mirror, f.base, f.diff, testCommitInfo())
	if err != nil {
		t.Fatal(err)
	}
	other := testCommitInfo()
	other.Message = "Another attempt"
	second, err := g.CommitPatch(ctx, f.mirror, f.base, f.diff, other)
	if err != nil {
		t.Fatal(err)
	}
	const branch = "patchgit/x"
	if err := g.Push(ctx, f.mirror, target, first, branch, PushOpts{}); err != nil {
		t.Fatal(err)
	}
	if err := g.Push(ctx, f.mirror, target, second, branch, PushOpts{}); !errors.Is(err, ErrPushRejected) {
		t.Fatalf("non-fast-forward push: %v", err)
	}
	stale := PushOpts{ForceWithLease: f.base}
	if err := g.Push(ctx, f.mirror, target, second, branch, stale); !errors.Is(err, ErrPushRejected) {
		t.Fatalf("push with a stale lease: %v", err)
	}
	if err := g.Push(ctx, f.mirror, target, second, branch, PushOpts{ForceWithLease: first}); err != nil {
		t.Fatalf("push with the right lease: %v", err)
	}
	if got, _, _ := g.RemoteBranch(ctx, target, branch); got != second {
		t.Errorf("branch = %s, want %s", got, second)
	}
}

func TestPushValidatesItsArguments(t *testing.T) {
	g := New()
	sha := "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name, remote, commit, branch string
		opt                          PushOpts
		want                         error
	}{
		{"bad branch", "/r.git", sha, "a..b", PushOpts{}, ErrBadBranchName},
		{"short sha", "/r.git", "0123456", "b", PushOpts{}, ErrBadObjectID},
		{"bad lease", "/r.git", sha, "b", PushOpts{ForceWithLease: "HEAD"}, ErrBadObjectID},
		{"option remote", "--receive-pack=evil", sha, "b", PushOpts{}, ErrBadArgument},
		{"token in URL", "https://tok@example.com/r.git", sha, "b", PushOpts{}, ErrCredentialsInURL},
		{"credentials to a path", "/r.git", sha, "b", PushOpts{Credentials: &Credentials{"u", "p"}}, ErrBadArgument},
		{"credentials over plain http", "http://example.com/r.git", sha, "b", PushOpts{Credentials: &Credentials{"u", "p"}}, ErrBadArgument},
		{"newline in token", "https://example.com/r.git", sha, "b", PushOpts{Credentials: &Credentials{"u", "p\nx"}}, ErrBadCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := g.Push(context.Background(), t.TempDir(), tc.remote, tc.commit, tc.branch, tc.opt)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
