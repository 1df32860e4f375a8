package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/tui/diffview"
)

const (
	notComputed = "not computed yet"
	notMetered  = "not metered yet"
	// failedOutputRows is how much of a failed check's output the pane shows.
	failedOutputRows = 3
	// minDiffRows is what the diff keeps when the details are long.
	minDiffRows = 6
)

// proposalPane shows the conversation's latest Proposed Execution: its
// details on top and the diff, scrollable, below.
type proposalPane struct {
	st      *Styles
	p       *core.Proposal
	job     *core.Job
	diff    diffview.Model
	width   int
	height  int
	focused bool
	budget  *core.BudgetStatus // the windows now; nil: not read
}

func newProposalPane(st *Styles) proposalPane {
	pp := proposalPane{st: st, diff: diffview.New()}
	pp.diff.SetStyles(st.Diff)
	return pp
}

func (pp *proposalPane) setStyles(st *Styles) {
	pp.st = st
	pp.diff.SetStyles(st.Diff)
}

func (pp *proposalPane) set(p *core.Proposal, job *core.Job) {
	pp.p, pp.job = p, job
	if rev := pp.current(); rev != nil {
		pp.diff.SetContent(rev.Diff)
	} else {
		pp.diff.SetContent("")
	}
	pp.layoutDiff()
}

func (pp *proposalPane) setSize(w, h int) {
	pp.width, pp.height = w, h
	pp.layoutDiff()
}

// current is the revision on screen: the latest one.
func (pp *proposalPane) current() *core.Revision {
	if pp.p == nil {
		return nil
	}
	return pp.p.Current()
}

// revision is the number of the revision on screen, 0 when there is none.
func (pp *proposalPane) revision() int {
	if rev := pp.current(); rev != nil {
		return rev.N
	}
	return 0
}

// layoutDiff gives the diff the rows the details leave, at least minDiffRows.
func (pp *proposalPane) layoutDiff() {
	details := len(pp.details())
	pp.diff.SetSize(pp.width, max(0, pp.height-1-min(details, pp.detailRows())))
}

// detailRows is how many rows the details may take: what the diff's
// minDiffRows leave, but always the title, the state, the job at work and
// the whole Awaiting panel with its keys (and the cut's line), on a pane
// too short for both the diff gives way.
func (pp *proposalPane) detailRows() int {
	pinned := 2 // the title and the state
	if pp.activeJob() != nil {
		pinned++ // the job at work
	}
	if n := len(pp.awaitingRows()); n > 0 {
		pinned += n + 1
	}
	if rev := pp.current(); rev != nil && pp.drafting(rev) {
		return max(1, pp.height-1) // no diff yet: the details take the pane
	}
	return min(max(1, pp.height-1-minDiffRows, pinned), max(1, pp.height-1))
}

func (pp *proposalPane) view() string {
	if pp.width <= 0 || pp.height <= 0 {
		return ""
	}
	title := pp.st.PaneTitle.Render("Proposed Execution")
	if pp.focused {
		title = pp.st.PaneFocused.Render("Proposed Execution") + pp.st.Hint.Render("  (keys go here; tab returns to the chat)")
	}
	rows := []string{title}
	details := pp.details()
	if limit := pp.detailRows(); len(details) > limit {
		kept := limit - 1
		for kept > 2 && isHeading(details[kept-1]) {
			kept-- // a heading whose lines are all cut goes with them
		}
		more := len(details) - kept
		details = append(details[:kept], pp.st.Hint.Render(fmt.Sprintf("… %d more detail lines (a wider or taller terminal shows them)", more)))
	}
	rows = append(rows, details...)
	if rev := pp.current(); rev != nil && !pp.drafting(rev) {
		rows = append(rows, pp.diff.View())
	}
	return fit(strings.Join(rows, "\n"), pp.width, pp.height)
}

// details lists everything about the proposal except the diff. Text that
// came from outside (titles, plans, check output) goes through Printable.
func (pp *proposalPane) details() []string {
	st, p := pp.st, pp.p
	if p == nil {
		return []string{st.Hint.Render("No proposal yet. Paste a unified diff or search/replace blocks in the chat to draft one.")}
	}
	label := func(s string) string { return st.Label.Render(fmt.Sprintf("%-11s", s)) }
	rows := []string{st.Title.Render(clean(p.Title))}

	head := st.Label.Render("id ") + shortID(p.ID) + "  " + pp.stateText()
	if rev := pp.current(); rev != nil {
		head += fmt.Sprintf("  revision %d", rev.N)
		if len(p.Revisions) > 1 {
			head += fmt.Sprintf(" of %d", len(p.Revisions))
		}
	} else {
		head += st.NotYet.Render("  no revision yet")
	}
	rows = append(rows, head)
	// A job at work comes right under the state, so a small pane's cut
	// never hides what is happening now.
	jobNow := pp.activeJob()
	if jobNow != nil {
		rows = append(rows, label("Job")+pp.jobText(jobNow))
	}
	top := len(rows)

	awaiting := pp.awaitingRows()
	rows = append(rows, awaiting...)
	if p.Reason != "" && p.Waiting != core.WaitingApproval && (p.State == core.StateDraft || p.State == core.StateFailed || p.State == core.StateCancelled) {
		reason := st.Label.Render("Reason ") + clean(p.Reason)
		if p.State == core.StateFailed {
			reason = st.Fail.Render("Reason ") + clean(p.Reason)
		}
		rows = append(rows, reason)
	}

	rev := pp.current()
	if rev != nil && pp.drafting(rev) {
		// Nothing about the change is known yet: one line says what will
		// come, so the costs of the draft at work stay in view.
		rows = append(rows, label("Not yet")+st.NotYet.Render("the plan, checks, scores and GO's price come once the draft is verified"))
		rows = append(rows, pp.costRows(rev)...)
	} else if rev != nil {
		if len(rev.Plan) > 0 {
			rows = append(rows, label("Plan"))
			for i, step := range rev.Plan {
				rows = append(rows, fmt.Sprintf("  %d. %s", i+1, clean(step)))
			}
		}
		rows = append(rows, pp.operationRows(rev)...)
		targets := make([]string, len(rev.Targets))
		for i, t := range rev.Targets {
			targets[i] = clean(t)
		}
		if len(targets) == 0 {
			rows = append(rows, label("Targets")+st.NotYet.Render("none yet"))
		} else {
			rows = append(rows, label("Targets")+strings.Join(targets, ", "))
		}
		scores := append(pp.scoreRows("Risk", rev.Risk), pp.scoreRows("Confidence", rev.Confidence)...)
		if len(awaiting) > 0 {
			// While the draft waits, the scores (the reasons it asks) come
			// right after the panel, before the plan, so a small pane's cut
			// takes the plan and the rest, never them.
			rows = append(rows[:top+len(awaiting)], append(scores, rows[top+len(awaiting):]...)...)
			scores = nil
		}
		rows = append(rows, pp.checkRows(rev)...)
		rows = append(rows, scores...)
		rows = append(rows, label("Cost")+pp.costSummary(rev))
		rows = append(rows, pp.executionRows(rev)...)
		rows = append(rows, pp.costRows(rev)...)
	}
	if j := pp.job; j != nil && j.ProposalID == p.ID && jobNow == nil {
		rows = append(rows, label("Job")+pp.jobText(j))
	}
	if p.PR != nil {
		rows = append(rows, label("PR")+fmt.Sprintf("#%d ", p.PR.Number)+st.Link.Render(clean(p.PR.URL)))
	}
	return rows
}

// isHeading says a details row is a section's bare heading (its lines
// follow it).
func isHeading(row string) bool {
	s := strings.TrimSpace(ansi.Strip(row))
	return s == "Plan" || s == "Checks"
}

// notVerifiedYet says a revision holds nothing computed yet: no plan, no
// diff, no checks, no scores, no priced GO (a draft at work).
func notVerifiedYet(rev *core.Revision) bool {
	return len(rev.Plan) == 0 && rev.Diff == "" && len(rev.Checks) == 0 && rev.Risk == nil && rev.Confidence == nil &&
		rev.Execution == nil && len(rev.Targets) == 0
}

// drafting says rev is being drafted and holds nothing computed yet: the
// pane shows the job and the costs, no empty diff.
func (pp *proposalPane) drafting(rev *core.Revision) bool {
	return (pp.activeJob() != nil || len(rev.Remaining) > 0) && notVerifiedYet(rev)
}

// activeJob is the shown proposal's job while it is queued or running.
func (pp *proposalPane) activeJob() *core.Job {
	if j := pp.job; j != nil && pp.p != nil && j.ProposalID == pp.p.ID && (j.State == core.JobQueued || j.State == core.JobRunning) {
		return j
	}
	return nil
}

func (pp *proposalPane) stateText() string {
	st, p := pp.st, pp.p
	style := st.StateOpen
	switch p.State {
	case core.StateApproved, core.StateQueued, core.StateRunning:
		style = st.StateBusy
	case core.StatePublished:
		style = st.StateDone
	case core.StateFailed, core.StateCancelled:
		style = st.StateBad
	}
	s := style.Render(string(p.State))
	if p.Waiting == core.WaitingApproval {
		s += " " + st.StateOpen.Render("(awaiting approval)")
	}
	return s
}

func (pp *proposalPane) checkRows(rev *core.Revision) []string {
	st := pp.st
	if len(rev.Checks) == 0 {
		return []string{st.Label.Render(fmt.Sprintf("%-11s", "Checks")) + st.NotYet.Render("not run yet")}
	}
	rows := []string{st.Label.Render("Checks")}
	for _, c := range rev.Checks {
		if c.Passed {
			rows = append(rows, "  "+st.Pass.Render("pass")+" "+clean(c.Command))
			continue
		}
		why := fmt.Sprintf(" (exit %d)", c.ExitCode)
		if c.TimedOut {
			why = " (timed out)"
		}
		rows = append(rows, "  "+st.Fail.Render("FAIL")+" "+clean(c.Command)+st.Label.Render(why))
		shown := 0
		for _, l := range strings.Split(c.Output, "\n") {
			if strings.TrimSpace(l) == "" {
				continue
			}
			if shown == failedOutputRows {
				break
			}
			rows = append(rows, "       "+st.Label.Render(clean(l)))
			shown++
		}
	}
	return rows
}

func (pp *proposalPane) cost(micros *int64) string {
	if micros == nil {
		return pp.st.NotYet.Render(notMetered)
	}
	return formatMicros(*micros)
}

func (pp *proposalPane) jobText(j *core.Job) string {
	s := string(j.Kind) + " " + string(j.State)
	switch {
	case j.State == core.JobFailed && j.Failure != "":
		return pp.st.Fail.Render(s+": ") + clean(j.Failure)
	case j.Progress != "" && (j.State == core.JobRunning || j.State == core.JobQueued):
		return s + ": " + clean(j.Progress)
	}
	return s
}

// formatMicros writes micro-dollars as dollars the way every front end
// does (budget.Micros: at least cents, no trailing zeros beyond).
func formatMicros(micros int64) string { return budget.Micros(micros).String() }

// clean makes a one-line piece of outside text safe to print.
func clean(s string) string {
	s = strings.ReplaceAll(normalizeNewlines(s), "\n", " ")
	return diffview.Printable(s)
}

// executionRows show GO's priced plan and, when it needs approval, the
// escalation panel: WHY, the cost, the expected confidence gain, and the
// two plans the "Approve extra spend" toggle chooses between.
func (pp *proposalPane) executionRows(rev *core.Revision) []string {
	ex, st := rev.Execution, pp.st
	if ex == nil {
		return nil
	}
	label := func(s string) string { return st.Label.Render(fmt.Sprintf("%-11s", s)) }
	left := st.Label.Render(fmt.Sprintf("  budget left %s this hour, %s today", formatMicros(ex.HourRemaining), formatMicros(ex.DayRemaining)))
	if ex.Escalation == nil {
		return []string{label("GO runs") + clean(ex.Preferred.Summary) + " " + formatMicros(ex.Preferred.CostMicros) + left}
	}
	esc := ex.Escalation
	why := make([]string, len(esc.Why))
	for i, w := range esc.Why {
		why[i] = clean(w)
	}
	gain := st.NotYet.Render(notComputed)
	if esc.ConfidenceGain != nil {
		gain = fmt.Sprintf("+%d", *esc.ConfidenceGain)
	}
	rows := []string{
		st.Confirm.Render("Escalation") + " extra spend needs your approval on the confirm screen (ctrl+g, then a)" + left,
		"  WHY   " + strings.Join(why, "; "),
		fmt.Sprintf("  cost  %s, approving allows up to %s; expected confidence gain %s", formatMicros(esc.CostMicros), formatMicros(esc.ApproveMicros), gain),
		"  toggle ON   " + clean(ex.Preferred.Summary) + " " + formatMicros(ex.Preferred.CostMicros),
	}
	if ex.Cheaper != nil {
		rows = append(rows, "  toggle OFF  "+clean(ex.Cheaper.Summary)+" "+formatMicros(ex.Cheaper.CostMicros))
	} else {
		rows = append(rows, "  toggle OFF  no cheaper plan: GO returns the proposal to Draft")
	}
	return rows
}

// operationOutputLines is how much of a repository operation's output the
// pane shows: its end, where a tool says what went wrong.
const operationOutputLines = 12

// operationRows show the repository operation that made the revision (`/run
// NAME`): its command, exit code, isolation mode, and the end of its output.
func (pp *proposalPane) operationRows(rev *core.Revision) []string {
	op, st := rev.Operation, pp.st
	if op == nil {
		return nil
	}
	status := st.Pass.Render(fmt.Sprintf("exit %d", op.ExitCode))
	if !op.Passed {
		status = st.Fail.Render(fmt.Sprintf("exit %d", op.ExitCode))
	}
	rows := []string{st.Label.Render(fmt.Sprintf("%-11s", "Operation")) + clean(op.Name) + ": " + clean(op.Command) + "  " + status + " " + clean(op.Mode)}
	out := strings.TrimRight(normalizeNewlines(op.Output), "\n")
	if out == "" {
		return append(rows, st.NotYet.Render("  (no output)"))
	}
	lines := strings.Split(out, "\n")
	if len(lines) > operationOutputLines {
		rows = append(rows, st.NotYet.Render(fmt.Sprintf("  … %d earlier lines", len(lines)-operationOutputLines)))
		lines = lines[len(lines)-operationOutputLines:]
	}
	for _, l := range lines {
		rows = append(rows, "  │ "+diffview.Printable(l))
	}
	return rows
}
