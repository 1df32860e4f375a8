package core

import (
	"fmt"
	"github.com/patchgit/patchgit/internal/budget"
	"strings"
	"time"
)

// prBody is the pull request's description: what the person saw on the
// Proposed Execution when they pressed GO, and who prepared it.
func (c *Core) prBody(p *Proposal, rev *Revision, repo RepoSpec, commit, base string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", p.Title)
	b.WriteString("## Plan\n")
	for _, l := range rev.Plan {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	b.WriteString("\n## Targets\n")
	for _, t := range rev.Targets {
		fmt.Fprintf(&b, "- `%s`\n", t)
	}
	b.WriteString("\n## Risk and confidence\n")
	fmt.Fprintf(&b, "- Risk: %s\n", scoreText(rev.Risk))
	fmt.Fprintf(&b, "- Confidence: %s\n", scoreText(rev.Confidence))
	b.WriteString("\n## Checks run in the sandbox\n")
	if len(rev.Checks) == 0 {
		b.WriteString("No checks are configured for this repository.\n")
	} else {
		b.WriteString("| check | result | time | isolation |\n|---|---|---|---|\n")
		for _, r := range rev.Checks {
			verdict := "passed"
			switch {
			case r.TimedOut:
				verdict = "timed out"
			case !r.Passed:
				verdict = fmt.Sprintf("failed (exit %d)", r.ExitCode)
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", strings.ReplaceAll(r.Command, "|", `\|`), verdict,
				r.Duration.Round(10*time.Millisecond), orDash(r.Mode))
		}
	}
	b.WriteString("\n## Cost\n")
	if rev.CostMicros == nil {
		b.WriteString("No cost was recorded for this revision (no model or helper was metered).\n")
	} else {
		fmt.Fprintf(&b, "%s spent on this revision.\n", budget.Micros(*rev.CostMicros))
	}
	b.WriteString("\n## Proposal\n")
	link := fmt.Sprintf("proposal %s", p.ID)
	if c.opt.ProposalURL != nil {
		if u := c.opt.ProposalURL(p.ID); u != "" { // "" while the mirror is not serving
			link = fmt.Sprintf("[proposal %s](%s)", ShortID(p.ID), u)
		}
	}
	fmt.Fprintf(&b, "PatchGit %s, revision %d, commit %s on %s at %s.\n", link, rev.N, shortSHA(commit), repo.BaseBranch, shortSHA(base))
	merge := "PatchGit never merges: that is your call."
	if repo.AutoMerge {
		merge = "auto_merge is on for this repository (an opt-in): PatchGit merges this PR after opening it."
	}
	fmt.Fprintf(&b, "\n---\nPrepared by PatchGit and published on GO. %s\n", merge)
	return b.String()
}

// scoreText is a score and its reason lines as a nested list.
func scoreText(s *Score) string {
	if s == nil {
		return "not scored (this revision was stored before PatchGit scored revisions)"
	}
	out := fmt.Sprintf("%d/100", s.Value)
	for _, f := range s.Factors {
		out += "\n  - " + f
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
