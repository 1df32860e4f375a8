package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/patchgit/patchgit/internal/core"
)

// scoredRisk is what internal/assess writes for a pasted change to a CI
// workflow and go.mod.
var scoredRisk = &core.Score{Value: 28, Factors: []string{
	"+15 touches CI or check config: .github/workflows/x.yml",
	"+10 touches dependency manifests or lock files: go.mod",
	"+2 2 files touched",
	"+1 4 lines changed (+3 -1)",
}}

var scoredConfidence = &core.Score{Value: 90, Factors: []string{
	"+40 2 checks passed: check 1, check 2",
	"+25 a person wrote the change (pasted-diff): it is its own plan",
	"+20 applied cleanly in the sandbox",
	"+5 the checks ran isolated (bwrap)",
}}

// TestScoreRowsWrapBetweenReasons: every reason is shown whole (a long
// one wrapped, never cut), rows fit the pane, and continuation rows sit
// under the value.
func TestScoreRowsWrapBetweenReasons(t *testing.T) {
	st := NewStyles(true)
	long := "+15 touches auth or security code: internal/auth/a_very_long_file_name_that_cannot_fit.go, internal/auth/b.go"
	score := &core.Score{Value: 43, Factors: append([]string{long}, scoredRisk.Factors...)}
	for _, width := range []int{40, 60, 100, 200} {
		pp := newProposalPane(&st)
		pp.setSize(width, 30)
		rows := pp.scoreRows("Risk", score)
		plain := make([]string, len(rows))
		for i, r := range rows {
			plain[i] = ansi.Strip(r)
			if w := ansi.StringWidth(plain[i]); w > width {
				t.Errorf("width %d: row %d is %d wide: %q", width, i, w, plain[i])
			}
			if i > 0 && !strings.HasPrefix(plain[i], strings.Repeat(" ", 11)) {
				t.Errorf("width %d: row %d is not indented under the value: %q", width, i, plain[i])
			}
		}
		if !strings.HasPrefix(plain[0], "Risk       43/100") {
			t.Errorf("width %d: first row %q", width, plain[0])
		}
		// Joined back (a long reason may break inside a word), the rows
		// hold every reason in order.
		noSpace := func(s string) string { return strings.Join(strings.Fields(s), "") }
		all := noSpace(strings.Join(plain, ""))
		at := 0
		for _, f := range score.Factors {
			f = noSpace(f)
			i := strings.Index(all[at:], f)
			if i < 0 {
				t.Fatalf("width %d: reason %q missing or out of order in %q", width, f, plain)
			}
			at += i + len(f)
		}
		if width >= 200 && len(rows) != 2 {
			t.Errorf("width %d: %d rows, want the reasons packed into 2: %q", width, len(rows), plain)
		}
	}
	pp := newProposalPane(&st)
	pp.setSize(80, 30)
	if got := ansi.Strip(strings.Join(pp.scoreRows("Confidence", nil), "\n")); got != "Confidence "+notComputed {
		t.Errorf("nil score shows %q", got)
	}
}

// TestScoreReasonsInThePane: the narrow pane shows both scores with their
// reasons and still the cost below them.
func TestScoreReasonsInThePane(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	rev := &p.Revisions[1]
	rev.Risk, rev.Confidence = scoredRisk, scoredConfidence
	svc.putProposal(p)
	tm := startApp(t, svc, Options{}, 100, 40)
	waitScreen(t, tm, "I drafted a change")
	tm.Send(press("tab")) // narrow layout: the pane replaces the chat
	waitScreen(t, tm, "Friendlier greeting")
	screen := finalScreen(t, tm)
	for _, want := range append([]string{"Risk       28/100  +15 touches CI or check config: .github/workflows/x.yml",
		"Confidence 90/100  +40 2 checks passed", "Cost       not metered yet"},
		append(scoredRisk.Factors, scoredConfidence.Factors...)...) {
		if !strings.Contains(screen, want) {
			t.Errorf("pane lacks %q:\n%s", want, screen)
		}
	}
}
