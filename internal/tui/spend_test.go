package tui

import (
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
)

// waitingFixture is a draft whose sandbox verify waits for approval of
// spend, with the ledger's windows readable.
func waitingFixture(t *testing.T) (*fakeService, core.Proposal) {
	t.Helper()
	svc, p := proposedFixture(core.StateDraft)
	p.Revisions[1].Diff = "" // not verified: nothing applied yet
	p.Waiting = core.WaitingApproval
	p.Reason = "the budget refused the sandbox verify: over the hourly cap"
	p.Awaiting = &core.Escalation{What: "the sandbox verify",
		Why:        []string{"the budget refused the sandbox verify: over the hourly cap"},
		CostMicros: 10_000, ApproveMicros: 11_000}
	svc.putProposal(p)
	svc.budget = &core.BudgetStatus{
		Hour: budget.WindowStatus{Name: "hour", Cap: 5_000, Remaining: 5_000},
		Day:  budget.WindowStatus{Name: "day", Cap: 5_000_000, Spent: 10_000, Remaining: 4_990_000},
	}
	return svc, p
}

func TestAwaitingPanelShowsWhatApprovingAllows(t *testing.T) {
	svc, _ := waitingFixture(t)
	tm := startApp(t, svc, Options{}, 160, 45)
	waitScreen(t, tm, "budget  $0.005 left this hour, $4.99 today")
	screen := currentScreen(t, tm)
	for _, want := range []string{"draft (awaiting approval)", "Awaiting approval this draft's next step needs your approval of spend",
		"runs    the sandbox verify", "WHY     the budget refused the sandbox verify: over the hourly cap",
		"cost    $0.01; approving allows up to $0.011", "gain    expected confidence gain not computed yet",
		"tab to this pane, then a approves (asks y/n) or d declines", "tab approve or decline spend"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "Reason ") {
		t.Errorf("the reason repeats the panel's WHY:\n%s", screen)
	}
	tm.Send(press("tab"))
	waitScreen(t, tm, "a approve spend")
	waitScreen(t, tm, "d decline spend")
	waitScreen(t, tm, "a approves (asks y/n) · d declines (asks y/n)")
	finalScreen(t, tm)
}

func TestApproveSpendNeedsYes(t *testing.T) {
	svc, p := waitingFixture(t)
	tm := startApp(t, svc, Options{}, 160, 45)
	waitScreen(t, tm, "Awaiting approval")
	tm.Send(press("tab"))
	tm.Send(press("a"))
	waitScreen(t, tm, "Approve spending up to $0.011 on revision 2 for the sandbox verify? It runs at once. y/n")
	tm.Send(press("n"))
	waitScreen(t, tm, "spend not approved: the draft still waits")
	if len(svc.spends) != 0 {
		t.Fatal("a no approved the spend")
	}
	tm.Send(press("a"))
	waitScreen(t, tm, "Approve spending up to")
	tm.Send(press("y"))
	call := recv(t, svc.spends, "DecideSpend")
	if call.id != p.ID || call.rev != 2 || !call.approve || call.actor != "ada" {
		t.Fatalf("DecideSpend %+v: want ada approving revision 2", call)
	}
	waitScreen(t, tm, "spend approved on revision 2")
	// The pane reloads the proposal after the answer's message shows (the
	// flake seen with -cpu 1): wait for the reload, then look.
	waitScreenWithout(t, tm, "Awaiting approval")
	screen := finalScreen(t, tm)
	if strings.Contains(screen, "Awaiting approval") || strings.Contains(screen, "a approve spend") {
		t.Errorf("the panel or its keys stay after the approval:\n%s", screen)
	}
}

func TestDeclineSpendNeedsYes(t *testing.T) {
	svc, p := waitingFixture(t)
	tm := startApp(t, svc, Options{}, 160, 45)
	waitScreen(t, tm, "Awaiting approval")
	tm.Send(press("tab"))
	tm.Send(press("d"))
	waitScreen(t, tm, "Decline the spend on revision 2? The proposal stays in Draft and nothing is spent. y/n")
	tm.Send(press("y"))
	call := recv(t, svc.spends, "DecideSpend")
	if call.id != p.ID || call.rev != 2 || call.approve {
		t.Fatalf("DecideSpend %+v: want a decline of revision 2", call)
	}
	waitScreen(t, tm, "spend declined on revision 2")
	waitScreen(t, tm, "Reason declined by ada")
	finalScreen(t, tm)
}

func TestSpendKeysOnlyWhileADraftWaits(t *testing.T) {
	svc, _ := proposedFixture(core.StateProposed)
	tm := startApp(t, svc, Options{}, 160, 45)
	waitScreen(t, tm, "ctrl+g GO")
	tm.Send(press("tab"))
	waitScreen(t, tm, "tab chat")
	tm.Send(press("a"))
	waitScreen(t, tm, "nothing waits for approval of spend")
	screen := finalScreen(t, tm)
	if strings.Contains(screen, "approve spend") || strings.Contains(screen, "decline spend") || strings.Contains(screen, "y/n") {
		t.Errorf("spend keys offered on a proposal that does not wait:\n%s", screen)
	}
	if len(svc.spends) != 0 {
		t.Fatal("DecideSpend was called")
	}
}

func TestGoOnAWaitingDraftPointsAtTheApproval(t *testing.T) {
	svc, _ := waitingFixture(t)
	tm := startApp(t, svc, Options{}, 160, 45)
	waitScreen(t, tm, "Awaiting approval")
	tm.Send(press("ctrl+g"))
	waitScreen(t, tm, "this draft waits for approval of spend, not for GO")
	finalScreen(t, tm)
}

func TestSpendQuestionClosesWhenTheDraftChanges(t *testing.T) {
	svc, p := waitingFixture(t)
	tm := startApp(t, svc, Options{}, 160, 45)
	waitScreen(t, tm, "Awaiting approval")
	tm.Send(press("tab"))
	tm.Send(press("a"))
	waitScreen(t, tm, "Approve spending up to")
	p.Revisions = append(p.Revisions, core.Revision{N: 3, Source: "pasted-diff"})
	svc.putProposal(p)
	svc.emit(core.Event{Kind: core.EventProposal, ID: p.ID, Repo: "demo"})
	waitScreen(t, tm, "nothing decided: the proposal changed while you were deciding")
	tm.Send(press("y")) // the question is gone
	finalScreen(t, tm)
	if len(svc.spends) != 0 {
		t.Fatal("an answer to a stale question reached the service")
	}
}

func TestCostBreakdownShowsSpentProjectionAndBudgetLeft(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	rev := &p.Revisions[1]
	rev.Spent = []core.CostLine{{Stage: "verify", What: "sandbox verify (draft)", Category: core.CostHelper, CostMicros: 10_000}}
	rev.Execution = &core.Execution{
		Preferred: core.ExecutionPlan{Name: core.PlanFull, Summary: "re-verify on the helper", CostMicros: 10_000, Breakdown: []core.CostLine{
			{Stage: "re-verify on the helper", What: "1 x helper local for 6s at $0.01/hour", Category: core.CostHelper, CostMicros: 10_000},
			{Stage: "commit, push, pull request", What: "runs here, no charge"}}},
		HourRemaining: 40_000, DayRemaining: 4_990_000,
	}
	svc.putProposal(p)
	svc.budget = &core.BudgetStatus{Hour: budget.WindowStatus{Remaining: 30_000}, Day: budget.WindowStatus{Remaining: 4_980_000}}
	tm := startApp(t, svc, Options{}, 160, 50)
	waitScreen(t, tm, "Total      $0.02 with GO; $0.03 left this hour, $4.98 today")
	screen := finalScreen(t, tm)
	for _, want := range []string{"Spent      $0.01 drafting this revision",
		"$0.01    verify  helper time  sandbox verify (draft)",
		"GO         $0.01 projected, plan full",
		"$0.01    re-verify on the helper  helper time  1 x helper local for 6s at $0.01/hour",
		"$0.00    commit, push, pull request  no charge  runs here, no charge"} {
		if !strings.Contains(screen, want) {
			t.Errorf("breakdown lacks %q:\n%s", want, screen)
		}
	}
}

// Without the ledger's windows the breakdown falls back to the ones the
// plan was priced against, and says so.
func TestCostBreakdownWithoutTheLedgerUsesThePricedWindows(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	p.Revisions[1].Execution = &core.Execution{Preferred: core.ExecutionPlan{Name: core.PlanFull, CostMicros: 10_000},
		HourRemaining: 40_000, DayRemaining: 4_990_000}
	svc.putProposal(p)
	tm := startApp(t, svc, Options{}, 160, 50)
	waitScreen(t, tm, "Total      $0.01 with GO; $0.04 left this hour, $4.99 today (when priced)")
	finalScreen(t, tm)
}
