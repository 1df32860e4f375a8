package core_test

import (
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/assist/provider"
	"github.com/patchgit/patchgit/internal/assist/providertest"
	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
)

// whileCalled waits until the server has received n requests (the n-th
// hangs), then returns the proposal and the ledger's open reservations.
func (m *modelEnv) whileCalled(t *testing.T, id string, n int) (core.Proposal, budget.Status) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for len(m.srv.Requests()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the server got %d requests, waiting for %d", len(m.srv.Requests()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p, err := m.core.Proposal(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.ledger.Status()
	if err != nil {
		t.Fatal(err)
	}
	return p, st
}

func remainingLine(t *testing.T, rev *core.Revision, stage string) core.CostLine {
	t.Helper()
	for _, l := range rev.Remaining {
		if l.Stage == stage {
			return l
		}
	}
	t.Fatalf("no %s line in the remaining projection %+v", stage, rev.Remaining)
	return core.CostLine{}
}

// The projection of what remains is on the revision while the draft runs:
// before Plan, plan (exactly what the plan call reserves), patch (an upper
// estimate) and the metered verify; before Patch, the patch projected
// from the request it sends (two calls at the bound its first call
// reserves) and the verify; cleared when the draft ends.
func TestModelDraftProjectsWhatRemainsBeforeEachStage(t *testing.T) {
	hang := 2 * time.Second
	m := newModelEnv(t, provider.KindOpenAI, modelOpts{localHourly: 600_000}, // $0.60/h, a 1-minute slice: $0.01
		providertest.Reply{Text: planGood, Usage: use, Hang: hang}, providertest.Reply{Text: patchGood, Usage: use, Hang: hang})
	cv := startConversation(t, m.env)
	msg, err := m.core.Send(ctx, "alice", cv.ID, readmeRequest)
	if err != nil {
		t.Fatal(err)
	}

	p, st := m.whileCalled(t, msg.ProposalID, 1)
	rev := p.Current()
	if len(rev.Remaining) != 3 {
		t.Fatalf("before the plan: remaining %+v, want plan, patch, verify", rev.Remaining)
	}
	plan, patchEstimate, verify := remainingLine(t, rev, "plan"), remainingLine(t, rev, "patch"), remainingLine(t, rev, "verify")
	if len(st.Open) != 1 || int64(st.Open[0].Amount) != plan.CostMicros || plan.Category != core.CostModel {
		t.Errorf("plan projected %+v; the plan call reserved %+v", plan, st.Open)
	}
	if verify.CostMicros != 10_000 || verify.Category != core.CostHelper || !strings.Contains(verify.What, "meter slice") {
		t.Errorf("verify line %+v, want one $0.01 slice of helper time", verify)
	}
	if !strings.Contains(patchEstimate.What, "upper estimate") {
		t.Errorf("patch line before the plan %+v must say it is an upper estimate", patchEstimate)
	}

	p, st = m.whileCalled(t, msg.ProposalID, 2)
	rev = p.Current()
	if len(rev.Remaining) != 2 {
		t.Fatalf("before the patch: remaining %+v, want patch and verify", rev.Remaining)
	}
	patch := remainingLine(t, rev, "patch")
	if len(st.Open) != 1 || 2*int64(st.Open[0].Amount) != patch.CostMicros || patch.Category != core.CostModel {
		t.Errorf("patch projected %+v; want twice what its first call reserved: %+v", patch, st.Open)
	}
	if patch.CostMicros > patchEstimate.CostMicros {
		t.Errorf("the patch's projection grew from %d before the plan to %d: the first was no upper estimate", patchEstimate.CostMicros, patch.CostMicros)
	}
	if remainingLine(t, rev, "verify") != verify {
		t.Errorf("the verify line changed: %+v", rev.Remaining)
	}
	if len(rev.Spent) != 1 || rev.Spent[0].Stage != "plan" {
		t.Errorf("spent before the patch %+v: the plan's call", rev.Spent)
	}

	m.waitJobsIdle()
	p, _ = m.core.Proposal(ctx, msg.ProposalID)
	if p.State != core.StateProposed || p.Current().Remaining != nil {
		t.Fatalf("state %s, remaining %+v after the draft (%s)", p.State, p.Current().Remaining, p.Reason)
	}
}

// A draft that stops (edits failed twice) clears the projection too.
func TestModelDraftThatFailsClearsTheProjection(t *testing.T) {
	m := newModelEnv(t, provider.KindAnthropic, modelOpts{}, providertest.Reply{Text: planGood, Usage: use}, providertest.Reply{Text: patchNoMatch, Usage: use})
	p := sendAndSettle(t, m.env, startConversation(t, m.env), readmeRequest)
	if p.State != core.StateDraft || p.Current().Remaining != nil {
		t.Fatalf("state %s remaining %+v", p.State, p.Current().Remaining)
	}
	m.assertAccounting(t, p)
}
