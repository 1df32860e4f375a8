package core_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/core"
)

// publish sends text in cv, waits for Proposed, presses GO on the revision
// shown and waits for the end of the job.
func publish(t *testing.T, e *env, cv core.Conversation, text string) core.Proposal {
	t.Helper()
	p := sendAndSettle(t, e, cv, text)
	if p.State != core.StateProposed {
		t.Fatalf("state %s reason %q, want proposed", p.State, p.Reason)
	}
	if _, err := e.core.Go(ctx, "alice", p.ID, len(p.Revisions)); err != nil {
		t.Fatal(err)
	}
	return e.waitProposal(p.ID, func(p core.Proposal) bool {
		return p.State == core.StatePublished || p.State == core.StateFailed || p.State == core.StateDraft
	})
}

// One proposal, one branch, one PR: a later revision of a published
// proposal replaces the branch (force-with-lease) and updates the PR; a
// push to that branch by someone else is never overwritten.
func TestLaterRevisionUpdatesTheSameBranchAndPR(t *testing.T) {
	e := newEnv(t)
	cv := startConversation(t, e)
	p1 := publish(t, e, cv, makeDiff(t, e.bare, addNotes(t, "first\n")))
	if p1.State != core.StatePublished || p1.Pushed != git(t, e.bare, "rev-parse", p1.Branch) {
		t.Fatalf("rev 1: state %s reason %q pushed %s", p1.State, p1.Reason, p1.Pushed)
	}

	// A new message in the same conversation revises the published proposal.
	rev2 := makeDiff(t, e.bare, addNotes(t, "second\n"))
	p2 := sendAndSettle(t, e, cv, rev2)
	if p2.ID != p1.ID || len(p2.Revisions) != 2 || p2.State != core.StateProposed {
		t.Fatalf("revision: id %s (want %s) revisions %d state %s", p2.ID, p1.ID, len(p2.Revisions), p2.State)
	}
	plan := strings.Join(p2.Current().Plan, "\n")
	if !strings.Contains(plan, "updates pull request #1") || !strings.Contains(plan, "force-pushed with a lease") {
		t.Fatalf("the Proposed Execution does not say GO updates the PR:\n%s", plan)
	}
	if _, err := e.core.Go(ctx, "alice", p2.ID, 2); err != nil {
		t.Fatal(err)
	}
	p2 = e.waitProposal(p2.ID, func(p core.Proposal) bool { return p.State == core.StatePublished || p.State == core.StateFailed })
	if p2.State != core.StatePublished || p2.PR.Number != p1.PR.Number {
		t.Fatalf("rev 2: state %s reason %q pr %+v", p2.State, p2.Reason, p2.PR)
	}
	// git itself: the branch is one commit on main holding revision 2 only.
	if got := git(t, e.bare, "diff", "main", p2.Branch); got+"\n" != p2.Current().Diff {
		t.Fatalf("branch diff:\n%s\nwant:\n%s", got, p2.Current().Diff)
	}
	if n := git(t, e.bare, "rev-list", "--count", "main.."+p2.Branch); n != "1" {
		t.Fatalf("branch has %s commits over main, want 1", n)
	}
	prs, _ := e.core.PRs(ctx, "demo")
	if len(prs) != 1 || !strings.Contains(prs[0].Body, "revision 2") || !strings.Contains(prs[0].Body, "Prepared by PatchGit") {
		t.Fatalf("PRs %+v: want one, its body updated to revision 2", prs)
	}
	scores := fmt.Sprintf("- Risk: %d/100\n  - %s", p2.Current().Risk.Value, p2.Current().Risk.Factors[0])
	for _, want := range []string{"## Plan", "## Targets", "`NOTES.md`", "## Risk and confidence", scores, "## Checks run in the sandbox", "test ! -e BROKEN", "## Cost", "never merges"} {
		if !strings.Contains(prs[0].Body, want) {
			t.Errorf("PR body lacks %q:\n%s", want, prs[0].Body)
		}
	}
	msgs, _ := e.core.Messages(ctx, cv.ID)
	if last := msgs[len(msgs)-1].Text; !strings.HasPrefix(last, "Updated proposal") {
		t.Fatalf("last message %q", last)
	}

	// Someone else pushes to PatchGit's branch; revision 3 must not overwrite it.
	other := filepath.Join(t.TempDir(), "other")
	git(t, filepath.Dir(other), "clone", "-q", "-b", p2.Branch, e.bare, other)
	writeFile(t, filepath.Join(other, "THEIRS.md"), "theirs\n")
	git(t, other, "add", "-A")
	git(t, other, "-c", "user.name=O", "-c", "user.email=o@example.com", "commit", "-qm", "theirs")
	git(t, other, "push", "-q", "origin", "HEAD:"+p2.Branch)
	theirs := git(t, e.bare, "rev-parse", p2.Branch)

	p3 := sendAndSettle(t, e, cv, makeDiff(t, e.bare, addNotes(t, "third\n")))
	if p3.ID != p1.ID || p3.State != core.StateProposed {
		t.Fatalf("rev 3: id %s state %s", p3.ID, p3.State)
	}
	if _, err := e.core.Go(ctx, "alice", p3.ID, 3); err != nil {
		t.Fatal(err)
	}
	p3 = e.waitProposal(p3.ID, func(p core.Proposal) bool { return p.State == core.StatePublished || p.State == core.StateFailed })
	if p3.State != core.StateFailed || !strings.Contains(p3.Reason, "someone else pushed") {
		t.Fatalf("rev 3: state %s reason %q, want Failed because the branch moved", p3.State, p3.Reason)
	}
	if got := git(t, e.bare, "rev-parse", p3.Branch); got != theirs {
		t.Fatalf("their commit %s was overwritten by %s", theirs, got)
	}
	if got := branches(t, e.bare); !slices.Equal(got, []string{"main", p3.Branch}) {
		t.Fatalf("branches %v", got)
	}
}
