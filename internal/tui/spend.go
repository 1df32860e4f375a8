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
	width := amountWidth(rev)
	// Breakdown rows wrap, never cut: a cut at the pane's edge hid the
	// tokens a stage spent (the rows below the pane's height give way to
	// the diff as a whole, with "… more detail lines").
	for _, l := range rev.Spent {
		rows = append(rows, pp.wrapped(pp.costLine(l, width))...)
	}
	total, ex := spent, rev.Execution
	word := "spent so far; "
	if len(rev.Remaining) > 0 {
		var remaining int64
		for _, l := range rev.Remaining {
			remaining += l.CostMicros
		}
		rows = append(rows, label("Remaining")+formatMicros(remaining)+" projected at most for the stages still to run (prompts with a 1.5x margin)")
		for _, l := range rev.Remaining {
			// Wrapped, never cut: while drafting there is no diff below.
			rows = append(rows, pp.wrapped(pp.costLine(l, width))...)
		}
		total += remaining
		word = "spent and projected; "
	}
	if ex != nil {
		rows = append(rows, label("GO")+formatMicros(ex.Preferred.CostMicros)+" projected, plan "+clean(ex.Preferred.Name))
		for _, l := range ex.Preferred.Breakdown {
			rows = append(rows, pp.wrapped(pp.costLine(l, width))...)
		}
		if ex.Escalation != nil && ex.Cheaper != nil {
			rows = append(rows, fmt.Sprintf("  without approval: plan %s, %s", clean(ex.Cheaper.Name), formatMicros(ex.Cheaper.CostMicros)))
		}
		total += ex.Preferred.CostMicros
		word = "with GO; "
	}
	rows = append(rows, label("Total")+formatMicros(total)+" "+st.Label.Render(word)+pp.budgetLeft(ex))
	if len(rev.Remaining) > 0 && pp.budget != nil && total-spent > int64(pp.budget.Hour.Remaining) {
		rows = append(rows, strings.Repeat(" ", 11)+st.Confirm.Render("more than this hour has left: a stage that does not fit asks for approval"))
	}
	return rows
}

// costSummary is the Cost row: once GO is priced, its projection, what
// drafting spent and both against the budget left, in one line high in
// the pane (the breakdown below may be cut on a small one).
func (pp *proposalPane) costSummary(rev *core.Revision) string {
	ex := rev.Execution
	if ex == nil {
		return pp.cost(rev.CostMicros)
	}
	var spent int64
	for _, l := range rev.Spent {
		spent += l.CostMicros
	}
	return fmt.Sprintf("GO %s + spent %s = %s; %s", formatMicros(ex.Preferred.CostMicros),
		formatMicros(spent), formatMicros(ex.Preferred.CostMicros+spent), pp.budgetLeft(ex))
}

// costLine is one stage of a cost breakdown: amount (padded to width),
// stage, category, what.
func (pp *proposalPane) costLine(l core.CostLine, width int) string {
	cat := l.Category
	if cat == "" {
		cat = "no charge"
	}
	return fmt.Sprintf("  %-*s %-6s  %s  %s", width, formatMicros(l.CostMicros), clean(l.Stage), pp.st.Label.Render(clean(cat)), clean(l.What))
}

// amountWidth lines the amounts of a breakdown up: the widest, at least 8.
func amountWidth(rev *core.Revision) int {
	w := 8
	for _, lines := range [][]core.CostLine{rev.Spent, rev.Remaining} {
		for _, l := range lines {
			w = max(w, len(formatMicros(l.CostMicros)))
		}
	}
	if ex := rev.Execution; ex != nil {
		for _, l := range ex.Preferred.Breakdown {
			w = max(w, len(formatMicros(l.CostMicros)))
		}
	}
	return w
}

// wrapped wraps a breakdown row to the pane, its continuation indented.
func (pp *proposalPane) wrapped(row string) []string {
	const indent = 4
	w := max(pp.width, 24)
	lines := strings.Split(ansi.Wrap(row, w, " "), "\n")
	if len(lines) == 1 {
		return lines
	}
	rest := make([]string, 0, len(lines)-1)
	for _, l := range lines[1:] {
		rest = append(rest, strings.TrimSpace(l))
	}
	out := []string{strings.TrimRight(lines[0], " ")}
	for _, l := range strings.Split(ansi.Wrap(strings.Join(rest, " "), w-indent, " "), "\n") {
		out = append(out, strings.Repeat(" ", indent)+strings.TrimSpace(l))
	}
	return out
}
