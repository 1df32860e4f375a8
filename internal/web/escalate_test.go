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
