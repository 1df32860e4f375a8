package core_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/assist/chain"
	"github.com/patchgit/patchgit/internal/assist/provider"
	"github.com/patchgit/patchgit/internal/assist/providertest"
	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
)

// Escalation on low confidence, against two scripted servers: the base
// tier's (OpenAI protocol) and a stronger tier's (Anthropic protocol),
// both through the real SDKs, with the real sandbox, git and ledger.

const largeModel = "m-large"

var largePrice = budget.TokenPrice{Model: largeModel, Input: 3_000_000, Output: 15_000_000, Cached: 300_000}

var (
	// patchBreaks edits README.md and also creates BROKEN, which the
	// demo's second check ("test ! -e BROKEN") fails on; the model rates
	// itself well, so only the checks and the plan speak against it.
	patchBreaks = patchGood + "\nBROKEN\n<<<<<<< SEARCH\n=======\nbroken\n>>>>>>> REPLACE\n\nCONFIDENCE: 90\n"
	// patchUnsure is verified but changes a file its plan did not name,
	// and the model rates it 20.
	patchUnsure = patchGood + "\nNOTES.md\n<<<<<<< SEARCH\n=======\nnotes\n>>>>>>> REPLACE\n\nCONFIDENCE: 20\n"
	// patchSure is the stronger tier's answer.
	patchSure = patchGood + "\n**Confidence:** 85\n"
)

type escEnv struct {
	*env
	base, strong *providertest.Server
	ledger       *budget.Ledger
}

type escOpts struct {
	stageTier  budget.Tier // both stages; "" base
	strongTier budget.Tier // the stronger server's tier; "" external
	// localHourly > 0 meters the sandbox verify as helper time.
	localHourly budget.Micros
}

func newEscEnv(t *testing.T, o escOpts, base, strong []providertest.Reply) *escEnv {
	t.Helper()
	if o.stageTier == "" {
		o.stageTier = budget.TierBase
	}
	if o.strongTier == "" {
		o.strongTier = budget.TierExternal
	}
	e := &escEnv{base: providertest.NewOpenAI(t, base...), strong: providertest.NewAnthropic(t, strong...)}
	mk := func(name string, kind provider.Kind, url string) provider.Provider {
		p, err := provider.New(provider.Options{Name: name, Kind: kind, BaseURL: url, KeyEnv: "TEST_KEY",
			Getenv: func(string) (string, bool) { return testKey, true }, Timeout: 20 * time.Second, MaxRetries: 2})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	baseP, strongP := mk("local", provider.KindOpenAI, e.base.URL), mk("claude", provider.KindAnthropic, e.strong.URL)
	deny, err := chain.NewDeny(nil)
	if err != nil {
		t.Fatal(err)
	}
	e.env = newEnv(t, func(opt *core.Options) {
		a := opt.Audit
		e.ledger = budget.NewLedger(opt.DB, budget.Caps{Hour: 5 * budget.Dollar, Day: 10 * budget.Dollar}, nil,
			func(tx *bolt.Tx, kind, subject string, data map[string]string) error {
				_, err := a.Append(tx, kind, "patchgit", subject, data)
				return err
			})
		prices := budget.DefaultPrices()
		prices.Models = []budget.TokenPrice{testPrice, largePrice}
		if o.localHourly > 0 {
			prices.Local = budget.NewHelperPrice(budget.LocalHelperSize, o.localHourly, 0)
			opt.MeterSlice = time.Minute
		}
		opt.Budget, opt.Prices = e.ledger, prices
		tiers := map[budget.Tier]core.TierModel{budget.TierBase: {Provider: baseP, Model: testModel}, o.strongTier: {Provider: strongP, Model: largeModel}}
		stageP, stageModel := baseP, testModel
		if o.stageTier == o.strongTier {
			stageP, stageModel = strongP, largeModel
		}
		opt.Assistant = &core.Assistant{Deny: deny, ContextTokens: 8000, Tiers: tiers,
			Plan:  core.ModelStage{Tier: o.stageTier, Provider: stageP, Model: stageModel, MaxOutputTokens: 500},
			Patch: core.ModelStage{Tier: o.stageTier, Provider: stageP, Model: stageModel, MaxOutputTokens: 1500}}
	})
	return e
}

// auditOf is the proposal's audit entries of kind.
func (e *escEnv) auditOf(t *testing.T, id, kind string) []map[string]string {
	t.Helper()
	entries, err := e.audit.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, en := range entries {
		if en.Subject == id && en.Kind == kind {
			out = append(out, en.Data)
		}
	}
	return out
}

// waitingEscalation asserts p waits for an escalation to the strong tier
// and that nothing was asked of the strong server.
func (e *escEnv) waitingEscalation(t *testing.T, p core.Proposal, tier budget.Tier) *core.Escalation {
	t.Helper()
	if p.State != core.StateDraft || p.Waiting != core.WaitingApproval || p.Awaiting == nil {
		t.Fatalf("state %s waiting %q awaiting %+v reason %q", p.State, p.Waiting, p.Awaiting, p.Reason)
	}
	a := p.Awaiting
	if a.Redraft != tier || !strings.Contains(a.What, largeModel) || !strings.Contains(a.What, "claude") || !strings.Contains(a.What, string(tier)+" tier") {
		t.Errorf("awaiting what %q redraft %q: want the %s tier, its model and provider", a.What, a.Redraft, tier)
	}
	if a.ConfidenceGain == nil || *a.ConfidenceGain <= 0 || len(a.GainReasons) == 0 || a.CostMicros <= 0 || a.ApproveMicros < a.CostMicros {
		t.Errorf("awaiting gain %v (%v) cost %d approve %d", a.ConfidenceGain, a.GainReasons, a.CostMicros, a.ApproveMicros)
	}
	rev := p.Current()
	if !strings.Contains(a.Why[0], fmt.Sprintf("confidence %d/100 is under 60", rev.Confidence.Value)) {
		t.Errorf("why %q", a.Why)
	}
	// WHY gives the reasons; the cost has its own row, and the projection's
	// sentence is in the audit entry and the chat.
	for _, w := range a.Why {
		if strings.Contains(w, "projected") || strings.Contains(w, "$") {
			t.Errorf("WHY repeats the cost: %q", w)
		}
	}
	if pr := e.auditOf(t, p.ID, "proposal.escalation_proposed"); len(pr) != 1 || !strings.HasPrefix(pr[0]["projection"], "projected at most $") {
		t.Errorf("escalation_proposed audit entries %v: want one with the projection", pr)
	}
	if n := len(e.strong.Requests()); n != 0 {
		t.Errorf("%d requests reached the stronger tier before approval", n)
	}
	// The low-confidence revision stays reviewable.
	if rev.Diff == "" || rev.Risk == nil || rev.Confidence == nil || len(rev.Checks) == 0 {
		t.Errorf("revision 1 lost its diff, scores or checks: %+v", rev)
	}
	if len(e.auditOf(t, p.ID, "proposal.escalation_proposed")) != 1 {
		t.Errorf("no proposal.escalation_proposed audit entry")
	}
	return a
}

func TestEscalationOnAFailedCheckThenApproveRedraftsOnTheExternalTier(t *testing.T) {
	e := newEscEnv(t, escOpts{},
		[]providertest.Reply{{Text: planGood, Usage: use}, {Text: patchBreaks, Usage: use}},
		[]providertest.Reply{{Text: planGood, Usage: use}, {Text: patchSure, Usage: use}})
	cv := startConversation(t, e.env)
	p := sendAndSettle(t, e.env, cv, readmeRequest)
	esc := e.waitingEscalation(t, p, budget.TierExternal)
	rev1 := p.Current()
	if rev1.Verified || rev1.ModelConfidence == nil || *rev1.ModelConfidence != 90 {
		t.Errorf("revision 1 verified %v model confidence %v: want a failed check and the model's own 90", rev1.Verified, rev1.ModelConfidence)
	}
	// Fixed, the revision would score applied +20, checks passed +40,
	// plan agrees +15, the model's 90 +8, and its isolation mode's points;
	// it scores its confidence now (0: the sum is below zero, clamped).
	iso := -10 // plain
	if m := rev1.Checks[0].Mode; m == "bwrap" || m == "namespaces" {
		iso = 5
	}
	fixed := 20 + 40 + 15 + 8 + iso
	if *esc.ConfidenceGain != fixed-rev1.Confidence.Value || !slices.Contains(esc.Why, "the external tier always needs approval") {
		t.Errorf("gain %d (%v), want %d; why %q", *esc.ConfidenceGain, esc.GainReasons, fixed-rev1.Confidence.Value, esc.Why)
	}
	if len(esc.GainReasons) != 2 || !strings.HasSuffix(esc.GainReasons[0], " if its checks pass") ||
		esc.GainReasons[1] != "+20 if its diff changes exactly the files its plan names" {
		t.Errorf("gain reasons %q", esc.GainReasons)
	}

	p, err := e.core.DecideSpend(ctx, "alice", p.ID, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	e.waitJobsIdle()
	p, _ = e.core.Proposal(ctx, p.ID)
	if len(p.Revisions) != 2 || p.State != core.StateProposed {
		t.Fatalf("%d revisions, state %s reason %q", len(p.Revisions), p.State, p.Reason)
	}
	rev2 := p.Current()
	if rev2.Tier != budget.TierExternal || rev2.EscalatedFrom != 1 || rev2.Request != rev1.Request || !rev2.Verified ||
		rev2.ModelConfidence == nil || *rev2.ModelConfidence != 85 || !strings.Contains(rev2.Plan[0], "Redrafted on the external tier") {
		t.Errorf("revision 2: tier %q from %d verified %v self %v plan %q", rev2.Tier, rev2.EscalatedFrom, rev2.Verified, rev2.ModelConfidence, rev2.Plan)
	}
	if p.Revision(1).Diff != rev1.Diff {
		t.Error("revision 1 changed")
	}
	if n := len(e.strong.Requests()); n != 2 || len(e.base.Requests()) != 2 {
		t.Errorf("requests: base %d strong %d, want 2 each", len(e.base.Requests()), n)
	}
	if sp := rev2.Spent; len(sp) != 2 || sp[0].Category != core.CostExternal || sp[1].Category != core.CostExternal {
		t.Errorf("revision 2 spent %+v: both stages external", sp)
	}
	// The ledger: every call at its model's price, the strong tier's under
	// the approval, nothing left reserved.
	cost := func(pr budget.TokenPrice) budget.Micros { return pr.Cost(use.Input, use.Output, use.Cached) }
	st, err := e.ledger.Status()
	if err != nil {
		t.Fatal(err)
	}
	if wantSpent := 2*cost(testPrice) + 2*cost(largePrice); st.Hour.Spent != wantSpent || st.Hour.Reserved != 0 {
		t.Errorf("ledger spent %s reserved %s, want %s", st.Hour.Spent, st.Hour.Reserved, wantSpent)
	}
	var approved budget.Micros
	for _, s := range st.Recent {
		if s.Approved {
			approved += s.Amount
		}
	}
	if approved != 2*cost(largePrice) {
		t.Errorf("approved spends %s, want the two external calls %s", approved, 2*cost(largePrice))
	}
	if a, ok, _ := e.ledger.Approval(p.ID); !ok || int64(a.Amount) != esc.ApproveMicros || a.Revision != 2 {
		t.Errorf("approval %+v: want %d for revision 2", a, esc.ApproveMicros)
	}
	// The audit: the escalation, the approval, the new revision, every call
	// with its tier.
	if len(e.auditOf(t, p.ID, "proposal.spend_approved")) != 1 || len(e.auditOf(t, p.ID, "proposal.escalated")) != 1 {
		t.Error("audit lacks the approval or the escalation")
	}
	var tiers []string
	for _, c := range e.auditOf(t, p.ID, "model.call") {
		tiers = append(tiers, c["tier"]+"/"+c["revision"])
	}
	if !slices.Equal(tiers, []string{"base/1", "base/1", "external/2", "external/2"}) {
		t.Errorf("model.call tiers %v", tiers)
	}
	// The projection is what the calls reserve: the approved plan call
	// reserved exactly the plan's projected bound.
	var reserved []string
	for _, r := range e.auditOf(t, p.ID, "budget.reserved") {
		if r["approved"] == "true" {
			reserved = append(reserved, r["amount"])
		}
	}
	if len(reserved) != 2 {
		t.Fatalf("approved reservations %v, want the plan's and the patch's", reserved)
	}
	var planAmount int64
	fmt.Sscan(reserved[0], &planAmount)
	if projection := e.auditOf(t, p.ID, "proposal.escalation_proposed")[0]["projection"]; !strings.Contains(projection, fmt.Sprintf(") %s, patch 2 calls", budget.Micros(planAmount))) {
		t.Errorf("the plan call reserved %s; the projection said %q", budget.Micros(planAmount), projection)
	}
	msgs, err := e.core.Messages(ctx, cv.ID)
	if err != nil {
		t.Fatal(err)
	}
	var chat []string
	for _, m := range msgs {
		chat = append(chat, m.Text)
	}
	all := strings.Join(chat, "\n")
	for _, want := range []string{"scored confidence 0/100 on the base tier, too low to stand on its own: -30 check", "Escalation approved by alice", "revision 2 is ready"} {
		if !strings.Contains(all, want) {
			t.Errorf("chat lacks %q:\n%s", want, all)
		}
	}
	// A second press of approve changes nothing.
	if _, err := e.core.DecideSpend(ctx, "alice", p.ID, 1, true); err != nil {
		t.Errorf("second approve: %v", err)
	}
}

func TestEscalationDeclinedKeepsAVerifiedRevisionProposed(t *testing.T) {
	e := newEscEnv(t, escOpts{}, []providertest.Reply{{Text: planGood, Usage: use}, {Text: patchUnsure, Usage: use}}, nil)
	p := sendAndSettle(t, e.env, startConversation(t, e.env), readmeRequest)
	esc := e.waitingEscalation(t, p, budget.TierExternal)
	if !p.Current().Verified || *p.Current().ModelConfidence != 20 {
		t.Fatalf("revision 1 verified %v self %v", p.Current().Verified, p.Current().ModelConfidence)
	}
	// plan-extra -5 -> plan-agrees +15, and the model's 20 (-6) -> 50 (0).
	if *esc.ConfidenceGain != 26 || len(esc.GainReasons) != 2 {
		t.Errorf("gain %d %q", *esc.ConfidenceGain, esc.GainReasons)
	}
	p, err := e.core.DecideSpend(ctx, "alice", p.ID, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != core.StateProposed || p.Waiting != core.WaitingNone || len(p.Revisions) != 1 || p.Current().Execution == nil {
		t.Fatalf("after decline: state %s waiting %q revisions %d execution %v", p.State, p.Waiting, len(p.Revisions), p.Current().Execution)
	}
	if n := len(e.strong.Requests()); n != 0 {
		t.Errorf("%d requests to the stronger tier after a decline", n)
	}
	if len(e.auditOf(t, p.ID, "proposal.spend_declined")) != 1 {
		t.Error("no decline in the audit")
	}
	// GO is possible on it.
	if _, err := e.core.Go(ctx, "alice", p.ID, 1); err != nil {
		t.Errorf("GO after the decline: %v", err)
	}
}

func TestEscalationDeclinedLeavesAnUnverifiedRevisionInDraft(t *testing.T) {
	e := newEscEnv(t, escOpts{}, []providertest.Reply{{Text: planGood, Usage: use}, {Text: patchBreaks, Usage: use}}, nil)
	p := sendAndSettle(t, e.env, startConversation(t, e.env), readmeRequest)
	e.waitingEscalation(t, p, budget.TierExternal)
	p, err := e.core.DecideSpend(ctx, "alice", p.ID, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != core.StateDraft || p.Waiting != core.WaitingNone || !strings.Contains(p.Reason, `check "check 2" failed (exit 1)`) {
		t.Fatalf("state %s waiting %q reason %q", p.State, p.Waiting, p.Reason)
	}
	if _, err := e.core.DecideSpend(ctx, "alice", p.ID, 1, false); err != nil {
		t.Errorf("a second decline: %v", err)
	}
}

// The helper tier is the next rung when it is configured; a revision
// drafted on the highest configured tier never escalates.
func TestEscalationNeverFromTheTopTier(t *testing.T) {
	e := newEscEnv(t, escOpts{stageTier: budget.TierHelper, strongTier: budget.TierHelper}, nil,
		[]providertest.Reply{{Text: planGood, Usage: use}, {Text: patchBreaks, Usage: use}})
	p := sendAndSettle(t, e.env, startConversation(t, e.env), readmeRequest)
	if p.State != core.StateDraft || p.Waiting != core.WaitingNone || p.Awaiting != nil || !strings.Contains(p.Reason, "BROKEN") {
		t.Fatalf("state %s waiting %q awaiting %+v reason %q", p.State, p.Waiting, p.Awaiting, p.Reason)
	}
	if p.Current().Confidence == nil || p.Current().Confidence.Value >= 60 {
		t.Errorf("confidence %+v: the test needs a low one", p.Current().Confidence)
	}
	if len(e.auditOf(t, p.ID, "proposal.escalation_proposed")) != 0 || len(e.base.Requests()) != 0 {
		t.Error("escalated from the top tier")
	}
}

func TestEscalationToTheHelperTier(t *testing.T) {
	e := newEscEnv(t, escOpts{strongTier: budget.TierHelper},
		[]providertest.Reply{{Text: planGood, Usage: use}, {Text: patchBreaks, Usage: use}}, nil)
	p := sendAndSettle(t, e.env, startConversation(t, e.env), readmeRequest)
	esc := e.waitingEscalation(t, p, budget.TierHelper)
	if slices.Contains(esc.Why, "the external tier always needs approval") {
		t.Errorf("why %q", esc.Why)
	}
}

func TestEscalationNeverForAPastedChange(t *testing.T) {
	e := newEscEnv(t, escOpts{}, nil, nil)
	diff := makeDiff(t, e.bare, func(dir string) { writeFile(t, filepath.Join(dir, "BROKEN"), "x\n") })
	p := sendAndSettle(t, e.env, startConversation(t, e.env), diff)
	if p.State != core.StateDraft || p.Waiting != core.WaitingNone || p.Awaiting != nil || p.Current().Verified {
		t.Fatalf("state %s waiting %q awaiting %+v", p.State, p.Waiting, p.Awaiting)
	}
	if p.Current().Confidence == nil || p.Current().Confidence.Value >= 60 {
		t.Errorf("confidence %+v: the test needs a low one", p.Current().Confidence)
	}
	if len(e.base.Requests())+len(e.strong.Requests()) != 0 {
		t.Error("a model was asked about a pasted change")
	}
}

// The escalated tier is stored on the revision: an approval given while
// the daemon's workers are stopped is drafted on that tier after a restart.
func TestEscalationSurvivesARestart(t *testing.T) {
	e := newEscEnv(t, escOpts{},
		[]providertest.Reply{{Text: planGood, Usage: use}, {Text: patchBreaks, Usage: use}},
		[]providertest.Reply{{Text: planGood, Usage: use}, {Text: patchSure, Usage: use}})
	p := sendAndSettle(t, e.env, startConversation(t, e.env), readmeRequest)
	e.waitingEscalation(t, p, budget.TierExternal)
	e.close()
	e.paused = true
	e.open()
	if _, err := e.core.DecideSpend(ctx, "alice", p.ID, 1, true); err != nil {
		t.Fatal(err)
	}
	e.close()
	e.paused = false
	e.open()
	e.waitJobsIdle()
	p, _ = e.core.Proposal(ctx, p.ID)
	if len(p.Revisions) != 2 || p.State != core.StateProposed || p.Current().Tier != budget.TierExternal {
		t.Fatalf("%d revisions, state %s tier %q reason %q", len(p.Revisions), p.State, p.Current().Tier, p.Reason)
	}
	if n := len(e.strong.Requests()); n != 2 {
		t.Errorf("%d requests to the external tier after the restart, want plan and patch", n)
	}
}

// A metered sandbox verify is part of the projection (one meter slice), and
// the redraft's verify runs under the same approval.
func TestEscalationProjectsAndApprovesTheMeteredVerify(t *testing.T) {
	e := newEscEnv(t, escOpts{localHourly: 600_000}, // $0.60/h: a $0.01 first minute
		[]providertest.Reply{{Text: planGood, Usage: use}, {Text: patchBreaks, Usage: use}},
		[]providertest.Reply{{Text: planGood, Usage: use}, {Text: patchSure, Usage: use}})
	p := sendAndSettle(t, e.env, startConversation(t, e.env), readmeRequest)
	e.waitingEscalation(t, p, budget.TierExternal)
	if projection := e.auditOf(t, p.ID, "proposal.escalation_proposed")[0]["projection"]; !strings.Contains(projection, "sandbox verify $0.01 (one meter slice of helper time)") {
		t.Errorf("projection %q lacks the verify", projection)
	}
	p, err := e.core.DecideSpend(ctx, "alice", p.ID, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	e.waitJobsIdle()
	p, _ = e.core.Proposal(ctx, p.ID)
	if len(p.Revisions) != 2 || p.State != core.StateProposed {
		t.Fatalf("%d revisions, state %s reason %q", len(p.Revisions), p.State, p.Reason)
	}
	var verify *core.CostLine
	for i, l := range p.Current().Spent {
		if l.Stage == "verify" {
			verify = &p.Current().Spent[i]
		}
	}
	if verify == nil || !strings.Contains(verify.What, "under your approval") || verify.CostMicros <= 0 {
		t.Errorf("revision 2 spent %+v: the verify runs metered under the approval", p.Current().Spent)
	}
}
