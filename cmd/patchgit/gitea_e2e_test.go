package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/forge/giteatest"
	"github.com/patchgit/patchgit/internal/rpc"
)

// The real binary against the real Gitea: the daemon is killed with
// SIGKILL right after the push is journaled, restarted, and Gitea's own API
// must then show exactly one PR with the reviewed diff; a second GO on the
// same revision changes nothing.
func TestE2EGiteaKill9BetweenPushAndPRGivesOnePR(t *testing.T) {
	requireTools(t, "git")
	s := giteatest.Need(t)
	repo := s.NewRepo(t, "e2e")
	data := t.TempDir()
	conf := fmt.Sprintf(`repos:
  - name: app
    url: %s
    forge: gitea
    token_env: TEST_GITEA_TOKEN
    forge_version: %s
    checks: ["test -f README.md"]
`, s.CloneURL(repo), s.Version)
	if err := os.WriteFile(filepath.Join(data, "patchgit.yaml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenEnv := "TEST_GITEA_TOKEN=" + s.Token
	d := startDaemon(t, data, "PATCHGIT_PIN="+testPIN, "PATCHGIT_FAULT_KILL_AFTER=push", tokenEnv)

	diff := demoDiff(t, s.AuthURL(repo), func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, "HELLO.md"), []byte("hello from the e2e test\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	ctx := context.Background()
	cl, err := rpc.Dial(ctx, filepath.Join(data, socketFile), "e2e")
	if err != nil {
		t.Fatal(err)
	}
	p, err := cl.Propose(ctx, "alice", "app", diff)
	if err != nil {
		t.Fatal(err)
	}
	p = waitState(t, cl, p.ID, core.StateProposed)
	if _, err := cl.Go(ctx, "alice", p.ID, 1); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	d.waitExit(3 * time.Minute)
	if _, _, err := s.Client(t).GetRepoBranch(s.User, repo, p.Branch); err != nil {
		t.Fatalf("after the kill: branch %s is not on Gitea: %v\n%s", p.Branch, err, d.logs.String())
	}
	if n := len(s.PRs(t, repo)); n != 0 {
		t.Fatalf("%d PRs although the daemon died before opening one", n)
	}

	d = startDaemon(t, data, tokenEnv) // no fault: the job resumes from its journal
	cl, err = rpc.Dial(ctx, filepath.Join(data, socketFile), "e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	p = waitState(t, cl, p.ID, core.StatePublished)
	again, err := cl.Go(ctx, "alice", p.ID, 1)
	if err != nil || again.ID != p.JobID {
		t.Fatalf("second GO: job %s err %v, want the first job %s", again.ID, err, p.JobID)
	}
	prs := s.PRs(t, repo)
	if len(prs) != 1 || prs[0].Head.Ref != p.Branch || int(prs[0].Index) != p.PR.Number {
		t.Fatalf("Gitea holds %d PRs, want exactly one from %s:\n%s", len(prs), p.Branch, d.logs.String())
	}
	if got := s.Diff(t, repo, prs[0].Index); !strings.Contains(got, "+hello from the e2e test") {
		t.Fatalf("PR diff:\n%s", got)
	}
	if strings.Contains(d.logs.String(), s.Token) {
		t.Fatal("the daemon's log holds the token")
	}
}

// waitState polls the daemon until the proposal reaches want; a Failed
// proposal or the deadline stops the test.
func waitState(t *testing.T, cl *rpc.Client, id string, want core.ProposalState) core.Proposal {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		p, err := cl.Proposal(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if p.State == want {
			return p
		}
		if p.State == core.StateFailed || time.Now().After(deadline) {
			t.Fatalf("proposal %s is %s (reason %q), want %s", id, p.State, p.Reason, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
