package core

import (
	"context"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/assess"
	"github.com/patchgit/patchgit/internal/assist"
	"github.com/patchgit/patchgit/internal/sandbox"
)

// runDraft verifies a revision in the sandbox: the patch is admitted and
// applied to a fresh work dir at the base branch's head, the checks run,
// and the diff shown to the person is the one computed from that tree.
// Only a verified revision makes the proposal Proposed.
func (c *Core) runDraft(ctx context.Context, j *Job) error {
	var p *Proposal
	if err := c.opt.DB.View(func(tx *bolt.Tx) (err error) { p, err = getProposal(tx, j.ProposalID); return }); err != nil {
		return err
	}
	if p.State != StateDraft || len(p.Revisions) != j.Revision {
		return c.finishJob(j, "superseded by a newer revision or cancelled")
	}
	rev := p.Revision(j.Revision)
	repo, err := c.repo(p.Repo)
	if err != nil {
		return &Failure{User: err.Error(), Err: err}
	}
	defer c.releaseJobHelper(ctx, j) // a helper the model stages acquired (helpertier.go)
	var change assist.Change
	var command string // SourceOperation: the configured command (operation.go)
	if rev.Source == SourceOperation {
		if command, err = operationRequest(repo, rev); err != nil {
			return err
		}
		change = assist.Change{Kind: kindOperation, Title: operationNameOf(rev)}
	} else if rev.Source == SourceModel {
		if c.opt.Assistant == nil {
			return &Failure{User: "this revision asks a model for the change, but no model is configured (assistant.providers); paste a unified diff or search/replace blocks instead"}
		}
	} else if change, err = assist.Parse(rev.Request); err != nil {
		return &Failure{User: "the change could not be read: " + err.Error(), Err: err}
	}
	c.progress(j, "updating the repository mirror")
	cred, err := repo.credentials()
	if err != nil {
		return &Failure{User: err.Error(), Err: err}
	}
	if err := c.opt.Git.SyncMirrorAuth(ctx, repo.URL, repo.MirrorDir, cred); err != nil {
		return &Failure{User: "could not fetch " + repo.Name + "; check its url and token in the config and that it is reachable", Err: err}
	}
	base, err := c.opt.Git.ResolveRef(ctx, repo.MirrorDir, "refs/heads/"+repo.BaseBranch)
	if err != nil {
		return &Failure{User: fmt.Sprintf("base branch %q not found in %s; fix base_branch in the config", repo.BaseBranch, repo.Name), Err: err}
	}
	var md *modelDraft
	if rev.Source == SourceModel {
		if md, err = c.draftWithModel(ctx, j, rev, repo, base); md == nil {
			return err // nil: the job is closed (questions, approval, edits failed)
		}
		if !c.onHelperMachine(repo) { // the verify runs here: no helper to keep for it
			c.releaseJobHelper(ctx, j)
		}
		change = assist.Change{Kind: assist.KindEdits, Edits: md.edits}
		if md.offer, err = c.offerEscalation(ctx, rev, md); err != nil {
			// The draft stands without an escalation to offer.
			c.log.Warn("project an escalation", "job", j.ID, "err", err)
		}
	}
	if change.Kind == kindOperation {
		c.progress(j, "running operation "+change.Title+" in the sandbox, then the checks")
	} else {
		c.progress(j, "applying the patch in the sandbox and running the checks")
	}
	req := sandbox.Request{MirrorDir: repo.MirrorDir, Base: base, Checks: repo.Checks,
		CheckTimeout: c.opt.CheckTimeout, Limits: c.opt.Limits}
	switch change.Kind {
	case kindOperation:
		req.Command = command
	case assist.KindDiff:
		req.Diff = []byte(change.Diff)
	case assist.KindEdits:
		for _, e := range change.Edits {
			req.Edits = append(req.Edits, sandbox.Edit{Path: e.Path, Search: e.Search, Replace: e.Replace})
		}
	default:
		return &Failure{User: "the message holds no unified diff or search/replace blocks"}
	}
	res, err := c.verify(ctx, j, repo, "sandbox verify (draft)", req)
	// The model stages' helper is done with: destroyed and charged before
	// the proposal settles, so what the person sees includes its cost.
	c.releaseJobHelper(ctx, j)
	ae, needsApproval := asApproval(err)
	if needsApproval || isRefusal(err) {
		if md != nil { // the model calls were spent: keep their account
			if serr := c.stopDraft(j, md.spent, md.from, &md.plan, ""); serr != nil {
				return serr
			}
		}
		if needsApproval {
			return c.awaitApproval(j, c.helperEscalation("the sandbox verify", ae))
		}
		if st, ok := helperStopped(err); ok {
			return c.awaitApproval(j, c.helperStopEscalation("the sandbox verify", st))
		}
		return c.awaitApproval(j, c.helperRefusal("the sandbox verify", err))
	}
	if err != nil && c.onHelperMachine(repo) {
		return helperFailure(err)
	}
	if err != nil {
		return &Failure{User: "the sandbox could not run; see the daemon log", Err: err}
	}
	return c.recordDraft(j, repo, change, base, res, md)
}

// recordDraft stores the sandbox's verdict on the revision and, when it
// passed, makes the proposal Proposed. md is the model chain's draft (nil
// for a pasted change).
func (c *Core) recordDraft(j *Job, repo RepoSpec, change assist.Change, base string, res sandbox.Result, md *modelDraft) error {
	return c.update(func(tx *bolt.Tx, emit func(Event)) error {
		p, err := getProposal(tx, j.ProposalID)
		if err != nil {
			return err
		}
		if p.State != StateDraft || len(p.Revisions) != j.Revision {
			return c.closeJob(tx, emit, j, JobDone, "superseded")
		}
		rev := p.Revision(j.Revision)
		clearRemaining(rev) // the draft ends here
		rev.BaseCommit = base
		rev.Diff = string(res.Diff)
		rev.Targets = res.Files
		rev.Checks = checkResults(res.Checks)
		rev.Verified = res.Failure == ""
		rev.Plan = append(offlinePlan(repo, change, base, p.Branch, res), updatePlan(p)...)
		if change.Kind == kindOperation {
			rev.Plan = append(operationPlan(repo, change.Title, res, base, p.Branch), updatePlan(p)...)
			rev.Operation = operationRun(change.Title, res.Operation)
		}
		if md != nil {
			rev.Plan = append(modelPlan(repo, md, base, p.Branch, res), updatePlan(p)...)
			rev.Spent, rev.Questions = keepLater(md.spent, rev.Spent, md.from), nil
			rev.ModelPlan = &ModelPlan{Plan: md.plan.Plan, Targets: md.plan.Targets}
			rev.ModelConfidence = md.confidence
			if rev.EscalatedFrom > 0 {
				rev.Plan = append([]string{fmt.Sprintf("Redrafted on the %s tier (an approved escalation of revision %d, whose confidence was low).",
					rev.Tier, rev.EscalatedFrom)}, rev.Plan...)
			}
		}
		rev.TouchesChecks = res.TouchesChecks
		scoreRevision(rev)
		emit(Event{Kind: EventProposal, ID: p.ID, Repo: p.Repo, ConversationID: p.ConversationID})
		if md != nil {
			if esc := c.escalation(rev, md.tier, md.offer, c.verifyProjection()); esc != nil {
				return c.proposeEscalation(tx, emit, j, p, rev, md.tier, *esc, md.offer.projection(c.verifyProjection()))
			}
		}
		if rev.Verified {
			if err := c.priceExecution(tx, rev); err != nil {
				return err
			}
			if err := c.transition(tx, p, StateProposed, "patchgit", ""); err != nil {
				return err
			}
			msg := fmt.Sprintf("Proposal %s revision %d is ready: %d file(s), +%d -%d, %s. Review the diff, then press ctrl+g to GO (branch, commit, push, pull request; nothing is merged).",
				ShortID(p.ID), rev.N, len(res.Files), res.Added, res.Deleted, checksSummary(rev.Checks))
			if err := c.say(tx, emit, p.ConversationID, p.ID, msg); err != nil {
				return err
			}
			return c.closeJob(tx, emit, j, JobDone, "verified")
		}
		p.Reason = res.Failure
		p.Updated = c.now()
		if _, err := c.opt.Audit.Append(tx, "proposal.draft_failed", "patchgit", p.ID, map[string]string{
			"revision": fmt.Sprint(rev.N), "reason": res.Failure}); err != nil {
			return err
		}
		if err := putProposal(tx, p); err != nil {
			return err
		}
		msg := fmt.Sprintf("Proposal %s stays in Draft: %s\nNothing was pushed. Send a corrected change to make a new revision.", ShortID(p.ID), res.Failure)
		if err := c.say(tx, emit, p.ConversationID, p.ID, msg); err != nil {
			return err
		}
		return c.closeJob(tx, emit, j, JobDone, "not verified")
	})
}

// finishJob closes a job in its own transaction.
func (c *Core) finishJob(j *Job, progress string) error {
	return c.update(func(tx *bolt.Tx, emit func(Event)) error {
		return c.closeJob(tx, emit, j, JobDone, progress)
	})
}

// closeJob marks a job finished and releases its repository lease.
func (c *Core) closeJob(tx *bolt.Tx, emit func(Event), j *Job, state JobState, progress string) error {
	cur, err := getJob(tx, j.ID)
	if err != nil {
		return err
	}
	cur.State, cur.Progress, cur.Finished = state, progress, c.now()
	if _, err := c.opt.Audit.Append(tx, "job."+string(state), "patchgit", cur.ID, map[string]string{"result": progress}); err != nil {
		return err
	}
	if err := putJob(tx, cur); err != nil {
		return err
	}
	emit(Event{Kind: EventJob, ID: cur.ID, ProposalID: cur.ProposalID, Repo: cur.Repo, Text: progress})
	*j = *cur
	return releaseLease(tx, cur)
}

// scoreRevision computes risk and confidence from what is stored on the
// revision only, so they can be recomputed later (AssessInput).
func scoreRevision(rev *Revision) {
	in := rev.AssessInput()
	risk, confidence := assess.Risk(in), assess.Confidence(in)
	rev.Risk, rev.Confidence = &risk, &confidence
}

func checkResults(in []sandbox.CheckResult) []CheckResult {
	out := make([]CheckResult, 0, len(in))
	for _, r := range in {
		out = append(out, CheckResult{Name: r.Name, Command: r.Command, ExitCode: r.ExitCode, Passed: r.Passed,
			TimedOut: r.TimedOut, Output: r.Output, Duration: r.Duration, Mode: r.Mode})
	}
	return out
}

func checksSummary(checks []CheckResult) string {
	if len(checks) == 0 {
		return "no checks configured"
	}
	passed := 0
	for _, r := range checks {
		if r.Passed {
			passed++
		}
	}
	return fmt.Sprintf("checks passed %d/%d", passed, len(checks))
}

// offlinePlan says, without a model, exactly what GO will do.
func offlinePlan(repo RepoSpec, change assist.Change, base, branch string, res sandbox.Result) []string {
	what := "Apply the pasted unified diff as-is"
	if change.Kind == assist.KindEdits {
		what = fmt.Sprintf("Apply %d search/replace edit(s)", len(change.Edits))
	}
	return append([]string{fmt.Sprintf("%s to %d file(s) (offline assistant: no model configured).", what, len(res.Files))},
		goLines(repo, base, branch)...)
}

// modelPlan is the model's plan, then exactly what PatchGit does with it.
func modelPlan(repo RepoSpec, md *modelDraft, base, branch string, res sandbox.Result) []string {
	lines := planLines(md.plan.Plan)
	lines = append(lines, fmt.Sprintf("The model's %d search/replace edit(s) to %d file(s), applied in the sandbox, make the diff.",
		len(md.edits), len(res.Files)))
	return append(lines, goLines(repo, base, branch)...)
}

// goLines say how the change is verified and what GO does.
func goLines(repo RepoSpec, base, branch string) []string {
	checks := "no checks configured"
	if len(repo.Checks) > 0 {
		checks = strings.Join(repo.Checks, "; ")
	}
	return []string{
		fmt.Sprintf("Verify in the sandbox on %s at %s: %s.", repo.BaseBranch, shortSHA(base), checks),
		fmt.Sprintf("On GO: commit on %s, push branch %s, open a pull request into %s. PatchGit never merges.", shortSHA(base), branch, repo.BaseBranch),
	}
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
