package core_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"code.gitea.io/sdk/gitea"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/forge"
	"github.com/patchgit/patchgit/internal/forge/giteatest"
	"github.com/patchgit/patchgit/internal/gitops"
)

// newGiteaEnv is a core whose repository "demo" is a fresh private
// repository on the real Gitea of scripts/gitea.sh: fetched and pushed over
// HTTP with the token through GIT_ASKPASS, PRs through Gitea's API.
// e.bare is a credentialed URL for the tests' own git commands.
func newGiteaEnv(t *testing.T) (*env, giteatest.Server, string) {
	t.Helper()
	s := giteatest.Need(t)
	repo := s.NewRepo(t, "core")
	t.Setenv("TEST_GITEA_TOKEN", s.Token)
	token := forge.Token{Env: "TEST_GITEA_TOKEN"}
	e := &env{t: t, dir: t.TempDir(), bare: s.AuthURL(repo)}
	e.configure = func(o *core.Options) {
		o.Forges = map[string]forge.Forge{"gitea": forge.NewGitea(map[string]forge.GiteaRepo{
			"demo": {Owner: s.User, Name: repo, URL: s.URL, Token: token, Version: s.Version}}, nil)}
		o.Repos = []core.RepoSpec{{
			Repo:      core.Repo{Name: "demo", BaseBranch: "main", Forge: "gitea", Checks: []string{"test -f README.md"}},
			URL:       s.CloneURL(repo),
			MirrorDir: filepath.Join(e.dir, "mirrors", "demo.git"),
			Auth: func() (*gitops.Credentials, error) {
				tok, err := token.Value()
				if err != nil {
					return nil, err
				}
				return &gitops.Credentials{Username: "x-access-token", Password: tok}, nil
			},
			Labels: []string{"patchgit"},
		}}
	}
	e.open()
	t.Cleanup(e.close)
	return e, s, repo
}

func TestGiteaGOPublishesOnePRThroughRetriesCrashesAndRevisions(t *testing.T) {
	e, s, repo := newGiteaEnv(t)
	cv := startConversation(t, e)
	p := sendAndSettle(t, e, cv, makeDiff(t, e.bare, addNotes(t, "first\n")))
	if p.State != core.StateProposed {
		t.Fatalf("state %s reason %q", p.State, p.Reason)
	}
	// The process dies right after the push is journaled, before the PR.
	crashed := make(chan struct{})
	e.fault = func(step string) error {
		if step == "push" {
			e.fault = nil
			close(crashed)
			return core.ErrAbandonJob
		}
		return nil
	}
	job, err := e.core.Go(ctx, "alice", p.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := e.core.Go(ctx, "alice", p.ID, 1); err != nil || again.ID != job.ID {
		t.Fatalf("second GO: %s %v, want job %s", again.ID, err, job.ID)
	}
	<-crashed
	if n := len(s.PRs(t, repo)); n != 0 {
		t.Fatalf("%d PRs before the PR step", n)
	}
	e.close()
	e.open()
	p = e.waitProposal(p.ID, func(p core.Proposal) bool { return p.State == core.StatePublished || p.State == core.StateFailed })
	if p.State != core.StatePublished {
		t.Fatalf("after the restart: state %s reason %q", p.State, p.Reason)
	}
	prs := s.PRs(t, repo)
	if len(prs) != 1 || prs[0].Head.Ref != p.Branch || prs[0].Base.Ref != "main" || int(prs[0].Index) != p.PR.Number {
		t.Fatalf("Gitea holds %d PRs (%+v), want exactly one from %s", len(prs), prs, p.Branch)
	}
	if len(prs[0].Labels) != 1 || prs[0].Labels[0].Name != "patchgit" {
		t.Fatalf("labels %+v", prs[0].Labels)
	}
	if d := s.Diff(t, repo, prs[0].Index); !strings.Contains(d, "+first") || !strings.Contains(d, "NOTES.md") {
		t.Fatalf("PR diff:\n%s", d)
	}

	// The token never landed in the mirror's config, the audit log or a message.
	cfg, err := os.ReadFile(filepath.Join(e.dir, "mirrors", "demo.git", "config"))
	if err != nil || strings.Contains(string(cfg), s.Token) {
		t.Fatalf("mirror config (%v) holds the token:\n%s", err, cfg)
	}
	entries, _ := e.core.Audit(ctx, 0, 0)
	for _, en := range entries {
		for _, v := range en.Data {
			if strings.Contains(v, s.Token) {
				t.Fatalf("audit entry %s holds the token", en.Kind)
			}
		}
	}

	// A later revision updates the same branch and PR.
	p2 := publish(t, e, cv, makeDiff(t, e.bare, addNotes(t, "second\n")))
	if p2.ID != p.ID || p2.State != core.StatePublished || p2.PR.Number != p.PR.Number {
		t.Fatalf("revision 2: id %s state %s reason %q pr %+v", p2.ID, p2.State, p2.Reason, p2.PR)
	}
	prs = s.PRs(t, repo)
	if len(prs) != 1 || !strings.Contains(prs[0].Body, "revision 2") {
		t.Fatalf("Gitea holds %d PRs, want one with revision 2 in its body", len(prs))
	}
	if d := s.Diff(t, repo, prs[0].Index); !strings.Contains(d, "+second") || strings.Contains(d, "+first") {
		t.Fatalf("PR diff after revision 2:\n%s", d)
	}
	msgs, _ := e.core.Messages(ctx, cv.ID)
	for _, m := range msgs {
		if strings.Contains(m.Text, s.Token) {
			t.Fatal("a chat message holds the token")
		}
	}
}

func TestGiteaMovedBaseReverifiesOrPushesNothing(t *testing.T) {
	e, s, repo := newGiteaEnv(t)
	// A conflicting commit on main after the proposal: nothing is pushed.
	cv := startConversation(t, e)
	p := sendAndSettle(t, e, cv, makeDiff(t, e.bare, addNotes(t, "mine\n")))
	pushToMain(t, e.bare, addNotes(t, "theirs\n"))
	if _, err := e.core.Go(ctx, "alice", p.ID, 1); err != nil {
		t.Fatal(err)
	}
	p = e.waitProposal(p.ID, func(p core.Proposal) bool {
		return p.State == core.StateDraft || p.State == core.StateFailed || p.State == core.StatePublished
	})
	if p.State != core.StateDraft || !strings.Contains(p.Reason, "moved") {
		t.Fatalf("state %s reason %q, want Draft because the base moved", p.State, p.Reason)
	}
	branches, _, err := s.Client(t).ListRepoBranches(s.User, repo, gitea.ListRepoBranchesOptions{})
	if err != nil || len(branches) != 1 || branches[0].Name != "main" {
		t.Fatalf("branches on Gitea: %d (%v), want main only", len(branches), err)
	}

	// A commit elsewhere on main: the PR is built on the new main.
	cv2, err := e.core.StartConversation(ctx, "alice", "demo", "second")
	if err != nil {
		t.Fatal(err)
	}
	p2 := sendAndSettle(t, e, cv2, makeDiff(t, e.bare, func(dir string) { writeFile(t, filepath.Join(dir, "OTHER.md"), "other\n") }))
	pushToMain(t, e.bare, func(dir string) { writeFile(t, filepath.Join(dir, "UNRELATED.md"), "unrelated\n") })
	if _, err := e.core.Go(ctx, "alice", p2.ID, 1); err != nil {
		t.Fatal(err)
	}
	p2 = e.waitProposal(p2.ID, func(p core.Proposal) bool {
		return p.State == core.StatePublished || p.State == core.StateFailed || p.State == core.StateDraft
	})
	if p2.State != core.StatePublished {
		t.Fatalf("state %s reason %q, want Published on the new base", p2.State, p2.Reason)
	}
	clone := filepath.Join(t.TempDir(), "check")
	if out, err := exec.Command("git", "clone", "-q", e.bare, clone).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	if parent, main := git(t, clone, "rev-parse", "origin/"+p2.Branch+"^"), git(t, clone, "rev-parse", "origin/main"); parent != main {
		t.Fatalf("the PR commit's parent is %s, want the new main %s", parent, main)
	}
	msgs, _ := e.core.Messages(ctx, cv2.ID)
	if last := msgs[len(msgs)-1].Text; !strings.Contains(last, "re-verified there") {
		t.Fatalf("the chat does not say the base moved: %q", last)
	}
	prs := s.PRs(t, repo)
	if len(prs) != 1 {
		t.Fatalf("%d PRs, want 1", len(prs))
	}
	if d := s.Diff(t, repo, prs[0].Index); !strings.Contains(d, "+other") || strings.Contains(d, "UNRELATED") {
		t.Fatalf("PR diff:\n%s", d)
	}
}
