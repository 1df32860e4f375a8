package core_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/core"
)

var ctx = context.Background()

func startConversation(t *testing.T, e *env) core.Conversation {
	t.Helper()
	cv, err := e.core.StartConversation(ctx, "alice", "demo", "test")
	if err != nil {
		t.Fatal(err)
	}
	return cv
}

// sendAndSettle sends text and returns the proposal once drafting ended.
func sendAndSettle(t *testing.T, e *env, cv core.Conversation, text string) core.Proposal {
	t.Helper()
	m, err := e.core.Send(ctx, "alice", cv.ID, text)
	if err != nil {
		t.Fatal(err)
	}
	if m.ProposalID == "" {
		t.Fatalf("message %q made no proposal", text)
	}
	e.waitJobsIdle()
	p, err := e.core.Proposal(ctx, m.ProposalID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPastedDiffIsVerifiedPublishedOnGOAndNeverTwice(t *testing.T) {
	e := newEnv(t)
	cv := startConversation(t, e)
	diff := makeDiff(t, e.bare, addNotes(t, "# Notes\n\nHello from PatchGit.\n"))
	p := sendAndSettle(t, e, cv, "Add a notes file\n\n```diff\n"+diff+"```\n")

	if p.State != core.StateProposed {
		t.Fatalf("state = %s (reason %q), want proposed", p.State, p.Reason)
	}
	rev := p.Current()
	if !rev.Verified || len(rev.Checks) != 2 || !rev.Checks[0].Passed || !rev.Checks[1].Passed {
		t.Fatalf("revision not verified: %+v", rev.Checks)
	}
	if !slices.Equal(rev.Targets, []string{"NOTES.md"}) || !strings.Contains(rev.Diff, "+Hello from PatchGit.") {
		t.Fatalf("targets %v diff %q", rev.Targets, rev.Diff)
	}
	if rev.Risk == nil || rev.Confidence == nil {
		t.Fatal("a verified revision has no risk or confidence score")
	}
	if rev.CostMicros != nil {
		t.Fatal("cost must stay nil until a later stage computes it")
	}
	if got := branches(t, e.bare); !slices.Equal(got, []string{"main"}) {
		t.Fatalf("something was pushed before GO: %v", got)
	}

	job, err := e.core.Go(ctx, "alice", p.ID, rev.N)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.core.Go(ctx, "alice", p.ID, rev.N)
	if err != nil || again.ID != job.ID {
		t.Fatalf("second GO: job %s err %v, want the first job %s", again.ID, err, job.ID)
	}
	p = e.waitProposal(p.ID, func(p core.Proposal) bool { return p.State == core.StatePublished || p.State == core.StateFailed })
	if p.State != core.StatePublished || p.PR == nil {
		t.Fatalf("state %s reason %q", p.State, p.Reason)
	}
	// git itself says the branch holds exactly the diff on top of main.
	if got := git(t, e.bare, "diff", "main", p.Branch); got+"\n" != rev.Diff {
		t.Fatalf("branch diff:\n%s\nwant:\n%s", got, rev.Diff)
	}
	if n := git(t, e.bare, "rev-list", "--count", "main.."+p.Branch); n != "1" {
		t.Fatalf("branch has %s commits over main, want 1", n)
	}
	prs, err := e.core.PRs(ctx, "demo")
	if err != nil || len(prs) != 1 || prs[0].Head != p.Branch || prs[0].State != "open" {
		t.Fatalf("PRs = %+v, %v", prs, err)
	}
	jobs, _ := e.core.Jobs(ctx)
	executes := 0
	for _, j := range jobs {
		if j.Kind == core.JobExecute {
			executes++
		}
	}
	if executes != 1 {
		t.Fatalf("%d execute jobs, want 1", executes)
	}
	kinds := auditKinds(t, e.audit, p.ID)
	for _, want := range []string{"proposal.created", "proposal.proposed", "proposal.approved", "proposal.queued", "proposal.running", "proposal.published"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("audit lacks %s: %v", want, kinds)
		}
	}
	if r, err := e.core.VerifyAudit(ctx); err != nil || !r.OK {
		t.Fatalf("audit verify: %+v %v", r, err)
	}
	// main itself is untouched: PatchGit never merges.
	if n := git(t, e.bare, "rev-list", "--count", "main"); n != "1" {
		t.Fatalf("main has %s commits, want the seed only", n)
	}
}

func TestMalformedChangeIsAnsweredAndAuditedWithoutAProposal(t *testing.T) {
	e := newEnv(t)
	cv := startConversation(t, e)
	// The hunk header promises two lines; the body has one.
	m, err := e.core.Send(ctx, "alice", cv.ID, "```diff\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n```\n")
	if err != nil {
		t.Fatal(err)
	}
	if m.ProposalID != "" {
		t.Fatalf("a malformed diff made proposal %s", m.ProposalID)
	}
	msgs, _ := e.core.Messages(ctx, cv.ID)
	if last := msgs[len(msgs)-1]; last.Role != core.RoleAssistant || !strings.Contains(last.Text, "could not read") {
		t.Fatalf("reply %q", last.Text)
	}
	if !slices.Contains(auditKinds(t, e.audit, cv.ID), "message.rejected") {
		t.Fatal("no audit entry for the rejected message")
	}
	if ps, _ := e.core.Proposals(ctx, "", ""); len(ps) != 0 {
		t.Fatalf("proposals %v", ps)
	}
}

func TestBadInputStaysDraftPushesNothingAndIsAudited(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, text, reason string
	}{
		{"does not apply", "```diff\n" + "diff --git a/go.mod b/go.mod\n--- a/go.mod\n+++ b/go.mod\n@@ -1,1 +1,1 @@\n-module example.com/nothere\n+module example.com/x\n```\n", "go.mod"},
		{"failing check", "```diff\n" + makeDiff(t, e.bare, func(dir string) {
			writeFile(t, filepath.Join(dir, "ugly.go"), "package main\nfunc   ugly( ) {}\n")
		}) + "```\n", "gofmt"},
		{"path escape", "```diff\ndiff --git a/../evil b/../evil\nnew file mode 100644\n--- /dev/null\n+++ b/../evil\n@@ -0,0 +1 @@\n+x\n```\n", ".."},
		{"git dir", "```diff\ndiff --git a/.git/hooks/pre-commit b/.git/hooks/pre-commit\nnew file mode 100755\n--- /dev/null\n+++ b/.git/hooks/pre-commit\n@@ -0,0 +1 @@\n+echo owned\n```\n", ".git"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cv := startConversation(t, e)
			p := sendAndSettle(t, e, cv, tc.text)
			if p.State != core.StateDraft || p.Reason == "" {
				t.Fatalf("state %s reason %q, want draft with a reason", p.State, p.Reason)
			}
			if !strings.Contains(p.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", p.Reason, tc.reason)
			}
			msgs, err := e.core.Messages(ctx, cv.ID)
			if err != nil {
				t.Fatal(err)
			}
			last := msgs[len(msgs)-1]
			if last.Role != core.RoleAssistant || !strings.Contains(last.Text, "Draft") {
				t.Errorf("last chat message %q does not explain the Draft", last.Text)
			}
			if _, err := e.core.Go(ctx, "alice", p.ID, 1); err == nil {
				t.Fatal("GO on a Draft was accepted")
			}
			if kinds := auditKinds(t, e.audit, p.ID); !slices.Contains(kinds, "proposal.draft_failed") {
				t.Errorf("no audit entry for the failure: %v", kinds)
			}
		})
	}
	if got := branches(t, e.bare); !slices.Equal(got, []string{"main"}) {
		t.Fatalf("bad input pushed branches: %v", got)
	}
}

func TestGoIsRefusedUnlessProposedAndOnTheRevisionSeen(t *testing.T) {
	e := newEnv(t)
	cv := startConversation(t, e)
	p := sendAndSettle(t, e, cv, makeDiff(t, e.bare, addNotes(t, "one\n")))
	if p.State != core.StateProposed {
		t.Fatalf("state %s reason %q", p.State, p.Reason)
	}
	// A new message makes revision 2 and takes the proposal back to Draft.
	p2 := sendAndSettle(t, e, cv, makeDiff(t, e.bare, addNotes(t, "two\n")))
	if p2.ID != p.ID || len(p2.Revisions) != 2 {
		t.Fatalf("revise made %s with %d revisions", p2.ID, len(p2.Revisions))
	}
	_, err := e.core.Go(ctx, "alice", p.ID, 1)
	mustErrIs(t, err, core.ErrStaleRevision)
	if _, err := e.core.Go(ctx, "alice", "nope", 1); err == nil {
		t.Fatal("GO on an unknown proposal was accepted")
	}
	if err := e.core.Cancel(ctx, "alice", p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.core.Go(ctx, "alice", p.ID, 2)
	mustErrIs(t, err, core.ErrIllegalState)
	mustErrIs(t, e.core.Cancel(ctx, "alice", p.ID), core.ErrIllegalState)
	kinds := auditKinds(t, e.audit, p.ID)
	if !slices.Contains(kinds, "proposal.draft") || !slices.Contains(kinds, "proposal.cancelled") {
		t.Fatalf("audit %v", kinds)
	}
}

func TestResumeAfterCrashBetweenPushAndPRMakesOneBranchOnePR(t *testing.T) {
	e := newEnv(t)
	cv := startConversation(t, e)
	p := sendAndSettle(t, e, cv, makeDiff(t, e.bare, addNotes(t, "crash test\n")))
	if p.State != core.StateProposed {
		t.Fatalf("drafting ended in %s: %s", p.State, p.Reason)
	}
	crashed := make(chan struct{})
	e.fault = func(step string) error {
		if step == "push" {
			e.fault = nil
			close(crashed)
			return core.ErrAbandonJob
		}
		return nil
	}
	if _, err := e.core.Go(ctx, "alice", p.ID, 1); err != nil {
		t.Fatal(err)
	}
	<-crashed
	pushed := git(t, e.bare, "rev-parse", p.Branch)
	// The process "dies": reopen the store and start a fresh core.
	e.close()
	e.open()
	p = e.waitProposal(p.ID, func(p core.Proposal) bool { return p.State == core.StatePublished || p.State == core.StateFailed })
	if p.State != core.StatePublished {
		t.Fatalf("state %s reason %q", p.State, p.Reason)
	}
	if got := git(t, e.bare, "rev-parse", p.Branch); got != pushed {
		t.Fatalf("branch moved on resume: %s -> %s", pushed, got)
	}
	prs, _ := e.core.PRs(ctx, "demo")
	if len(prs) != 1 {
		t.Fatalf("%d PRs, want 1", len(prs))
	}
	j, err := e.core.Job(ctx, p.JobID)
	if err != nil {
		t.Fatal(err)
	}
	pushes := 0
	for _, s := range j.Journal {
		if s.Name == "push" && s.Phase == "started" {
			pushes++
		}
	}
	if pushes != 1 || j.Attempts != 2 {
		t.Fatalf("journal %+v attempts %d: want one push, two attempts", j.Journal, j.Attempts)
	}
}

func TestBaseMovedReverifiesOrReturnsToDraft(t *testing.T) {
	e := newEnv(t)
	cv := startConversation(t, e)
	p := sendAndSettle(t, e, cv, makeDiff(t, e.bare, addNotes(t, "mine\n")))
	if p.State != core.StateProposed {
		t.Fatalf("drafting ended in %s: %s", p.State, p.Reason)
	}
	// Someone else adds the same file on main: the patch no longer applies.
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
	if got := branches(t, e.bare); !slices.Equal(got, []string{"main"}) {
		t.Fatalf("pushed %v", got)
	}
}

func TestOfflineAssistantAnswersWithoutAProposal(t *testing.T) {
	e := newEnv(t)
	cv := startConversation(t, e)
	m, err := e.core.Send(ctx, "alice", cv.ID, "what can you do?")
	if err != nil || m.ProposalID != "" {
		t.Fatalf("message %+v err %v", m, err)
	}
	msgs, _ := e.core.Messages(ctx, cv.ID)
	if len(msgs) != 2 || msgs[1].Role != core.RoleAssistant || msgs[1].Text == "" {
		t.Fatalf("messages %+v", msgs)
	}
	_, err = e.core.Send(ctx, "alice", cv.ID, strings.Repeat("x", 2<<20))
	mustErrIs(t, err, core.ErrInputTooLarge)
	_, err = e.core.Send(ctx, "alice", cv.ID, "  \n")
	mustErrIs(t, err, core.ErrEmptyInput)
	ps, _ := e.core.Proposals(ctx, "demo", "")
	if len(ps) != 0 {
		t.Fatalf("proposals %v", ps)
	}
}

func TestConversationsSurviveRestart(t *testing.T) {
	e := newEnv(t)
	cv := startConversation(t, e)
	if _, err := e.core.Send(ctx, "alice", cv.ID, "hello"); err != nil {
		t.Fatal(err)
	}
	e.close()
	e.open()
	cvs, err := e.core.Conversations(ctx, "demo")
	if err != nil || len(cvs) != 1 || cvs[0].ID != cv.ID {
		t.Fatalf("conversations %+v %v", cvs, err)
	}
	msgs, _ := e.core.Messages(ctx, cv.ID)
	if len(msgs) != 2 || msgs[0].Text != "hello" || msgs[0].Seq != 1 || msgs[1].Seq != 2 {
		t.Fatalf("messages %+v", msgs)
	}
}
