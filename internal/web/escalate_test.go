package web

import (
	"bytes"
	"html"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
)

// The read-only Awaiting panel of a low-confidence escalation: why as a
// list, the gain with its reasons, and the revision's scores beside it;
// the reason is not repeated above the panel.
func TestProposalPageShowsAnEscalation(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	gain := 88
	why := []string{"confidence 0/100 is under 60 on the base tier", `-30 check "test" failed (exit code 1)`, "the external tier always needs approval"}
	p := core.Proposal{ID: "p1a2b3c4d-1111", Title: "Friendlier greeting", Repo: "demo", State: core.StateDraft, Waiting: core.WaitingApproval,
		Reason: strings.Join(why, "; "),
		Awaiting: &core.Escalation{What: "redraft this request on the external tier: plan and patch with claude-sonnet-4-5 (claude), then the sandbox verify, as revision 2",
			Why: why, CostMicros: 56_505, ApproveMicros: 62_156, ConfidenceGain: &gain,
			GainReasons: []string{"+68 if its checks pass", "+20 if its diff changes exactly the files its plan names"}, Redraft: budget.TierExternal},
		Revisions: []core.Revision{{N: 1, Source: core.SourceModel, Confidence: &core.Score{Value: 0, Factors: []string{`-30 check "test" failed (exit code 1)`}}}},
	}
	v := proposalView{P: p, Rev: p.Current(), Waiting: true}
	var buf bytes.Buffer
	if err := pages["proposal"].ExecuteTemplate(&buf, "layout.html", page{Title: "p", Data: v}); err != nil {
		t.Fatal(err)
	}
	body := html.UnescapeString(buf.String())
	for _, want := range []string{
		"Revision 1's confidence is low and a stronger model may do better: redrafting it on the external tier needs approval of spend",
		`<td data-label="Why" id="awaiting-why"><ul class="factors"><li>confidence 0/100 is under 60 on the base tier</li><li>-30 check "test" failed (exit code 1)</li><li>the external tier always needs approval</li></ul>`,
		`id="awaiting-gain">+88<ul class="factors"><li>+68 if its checks pass</li><li>+20 if its diff changes exactly the files its plan names</li></ul>`,
		"$0.056505; approving allows up to $0.062156",
		`id="confidence"><h2>Confidence</h2><b>0</b>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, `id="reason"`) {
		t.Error("the reason repeats the panel's WHY above it")
	}
}

// While a model drafts, the page shows what was spent so far, what the
// stages still to run are projected to cost, line by line, and the total
// against the budget left.
func TestProposalPageWhileDrafting(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	p := core.Proposal{ID: "p9e8d7c6b-2222", Title: "make the greeting friendlier", Repo: "demo", State: core.StateDraft,
		Revisions: []core.Revision{{N: 1, Source: core.SourceModel,
			Spent: []core.CostLine{{Stage: "plan", Category: core.CostModel, CostMicros: 3_400, What: "1 call(s) to qwen2.5-coder:7b"}},
			Remaining: []core.CostLine{
				{Stage: "patch", Category: core.CostModel, CostMicros: 22_100, What: "2 calls at most, $0.01105 each"},
				{Stage: "verify", Category: core.CostHelper, CostMicros: 10_000, What: "one 1m0s meter slice of local helper time at $0.60/h (the sandbox checks)"}}}},
	}
	v := proposalView{P: p, Rev: p.Current(), Spent: 3_400, Projected: 32_100, Total: 35_500,
		Budget: &core.BudgetStatus{Hour: budget.WindowStatus{Remaining: 4_900_000}, Day: budget.WindowStatus{Remaining: 9_900_000}}}
	var buf bytes.Buffer
	if err := pages["proposal"].ExecuteTemplate(&buf, "layout.html", page{Title: "p", Data: v}); err != nil {
		t.Fatal(err)
	}
	body := html.UnescapeString(buf.String())
	for _, want := range []string{
		`id="spent"><h2>Spent</h2><b>$0.0034</b><p class="muted small">so far, drafting</p>`,
		`<p id="remaining-total">Spent so far <b>$0.0034</b>; the stages still to run are projected at most <b>$0.0321</b>; <b>$0.0355</b> in all, against $4.90 left this hour and $9.90 today.</p>`,
		`<td data-label="Stage">patch</td><td data-label="Category">model tokens</td><td data-label="What">2 calls at most, $0.01105 each</td><td data-label="At most" class="num">$0.0221</td>`,
		`<td data-label="Stage">verify</td><td data-label="Category">helper time</td>`,
		"No plan yet: the model has not answered.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// Once the draft ends the projection is gone, and so is the card.
	p.Revisions[0].Remaining = nil
	buf.Reset()
	v = proposalView{P: p, Rev: p.Current(), Spent: 3_400, Total: 3_400}
	if err := pages["proposal"].ExecuteTemplate(&buf, "layout.html", page{Title: "p", Data: v}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `id="remaining"`) {
		t.Error("the projection card stays after the draft")
	}
}
