package core

import (
	"context"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/assist"
	"github.com/patchgit/patchgit/internal/assist/chain"
	"github.com/patchgit/patchgit/internal/assist/provider"
	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/gitops"
)

// The projection of what remains of a model draft.
//
// While a model's draft job runs, Revision.Remaining holds what the stages
// still to run are projected to cost, priced the way each will reserve:
// Plan one call, Patch two (a failed edit is sent back once), over the
// requests the stages would build now (wouldSend: built, sent nowhere), and
// the sandbox verify as one meter slice of helper time when it is metered.
// It is stored when the job starts and again after each stage, and cleared
// when the draft ends, so the proposal pane shows spent, projected for what
// remains, and the total against the budget left.

// planBytesPerToken stands in for the plan Patch will receive before Plan
// has answered: its output cap at 4 bytes a token (tokenizers average
// 3.5-4), so the projection is an upper estimate.
const planBytesPerToken = 4

// remainingDraft projects one draft job's remaining stages.
type remainingDraft struct {
	c           *Core
	ctx         context.Context
	rev         *Revision
	repo        RepoSpec
	plan, patch ModelStage
	tree        *gitops.Tree
	read        chain.ReadFile
	verify      []CostLine // the verify's line, computed once
}

// lines is what remains before stage next ("plan", "patch" or "verify"),
// given the plan when Patch is next. An error means a stage could not be
// priced; the draft runs without a projection.
func (r *remainingDraft) lines(next string, plan *chain.PlanResult) ([]CostLine, error) {
	a := r.c.opt.Assistant
	var out []CostLine
	if next == "plan" {
		bound, prompt, err := r.project(r.plan, 0, func(st chain.Stage) error {
			_, err := chain.Plan(r.ctx, st, chain.PlanInput{Request: r.rev.Request, Tree: r.tree.Paths, Read: r.read,
				Deny: a.Deny, ContextTokens: a.ContextTokens})
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, CostLine{Stage: "plan", Category: stageCategory(r.plan.Tier), CostMicros: int64(bound),
			What: fmt.Sprintf("1 call: %d prompt + %d output tokens, %s", prompt, r.plan.MaxOutputTokens, r.plan.Model)})
		// Before Plan answers, Patch is projected on a stand-in plan at
		// the plan's output cap, plus a whole context budget of file
		// contents for the targets it will name (without reading them all).
		plan = &chain.PlanResult{Plan: strings.Repeat("x", int(r.plan.MaxOutputTokens)*planBytesPerToken)}
	}
	if next == "plan" || next == "patch" {
		var files int64
		if next == "plan" {
			files = a.ContextTokens
		}
		bound, prompt, err := r.project(r.patch, files, func(st chain.Stage) error {
			_, err := chain.Patch(r.ctx, st, chain.PatchInput{Request: r.rev.Request, Plan: *plan, Tree: r.tree.Paths, Read: r.read,
				Deny: a.Deny, ContextTokens: a.ContextTokens, Try: func([]assist.Edit) error { return nil }})
			return err
		})
		if err != nil {
			return nil, err
		}
		what := fmt.Sprintf("2 calls at most, %s each: %d prompt + %d output tokens, %s; a failed edit is sent back once",
			bound, prompt, r.patch.MaxOutputTokens, r.patch.Model)
		if next == "plan" {
			what += "; an upper estimate: until the plan names its files, the prompt counts the whole context budget"
		}
		out = append(out, CostLine{Stage: "patch", Category: stageCategory(r.patch.Tier), CostMicros: int64(2 * bound), What: what})
	}
	return append(out, r.verifyLine()...), nil
}

// project prices one call of a stage over the request it would send now,
// with extra more prompt tokens.
func (r *remainingDraft) project(ms ModelStage, extra int64, run func(chain.Stage) error) (budget.Micros, int64, error) {
	price, err := r.c.opt.Prices.Model(ms.Model)
	if err != nil {
		return 0, 0, err
	}
	req, err := wouldSend(run, ms.Model, ms.MaxOutputTokens)
	if err != nil {
		return 0, 0, err
	}
	if extra > 0 {
		req.Messages = append(req.Messages, provider.Message{Role: provider.RoleUser, Content: strings.Repeat("x", int(extra)*3)})
	}
	bound, prompt := callBound(price, req)
	return bound, prompt, nil
}

// verifyLine is the sandbox verify's projection: one meter slice of local
// helper time when the local sandbox is metered, or of the cheapest helper
// size that fits the repository when it runs on a priced helper machine;
// nothing when it costs nothing.
func (r *remainingDraft) verifyLine() []CostLine {
	if r.verify != nil {
		return slices.Clone(r.verify)
	}
	c := r.c
	slice := c.opt.MeterSlice
	line := CostLine{Stage: "verify", Category: CostHelper}
	switch {
	case c.onHelperMachine(r.repo) && c.opt.Helpers.Provider() != "local":
		hp, ok := cheapestHelper(c.opt.Prices.Helpers, r.repo.Helper.MemoryMB)
		if !ok || c.opt.Budget == nil {
			line.What = "on a helper machine (" + c.opt.Helpers.Provider() + "): priced when the helper starts"
		} else {
			line.CostMicros = int64(hp.Cost(slice))
			line.What = fmt.Sprintf("one %s meter slice of helper %s at %s/h, where the checks run", slice, hp.Size, hp.Hourly)
		}
	case c.metered():
		line.CostMicros = int64(c.verifyProjection())
		line.What = fmt.Sprintf("one %s meter slice of local helper time at %s/h", slice, c.opt.Prices.Local.Hourly)
	default:
		line.Category = ""
		line.What = "the sandbox checks on this machine: not metered"
	}
	r.verify = []CostLine{line}
	return slices.Clone(r.verify)
}

// cheapestHelper is the cheapest priced size with at least memoryMB, the
// size the helper policy picks first.
func cheapestHelper(sizes []budget.HelperPrice, memoryMB int) (budget.HelperPrice, bool) {
	var best budget.HelperPrice
	found := false
	for _, h := range sizes {
		if h.MemoryMB >= memoryMB && (!found || h.Hourly < best.Hourly) {
			best, found = h, true
		}
	}
	return best, found
}

func stageCategory(t budget.Tier) string {
	if t == budget.TierExternal {
		return CostExternal
	}
	return CostModel
}

// store records, on the job's revision, what run spent so far and what
// remains before stage next, and tells the people watching; a stage that
// cannot be priced leaves the projection out (its call then says why).
func (r *remainingDraft) store(j *Job, run *chainRun, next string, plan *chain.PlanResult) {
	lines, err := r.lines(next, plan)
	if err != nil {
		r.c.log.Warn("project the remaining stages", "job", j.ID, "err", err)
		lines = nil
	}
	spent := run.spent()
	err = r.c.update(func(tx *bolt.Tx, emit func(Event)) error {
		p, err := getProposal(tx, j.ProposalID)
		if err != nil {
			return err
		}
		if p.State != StateDraft || len(p.Revisions) != j.Revision {
			return nil // superseded: the job ends without it
		}
		rev := p.Revision(j.Revision)
		rev.Spent, rev.Remaining = keepLater(spent, rev.Spent, run.from()), lines
		emit(Event{Kind: EventProposal, ID: p.ID, Repo: p.Repo, ConversationID: p.ConversationID})
		return putProposal(tx, p)
	})
	if err != nil {
		r.c.log.Error("record the remaining projection", "job", j.ID, "err", err)
		return
	}
	run.written = len(spent) - len(run.before)
}

// clearRemaining drops a revision's projection inside a transaction that
// ends its draft.
func clearRemaining(rev *Revision) {
	if rev != nil {
		rev.Remaining = nil
	}
}
