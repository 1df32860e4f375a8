package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/assist"
	"github.com/patchgit/patchgit/internal/assist/chain"
	"github.com/patchgit/patchgit/internal/assist/provider"
	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/gitops"
)

// SourceModel marks a revision the model chain drafts: a request in prose,
// without a pasted diff or search/replace blocks.
const SourceModel = "model"

// Assistant is the model chain's settings (Options.Assistant; nil: the
// offline assistant only, and prose gets its explanation).
type Assistant struct {
	Plan, Patch ModelStage
	Deny        *chain.Deny
	// ContextTokens bounds the tree and file contents one stage sends.
	ContextTokens int64
	// Tiers are the configured tiers (a tier with no provider is absent):
	// where a low-confidence revision may be redrafted, Plan and Patch
	// both on the next one up (escalate.go).
	Tiers map[budget.Tier]TierModel
}

// TierModel is one configured tier: its provider and default model.
type TierModel struct {
	Provider provider.Provider
	Model    string
	OnHelper *OnHelperTier // the tier's model server runs on the helper machine
}

// ModelStage is the model one stage calls. Its tier decides the cost
// category and whether it needs approval first (the external tier always
// does).
type ModelStage struct {
	Tier            budget.Tier
	Provider        provider.Provider
	Model           string
	MaxOutputTokens int64
	// OnHelper: the provider's model server runs on the helper machine,
	// reached through SSH channels of the helper's connection (helpertier.go); nil: called directly.
	OnHelper *OnHelperTier
}

// Reservation bound of a model call: the prompt estimate (one token per
// 3 bytes, already high) times 3/2, since no offline tokenizer is exact for
// every provider, at the input price, plus the whole output cap at the
// output price.
const (
	promptSafetyNum = 3
	promptSafetyDen = 2
)

// maxModelFileBytes: a bigger file is never read for a model (its tokens
// would not fit any context budget anyway).
const maxModelFileBytes = 1 << 20

// progressEvery throttles streamed-progress updates to 4 a second.
const progressEvery = 250 * time.Millisecond

// modelCall is what one call to a model cost, for Revision.Spent.
type modelCall struct {
	stage   string
	tier    budget.Tier
	model   string
	usage   provider.Usage
	settled budget.Micros
}

// modelDraft is what the chain produced for the sandbox to verify.
type modelDraft struct {
	plan  chain.PlanResult
	edits []assist.Edit
	spent []CostLine
	// confidence is the model's own assessment (the Patch answer's
	// CONFIDENCE line); nil when it gave none.
	confidence *int
	// tier is the highest tier Plan or Patch ran on; tree and read are
	// the base commit's files, for projecting an escalation's prompts.
	tier budget.Tier
	tree *gitops.Tree
	read chain.ReadFile
	// offer is the next tier to redraft on, priced (nil: none).
	offer *escalationOffer
	// from is how many of the revision's Spent lines spent already holds:
	// lines recorded after it (the metered sandbox verify) are kept.
	from int
}

// chainRun accounts for the calls of one draft job's chain run.
type chainRun struct {
	c   *Core
	j   *Job
	mu  sync.Mutex
	log []modelCall
	// paused is set when a call needs the person's approval first; internal
	// when recording a call failed (storage, not the model).
	paused   *Escalation
	internal error
	before   []CostLine // spent by an earlier run of this revision
	repo     RepoSpec   // sizes a helper the stages acquire (helpertier.go)
	// written is how many of this run's own Spent lines are stored on the
	// revision already (after before), so a later write replaces them.
	written int
}

// from is how many of the revision's stored Spent lines this run's
// spent() replaces: what it began with and what it wrote since.
func (r *chainRun) from() int { return len(r.before) + r.written }

// draftWithModel runs Plan and Patch on the base commit's files. A nil
// draft with a nil error means the job is closed already: the model asked
// questions, a call waits for approval, or the edits failed twice.
func (c *Core) draftWithModel(ctx context.Context, j *Job, rev *Revision, repo RepoSpec, base string) (*modelDraft, error) {
	a := c.opt.Assistant
	planStage, patchStage, err := a.stages(rev)
	if err != nil {
		return nil, &Failure{User: err.Error(), Err: err}
	}
	c.progress(j, "reading the repository at "+shortSHA(base))
	tree, err := c.opt.Git.ListTree(ctx, repo.MirrorDir, base)
	if err != nil {
		return nil, &Failure{User: "could not read " + repo.Name + " at " + shortSHA(base) + "; see the daemon log", Err: err}
	}
	read := cachedReader(ctx, tree)
	// A run after an approval adds to what the paused run spent.
	run := &chainRun{c: c, j: j, before: rev.Spent, repo: repo}
	remaining := &remainingDraft{c: c, ctx: ctx, rev: rev, repo: repo, plan: planStage, patch: patchStage, tree: tree, read: read}
	var plan chain.PlanResult
	if kept := rev.ModelPlan; kept != nil {
		plan = chain.PlanResult{Plan: kept.Plan, Targets: kept.Targets}
	} else {
		remaining.store(j, run, "plan", nil)
		c.progress(j, "plan: asking "+planStage.Model)
		if plan, err = chain.Plan(ctx, run.stage("plan", planStage), chain.PlanInput{Request: rev.Request, Tree: tree.Paths, Read: read,
			Deny: a.Deny, ContextTokens: a.ContextTokens}); err != nil {
			return nil, run.stopped(ctx, err, nil)
		}
	}
	if len(plan.Questions) > 0 {
		return nil, c.stopDraft(j, run.spent(), run.from(), &plan, questionsMessage(plan.Questions))
	}
	remaining.store(j, run, "patch", &plan)
	c.progress(j, "patch: asking "+patchStage.Model)
	res, err := chain.Patch(ctx, run.stage("patch", patchStage), chain.PatchInput{Request: rev.Request, Plan: plan, Tree: tree.Paths,
		Read: read, Deny: a.Deny, ContextTokens: a.ContextTokens,
		Try: func(e []assist.Edit) error { _, err := chain.ApplyEdits(read, a.Deny, e); return err }})
	if err != nil {
		return nil, run.stopped(ctx, err, &plan)
	}
	remaining.store(j, run, "verify", nil)
	return &modelDraft{plan: plan, edits: res.Edits, spent: run.spent(), from: run.from(), confidence: res.ModelConfidence,
		tier: higherTier(planStage.Tier, patchStage.Tier), tree: tree, read: read}, nil
}

// stopped ends a chain run that returned err: paused for approval, or
// left in Draft with the exact error and the tokens spent accounted.
func (r *chainRun) stopped(ctx context.Context, err error, plan *chain.PlanResult) error {
	switch {
	case r.internal != nil:
		return r.internal
	case ctx.Err() != nil:
		// Shutting down: keep what was spent (and the plan) for the run
		// that resumes the job at the next start.
		if serr := r.c.stopDraft(r.j, r.spent(), r.from(), plan, ""); serr != nil {
			r.c.log.Error("record model spend before shutdown", "job", r.j.ID, "err", serr)
		}
		return err
	case r.paused != nil:
		if serr := r.c.stopDraft(r.j, r.spent(), r.from(), plan, ""); serr != nil {
			return serr
		}
		return r.c.awaitApproval(r.j, *r.paused)
	}
	return r.c.stopDraft(r.j, r.spent(), r.from(), plan, "the model's change could not be made: "+err.Error())
}

func questionsMessage(qs []string) string {
	var b strings.Builder
	b.WriteString("The model needs answers before it writes a change:\n")
	for i, q := range qs {
		fmt.Fprintf(&b, "%d. %s\n", i+1, q)
	}
	b.WriteString("Reply in this conversation: your answer, with the request, makes the next revision.")
	return b.String()
}

// stopDraft records what a chain run spent (and the plan and questions it
// got) on the revision and closes the job with the proposal in Draft.
// reason "" records only (the caller pauses for approval next).
// spent replaces the revision's first from Spent lines (what the run began
// with); lines recorded since by others (helper time) are kept after it.
func (c *Core) stopDraft(j *Job, spent []CostLine, from int, plan *chain.PlanResult, reason string) error {
	return c.update(func(tx *bolt.Tx, emit func(Event)) error {
		p, err := getProposal(tx, j.ProposalID)
		if err != nil {
			return err
		}
		if p.State != StateDraft || len(p.Revisions) != j.Revision {
			return c.closeJob(tx, emit, j, JobDone, "superseded")
		}
		rev := p.Revision(j.Revision)
		rev.Spent = keepLater(spent, rev.Spent, from)
		clearRemaining(rev) // the run stopped: nothing more runs until an answer
		if plan != nil {
			rev.Plan, rev.Questions = planLines(plan.Plan), plan.Questions
			if len(plan.Questions) == 0 {
				rev.ModelPlan = &ModelPlan{Plan: plan.Plan, Targets: plan.Targets}
			}
		}
		if reason == "" {
			return putProposal(tx, p)
		}
		p.Reason, p.Updated = reason, c.now()
		kind, progress := "proposal.draft_failed", "model change failed"
		if len(rev.Questions) > 0 {
			kind, progress, p.Reason = "proposal.questions", "waiting for answers", "the model asked questions; answer them in the conversation"
		}
		if _, err := c.opt.Audit.Append(tx, kind, "patchgit", p.ID, map[string]string{
			"revision": fmt.Sprint(rev.N), "reason": p.Reason, "spent_micros": fmt.Sprint(spentTotal(spent))}); err != nil {
			return err
		}
		if err := putProposal(tx, p); err != nil {
			return err
		}
		emit(Event{Kind: EventProposal, ID: p.ID, Repo: p.Repo, ConversationID: p.ConversationID})
		msg := fmt.Sprintf("Proposal %s stays in Draft: %s\nNothing was pushed; the model calls cost %s.", ShortID(p.ID), reason, budget.Micros(spentTotal(spent)))
		if err := c.say(tx, emit, p.ConversationID, p.ID, msg); err != nil {
			return err
		}
		return c.closeJob(tx, emit, j, JobDone, progress)
	})
}

func spentTotal(lines []CostLine) int64 {
	var n int64
	for _, l := range lines {
		n += l.CostMicros
	}
	return n
}

func planLines(plan string) []string {
	var out []string
	for _, l := range strings.Split(plan, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// cachedReader reads files of the base commit once each.
func cachedReader(ctx context.Context, tree *gitops.Tree) chain.ReadFile {
	var mu sync.Mutex
	seen := map[string][]byte{}
	return func(path string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if b, ok := seen[path]; ok {
			return b, nil
		}
		b, err := tree.ReadFile(ctx, path, maxModelFileBytes)
		if err != nil {
			return nil, err // fs.ErrNotExist for a file the edits create
		}
		seen[path] = b
		return b, nil
	}
}

// stage is the chain's view of a stage: the provider wrapped so each call
// is approved, reserved, settled and audited, and streaming shows progress.
func (r *chainRun) stage(name string, ms ModelStage) chain.Stage {
	m := &meteredProvider{run: r, stage: name, ms: ms}
	return chain.Stage{Provider: r.onHelper(m), Model: ms.Model, MaxOutputTokens: ms.MaxOutputTokens, OnDelta: m.delta}
}

func (r *chainRun) calls() []modelCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]modelCall(nil), r.log...)
}

// spent is one CostLine per stage, from what the ledger settled.
func (r *chainRun) spent() []CostLine {
	return append(slices.Clone(r.before), spentLines(r.calls())...)
}

func spentLines(calls []modelCall) []CostLine {
	var out []CostLine
	for _, stage := range []string{"plan", "patch"} {
		var n int
		var u provider.Usage
		var cost budget.Micros
		var last modelCall
		for _, c := range calls {
			if c.stage == stage {
				n, u, cost, last = n+1, u.Add(c.usage), cost+c.settled, c
			}
		}
		if n == 0 {
			continue
		}
		cat := CostModel
		if last.tier == budget.TierExternal {
			cat = CostExternal
		}
		what := fmt.Sprintf("%d call(s) to %s: %d input, %d cached, %d output tokens", n, last.model, u.InputTokens, u.CachedInputTokens, u.OutputTokens)
		if u.Estimated {
			what += " (estimated: the provider reported no usage)"
		}
		out = append(out, CostLine{Stage: stage, What: what, Category: cat, CostMicros: int64(cost)})
	}
	return out
}

// meteredProvider is a stage's provider with PatchGit's rules around each
// call: the external tier needs approval, the worst case is reserved in
// the budget first, the reported usage is settled and audited after.
type meteredProvider struct {
	run     *chainRun
	stage   string
	ms      ModelStage
	attempt int

	received  int
	lastShown time.Time
}

func (m *meteredProvider) Name() string        { return m.ms.Provider.Name() }
func (m *meteredProvider) Kind() provider.Kind { return m.ms.Provider.Kind() }

// delta shows streamed progress on the job line, at most 4 times a second.
func (m *meteredProvider) delta(text string) {
	m.received += len(text)
	if now := time.Now(); now.Sub(m.lastShown) >= progressEvery {
		m.lastShown = now
		label := m.stage
		if m.attempt > 1 {
			label += fmt.Sprintf(" (attempt %d)", m.attempt)
		}
		m.run.c.progress(m.run.j, fmt.Sprintf("%s: %s chars received", label, countText(m.received)))
	}
}

func countText(n int) string {
	if n < 1000 {
		return strconv.Itoa(n)
	}
	return strconv.FormatFloat(float64(n)/1000, 'f', 1, 64) + "k"
}

// promptTokens estimates everything a request sends.
func promptTokens(req provider.Request) int64 {
	n := provider.EstimateTokens(req.System)
	for _, msg := range req.Messages {
		n += provider.EstimateTokens(msg.Content) + 4 // role and separators
	}
	return n
}

// callBound is the most a call may cost: the reservation.
func callBound(price budget.TokenPrice, req provider.Request) (budget.Micros, int64) {
	prompt := (promptTokens(req)*promptSafetyNum + promptSafetyDen - 1) / promptSafetyDen
	return price.Cost(prompt, req.MaxOutputTokens, 0), prompt
}

func (m *meteredProvider) Complete(ctx context.Context, req provider.Request, onDelta provider.OnDelta) (provider.Response, error) {
	c, j := m.run.c, m.run.j
	m.attempt++
	m.received = 0
	price, err := c.opt.Prices.Model(req.Model)
	if err != nil {
		return provider.Response{}, err
	}
	bound, prompt := callBound(price, req)
	what := fmt.Sprintf("%s with %s (%s, %s tier)", m.stage, req.Model, m.ms.Provider.Name(), m.ms.Tier)
	if m.ms.Tier == budget.TierExternal && !j.SpendApproved {
		attempts := int64(1)
		if m.stage == "patch" {
			attempts = 2 // a failed edit is sent back once
		}
		m.run.paused = &Escalation{What: what, CostMicros: int64(bound) * attempts,
			ApproveMicros: int64(c.opt.Policy.ApprovalAmount(bound * budget.Micros(attempts))),
			Why: []string{"the external tier always needs approval",
				fmt.Sprintf("projected at most %s per call (%d prompt tokens with a 1.5x safety margin, %d output tokens), %d call(s) at most",
					bound, prompt, req.MaxOutputTokens, attempts)}}
		return provider.Response{}, fmt.Errorf("%s: %w", what, ErrNeedsApproval)
	}
	var resv budget.Reservation
	if c.opt.Budget != nil && bound > 0 {
		var refused error
		resv, refused = c.opt.Budget.Reserve(budget.Request{Proposal: j.ProposalID, Purpose: "model call: " + what,
			Category: budget.CategoryAPI, Amount: bound, Approved: j.SpendApproved})
		if refused != nil && !isRefusal(refused) {
			m.run.internal = fmt.Errorf("reserve model call: %w", refused)
			return provider.Response{}, m.run.internal
		}
		if refused != nil {
			m.run.paused = &Escalation{What: what, CostMicros: int64(bound), ApproveMicros: int64(c.opt.Policy.ApprovalAmount(bound)),
				Why: []string{"the budget refused " + what + ": " + refused.Error()}}
			return provider.Response{}, refused
		}
	}
	res, callErr := m.ms.Provider.Complete(ctx, req, onDelta)
	u := res.Usage
	cost := price.Cost(u.InputTokens, u.OutputTokens, u.CachedInputTokens)
	settled := cost
	if c.opt.Budget != nil && bound > 0 {
		settled = min(cost, bound) // the ledger never settles above a reservation
	}
	if err := c.recordCall(m, resv, req.Model, u, cost, settled, callErr); err != nil {
		m.run.internal = fmt.Errorf("record model call: %w", err)
		return res, m.run.internal
	}
	m.run.mu.Lock()
	m.run.log = append(m.run.log, modelCall{stage: m.stage, tier: m.ms.Tier, model: req.Model, usage: u, settled: settled})
	m.run.mu.Unlock()
	return res, callErr
}

// recordCall settles a call's reservation and writes its audit entry in
// one transaction: tokens and cost, never the prompt, the answer or a key.
func (c *Core) recordCall(m *meteredProvider, resv budget.Reservation, model string, u provider.Usage, cost, settled budget.Micros, callErr error) error {
	return c.update(func(tx *bolt.Tx, _ func(Event)) error {
		if resv.ID != "" {
			note := ""
			if u.Estimated {
				note = "usage estimated: the provider reported none"
			}
			if err := c.opt.Budget.SettleTx(tx, resv.ID, settled, note); err != nil {
				return err
			}
		}
		data := map[string]string{
			"stage": m.stage, "tier": string(m.ms.Tier), "provider": m.ms.Provider.Name(), "model": model,
			"revision": fmt.Sprint(m.run.j.Revision), "attempt": fmt.Sprint(m.attempt),
			"input_tokens": fmt.Sprint(u.InputTokens), "cached_input_tokens": fmt.Sprint(u.CachedInputTokens),
			"output_tokens": fmt.Sprint(u.OutputTokens), "estimated": strconv.FormatBool(u.Estimated),
			"cost_micros": fmt.Sprint(int64(cost)),
		}
		if settled != cost {
			data["settled_micros"] = fmt.Sprint(int64(settled)) // usage beyond the reservation's bound
		}
		if callErr != nil {
			data["error"] = callErrorClass(callErr)
		}
		_, err := c.opt.Audit.Append(tx, "model.call", "patchgit", m.run.j.ProposalID, data)
		return err
	})
}

// callErrorClass names what went wrong without the provider's text, which
// may quote the request.
func callErrorClass(err error) string {
	for _, s := range []error{provider.ErrRateLimited, provider.ErrServer, provider.ErrAuth, provider.ErrRequest,
		provider.ErrTimeout, provider.ErrEmptyAnswer, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "failed"
}

// requestTitle is a prose request's first line, short enough for a commit
// subject.
func requestTitle(text string) string {
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(strings.TrimLeft(l, "#")); l != "" {
			if r := []rune(l); len(r) > 72 {
				l = string(r[:71]) + "…"
			}
			return l
		}
	}
	return "Model change"
}

// answeredRequest is the request of the revision after questions: the
// earlier request, what the model asked, and the person's answer.
func answeredRequest(prev *Revision, answer string) string {
	var b strings.Builder
	b.WriteString(prev.Request)
	b.WriteString("\n\nQuestions the model asked about this request:\n")
	for _, q := range prev.Questions {
		b.WriteString("- " + q + "\n")
	}
	b.WriteString("\nThe person's answer:\n" + answer)
	return b.String()
}

// keepLater is spent followed by the lines stored recorded after its
// first from lines.
func keepLater(spent, stored []CostLine, from int) []CostLine {
	out := slices.Clone(spent)
	if from < len(stored) {
		out = append(out, stored[from:]...)
	}
	return out
}
