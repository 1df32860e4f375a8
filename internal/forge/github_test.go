package forge_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/forge"
	"github.com/patchgit/patchgit/internal/forge/githubfake"
)

const (
	ghToken     = "ghp_test_7f3c9a1e5b2d4f60SECRET"
	ghReadToken = "ghp_read_only_0a9b8c7d6e5fSECRET"
)

var ctx = context.Background()

// newGitHub serves acme/app (backed by a bare repo with branch feature)
// and returns a forge reading its token from an environment variable.
func newGitHub(t *testing.T, token string) (*githubfake.Server, *forge.GitHub) {
	t.Helper()
	fake := githubfake.New()
	t.Cleanup(fake.Close)
	fake.AddToken(ghToken, true)
	fake.AddToken(ghReadToken, false)
	fake.AddRepo("acme/app", bareWithBranches(t, "feature", "other"))
	t.Setenv("TEST_GITHUB_TOKEN", token)
	gh := forge.NewGitHub(map[string]forge.GitHubRepo{
		"app":     {Owner: "acme", Name: "app", APIURL: fake.URL, Token: forge.Token{Env: "TEST_GITHUB_TOKEN"}},
		"missing": {Owner: "acme", Name: "gone", APIURL: fake.URL, Token: forge.Token{Env: "TEST_GITHUB_TOKEN"}},
	}, fake.Client())
	return fake, gh
}

func TestGitHubOpensOnePRPerHeadAndUpdatesIt(t *testing.T) {
	fake, gh := newGitHub(t, ghToken)
	req := forge.OpenRequest{Repo: "app", Title: "Add feature", Body: "body 1", Base: "main", Head: "feature",
		Draft: true, Labels: []string{"patchgit", "bot"}}
	pr, err := gh.OpenPR(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Number != 1 || pr.State != forge.StateOpen || !pr.Draft || pr.Head != "feature" || pr.Base != "main" ||
		!slices.Equal(pr.Labels, []string{"patchgit", "bot"}) || !strings.HasSuffix(pr.URL, "/acme/app/pull/1") || pr.Warning != "" {
		t.Fatalf("opened %+v", pr)
	}
	again, err := gh.OpenPR(ctx, req)
	if err != nil || again.Number != pr.Number {
		t.Fatalf("second OpenPR = %+v, %v; want #%d again", again, err, pr.Number)
	}
	found, ok, err := gh.FindPR(ctx, "app", "feature")
	if err != nil || !ok || found.Number != 1 {
		t.Fatalf("FindPR = %+v %v %v", found, ok, err)
	}
	if _, ok, err := gh.FindPR(ctx, "app", "other"); ok || err != nil {
		t.Fatalf("FindPR(other) found=%v err=%v, want none", ok, err)
	}
	up, err := gh.UpdatePR(ctx, "app", 1, "Add feature (rev 2)", "body 2")
	if err != nil || up.Body != "body 2" || up.Title != "Add feature (rev 2)" {
		t.Fatalf("UpdatePR = %+v, %v", up, err)
	}
	pulls := fake.Pulls("acme/app")
	if len(pulls) != 1 || pulls[0].Body != "body 2" || !pulls[0].Draft || pulls[0].Merged {
		t.Fatalf("GitHub holds %+v, want one open draft with body 2", pulls)
	}
	got, err := gh.GetPR(ctx, "app", 1)
	if err != nil || got.Body != "body 2" {
		t.Fatalf("GetPR = %+v, %v", got, err)
	}
	if _, err := gh.GetPR(ctx, "app", 7); !errors.Is(err, forge.ErrTokenScope) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("GetPR(7) err = %v, want a 404 explained", err)
	}
}

// A crash after GitHub created the PR, with a list that does not show it
// yet: the create answers 422 "A pull request already exists", and OpenPR
// returns the existing PR instead of failing or opening a second.
func TestGitHub422AlreadyExistsIsAnsweredByTheExistingPR(t *testing.T) {
	fake, gh := newGitHub(t, ghToken)
	req := forge.OpenRequest{Repo: "app", Title: "t", Body: "b", Base: "main", Head: "feature"}
	if _, err := gh.OpenPR(ctx, req); err != nil {
		t.Fatal(err)
	}
	fake.LagLists(1)
	pr, err := gh.OpenPR(ctx, req)
	if err != nil || pr.Number != 1 {
		t.Fatalf("OpenPR after the lag = %+v, %v", pr, err)
	}
	if n := len(fake.Pulls("acme/app")); n != 1 {
		t.Fatalf("%d PRs, want 1", n)
	}
	posts := 0
	for _, r := range fake.Requests() {
		if strings.HasPrefix(r, "POST /repos/acme/app/pulls") {
			posts++
		}
	}
	if posts != 2 {
		t.Fatalf("%d creates, want 2 (the second refused with 422): %v", posts, fake.Requests())
	}
}

func TestGitHubRefusalsSayWhatToDo(t *testing.T) {
	req := forge.OpenRequest{Repo: "app", Title: "t", Body: "b", Base: "main", Head: "feature"}
	t.Run("wrong token", func(t *testing.T) {
		_, gh := newGitHub(t, "ghp_expired_1234567890SECRET")
		_, err := gh.OpenPR(ctx, req)
		if !errors.Is(err, forge.ErrTokenRefused) || !strings.Contains(err.Error(), "TEST_GITHUB_TOKEN") ||
			!strings.Contains(err.Error(), "Bad credentials") || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("read-only token", func(t *testing.T) {
		fake, gh := newGitHub(t, ghReadToken)
		_, err := gh.OpenPR(ctx, req)
		if !errors.Is(err, forge.ErrTokenScope) || !strings.Contains(err.Error(), "pull_requests=write") || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("err = %v", err)
		}
		if n := len(fake.Pulls("acme/app")); n != 0 {
			t.Fatalf("%d PRs opened with a read-only token", n)
		}
	})
	t.Run("no token", func(t *testing.T) {
		_, gh := newGitHub(t, "")
		_, err := gh.OpenPR(ctx, req)
		if !errors.Is(err, forge.ErrNoToken) || !strings.Contains(err.Error(), "environment variable TEST_GITHUB_TOKEN is empty") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown repository", func(t *testing.T) {
		_, gh := newGitHub(t, ghToken)
		r := req
		r.Repo = "missing"
		_, err := gh.OpenPR(ctx, r)
		if !errors.Is(err, forge.ErrTokenScope) || !strings.Contains(err.Error(), "acme/gone") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("head not pushed", func(t *testing.T) {
		_, gh := newGitHub(t, ghToken)
		r := req
		r.Head = "never-pushed"
		_, err := gh.OpenPR(ctx, r)
		if !errors.Is(err, forge.ErrForgeAPI) || !strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), "head is invalid") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestGitHubMergesOnlyWhenAskedAndReportsARefusal(t *testing.T) {
	fake, gh := newGitHub(t, ghToken)
	pr, err := gh.OpenPR(ctx, forge.OpenRequest{Repo: "app", Title: "t", Body: "b", Base: "main", Head: "feature"})
	if err != nil {
		t.Fatal(err)
	}
	if fake.Pulls("acme/app")[0].Merged {
		t.Fatal("opening merged")
	}
	fake.SetMergeable("acme/app", pr.Number, false)
	if _, err := gh.Merge(ctx, "app", pr.Number); !errors.Is(err, forge.ErrMergeConflict) {
		t.Fatalf("merge of an unmergeable PR: %v", err)
	}
	fake.SetMergeable("acme/app", pr.Number, true)
	merged, err := gh.Merge(ctx, "app", pr.Number)
	if err != nil || merged.State != forge.StateMerged {
		t.Fatalf("merge = %+v, %v", merged, err)
	}
	list, err := gh.List(ctx, "app")
	if err != nil || len(list) != 1 || list[0].State != forge.StateMerged {
		t.Fatalf("list = %+v, %v", list, err)
	}
}
