package tui

import (
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/core"
)

// escalated gives the fixture's current revision a plan that needs
// approval, with or without a cheaper plan beside it.
func escalated(t *testing.T, withCheaper bool) (*fakeService, core.Proposal) {
	t.Helper()
	svc, p := proposedFixture(core.StateProposed)
	rev := &p.Revisions[1]
	cost := int64(0)
	rev.CostMicros = &cost
	rev.Execution = &core.Execution{
		Preferred: core.ExecutionPlan{Name: core.PlanFull, Summary: "re-verify on the helper", CostMicros: 100_000},
		Escalation: &core.Escalation{Why: []string{"costs $0.10 but the budget has $0.05 left this hour"},
			CostMicros: 100_000, ApproveMicros: 110_000},
		HourRemaining: 50_000, DayRemaining: 4_900_000,
	}
	if withCheaper {
		rev.Execution.Cheaper = &core.ExecutionPlan{Name: core.PlanLean, Summary: "no helper: publish the verified diff"}
	}
	svc.putProposal(p)
	return svc, p
}

func TestEscalationPanelAndToggleOffByDefault(t *testing.T) {
	svc, p := escalated(t, true)
	tm := startApp(t, svc, Options{}, 160, 45)
	waitScreen(t, tm, "Escalation")
	tm.Send(press("ctrl+g"))
	waitScreen(t, tm, "Approve extra spend: OFF")
	tm.Send(press("y"))
	call := recv(t, svc.gos, "GoWith")
	if call.id != p.ID || call.rev != 2 || call.approve {
		t.Fatalf("GO %+v: the toggle must be off unless turned on", call)
	}
	screen := finalScreen(t, tm)
	for _, want := range []string{"WHY   costs $0.10 but the budget has $0.05 left this hour", "approving allows up to $0.11",
		"expected confidence gain not computed yet", "toggle ON   re-verify on the helper $0.10",
		"toggle OFF  no helper: publish the verified diff $0.00"} {
		if !strings.Contains(screen, want) {
			t.Errorf("panel lacks %q:\n%s", want, screen)
		}
	}
}

func TestEscalationToggleOnApproves(t *testing.T) {
	svc, p := escalated(t, false)
	tm := startApp(t, svc, Options{}, 160, 45)
	waitScreen(t, tm, "Escalation")
	tm.Send(press("ctrl+g"))
	waitScreen(t, tm, "no cheaper plan: y returns the proposal to Draft")
	tm.Send(press("a"))
	waitScreen(t, tm, "Approve extra spend: ON")
	tm.Send(press("a"))
	waitScreen(t, tm, "Approve extra spend: OFF")
	tm.Send(press("a"))
	waitScreen(t, tm, "y runs the full plan, $0.10, approving up to $0.11")
	tm.Send(press("y"))
	call := recv(t, svc.gos, "GoWith")
	if call.id != p.ID || !call.approve {
		t.Fatalf("GO %+v: the toggle was on", call)
	}
	finalScreen(t, tm)
}
