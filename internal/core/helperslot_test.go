package core_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/demo"
	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/helper"
)

// Two repositories that need a helper, two jobs at once: the second job
// waits for the helper slot (its progress says so) instead of asking for
// a second helper, then runs when the first helper is gone; both drafts
// reach Proposed, and the two helpers never overlap.
func TestSecondJobWaitsForTheHelperSlot(t *testing.T) {
	helpers := withHelpers(t, core.HelperNeed{Required: true}, func(e *env) helper.Provider {
		return &helper.Local{Dir: filepath.Join(e.dir, "helpers")}
	})
	var otherBare string
	e := newEnvWith(t, func(e *env, o *core.Options) {
		helpers(e, o)
		otherBare = filepath.Join(e.dir, "repos", "other.git")
		if _, err := demo.Seed(context.Background(), gitops.New(), otherBare); err != nil {
			t.Fatal(err)
		}
		// The first repository's check holds the helper for a few seconds.
		o.Repos[0].Checks = []string{"if test -e SLOW; then sleep 4; fi"}
		other := o.Repos[0]
		other.Name, other.URL, other.MirrorDir = "other", otherBare, filepath.Join(e.dir, "mirrors", "other.git")
		other.Checks = []string{"test ! -e BROKEN"}
		o.Repos = append(o.Repos, other)
		o.Concurrency = 2
	})

	send := func(repo, bare string, edit func(string)) string {
		cv, err := e.core.StartConversation(ctx, "alice", repo, "test")
		if err != nil {
			t.Fatal(err)
		}
		m, err := e.core.Send(ctx, "alice", cv.ID, "Change it\n\n```diff\n"+makeDiff(t, bare, edit)+"```\n")
		if err != nil || m.ProposalID == "" {
			t.Fatalf("send to %s: %v (proposal %q)", repo, err, m.ProposalID)
		}
		return m.ProposalID
	}
	slow := send("demo", e.bare, func(dir string) { writeFile(t, filepath.Join(dir, "SLOW"), "x\n") })
	// The second job starts once the first holds the helper.
	for deadline := time.Now().Add(time.Minute); len(helperRecords(t, e.db)) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first job never acquired a helper")
		}
	}
	fast := send("other", otherBare, addNotes(t, "# Notes\n\nWaited for the slot.\n"))

	waited := ""
	for deadline := time.Now().Add(time.Minute); waited == ""; time.Sleep(10 * time.Millisecond) {
		jobs, err := e.core.Jobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.ProposalID == fast && strings.HasPrefix(j.Progress, "waiting for the helper slot") {
				waited = j.Progress
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the second job never said it waits for the helper slot")
		}
	}
	if !strings.Contains(waited, "runs for job") {
		t.Errorf("progress %q does not name the job holding the slot", waited)
	}
	e.waitJobsIdle()
	for _, id := range []string{slow, fast} {
		p, err := e.core.Proposal(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if p.State != core.StateProposed || p.Waiting != "" {
			t.Fatalf("proposal %s: state %s waiting %q reason %q, want Proposed without asking", p.Repo, p.State, p.Waiting, p.Reason)
		}
	}
	recs := helperRecords(t, e.db)
	if len(recs) != 2 || recs[0].State != helper.StateDestroyed || recs[1].State != helper.StateDestroyed {
		t.Fatalf("helper records %+v: want two, destroyed", recs)
	}
	first, second := recs[0], recs[1]
	if second.CreatedAt.Before(first.CreatedAt) {
		first, second = second, first
	}
	if second.CreatedAt.Before(first.DestroyedAt) {
		t.Fatalf("the helpers overlapped: %s destroyed at %s, %s intended at %s", first.Name, first.DestroyedAt, second.Name, second.CreatedAt)
	}
}
