package tui

import (
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
)

// escalationFixture is a model's revision with a failed check and low
// confidence, waiting for approval to be redrafted on the external tier,
// with what core writes for it.
func escalationFixture(t *testing.T) (*fakeService, core.Proposal) {
	t.Helper()
	svc, p := proposedFixture(core.StateDraft)
	rev := &p.Revisions[1]
	rev.Source = core.SourceModel
	rev.Plan = []string{"Make the greeting friendlier.", "The model wrote 2 search/replace edit(s) to 2 file(s); the diff shown is computed from the sandbox tree they were applied to.",
		"Verify in the sandbox on main at 0123456789ab: gofmt; go test ./...", "On GO: commit on 0123456789ab, push branch pg/p1a2b3c4-greeting, open a pull request into main. PatchGit never merges."}
	rev.Targets = []string{"greet.go", "BROKEN"}
	rev.Checks = []core.CheckResult{{Name: "format", Command: "test -z \"$(gofmt -l .)\"", Passed: true, Mode: "bwrap"},
		{Name: "test", Command: "go test ./...", ExitCode: 1, Output: "--- FAIL: TestGreet (0.00s)\n    greet_test.go:9: got \"hi\"\nFAIL", Mode: "bwrap"}}
	rev.Risk = &core.Score{Value: 28, Factors: []string{"+25 check \"test\" failed (exit code 1)", "+2 2 files touched", "+1 3 lines changed (+2 -1)"}}
	rev.Confidence = &core.Score{Value: 0, Factors: []string{"-30 check \"test\" failed (exit code 1)", "+20 applied cleanly in the sandbox",
		"+8 the model rates its change 90/100", "+5 the checks ran isolated (bwrap)", "-5 changed but not in the plan: BROKEN", "+0 clamped: a score stays within 0..100"}}
	rev.Spent = []core.CostLine{{Stage: "plan", What: "1 call(s) to qwen2.5-coder:7b", Category: core.CostModel}, {Stage: "patch", What: "1 call(s) to qwen2.5-coder:7b", Category: core.CostModel}}
	gain := 88
	p.Waiting = core.WaitingApproval
	p.Awaiting = &core.Escalation{
		What: "redraft this request on the external tier: plan and patch with claude-sonnet-4-5 (claude), then the sandbox verify, as revision 3",
		Why: []string{"confidence 0/100 is under 60 on the base tier", "-30 check \"test\" failed (exit code 1)", "-5 changed but not in the plan: BROKEN",
			"projected at most $0.0565: plan 1 call (327 prompt tokens with the 1.5x margin, 500 output) $0.0085, patch 2 calls (504 prompt, 1500 output each) $0.048",
			"the external tier always needs approval"},
		CostMicros: 56_505, ApproveMicros: 62_156, ConfidenceGain: &gain,
		GainReasons: []string{"+68 if its checks pass", "+20 if its diff changes exactly the files its plan names"},
		Redraft:     budget.TierExternal,
	}
	p.Reason = strings.Join(p.Awaiting.Why, "; ")
	svc.putProposal(p)
	svc.budget = &core.BudgetStatus{
		Hour: budget.WindowStatus{Name: "hour", Cap: 5_000_000, Remaining: 4_900_000},
		Day:  budget.WindowStatus{Name: "day", Cap: 10_000_000, Remaining: 9_900_000},
	}
	return svc, p
}

// TestEscalationPanelAt100x30: on a small terminal the pane shows the
// whole Awaiting panel, its keys, the scores that explain it and the diff.
func TestEscalationPanelAt100x30(t *testing.T) {
	svc, _ := escalationFixture(t)
	tm := startApp(t, svc, Options{}, 100, 30)
	waitScreen(t, tm, "Greeting fix")
	tm.Send(press("tab"))
	waitScreen(t, tm, "Awaiting approval")
	waitScreen(t, tm, "a approves (asks y/n)")
	screen := currentScreen(t, tm)
	for _, want := range []string{
		"runs    redraft this request on the external tier: plan and patch with claude-sonnet-4-5 (claude),",
		"        then the sandbox verify, as revision 3",
		"WHY     confidence 0/100 is under 60 on the base tier",
		"the external tier always needs approval",
		"cost    $0.056505; approving allows up to $0.062156",
		"gain    expected confidence gain +88: +68 if its checks pass; +20 if its diff changes exactly the",
		"        files its plan names",
		"keys    a approves (asks y/n) · d declines (asks y/n)",
		"Risk       28/100",
		"Confidence 0/100  -30 check \"test\" failed (exit code 1)",
		"-5 changed but not in the plan: BROKEN",
		"diff --git a/greet.go b/greet.go",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	if cut := strings.Index(screen, "more detail lines"); cut >= 0 && cut < strings.Index(screen, "Confidence 0/100") {
		t.Error("the cut hides the scores")
	}
	for _, row := range strings.Split(screen, "\n") {
		if strings.HasSuffix(strings.TrimRight(row, " "), "…") && strings.Contains(row, "WHY") {
			t.Errorf("a panel row is cut instead of wrapped: %q", row)
		}
	}
	tm.Send(press("d"))
	waitScreen(t, tm, "Decline redrafting on the external tier? Revision 2 stays in Draft and nothing is spent. y/n")
	tm.Send(press("n"))
	waitScreen(t, tm, "the draft still waits")
	tm.Send(press("a"))
	waitScreen(t, tm, "Approve spending up to $0.062156 on revision 2 for redraft this request on the external tier")
	tm.Send(press("y"))
	call := recv(t, svc.spends, "DecideSpend")
	if call.rev != 2 || !call.approve {
		t.Fatalf("DecideSpend %+v", call)
	}
	finalScreen(t, tm)
}

// TestAwaitingPanelKeysStayOnAShortPane: when the pane is too short for the
// panel and the diff's minimum, the diff gives way, never the keys.
func TestAwaitingPanelKeysStayOnAShortPane(t *testing.T) {
	svc, _ := escalationFixture(t)
	tm := startApp(t, svc, Options{}, 100, 22)
	waitScreen(t, tm, "Greeting fix")
	tm.Send(press("tab"))
	waitScreen(t, tm, "keys    a approves (asks y/n) · d declines (asks y/n)")
	finalScreen(t, tm)
}
