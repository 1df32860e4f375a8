// Package giteatest connects tests to the real Gitea that scripts/gitea.sh
// starts (CI runs it from .ci/run). PATCHGIT_TEST_GITEA names the env file
// the script wrote. Without it a test skips locally, and fails under
// CI=true: there a missing Gitea is a broken CI, not a reason to pass.
package giteatest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"code.gitea.io/sdk/gitea"
)

// EnvVar names the env file written by `scripts/gitea.sh start DIR`.
const EnvVar = "PATCHGIT_TEST_GITEA"

// Server is a running Gitea with an admin user and its token.
type Server struct {
	URL     string // http://127.0.0.1:PORT
	Version string // the real version (a source build reports "development")
	User    string
	Token   string
}

// Need returns the running Gitea, or skips (fails under CI=true).
func Need(t testing.TB) Server {
	t.Helper()
	path := os.Getenv(EnvVar)
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: .ci/run must start Gitea with scripts/gitea.sh", EnvVar)
		}
		t.Skipf("no Gitea: run `scripts/gitea.sh start /tmp/gitea` and set %s=/tmp/gitea/gitea.env", EnvVar)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", EnvVar, err)
	}
	defer f.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			vals[k] = v
		}
	}
	s := Server{URL: vals["GITEA_URL"], Version: vals["GITEA_VERSION"], User: vals["GITEA_USER"], Token: vals["GITEA_TOKEN"]}
	if s.URL == "" || s.Token == "" || s.User == "" {
		t.Fatalf("%s (%s) lacks GITEA_URL, GITEA_USER or GITEA_TOKEN", EnvVar, path)
	}
	return s
}

// Client is an SDK client as the admin user.
func (s Server) Client(t testing.TB) *gitea.Client {
	t.Helper()
	c, err := gitea.NewClient(s.URL, gitea.SetToken(s.Token), gitea.SetGiteaVersion(s.Version))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewRepo creates a private repository with a README on main, named
// prefix-<random> so tests never share state, and returns its name.
func (s Server) NewRepo(t testing.TB, prefix string) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	name := prefix + "-" + hex.EncodeToString(b[:])
	_, _, err := s.Client(t).CreateRepo(gitea.CreateRepoOption{Name: name, Private: true, AutoInit: true,
		Readme: "Default", DefaultBranch: "main"})
	if err != nil {
		t.Fatalf("create repository %s: %v", name, err)
	}
	return name
}

// CloneURL is the https-less loopback clone URL of a repository, without
// credentials (what PatchGit is configured with).
func (s Server) CloneURL(repo string) string {
	return s.URL + "/" + s.User + "/" + repo + ".git"
}

// AuthURL carries the token in the URL: for the tests' own git commands
// only, never for PatchGit (which refuses such URLs).
func (s Server) AuthURL(repo string) string {
	u, _ := url.Parse(s.CloneURL(repo))
	u.User = url.UserPassword(s.User, s.Token)
	return u.String()
}

// PRs lists every PR of a repository (any state) through the API.
func (s Server) PRs(t testing.TB, repo string) []*gitea.PullRequest {
	t.Helper()
	ps, _, err := s.Client(t).ListRepoPullRequests(s.User, repo, gitea.ListPullRequestsOptions{
		ListOptions: gitea.ListOptions{Page: 1, PageSize: 50}, State: gitea.StateAll})
	if err != nil {
		t.Fatalf("list pull requests of %s: %v", repo, err)
	}
	return ps
}

// Diff is a PR's diff as Gitea computes it.
func (s Server) Diff(t testing.TB, repo string, number int64) string {
	t.Helper()
	d, _, err := s.Client(t).GetPullRequestDiff(s.User, repo, number, gitea.PullRequestDiffOptions{})
	if err != nil {
		t.Fatalf("diff of %s#%d: %v", repo, number, err)
	}
	return string(d)
}
