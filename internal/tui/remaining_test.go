package tui

import (
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
)

// draftingFixture is a model's draft while its patch stage runs: the plan
// call spent, the patch and the metered verify projected, the job line
// streaming.
func draftingFixture(t *testing.T) *fakeService {
	t.Helper()
	svc := newFakeService("demo")
	conv := svc.addConversation("demo", "Greeting fix")
	svc.addMessage(conv.ID, core.RoleUser, "make the greeting friendlier", "")
	p := core.Proposal{ID: "p9e8d7c6b-2222", ConversationID: conv.ID, Repo: "demo", Title: "make the greeting friendlier",
		State: core.StateDraft, Created: svc.now(), JobID: "job-draft-1",
		Revisions: []core.Revision{{N: 1, Source: core.SourceModel, Request: "make the greeting friendlier",
			Spent: []core.CostLine{{Stage: "plan", Category: core.CostModel, CostMicros: 3_400,
				What: "1 call(s) to qwen2.5-coder:7b: 900 input, 100 cached, 70 output tokens"}},
			Remaining: []core.CostLine{
				{Stage: "patch", Category: core.CostModel, CostMicros: 22_100,
					What: "2 calls at most, $0.01105 each: 1203 prompt + 1500 output tokens, qwen2.5-coder:7b; a failed edit is sent back once"},
				{Stage: "verify", Category: core.CostHelper, CostMicros: 10_000,
					What: "one 1m0s meter slice of local helper time at $0.60/h"}},
		}},
	}
	svc.putProposal(p)
	svc.putJob(core.Job{ID: "job-draft-1", Kind: core.JobDraft, ProposalID: p.ID, Revision: 1, Repo: "demo",
		State: core.JobRunning, Progress: "patch: 1.2k chars received"})
	svc.budget = &core.BudgetStatus{
		Hour: budget.WindowStatus{Name: "hour", Cap: 5_000_000, Remaining: 4_900_000},
		Day:  budget.WindowStatus{Name: "day", Cap: 10_000_000, Remaining: 9_900_000},
	}
	return svc
}

// TestDraftingShowsSpentRemainingAndTotalAt100x30: while a model drafts,
// the pane shows the job line under the state, what was spent, what the
// remaining stages are projected to cost and the total against the budget
// left, all on a 100x30 terminal.
func TestDraftingShowsSpentRemainingAndTotalAt100x30(t *testing.T) {
	svc := draftingFixture(t)
	tm := startApp(t, svc, Options{}, 100, 30)
	waitScreen(t, tm, "make the greeting friendlier")
	tm.Send(press("tab")) // at 100 columns the pane replaces the chat
	// The proposal, the budget and the job load separately: wait for each
	// (the job line came last once under -cpu 1 and the test looked early).
	waitScreen(t, tm, "Remaining")
	waitScreen(t, tm, "left this hour")
	waitScreen(t, tm, "draft running: patch")
	screen := currentScreen(t, tm)
	for _, want := range []string{
		"Job        draft running: patch: 1.2k chars received",
		"Spent      $0.0034 so far",
		"$0.0034  plan    model tokens  1 call(s) to qwen2.5-coder:7b",
		"Remaining  $0.0321 projected at most for the stages still to run (prompts with a 1.5x margin)",
		"    qwen2.5-coder:7b; a failed edit is sent back once",
		"$0.0221  patch   model tokens  2 calls at most, $0.01105 each",
		"$0.01    verify  helper time  one 1m0s meter slice of local helper time at $0.60/h",
		"Not yet    the plan, checks, scores and GO's price come once the draft is verified",
		"Total      $0.0355 spent and projected; $4.90 left this hour, $9.90 today",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	if strings.Contains(screen, "more detail lines") || strings.Contains(screen, "no changes") {
		t.Errorf("the drafting pane is cut at 100x30:\n%s", screen)
	}
	if testing.Verbose() {
		t.Log("\n" + screen)
	}
	finalScreen(t, tm)
}

// On a pane too short for the details, the job line stays (it sits under
// the state) and the cut takes the cost breakdown.
func TestDraftingJobLineStaysOnAShortPane(t *testing.T) {
	svc := draftingFixture(t)
	tm := startApp(t, svc, Options{}, 100, 14)
	waitScreen(t, tm, "make the greeting friendlier")
	tm.Send(press("tab"))
	waitScreen(t, tm, "draft running: patch: 1.2k chars received")
	finalScreen(t, tm)
}

// At Proposed on a 100x30 terminal the breakdown below may be cut, so the
// Cost row high in the pane carries GO's projection, what drafting spent,
// their sum and the budget left.
func TestProposedCostRowAt100x30(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	rev := &p.Revisions[1]
	rev.Spent = []core.CostLine{{Stage: "plan", Category: core.CostModel, CostMicros: 294}, {Stage: "patch", Category: core.CostModel, CostMicros: 294},
		{Stage: "verify", Category: core.CostHelper, CostMicros: 10_000, What: "sandbox verify (draft)"}}
	rev.Execution = &core.Execution{Preferred: core.ExecutionPlan{Name: core.PlanFull, Summary: "re-verify on the helper", CostMicros: 10_000},
		HourRemaining: 989_412, DayRemaining: 4_989_412}
	svc.putProposal(p)
	svc.budget = &core.BudgetStatus{Hour: budget.WindowStatus{Remaining: 989_412}, Day: budget.WindowStatus{Remaining: 4_989_412}}
	tm := startApp(t, svc, Options{}, 100, 30)
	waitScreen(t, tm, "Greeting fix")
	tm.Send(press("tab"))
	waitScreen(t, tm, "Cost       GO $0.01 + spent $0.010588 = $0.020588; $0.989412 left this hour, $4.989412 today")
	finalScreen(t, tm)
}

// At Proposed the spent rows wrap at 100 columns instead of being cut:
// amount, stage and category lead each row, aligned, and the tokens of a
// long "what" show on the continuation line.
func TestProposedSpentRowsWrapAt100Columns(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	rev := &p.Revisions[1]
	rev.Spent = []core.CostLine{
		{Stage: "plan", Category: core.CostModel, CostMicros: 294, What: "1 call(s) to qwen2.5-coder:7b: 1200 input, 0 cached, 90 output tokens, settled from the provider's usage"},
		{Stage: "verify", Category: core.CostHelper, CostMicros: 10_000, What: "sandbox verify (draft)"}}
	rev.Execution = &core.Execution{Preferred: core.ExecutionPlan{Name: core.PlanFull, Summary: "re-verify on the helper", CostMicros: 10_000},
		HourRemaining: 989_412, DayRemaining: 4_989_412}
	svc.putProposal(p)
	tm := startApp(t, svc, Options{}, 100, 60)
	waitScreen(t, tm, "Greeting fix")
	tm.Send(press("tab"))
	waitScreen(t, tm, "Spent      $0.010294 drafting this revision")
	screen := currentScreen(t, tm)
	for _, want := range []string{
		"  $0.000294 plan    model tokens  1 call(s) to qwen2.5-coder:7b: 1200 input, 0 cached, 90 output",
		"    tokens, settled from the provider's usage",
		"  $0.01     verify  helper time  sandbox verify (draft)",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	for _, row := range strings.Split(screen, "\n") {
		if strings.Contains(row, "model tokens") && strings.HasSuffix(strings.TrimRight(row, " "), "…") {
			t.Errorf("a spent row is cut: %q", row)
		}
	}
	finalScreen(t, tm)
}

// When the cut falls right after a section's heading, the heading goes
// with its lines: no bare "Plan" or "Checks" above "… more detail lines",
// whichever row the cut falls on.
func TestCutNeverLeavesABareHeading(t *testing.T) {
	for h := 28; h <= 40; h++ {
		svc, _ := escalationFixture(t)
		tm := startApp(t, svc, Options{}, 100, h)
		waitScreen(t, tm, "Greeting fix")
		tm.Send(press("tab"))
		waitScreen(t, tm, "more detail lines")
		rows := strings.Split(currentScreen(t, tm), "\n")
		for i, row := range rows {
			if strings.Contains(row, "more detail lines") && i > 0 {
				if prev := strings.TrimSpace(rows[i-1]); prev == "Plan" || prev == "Checks" {
					t.Errorf("100x%d: a bare heading %q stands above the cut:\n%s", h, prev, strings.Join(rows, "\n"))
				}
			}
		}
		finalScreen(t, tm)
	}
}

// A projection beyond what the hour has left says so: the stage that does
// not fit will ask for approval.
func TestDraftingWarnsWhenTheProjectionExceedsTheHour(t *testing.T) {
	svc := draftingFixture(t)
	svc.budget.Hour.Remaining = 20_000 // less than the $0.0321 projected
	tm := startApp(t, svc, Options{}, 160, 45)
	waitScreen(t, tm, "more than this hour has left: a stage that does not fit asks for approval")
	finalScreen(t, tm)
}
