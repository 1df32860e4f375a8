package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/assess"
	"github.com/patchgit/patchgit/internal/assist"
	"github.com/patchgit/patchgit/internal/assist/chain"
	"github.com/patchgit/patchgit/internal/assist/provider"
	"github.com/patchgit/patchgit/internal/budget"
)

// Escalation on low confidence.
//
// When a model's revision drafted below the highest configured tier scores
// a low confidence (assess.LowConfidence) that a stronger model could
// raise (confidenceGain > 0), the draft does not become Proposed: it waits
// in Draft for the person's approval (WaitingApproval) with an Escalation
// naming the next configured tier, why, the projected cost and the
// expected confidence gain. The revision stays as recorded (diff, checks,
// scores) for review. Approving makes a NEW revision with the same request
// and Tier set to the next tier, drafted under the approval (every call
// reserves with Approved, and the external tier's rule is met by that
// approval only); declining leaves the revision as it was: Proposed when
// it was verified, else Draft with its failure. A revision drafted on the
// highest configured tier never escalates, so the chain climbs at most
// once per tier and stops.

// tierOrder is the escalation ladder, cheapest first.
var tierOrder = []budget.Tier{budget.TierBase, budget.TierHelper, budget.TierExternal}

func tierRank(t budget.Tier) int { return slices.Index(tierOrder, t) }

func higherTier(a, b budget.Tier) budget.Tier {
	if tierRank(b) > tierRank(a) {
		return b
	}
	return a
}

// stages are the Plan and Patch stages for rev: the configured ones, or
// both on rev.Tier's provider and model when rev redrafts on a stronger
// tier (each keeps its output cap).
func (a *Assistant) stages(rev *Revision) (ModelStage, ModelStage, error) {
	if rev.Tier == "" {
		return a.Plan, a.Patch, nil
	}
	tm, ok := a.Tiers[rev.Tier]
	if !ok {
		return ModelStage{}, ModelStage{}, fmt.Errorf("draft revision %d: %w: it is to be drafted on the %s tier, which is no longer configured (assistant.tiers.%s); send the request again",
			rev.N, ErrTierGone, rev.Tier, rev.Tier)
	}
	on := func(s ModelStage) ModelStage {
		return ModelStage{Tier: rev.Tier, Provider: tm.Provider, Model: tm.Model, MaxOutputTokens: s.MaxOutputTokens, OnHelper: tm.OnHelper}
	}
	return on(a.Plan), on(a.Patch), nil
}

// nextTier is the first configured tier above from.
func (a *Assistant) nextTier(from budget.Tier) (budget.Tier, TierModel, bool) {
	for _, t := range tierOrder[tierRank(from)+1:] {
		if tm, ok := a.Tiers[t]; ok && tm.Provider != nil {
			return t, tm, true
		}
	}
	return "", TierModel{}, false
}

// confidenceGain is the expected confidence gain of redrafting rev on a
// stronger model: the points the confidence score wins back when what a
// model controls comes out right, recomputed by assess from rev's own
// inputs with, in turn, the checks that failed or timed out passing, the
// diff changing exactly the files its plan names, and a self-assessment
// under 50 raised to a neutral 50. Whatever a model cannot change (no
// checks configured, unisolated checks, a verify that stopped before the
// checks) stays as it is, so a revision low for those reasons gains 0 and
// is not escalated. Each step that adds points writes one reason line.
func confidenceGain(rev *Revision) (int, []string) {
	in := rev.AssessInput()
	start := assess.Confidence(in).Value
	cur := start
	var reasons []string
	step := func(what string, change func(in *assess.Input)) {
		change(&in)
		if v := assess.Confidence(in).Value; v != cur {
			reasons = append(reasons, fmt.Sprintf("%+d if %s", v-cur, what))
			cur = v
		}
	}
	step("its checks pass", func(in *assess.Input) {
		failed := false
		in.Checks = slices.Clone(in.Checks)
		for i := range in.Checks {
			if c := &in.Checks[i]; !c.Passed || c.TimedOut {
				failed, c.Passed, c.TimedOut, c.ExitCode = true, true, false, 0
			}
		}
		in.Verified = in.Verified || failed
	})
	step("its diff changes exactly the files its plan names", func(in *assess.Input) { in.Targets = rev.Targets })
	step("the model no longer rates its change below 50", func(in *assess.Input) {
		if in.ModelConfidence != nil && *in.ModelConfidence < 50 {
			neutral := 50
			in.ModelConfidence = &neutral
		}
	})
	return cur - start, reasons
}

// lowestReasons are the score's negative reason lines, biggest first (the
// order assess writes them), at most n.
func lowestReasons(s *Score, n int) []string {
	var out []string
	for _, f := range s.Factors {
		if strings.HasPrefix(f, "-") && len(out) < n {
			out = append(out, f)
		}
	}
	return out
}

// escalationOffer is the next tier a model's draft could be redrafted on,
// with what it would cost, projected before the sandbox verify ran.
type escalationOffer struct {
	tier     budget.Tier
	model    TierModel
	plan     budget.Micros // one call
	patch    budget.Micros // two calls: a failed edit is sent back once
	why      string        // how plan and patch were projected
	provider string
}

// offerEscalation projects redrafting md's request on the next configured
// tier above the one it ran on; nil when there is none (the top tier, or
// no higher tier configured). The projection is the one every call
// reserves (callBound) over the requests the stages would send now: Plan
// exactly as it would be sent, Patch with the current plan standing in for
// the stronger model's.
func (c *Core) offerEscalation(ctx context.Context, rev *Revision, md *modelDraft) (*escalationOffer, error) {
	a := c.opt.Assistant
	tier, tm, ok := a.nextTier(md.tier)
	if !ok {
		return nil, nil
	}
	price, err := c.opt.Prices.Model(tm.Model)
	if err != nil {
		return nil, fmt.Errorf("project escalation: %w", err)
	}
	planReq, err := wouldSend(func(st chain.Stage) error {
		_, err := chain.Plan(ctx, st, chain.PlanInput{Request: rev.Request, Tree: md.tree.Paths, Read: md.read,
			Deny: a.Deny, ContextTokens: a.ContextTokens})
		return err
	}, tm.Model, a.Plan.MaxOutputTokens)
	if err != nil {
		return nil, err
	}
	patchReq, err := wouldSend(func(st chain.Stage) error {
		_, err := chain.Patch(ctx, st, chain.PatchInput{Request: rev.Request, Plan: md.plan, Tree: md.tree.Paths, Read: md.read,
			Deny: a.Deny, ContextTokens: a.ContextTokens, Try: func([]assist.Edit) error { return nil }})
		return err
	}, tm.Model, a.Patch.MaxOutputTokens)
	if err != nil {
		return nil, err
	}
	planBound, planPrompt := callBound(price, planReq)
	patchBound, patchPrompt := callBound(price, patchReq)
	return &escalationOffer{tier: tier, model: tm, plan: planBound, patch: 2 * patchBound, provider: tm.Provider.Name(),
		why: fmt.Sprintf("projected at most %s: plan 1 call (%d prompt tokens with the 1.5x margin, %d output) %s, patch 2 calls (%d prompt, %d output each) %s",
			planBound+2*patchBound, planPrompt, planReq.MaxOutputTokens, planBound, patchPrompt, patchReq.MaxOutputTokens, 2*patchBound)}, nil
}

// wouldSend runs a stage against a provider that records the request and
// sends nothing, so a projection prices exactly what the stage builds.
func wouldSend(run func(chain.Stage) error, model string, maxOut int64) (provider.Request, error) {
	rec := &recordingProvider{}
	err := run(chain.Stage{Provider: rec, Model: model, MaxOutputTokens: maxOut})
	if !errors.Is(err, errProjectionOnly) || rec.req == nil {
		return provider.Request{}, fmt.Errorf("project a stage's request: %w", err)
	}
	return *rec.req, nil
}

// recordingProvider keeps the request a stage would send and answers
// errProjectionOnly: nothing leaves the machine.
type recordingProvider struct{ req *provider.Request }

func (r *recordingProvider) Name() string        { return "projection" }
func (r *recordingProvider) Kind() provider.Kind { return provider.KindOpenAI }
func (r *recordingProvider) Complete(_ context.Context, req provider.Request, _ provider.OnDelta) (provider.Response, error) {
	r.req = &req
	return provider.Response{}, errProjectionOnly
}

// escalation is the Awaiting panel of a low-confidence revision, or nil
// when it does not escalate: not low, nothing a stronger model can raise,
// or no stronger tier. verify is the projected sandbox verify under the
// approval (metered helper time; 0 when the sandbox is free).
func (c *Core) escalation(rev *Revision, from budget.Tier, offer *escalationOffer, verify budget.Micros) *Escalation {
	if offer == nil || !assess.LowConfidence(rev.Confidence) {
		return nil
	}
	gain, gainWhy := confidenceGain(rev)
	if gain <= 0 {
		return nil
	}
	cost := offer.plan + offer.patch + verify
	why := []string{fmt.Sprintf("confidence %d/100 is under %d on the %s tier", rev.Confidence.Value, assess.LowConfidenceBelow, from)}
	why = append(why, lowestReasons(rev.Confidence, 3)...)
	// WHY holds the reasons only: the cost has its own row on screen, and
	// the projection's sentence goes to the audit entry and the chat.
	if offer.tier == budget.TierExternal {
		why = append(why, "the external tier always needs approval")
	}
	return &Escalation{
		What: fmt.Sprintf("redraft this request on the %s tier: plan and patch with %s (%s), then the sandbox verify, as revision %d",
			offer.tier, offer.model.Model, offer.provider, rev.N+1),
		Why: why, CostMicros: int64(cost), ApproveMicros: int64(c.opt.Policy.ApprovalAmount(cost)),
		ConfidenceGain: &gain, GainReasons: gainWhy, Redraft: offer.tier,
	}
}

// projection is how the offer's cost was projected, the sandbox verify's
// slice included when metered: one sentence for the audit entry and chat.
func (o *escalationOffer) projection(verify budget.Micros) string {
	if verify > 0 {
		return o.why + fmt.Sprintf(", sandbox verify %s (one meter slice of helper time)", verify)
	}
	return o.why
}

// verifyProjection is what the escalated draft's sandbox verify reserves
// under the approval: one meter slice of local helper time when the
// sandbox is metered (the meter reserves a slice before the verify
// starts), else nothing.
func (c *Core) verifyProjection() budget.Micros {
	if !c.metered() {
		return 0
	}
	return c.opt.Prices.Local.Cost(c.opt.MeterSlice)
}

// failureText says why an unverified revision was not verified: its first
// failed or timed-out check.
func failureText(rev *Revision) string {
	for _, ch := range rev.Checks {
		name := ch.Name
		if name == "" {
			name = ch.Command
		}
		switch {
		case ch.TimedOut:
			return fmt.Sprintf("check %q timed out", name)
		case !ch.Passed:
			return fmt.Sprintf("check %q failed (exit %d)", name, ch.ExitCode)
		}
	}
	return "it was not verified"
}

// proposeEscalation pauses a low-confidence draft for the person: the
// revision stays as recorded (diff, checks, scores) and the proposal waits
// in Draft with esc on screen. Nothing more is spent until they answer.
// projection is how esc's cost was projected (escalationOffer.projection).
func (c *Core) proposeEscalation(tx *bolt.Tx, emit func(Event), j *Job, p *Proposal, rev *Revision, from budget.Tier, esc Escalation, projection string) error {
	p.Waiting, p.Awaiting, p.Reason, p.Updated = WaitingApproval, &esc, strings.Join(esc.Why, "; "), c.now()
	if _, err := c.opt.Audit.Append(tx, "proposal.escalation_proposed", "patchgit", p.ID, map[string]string{
		"revision": fmt.Sprint(rev.N), "confidence": fmt.Sprint(rev.Confidence.Value), "tier": string(esc.Redraft),
		"what": esc.What, "cost_micros": fmt.Sprint(esc.CostMicros), "confidence_gain": fmt.Sprint(*esc.ConfidenceGain),
		"verified": fmt.Sprint(rev.Verified), "projection": projection}); err != nil {
		return err
	}
	if err := putProposal(tx, p); err != nil {
		return err
	}
	keep := "becomes Proposed as it is (GO possible)"
	if !rev.Verified {
		keep = "stays in Draft (" + failureText(rev) + ")"
	}
	why := ""
	if low := lowestReasons(rev.Confidence, 3); len(low) > 0 {
		why = ": " + strings.Join(low, "; ")
	}
	msg := fmt.Sprintf("Proposal %s revision %d scored confidence %d/100 on the %s tier, too low to stand on its own%s. Its diff, checks and scores stay on screen.\n"+
		"A stronger model may do better: %s, for at most %s (expected confidence gain %+d; %s). In the proposal pane, a approves; d declines and revision %d %s.",
		ShortID(p.ID), rev.N, rev.Confidence.Value, from, why, esc.What, budget.Micros(esc.ApproveMicros), *esc.ConfidenceGain, projection, rev.N, keep)
	if err := c.say(tx, emit, p.ConversationID, p.ID, msg); err != nil {
		return err
	}
	return c.closeJob(tx, emit, j, JobDone, "awaiting approval: escalation")
}

// redraft adds the revision an approved escalation drafts: the same
// request, on tier, noting the revision it redrafts.
func (c *Core) redraft(tx *bolt.Tx, actor string, p *Proposal, from int, tier budget.Tier) error {
	prev := p.Revision(from)
	next := Revision{N: from + 1, Source: SourceModel, Request: prev.Request, Tier: tier, EscalatedFrom: from, Created: c.now()}
	p.Revisions = append(p.Revisions, next)
	_, err := c.opt.Audit.Append(tx, "proposal.escalated", actor, p.ID, map[string]string{
		"from_revision": fmt.Sprint(from), "revision": fmt.Sprint(next.N), "tier": string(tier)})
	return err
}

// declineEscalation keeps the low-confidence revision as the person's
// answer: a verified one is priced and Proposed (GO possible), another
// stays in Draft with its failure.
func (c *Core) declineEscalation(tx *bolt.Tx, emit func(Event), actor string, p *Proposal, rev int, esc Escalation) error {
	cur := p.Current()
	if _, err := c.opt.Audit.Append(tx, "proposal.spend_declined", actor, p.ID, map[string]string{
		"revision": fmt.Sprint(rev), "what": esc.What, "cost_micros": fmt.Sprint(esc.CostMicros)}); err != nil {
		return err
	}
	if cur.Verified {
		if err := c.priceExecution(tx, cur); err != nil {
			return err
		}
		if err := c.transition(tx, p, StateProposed, actor, ""); err != nil {
			return err
		}
		return c.say(tx, emit, p.ConversationID, p.ID, fmt.Sprintf("Escalation declined by %s: revision %d of proposal %s is Proposed as it is, confidence %d/100. Review it, then ctrl+g to GO; nothing more was spent.",
			actor, rev, ShortID(p.ID), cur.Confidence.Value))
	}
	p.Reason = fmt.Sprintf("escalation declined by %s; revision %d stays in Draft: %s. Send a corrected change or a clearer request to make a new revision",
		actor, rev, failureText(cur))
	if err := putProposal(tx, p); err != nil {
		return err
	}
	return c.say(tx, emit, p.ConversationID, p.ID, fmt.Sprintf("Proposal %s stays in Draft: %s. Nothing more is spent and nothing was pushed.", ShortID(p.ID), p.Reason))
}
