package forge_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/forge"
	"github.com/patchgit/patchgit/internal/forge/giteatest"
	"github.com/patchgit/patchgit/internal/gitops"
)

const featureDiff = `diff --git a/feature.txt b/feature.txt
new file mode 100644
--- /dev/null
+++ b/feature.txt
@@ -0,0 +1 @@
+feature from PatchGit
`

// pushFeature pushes branch "feature" (one new file on main) to the Gitea
// repository through PatchGit's own git plumbing: a mirror fetched and a
// push made with the token through GIT_ASKPASS.
func pushFeature(t *testing.T, s giteatest.Server, repo string) {
	t.Helper()
	g := gitops.New()
	cred := &gitops.Credentials{Username: "x-access-token", Password: s.Token}
	mirror := filepath.Join(t.TempDir(), "mirror.git")
	if err := g.SyncMirrorAuth(ctx, s.CloneURL(repo), mirror, cred); err != nil {
		t.Fatal(err)
	}
	base, err := g.ResolveRef(ctx, mirror, "refs/heads/main")
	if err != nil {
		t.Fatal(err)
	}
	commit, err := g.CommitPatch(ctx, mirror, base, []byte(featureDiff), gitops.CommitInfo{
		AuthorName: "PatchGit Test", AuthorEmail: "t@example.com", Message: "feature\n", When: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Push(ctx, mirror, s.CloneURL(repo), commit, "feature", gitops.PushOpts{Credentials: cred}); err != nil {
		t.Fatal(err)
	}
}

func newGitea(t *testing.T, s giteatest.Server, repo, tokenEnv string) *forge.Gitea {
	return forge.NewGitea(map[string]forge.GiteaRepo{
		"app": {Owner: s.User, Name: repo, URL: s.URL, Token: forge.Token{Env: tokenEnv}, Version: s.Version},
	}, nil)
}

func TestGiteaOpensOnePRPerHeadAndUpdatesIt(t *testing.T) {
	s := giteatest.Need(t)
	repo := s.NewRepo(t, "forge")
	pushFeature(t, s, repo)
	t.Setenv("TEST_GITEA_TOKEN", s.Token)
	gt := newGitea(t, s, repo, "TEST_GITEA_TOKEN")

	req := forge.OpenRequest{Repo: "app", Title: "Add feature", Body: "body 1", Base: "main", Head: "feature",
		Draft: true, Labels: []string{"patchgit"}}
	pr, err := gt.OpenPR(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Number < 1 || pr.State != forge.StateOpen || !pr.Draft || pr.Title != "WIP: Add feature" ||
		pr.Head != "feature" || pr.Base != "main" || pr.Warning != "" || len(pr.Labels) != 1 || pr.Labels[0] != "patchgit" {
		t.Fatalf("opened %+v", pr)
	}
	again, err := gt.OpenPR(ctx, req)
	if err != nil || again.Number != pr.Number {
		t.Fatalf("second OpenPR = %+v, %v; want #%d again", again, err, pr.Number)
	}
	up, err := gt.UpdatePR(ctx, "app", pr.Number, "Add feature", "body 2")
	if err != nil || up.Body != "body 2" || up.Title != "WIP: Add feature" {
		t.Fatalf("UpdatePR = %+v, %v (a draft keeps its WIP prefix)", up, err)
	}
	prs := s.PRs(t, repo)
	if len(prs) != 1 || prs[0].Body != "body 2" {
		t.Fatalf("Gitea holds %d PRs, want one with body 2", len(prs))
	}
	if d := s.Diff(t, repo, int64(pr.Number)); !strings.Contains(d, "+feature from PatchGit") {
		t.Fatalf("PR diff:\n%s", d)
	}
	got, found, err := gt.FindPR(ctx, "app", "feature")
	if err != nil || !found || got.Number != pr.Number {
		t.Fatalf("FindPR = %+v %v %v", got, found, err)
	}
	closed, err := gt.Close(ctx, "app", pr.Number)
	if err != nil || closed.State != forge.StateClosed {
		t.Fatalf("Close = %+v, %v", closed, err)
	}
	if _, found, err := gt.FindPR(ctx, "app", "feature"); found || err != nil {
		t.Fatalf("a closed PR is still found as open (%v, %v)", found, err)
	}
}

func TestGiteaRefusalsSayWhatToDo(t *testing.T) {
	s := giteatest.Need(t)
	repo := s.NewRepo(t, "refuse")
	t.Setenv("TEST_GITEA_TOKEN", "0123456789abcdef0123456789abcdef01234567")
	gt := newGitea(t, s, repo, "TEST_GITEA_TOKEN")
	_, err := gt.OpenPR(ctx, forge.OpenRequest{Repo: "app", Title: "t", Base: "main", Head: "feature"})
	if !errors.Is(err, forge.ErrTokenRefused) || !strings.Contains(err.Error(), "TEST_GITEA_TOKEN") || strings.Contains(err.Error(), "0123456789abcdef") {
		t.Fatalf("wrong token: %v", err)
	}
	t.Setenv("TEST_GITEA_TOKEN", s.Token)
	_, err = gt.OpenPR(ctx, forge.OpenRequest{Repo: "app", Title: "t", Base: "main", Head: "never-pushed"})
	if err == nil || strings.Contains(err.Error(), s.Token) {
		t.Fatalf("a PR from a missing branch: %v", err)
	}
}
