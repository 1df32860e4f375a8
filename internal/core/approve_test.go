package core_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
)

// waitingDraft sends a change whose sandbox verify ($0.01, the first
// metered slice) does not fit the $0.005 hourly cap: it waits for approval.
func waitingDraft(t *testing.T) (*env, *budget.Ledger, core.Proposal) {
	t.Helper()
	e, ledger := pricedEnv(t, 5_000, true)
	cv := startConversation(t, e)
	p := sendAndSettle(t, e, cv, "```diff\n"+makeDiff(t, e.bare, addNotes(t, "# Notes\n\nWaited.\n"))+"```\n")
	if p.State != core.StateDraft || p.Waiting != core.WaitingApproval || p.Awaiting == nil {
		t.Fatalf("proposal %s waiting %q: %s", p.State, p.Waiting, p.Reason)
	}
	if a := p.Awaiting; a.What != "the sandbox verify" || a.CostMicros != 10_000 || a.ApproveMicros != 11_000 || len(a.Why) == 0 {
		t.Fatalf("the request %+v: want the verify's first slice, $0.01, and $0.011 with the margin", a)
	}
	return e, ledger, p
}

func jobCount(t *testing.T, e *env) int {
	t.Helper()
	jobs, err := e.core.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return len(jobs)
}

func TestApproveSpendRedraftsUnderTheApprovalAndReachesProposed(t *testing.T) {
	e, ledger, p := waitingDraft(t)
	got, err := e.core.DecideSpend(ctx, "alice", p.ID, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Waiting != core.WaitingNone || got.Awaiting != nil || got.JobID == p.JobID {
		t.Fatalf("after approval: waiting %q awaiting %+v job %s (was %s)", got.Waiting, got.Awaiting, got.JobID, p.JobID)
	}
	job, err := e.core.Job(ctx, got.JobID)
	if err != nil || job.Kind != core.JobDraft || job.Revision != 1 || !job.SpendApproved {
		t.Fatalf("queued job %+v %v: want a draft of revision 1 under the approval", job, err)
	}
	// A double press changes nothing and names the same job.
	again, err := e.core.DecideSpend(ctx, "alice", p.ID, 1, true)
	if err != nil || again.JobID != got.JobID {
		t.Fatalf("second approve: job %s %v, want %s", again.JobID, err, got.JobID)
	}
	p = e.waitProposal(p.ID, func(p core.Proposal) bool {
		return p.State != core.StateDraft || p.Waiting != core.WaitingNone || p.Reason != ""
	})
	if p.State != core.StateProposed {
		t.Fatalf("proposal %s waiting %q: %s", p.State, p.Waiting, p.Reason)
	}
	e.waitJobsIdle()
	if _, err := e.core.DecideSpend(ctx, "alice", p.ID, 1, true); err != nil {
		t.Fatalf("a late second approve must be harmless: %v", err)
	}

	st := status(t, e)
	if st.Hour.Spent != 10_000 || st.Hour.Reserved != 0 || len(st.Recent) != 1 || !st.Recent[0].Approved || st.Recent[0].Proposal != p.ID {
		t.Fatalf("ledger %+v: want one $0.01 spend under the approval", st)
	}
	if over := st.Hour.Spent - st.Hour.Cap; over > 11_000 {
		t.Fatalf("spent %s over the cap, more than the $0.011 approved", over)
	}
	a, ok, err := ledger.Approval(p.ID)
	if err != nil || !ok || a.Amount != 11_000 || a.Actor != "alice" || a.Revision != 1 || !strings.Contains(a.Reason, "hourly_cap") {
		t.Fatalf("approval record %+v %v %v", a, ok, err)
	}
	spent := p.Current().Spent
	if len(spent) != 1 || spent[0].Stage != "verify" || spent[0].Category != core.CostHelper || spent[0].CostMicros != 10_000 ||
		!strings.Contains(spent[0].What, "under your approval") {
		t.Fatalf("revision spent %+v: want the verify's settled $0.01", spent)
	}
	kinds := auditKinds(t, e.audit, p.ID)
	for _, want := range []string{"proposal.awaiting_approval", "proposal.spend_approved", "budget.approved", "budget.spent"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("audit lacks %s: %v", want, kinds)
		}
	}
	es, err := e.audit.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range es {
		if en.Kind == "proposal.spend_approved" && (en.Actor != "alice" || en.Data["amount_micros"] != "11000") {
			t.Errorf("spend_approved entry %+v", en)
		}
	}
	msgs, err := e.core.Messages(ctx, p.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(msgs, func(m core.Message) bool { return strings.Contains(m.Text, "Spend approved by alice") }) {
		t.Error("the chat does not say the spend was approved")
	}
}

func TestDeclineSpendStaysDraftAndSpendsNothing(t *testing.T) {
	e, ledger, p := waitingDraft(t)
	jobs := jobCount(t, e)
	got, err := e.core.DecideSpend(ctx, "bob", p.ID, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != core.StateDraft || got.Waiting != core.WaitingNone || got.Awaiting != nil ||
		!strings.Contains(got.Reason, "declined by bob") || !strings.Contains(got.Reason, "send a smaller change or wait for the budget window") {
		t.Fatalf("after decline: %s waiting %q reason %q", got.State, got.Waiting, got.Reason)
	}
	if again, err := e.core.DecideSpend(ctx, "bob", p.ID, 1, false); err != nil || again.Reason != got.Reason {
		t.Fatalf("second decline: %q %v", again.Reason, err)
	}
	_, err = e.core.DecideSpend(ctx, "bob", p.ID, 1, true)
	mustErrIs(t, err, core.ErrIllegalState)
	if !strings.Contains(err.Error(), "nothing waits for approval") || !strings.Contains(err.Error(), "declined by bob") {
		t.Fatalf("approve after decline: %v", err)
	}
	e.waitJobsIdle()
	if n := jobCount(t, e); n != jobs {
		t.Fatalf("a decline queued a job: %d jobs, was %d", n, jobs)
	}
	if st := status(t, e); st.Hour.Spent != 0 || st.Hour.Reserved != 0 {
		t.Fatalf("a declined draft spent: %+v", st.Hour)
	}
	if _, ok, _ := ledger.Approval(p.ID); ok {
		t.Fatal("a decline recorded an approval")
	}
	kinds := auditKinds(t, e.audit, p.ID)
	if !slices.Contains(kinds, "proposal.spend_declined") || slices.Contains(kinds, "budget.approved") {
		t.Fatalf("audit %v", kinds)
	}
}

func TestDecideSpendOnAStaleRevisionIsRefused(t *testing.T) {
	e, _, p := waitingDraft(t)
	cv, err := e.core.Proposal(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	p2 := sendAndSettle(t, e, core.Conversation{ID: cv.ConversationID},
		"```diff\n"+makeDiff(t, e.bare, addNotes(t, "# Notes\n\nRevised.\n"))+"```\n")
	if p2.ID != p.ID || len(p2.Revisions) != 2 || p2.Waiting != core.WaitingApproval {
		t.Fatalf("revision 2: %+v", p2)
	}
	_, err = e.core.DecideSpend(ctx, "alice", p.ID, 1, true)
	mustErrIs(t, err, core.ErrStaleRevision)
	if !strings.Contains(err.Error(), "you saw revision 1 but the latest is 2") {
		t.Fatalf("stale: %v", err)
	}
	if got, _ := e.core.Proposal(ctx, p.ID); got.Waiting != core.WaitingApproval {
		t.Fatalf("a stale answer changed the proposal: %+v", got)
	}
}

func TestDecideSpendOnAProposalThatDoesNotWaitIsRefused(t *testing.T) {
	e, _ := pricedEnv(t, budget.Dollar, true)
	p := proposeNotes(t, e)
	for _, approve := range []bool{true, false} {
		_, err := e.core.DecideSpend(ctx, "alice", p.ID, 1, approve)
		mustErrIs(t, err, core.ErrIllegalState)
		if !strings.Contains(err.Error(), "nothing waits for approval of spend on "+core.ShortID(p.ID)+": it is proposed") {
			t.Fatalf("approve=%v: %v", approve, err)
		}
	}
	_, err := e.core.DecideSpend(ctx, "alice", "nope", 1, true)
	mustErrIs(t, err, core.ErrNotFound)
}

// The approved draft is a job in the durable queue: a daemon that stops
// before running it runs it after the restart.
func TestApprovedDraftSurvivesARestart(t *testing.T) {
	e, _, p := waitingDraft(t)
	e.close()
	e.paused = true
	e.open()
	got, err := e.core.DecideSpend(ctx, "alice", p.ID, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	e.close()
	e.paused = false
	e.open()
	p = e.waitProposal(p.ID, func(p core.Proposal) bool { return p.State != core.StateDraft || p.Reason != "" })
	if p.State != core.StateProposed || p.JobID != got.JobID {
		t.Fatalf("after restart: %s %q job %s, want the approved job %s to have run", p.State, p.Reason, p.JobID, got.JobID)
	}
	if st := status(t, e); st.Hour.Spent != 10_000 || !st.Recent[0].Approved {
		t.Fatalf("ledger after restart %+v", st)
	}
}
