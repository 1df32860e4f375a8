package core_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
)

// pricedEnv prices the local helper at $0.01/hour with 1-minute slices:
// DigitalOcean's $0.01 minimum charge makes every sandbox run under an
// hour reserve and cost exactly $0.01, however slow this machine is today.
func pricedEnv(t *testing.T, hourCap budget.Micros, cheaper bool) (*env, *budget.Ledger) {
	t.Helper()
	var ledger *budget.Ledger
	e := newEnv(t, func(o *core.Options) {
		a := o.Audit
		ledger = budget.NewLedger(o.DB, budget.Caps{Hour: hourCap, Day: 5 * budget.Dollar}, nil,
			func(tx *bolt.Tx, kind, subject string, data map[string]string) error {
				_, err := a.Append(tx, kind, "patchgit", subject, data)
				return err
			})
		prices := budget.DefaultPrices()
		prices.Local = budget.NewHelperPrice(budget.LocalHelperSize, 10_000, 0)
		o.Budget, o.Prices, o.MeterSlice, o.CheaperPlan = ledger, prices, time.Minute, cheaper
	})
	return e, ledger
}

func status(t *testing.T, e *env) core.BudgetStatus {
	t.Helper()
	st, err := e.core.Budget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func proposeNotes(t *testing.T, e *env) core.Proposal {
	t.Helper()
	cv := startConversation(t, e)
	diff := makeDiff(t, e.bare, addNotes(t, "# Notes\n\nPriced.\n"))
	p := sendAndSettle(t, e, cv, "Add notes\n\n```diff\n"+diff+"```\n")
	if p.State != core.StateProposed {
		t.Fatalf("proposal is %s: %s", p.State, p.Reason)
	}
	return p
}

func TestOverBudgetGoWithToggleOffRunsTheCheaperPlanAndSpendsNothing(t *testing.T) {
	e, _ := pricedEnv(t, 15_000, true)
	p := proposeNotes(t, e)
	rev := p.Current()
	ex := rev.Execution
	if ex == nil || ex.Escalation == nil || ex.Cheaper == nil || ex.Cheaper.Name != core.PlanLean {
		t.Fatalf("execution %+v: the full plan ($0.01 with $0.005 left) must need approval, with the lean plan beside it", ex)
	}
	if ex.Escalation.CostMicros != 10_000 || ex.Escalation.ApproveMicros != 11_000 || rev.CostMicros == nil || *rev.CostMicros != 0 {
		t.Fatalf("escalation %+v cost %v", ex.Escalation, rev.CostMicros)
	}
	if st := status(t, e); st.Hour.Spent != 10_000 || st.Hour.Reserved != 0 {
		t.Fatalf("after the draft verify: %+v", st.Hour)
	}
	job, err := e.core.GoWith(ctx, "alice", p.ID, rev.N, false)
	if err != nil {
		t.Fatal(err)
	}
	if job.Plan != core.PlanLean || job.SpendApproved {
		t.Fatalf("job plan %q approved %v", job.Plan, job.SpendApproved)
	}
	p = e.waitProposal(p.ID, finished)
	if p.State != core.StatePublished {
		t.Fatalf("proposal %s: %s", p.State, p.Reason)
	}
	if st := status(t, e); st.Hour.Spent != 10_000 || st.Hour.Spent+st.Hour.Reserved > st.Hour.Cap {
		t.Fatalf("the cheaper plan spent money: %+v", st.Hour)
	}
	if kinds := auditKinds(t, e.audit, p.ID); slices.Contains(kinds, "budget.approved") {
		t.Fatalf("an approval was recorded with the toggle off: %v", kinds)
	}
}

func TestOverBudgetGoWithToggleOnSpendsNoMoreThanApproved(t *testing.T) {
	e, _ := pricedEnv(t, 15_000, true)
	p := proposeNotes(t, e)
	job, err := e.core.GoWith(ctx, "alice", p.ID, p.Current().N, true)
	if err != nil {
		t.Fatal(err)
	}
	if job.Plan != core.PlanFull || !job.SpendApproved {
		t.Fatalf("job plan %q approved %v", job.Plan, job.SpendApproved)
	}
	p = e.waitProposal(p.ID, finished)
	if p.State != core.StatePublished {
		t.Fatalf("proposal %s: %s", p.State, p.Reason)
	}
	st := status(t, e)
	if st.Hour.Spent != 20_000 || st.Hour.Reserved != 0 {
		t.Fatalf("draft $0.01 + re-verify $0.01, got %+v", st.Hour)
	}
	if over := st.Hour.Spent - st.Hour.Cap; over > 11_000 {
		t.Fatalf("spent %s over the cap, more than the $0.011 approved", over)
	}
	kinds := auditKinds(t, e.audit, p.ID)
	if !slices.Contains(kinds, "budget.approved") || !slices.Contains(kinds, "budget.spent") {
		t.Fatalf("audit lacks the approval or the spend: %v", kinds)
	}
}

func TestNoCheaperPlanToggleOffRefusesGoBackToDraft(t *testing.T) {
	e, _ := pricedEnv(t, 15_000, false)
	p := proposeNotes(t, e)
	if p.Current().Execution.Cheaper != nil || p.Current().CostMicros == nil {
		t.Fatalf("execution %+v", p.Current().Execution)
	}
	_, err := e.core.GoWith(ctx, "alice", p.ID, p.Current().N, false)
	mustErrIs(t, err, core.ErrNeedsApproval)
	p, _ = e.core.Proposal(ctx, p.ID)
	if p.State != core.StateDraft || !strings.Contains(p.Reason, "Approve extra spend") {
		t.Fatalf("proposal %s, reason %q", p.State, p.Reason)
	}
	if got := branches(t, e.bare); len(got) != 1 { // main only
		t.Fatalf("pushed: %v", got)
	}
}

func TestDraftThatDoesNotFitWaitsForApprovalAndSpendsNothing(t *testing.T) {
	e, _ := pricedEnv(t, 5_000, true)
	cv := startConversation(t, e)
	diff := makeDiff(t, e.bare, addNotes(t, "# Notes\n"))
	p := sendAndSettle(t, e, cv, "```diff\n"+diff+"```\n")
	if p.State != core.StateDraft || p.Waiting != core.WaitingApproval || !strings.Contains(p.Reason, "hourly_cap") {
		t.Fatalf("proposal %s waiting %q reason %q", p.State, p.Waiting, p.Reason)
	}
	if st := status(t, e); st.Hour.Spent != 0 || st.Hour.Reserved != 0 {
		t.Fatalf("a refused draft spent: %+v", st.Hour)
	}
}

func TestBudgetChangedSinceShownRefusesGo(t *testing.T) {
	e, ledger := pricedEnv(t, 25_000, true)
	p := proposeNotes(t, e) // $0.01 spent, full plan $0.01 fits the $0.015 left
	if p.Current().Execution.Escalation != nil {
		t.Fatalf("the full plan should fit: %+v", p.Current().Execution)
	}
	if _, err := ledger.Reserve(budget.Request{Purpose: "someone else", Amount: 10_000}); err != nil {
		t.Fatal(err)
	}
	_, err := e.core.GoWith(ctx, "alice", p.ID, p.Current().N, false)
	mustErrIs(t, err, core.ErrBudgetChanged)
	p, _ = e.core.Proposal(ctx, p.ID)
	if p.State != core.StateProposed || p.Current().Execution.Escalation == nil {
		t.Fatalf("the re-priced revision must show the escalation: %s %+v", p.State, p.Current().Execution)
	}
	if !errors.Is(err, core.ErrBudgetChanged) {
		t.Fatal(err)
	}
}

// finished: the execute job ended one way or the other.
func finished(p core.Proposal) bool {
	return p.State == core.StatePublished || p.State == core.StateFailed || p.State == core.StateDraft
}

// TestRestartSettlesOpenReservationsAtFullAmount: a reservation a dead
// daemon left open counts in full until the next start reconciles it.
func TestRestartSettlesOpenReservationsAtFullAmount(t *testing.T) {
	e, ledger := pricedEnv(t, 15_000, true)
	if _, err := ledger.Reserve(budget.Request{Proposal: "p-dead", Purpose: "helper run of a dead daemon", Amount: 7_000}); err != nil {
		t.Fatal(err)
	}
	if st := status(t, e); st.Hour.Reserved != 7_000 || st.Hour.Remaining != 8_000 {
		t.Fatalf("before restart: %+v", st.Hour)
	}
	e.close()
	e.open()
	st := status(t, e)
	if st.Hour.Reserved != 0 || st.Hour.Spent != 7_000 || len(st.Recent) != 1 || !strings.Contains(st.Recent[0].Note, "reconciled") {
		t.Fatalf("after restart: %+v", st)
	}
	if kinds := auditKinds(t, e.audit, "p-dead"); !slices.Contains(kinds, "budget.spent") {
		t.Fatalf("the reconciliation is not audited: %v", kinds)
	}
}
