package chain

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/patchgit/patchgit/internal/assist/provider"
)

// PlanInput is what Plan reads.
type PlanInput struct {
	Request       string   // the person's message
	Tree          []string // every file path in the repository
	Read          ReadFile
	Selected      []string // files named by the person or an earlier turn
	Deny          *Deny
	ContextTokens int64 // budget for the tree and the file contents
}

// PlanResult is the plan, or the questions to ask instead.
type PlanResult struct {
	Plan      string
	Targets   []string // files to change or create
	Questions []string // non-empty: the request is unclear; ask these, do not patch
	Context   Context  // what was sent and what was held back
	Calls     []Call
}

const planSystem = `You plan changes to a git repository for PatchGit. You do not write code in this step.
Answer in exactly these three sections, each heading alone on its line:
PLAN:
<a few sentences: what to change and why>
TARGETS:
- <path of each file to change or create, one per line>
QUESTIONS:
- <a question for the person, one per line; write "- none" when the request is clear>
If the request is ambiguous or lacks something you need, ask instead of guessing: put your questions under QUESTIONS and leave TARGETS empty.`

// Plan asks the model for a plan, targets and questions.
func Plan(ctx context.Context, st Stage, in PlanInput) (PlanResult, error) {
	c := Gather(in.Tree, in.Read, in.Deny, in.Request, in.Selected, in.ContextTokens)
	var b strings.Builder
	c.render(&b, true)
	fmt.Fprintf(&b, "Request:\n%s\n", in.Request)
	call, err := st.ask(ctx, planSystem, []provider.Message{{Role: provider.RoleUser, Content: b.String()}})
	res := PlanResult{Context: c, Calls: []Call{call}}
	if err != nil {
		return res, fmt.Errorf("plan: %w", err)
	}
	if err := parsePlan(call.Response.Text, &res); err != nil {
		return res, fmt.Errorf("plan: %w", err)
	}
	return res, nil
}

var heading = regexp.MustCompile(`(?i)^[#*\s]*(plan|targets|questions)\s*:?[*\s]*:?\s*(.*)$`)

// parsePlan reads the three sections; headings may carry markdown.
func parsePlan(text string, res *PlanResult) error {
	sections := map[string][]string{}
	cur := ""
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			cur = strings.ToLower(m[1])
			sections[cur] = nil
			if rest := strings.TrimSpace(m[2]); rest != "" {
				sections[cur] = append(sections[cur], rest)
			}
			continue
		}
		if cur != "" {
			sections[cur] = append(sections[cur], line)
		}
	}
	if _, ok := sections["plan"]; !ok {
		return fmt.Errorf("%w: no PLAN: section in the answer", ErrBadPlan)
	}
	res.Plan = strings.TrimSpace(strings.Join(sections["plan"], "\n"))
	for _, item := range listItems(sections["questions"]) {
		if !strings.EqualFold(strings.Trim(item, ". "), "none") {
			res.Questions = append(res.Questions, item)
		}
	}
	for _, item := range listItems(sections["targets"]) {
		p := strings.Trim(item, "`* ")
		if p == "" || strings.EqualFold(p, "none") {
			continue
		}
		if clean := path.Clean(p); path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("%w: target %q is outside the repository", ErrBadPlan, p)
		}
		res.Targets = append(res.Targets, path.Clean(p))
	}
	if len(res.Questions) == 0 && len(res.Targets) == 0 {
		return fmt.Errorf("%w: neither targets nor questions", ErrBadPlan)
	}
	return nil
}

func listItems(lines []string) []string {
	var out []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		l = strings.TrimSpace(strings.TrimLeft(l, "-*•"))
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
