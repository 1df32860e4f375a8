package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/patchgit/patchgit/internal/core"
)

// waitingOn says whether p is still the draft, at revision rev, that waits
// for approval of spend: a spend question means nothing otherwise.
func waitingOn(p *core.Proposal, id string, rev int) bool {
	return p != nil && p.ID == id && p.Waiting == core.WaitingApproval && p.Awaiting != nil &&
		p.Current() != nil && p.Current().N == rev
}

// approveText is what approving allows: the amount core will record, or
// the projection plus the policy's margin when the request named none.
func approveText(esc *core.Escalation) string {
	if esc.ApproveMicros > 0 {
		return formatMicros(esc.ApproveMicros)
	}
	return formatMicros(esc.CostMicros) + " plus the budget's margin"
}

func whatRuns(esc *core.Escalation) string {
	if esc.What == "" {
		return "the next step"
	}
	return clean(esc.What)
}

// budgetLeft says what the budget has left: the ledger's windows now when
// read, else the ones a priced plan recorded, else that it is unknown.
func (pp *proposalPane) budgetLeft(ex *core.Execution) string {
	switch {
	case pp.budget != nil:
		return fmt.Sprintf("%s left this hour, %s today", formatMicros(int64(pp.budget.Hour.Remaining)), formatMicros(int64(pp.budget.Day.Remaining)))
	case ex != nil:
		return fmt.Sprintf("%s left this hour, %s today (when priced)", formatMicros(ex.HourRemaining), formatMicros(ex.DayRemaining))
	}
	return pp.st.NotYet.Render("budget left not known yet")
}

// awaitingRows is the panel of a draft waiting for approval of spend: what
// runs, why it asks, the cost, what approving allows, the expected
// confidence gain, the budget left and the keys that answer.
func (pp *proposalPane) awaitingRows() []string {
	p, st := pp.p, pp.st
	if p == nil || p.Waiting != core.WaitingApproval || p.Awaiting == nil {
		return nil
	}
	esc := p.Awaiting
	why := make([]string, len(esc.Why))
	for i, w := range esc.Why {
		why[i] = clean(w)
	}
	gain := st.NotYet.Render(notComputed)
	if esc.ConfidenceGain != nil {
		gain = fmt.Sprintf("%+d", *esc.ConfidenceGain)
		if len(esc.GainReasons) > 0 {
			reasons := make([]string, len(esc.GainReasons))
			for i, r := range esc.GainReasons {
				reasons[i] = clean(r)
			}
			gain += ": " + strings.Join(reasons, "; ")
		}
	}
	keys := "tab to this pane, then a approves (asks y/n) or d declines (asks y/n)"
	if pp.focused {
		keys = "a approves (asks y/n) · d declines (asks y/n)"
	}
	head := " this draft's next step needs your approval of spend"
	if esc.Redraft != "" {
		head = " a stronger model may do better; redrafting needs your approval of spend"
	}
	rows := []string{st.Confirm.Render("Awaiting approval") + head}
	rows = append(rows, pp.panelRows("runs", whatRuns(esc))...)
	rows = append(rows, pp.panelRows("WHY", strings.Join(why, "; "))...)
	rows = append(rows, pp.panelRows("cost", fmt.Sprintf("%s; approving allows up to %s", formatMicros(esc.CostMicros), approveText(esc)))...)
	rows = append(rows, pp.panelRows("gain", "expected confidence gain "+gain)...)
	rows = append(rows, pp.panelRows("budget", pp.budgetLeft(nil))...)
	return append(rows, pp.panelRows("keys", keys)...)
}

// panelRows is one field of the Awaiting panel, wrapped to the pane under
// its value (never cut: every word of WHY and of the cost matters).
func (pp *proposalPane) panelRows(name, text string) []string {
	const indent = 10 // "  runs    "
	lines := strings.Split(ansi.Wrap(text, max(pp.width-indent, 16), " "), "\n")
	rows := []string{fmt.Sprintf("  %-8s", name) + strings.TrimRight(lines[0], " ")}
	for _, l := range lines[1:] {
		rows = append(rows, strings.Repeat(" ", indent)+strings.TrimSpace(l))
	}
	return rows
}

// costRows break the Proposed Execution's money down: what drafting spent,
// by stage and category; while a model drafts, what its remaining stages
// are projected to cost; once priced, what GO is projected to cost; and
// the total against the budget left.
func (pp *proposalPane) costRows(rev *core.Revision) []string {
	if len(rev.Spent) == 0 && len(rev.Remaining) == 0 && rev.Execution == nil {
		return nil
	}
	st := pp.st
	label := func(s string) string { return st.Label.Render(fmt.Sprintf("%-11s", s)) }
	var spent int64
	for _, l := range rev.Spent {
		spent += l.CostMicros
	}
	head := " drafting this revision"
	if len(rev.Remaining) > 0 {
		head = " so far"
	}
	rows := []string{label("Spent") + formatMicros(spent) + head}
	for _, l := range rev.Spent {
		rows = append(rows, pp.costLine(l))
	}
	total, ex := spent, rev.Execution
	word := "spent so far; "
	if len(rev.Remaining) > 0 {
		var remaining int64
		for _, l := range rev.Remaining {
			remaining += l.CostMicros
		}
		rows = append(rows, label("Remaining")+formatMicros(remaining)+" projected at most, for the stages still to run")
		for _, l := range rev.Remaining {
			rows = append(rows, pp.costLine(l))
		}
		total += remaining
		word = "spent and projected; "
	}
	if ex != nil {
		rows = append(rows, label("GO")+formatMicros(ex.Preferred.CostMicros)+" projected, plan "+clean(ex.Preferred.Name))
		for _, l := range ex.Preferred.Breakdown {
			rows = append(rows, pp.costLine(l))
		}
		if ex.Escalation != nil && ex.Cheaper != nil {
			rows = append(rows, fmt.Sprintf("  without approval: plan %s, %s", clean(ex.Cheaper.Name), formatMicros(ex.Cheaper.CostMicros)))
		}
		total += ex.Preferred.CostMicros
		word = "with GO; "
	}
	text := formatMicros(total) + " " + st.Label.Render(word) + pp.budgetLeft(ex)
	if len(rev.Remaining) > 0 && pp.budget != nil && total-spent > int64(pp.budget.Hour.Remaining) {
		text += st.Confirm.Render(" · more than this hour has left: a stage that does not fit asks for approval")
	}
	return append(rows, label("Total")+text)
}

// costLine is one stage of a cost breakdown: amount, stage, category, what.
func (pp *proposalPane) costLine(l core.CostLine) string {
	cat := l.Category
	if cat == "" {
		cat = "no charge"
	}
	return fmt.Sprintf("  %-8s %-6s  %s  %s", formatMicros(l.CostMicros), clean(l.Stage), pp.st.Label.Render(clean(cat)), clean(l.What))
}
