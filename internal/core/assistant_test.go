package core_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
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

// The model chain wired into core, against local servers that speak the
// OpenAI chat completions and Anthropic Messages protocols, driven through
// the real SDKs; the sandbox, git and the ledger are real.

const (
	testModel = "m-small"
	testKey   = "sk-test-key-0000-never-logged"
	// The person's request; it must reach the model and never the audit.
	readmeRequest = "Please rename the README heading to demo project"
)

var testPrice = budget.TokenPrice{Model: testModel, Input: 2_000_000, Output: 8_000_000, Cached: 500_000}

var (
	planGood = "PLAN:\nRename the README's heading.\nTARGETS:\n- README.md\nQUESTIONS:\n- none\n"
	planAsks = "PLAN:\nThe request is unclear.\nTARGETS:\nQUESTIONS:\n- Which heading should the README have?\n"
	// patchGood is what the model writes; readmeEdited is what it makes.
	patchGood      = "Here it is.\n\nREADME.md\n<<<<<<< SEARCH\n# demo\n=======\n# demo project\n>>>>>>> REPLACE\n"
	patchMalformed = "README.md\n<<<<<<< SEARCH\n# demo\n>>>>>>> REPLACE\n"
	patchNoMatch   = "README.md\n<<<<<<< SEARCH\n# not in the file\n=======\n# x\n>>>>>>> REPLACE\n"
	use            = &providertest.Usage{Input: 900, Cached: 100, Output: 70}
)

// modelEnv is a core with a model chain on one scripted server.
type modelEnv struct {
	*env
	srv    *providertest.Server
	script []providertest.Reply
	ledger *budget.Ledger
}

type modelOpts struct {
	planTier, patchTier budget.Tier
	hourCap             budget.Micros
	timeout             time.Duration // per attempt; 0: 20s
	localHourly         budget.Micros // >0: the sandbox verify is metered helper time
}

func newModelEnv(t *testing.T, kind provider.Kind, o modelOpts, script ...providertest.Reply) *modelEnv {
	t.Helper()
	m := &modelEnv{script: script}
	if kind == provider.KindOpenAI {
		m.srv = providertest.NewOpenAI(t, script...)
	} else {
		m.srv = providertest.NewAnthropic(t, script...)
	}
	if o.timeout == 0 {
		o.timeout = 20 * time.Second
	}
	p, err := provider.New(provider.Options{Name: "scripted", Kind: kind, BaseURL: m.srv.URL, KeyEnv: "TEST_KEY",
		Getenv: func(string) (string, bool) { return testKey, true }, Timeout: o.timeout, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	deny, err := chain.NewDeny(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.planTier == "" {
		o.planTier = budget.TierBase
	}
	if o.patchTier == "" {
		o.patchTier = budget.TierBase
	}
	if o.hourCap == 0 {
		o.hourCap = 5 * budget.Dollar
	}
	m.env = newEnv(t, func(opt *core.Options) {
		a := opt.Audit
		m.ledger = budget.NewLedger(opt.DB, budget.Caps{Hour: o.hourCap, Day: 10 * budget.Dollar}, nil,
			func(tx *bolt.Tx, kind, subject string, data map[string]string) error {
				_, err := a.Append(tx, kind, "patchgit", subject, data)
				return err
			})
		prices := budget.DefaultPrices()
		prices.Models = []budget.TokenPrice{testPrice}
		if o.localHourly > 0 {
			prices.Local = budget.NewHelperPrice(budget.LocalHelperSize, o.localHourly, 0)
			opt.MeterSlice = time.Minute
		}
		opt.Budget, opt.Prices = m.ledger, prices
		opt.Assistant = &core.Assistant{Deny: deny, ContextTokens: 8000,
			Plan:  core.ModelStage{Tier: o.planTier, Provider: p, Model: testModel, MaxOutputTokens: 500},
			Patch: core.ModelStage{Tier: o.patchTier, Provider: p, Model: testModel, MaxOutputTokens: 1500}}
	})
	return m
}

func bothProtocols(t *testing.T, fn func(t *testing.T, kind provider.Kind)) {
	for _, kind := range []provider.Kind{provider.KindOpenAI, provider.KindAnthropic} {
		t.Run(string(kind), func(t *testing.T) { fn(t, kind) })
	}
}

// contentText is a message content or system prompt as either protocol
// sends it: a string, or a list of text blocks.
func contentText(v any) string {
	switch c := v.(type) {
	case string:
		return c
	case []any:
		var b strings.Builder
		for _, part := range c {
			if p, ok := part.(map[string]any); ok {
				s, _ := p["text"].(string)
				b.WriteString(s)
			}
		}
		return b.String()
	}
	return ""
}

// seenUsage is what each answered call used, computed from what the
// server received and answered, not from PatchGit's records: the scripted
// usage, or, when the answer carried none, the documented estimate (one
// token per 3 bytes of the prompt, 4 per message, and of the answer).
func (m *modelEnv) seenUsage(t *testing.T) []providertest.Usage {
	t.Helper()
	var out []providertest.Usage
	for i, req := range m.srv.Requests() {
		r := m.script[min(i, len(m.script)-1)]
		if r.Status != 0 && r.Status != 200 {
			continue // refused: nothing billed, the SDK retried
		}
		if r.Usage != nil {
			out = append(out, *r.Usage)
			continue
		}
		system := contentText(req.Body["system"])
		var in int64
		msgs, _ := req.Body["messages"].([]any)
		for _, msg := range msgs {
			mm, _ := msg.(map[string]any)
			if mm["role"] == "system" {
				system = contentText(mm["content"])
				continue
			}
			in += provider.EstimateTokens(contentText(mm["content"])) + 4
		}
		in += provider.EstimateTokens(system)
		out = append(out, providertest.Usage{Input: in, Output: provider.EstimateTokens(r.Text)})
	}
	return out
}

// assertAccounting checks the ledger and the audit log against what the
// server saw: spends sum to TokenPrice.Cost over the answered calls, no
// reservation stays open, one model.call entry per call with its tokens,
// and neither the prompt, the answer nor the key in any of them.
func (m *modelEnv) assertAccounting(t *testing.T, p core.Proposal, estimated ...bool) {
	t.Helper()
	seen := m.seenUsage(t)
	var want budget.Micros
	for _, u := range seen {
		want += testPrice.Cost(u.Input, u.Output, u.Cached)
	}
	st, err := m.ledger.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Hour.Spent != want || st.Hour.Reserved != 0 || len(st.Open) != 0 {
		t.Errorf("ledger: spent %s reserved %s open %d; the server saw calls costing %s", st.Hour.Spent, st.Hour.Reserved, len(st.Open), want)
	}
	var spentLines int64
	for _, l := range p.Current().Spent {
		spentLines += l.CostMicros
	}
	if spentLines != int64(want) {
		t.Errorf("revision spent %v sums to %d, want %d", p.Current().Spent, spentLines, want)
	}
	entries, err := m.audit.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var calls []map[string]string
	for _, e := range entries {
		for _, v := range e.Data {
			if strings.Contains(v, testKey) {
				t.Errorf("the key is in audit entry %s", e.Kind)
			}
		}
		if e.Kind == "model.call" {
			calls = append(calls, e.Data)
		}
	}
	if len(calls) != len(seen) {
		t.Fatalf("%d model.call entries for %d answered calls", len(calls), len(seen))
	}
	for i, d := range calls {
		u := seen[i]
		if d["input_tokens"] != fmt.Sprint(u.Input) || d["cached_input_tokens"] != fmt.Sprint(u.Cached) || d["output_tokens"] != fmt.Sprint(u.Output) ||
			d["cost_micros"] != fmt.Sprint(int64(testPrice.Cost(u.Input, u.Output, u.Cached))) || d["model"] != testModel || d["provider"] != "scripted" {
			t.Errorf("model.call %d = %v, want usage %+v", i, d, u)
		}
		wantEst := len(estimated) > i && estimated[i]
		if d["estimated"] != fmt.Sprint(wantEst) {
			t.Errorf("model.call %d estimated = %q, want %v", i, d["estimated"], wantEst)
		}
		for k, v := range d {
			for _, secret := range []string{readmeRequest, "A tiny Go program", "Rename the README", "<<<<<<<", "PLAN:"} {
				if strings.Contains(v, secret) {
					t.Errorf("model.call %d field %s holds prompt or answer text %q", i, k, secret)
				}
			}
		}
	}
}

// exactDiff is `git diff` of edit in a clone, byte for byte (makeDiff
// trims the trailing context line's space).
func exactDiff(t *testing.T, bare string, edit func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	if out, err := exec.Command("git", "clone", "-q", bare, dir).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	edit(dir)
	out, err := exec.Command("git", "-C", dir, "diff").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// readmeEdit is the change patchGood describes, made by git itself.
func readmeEdit(t *testing.T) func(string) {
	return func(dir string) {
		b, err := os.ReadFile(filepath.Join(dir, "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "README.md"), strings.Replace(string(b), "# demo\n", "# demo project\n", 1))
	}
}

func TestModelChainGoodPlanAndPatchIsProposed(t *testing.T) {
	bothProtocols(t, func(t *testing.T, kind provider.Kind) {
		m := newModelEnv(t, kind, modelOpts{}, providertest.Reply{Text: planGood, Usage: use}, providertest.Reply{Text: patchGood, Usage: use})
		sub, cancel := context.WithCancel(ctx)
		defer cancel()
		events, err := m.core.Subscribe(sub)
		if err != nil {
			t.Fatal(err)
		}
		streamed := make(chan string, 1)
		go func() { // read as they come: a full subscriber buffer drops events
			for ev := range events {
				if ev.Kind == core.EventJob && strings.HasPrefix(ev.Text, "plan: ") && strings.HasSuffix(ev.Text, "chars received") {
					streamed <- ev.Text
					return
				}
			}
		}()
		cv := startConversation(t, m.env)
		p := sendAndSettle(t, m.env, cv, readmeRequest)
		if p.State != core.StateProposed {
			t.Fatalf("state %s reason %q", p.State, p.Reason)
		}
		rev := p.Current()
		if want := exactDiff(t, m.bare, readmeEdit(t)); rev.Diff != want {
			t.Errorf("diff:\n%s\nwant what the edits make:\n%s", rev.Diff, want)
		}
		if rev.Source != core.SourceModel || !slices.Equal(rev.Targets, []string{"README.md"}) || rev.Plan[0] != "Rename the README's heading." ||
			!strings.Contains(strings.Join(rev.Plan, "\n"), "On GO: commit") || !rev.Verified {
			t.Errorf("revision source %q targets %v plan %q verified %v", rev.Source, rev.Targets, rev.Plan, rev.Verified)
		}
		if len(rev.Spent) != 2 || rev.Spent[0].Stage != "plan" || rev.Spent[1].Stage != "patch" || rev.Spent[0].Category != core.CostModel {
			t.Errorf("spent %+v", rev.Spent)
		}
		m.assertAccounting(t, p)
		// What left the machine: the request and the README, to the model.
		reqs := m.srv.Requests()
		if len(reqs) != 2 || !strings.Contains(reqs[0].Text(), readmeRequest) || !strings.Contains(reqs[1].Text(), "A tiny Go program") {
			t.Errorf("%d requests; the plan request must carry the request, the patch request the README", len(reqs))
		}
		// Streaming reached the job line.
		select {
		case <-streamed:
		case <-time.After(5 * time.Second):
			t.Error("no streamed progress on the job line")
		}
	})
}

func TestModelChainQuestionLeavesDraftAndTheAnswerMakesARevision(t *testing.T) {
	bothProtocols(t, func(t *testing.T, kind provider.Kind) {
		m := newModelEnv(t, kind, modelOpts{}, providertest.Reply{Text: planAsks, Usage: use},
			providertest.Reply{Text: planGood, Usage: use}, providertest.Reply{Text: patchGood, Usage: use})
		cv := startConversation(t, m.env)
		p := sendAndSettle(t, m.env, cv, "make the readme better")
		if p.State != core.StateDraft || len(p.Current().Questions) != 1 || !strings.Contains(p.Reason, "asked questions") {
			t.Fatalf("state %s questions %v reason %q", p.State, p.Current().Questions, p.Reason)
		}
		msgs, err := m.core.Messages(ctx, cv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if last := msgs[len(msgs)-1].Text; !strings.Contains(last, "1. Which heading should the README have?") {
			t.Errorf("the question is not in the chat: %q", last)
		}
		m.assertAccounting(t, p)
		p2 := sendAndSettle(t, m.env, cv, "Call it demo project")
		if p2.ID != p.ID || len(p2.Revisions) != 2 || p2.State != core.StateProposed {
			t.Fatalf("answer made proposal %s with %d revisions in %s (%s)", ShortID(p2.ID), len(p2.Revisions), p2.State, p2.Reason)
		}
		req := p2.Current().Request
		for _, want := range []string{"make the readme better", "Which heading should the README have?", "Call it demo project"} {
			if !strings.Contains(req, want) {
				t.Errorf("revision 2's request lacks %q:\n%s", want, req)
			}
		}
		if second := m.srv.Requests()[1].Text(); !strings.Contains(second, "Call it demo project") || !strings.Contains(second, "make the readme better") {
			t.Errorf("the second plan did not send the request with the answer")
		}
	})
}

func TestModelChainMalformedEditThenFix(t *testing.T) {
	bothProtocols(t, func(t *testing.T, kind provider.Kind) {
		m := newModelEnv(t, kind, modelOpts{}, providertest.Reply{Text: planGood, Usage: use},
			providertest.Reply{Text: patchMalformed, Usage: use}, providertest.Reply{Text: patchGood, Usage: use})
		p := sendAndSettle(t, m.env, startConversation(t, m.env), readmeRequest)
		if p.State != core.StateProposed || !strings.Contains(p.Current().Diff, "+# demo project") {
			t.Fatalf("state %s reason %q", p.State, p.Reason)
		}
		reqs := m.srv.Requests()
		if len(reqs) != 3 || !strings.Contains(reqs[2].Text(), "missing its ======= divider") {
			t.Errorf("%d requests; the third must carry the exact parse error", len(reqs))
		}
		if !strings.Contains(p.Current().Spent[1].What, "2 call(s)") {
			t.Errorf("patch spent line %q", p.Current().Spent[1].What)
		}
		m.assertAccounting(t, p)
	})
}

func TestModelChainNonMatchingTwiceStaysDraftWithTheError(t *testing.T) {
	bothProtocols(t, func(t *testing.T, kind provider.Kind) {
		m := newModelEnv(t, kind, modelOpts{}, providertest.Reply{Text: planGood, Usage: use}, providertest.Reply{Text: patchNoMatch, Usage: use})
		cv := startConversation(t, m.env)
		p := sendAndSettle(t, m.env, cv, readmeRequest)
		if p.State != core.StateDraft || !strings.Contains(p.Reason, "search block not found in README.md") {
			t.Fatalf("state %s reason %q", p.State, p.Reason)
		}
		msgs, _ := m.core.Messages(ctx, cv.ID)
		if last := msgs[len(msgs)-1].Text; !strings.Contains(last, "# not in the file") || !strings.Contains(last, "stays in Draft") {
			t.Errorf("chat lacks the exact error: %q", last)
		}
		if n := len(m.srv.Requests()); n != 3 {
			t.Errorf("%d requests, want plan + patch + one send-back", n)
		}
		if got := branches(t, m.bare); !slices.Equal(got, []string{"main"}) {
			t.Errorf("pushed: %v", got)
		}
		m.assertAccounting(t, p)
	})
}

func TestModelChainRateLimitedThenAnswered(t *testing.T) {
	bothProtocols(t, func(t *testing.T, kind provider.Kind) {
		limited := providertest.Reply{Status: 429, Text: "slow down", Headers: map[string]string{"retry-after-ms": "20"}}
		m := newModelEnv(t, kind, modelOpts{}, limited, limited, providertest.Reply{Text: planGood, Usage: use}, providertest.Reply{Text: patchGood, Usage: use})
		p := sendAndSettle(t, m.env, startConversation(t, m.env), readmeRequest)
		if p.State != core.StateProposed {
			t.Fatalf("state %s reason %q", p.State, p.Reason)
		}
		if n := len(m.srv.Requests()); n != 4 {
			t.Errorf("%d requests, want 2 refused + plan + patch", n)
		}
		m.assertAccounting(t, p)
	})
}

func TestModelChainMissingUsageIsEstimatedAndFlagged(t *testing.T) {
	bothProtocols(t, func(t *testing.T, kind provider.Kind) {
		m := newModelEnv(t, kind, modelOpts{}, providertest.Reply{Text: planGood}, providertest.Reply{Text: patchGood, Usage: use})
		p := sendAndSettle(t, m.env, startConversation(t, m.env), readmeRequest)
		if p.State != core.StateProposed {
			t.Fatalf("state %s reason %q", p.State, p.Reason)
		}
		if !strings.Contains(p.Current().Spent[0].What, "estimated") || strings.Contains(p.Current().Spent[1].What, "estimated") {
			t.Errorf("spent %+v: only the plan is estimated", p.Current().Spent)
		}
		st, _ := m.ledger.Status()
		notes := 0
		for _, s := range st.Recent {
			if strings.Contains(s.Note, "usage estimated") {
				notes++
			}
		}
		if notes != 1 {
			t.Errorf("%d ledger spends flagged estimated, want 1: %+v", notes, st.Recent)
		}
		m.assertAccounting(t, p, true, false)
	})
}

func TestModelChainExternalTierAwaitsApprovalAndCallsNothing(t *testing.T) {
	bothProtocols(t, func(t *testing.T, kind provider.Kind) {
		m := newModelEnv(t, kind, modelOpts{planTier: budget.TierExternal}, providertest.Reply{Text: planGood, Usage: use})
		cv := startConversation(t, m.env)
		p := sendAndSettle(t, m.env, cv, readmeRequest)
		if p.State != core.StateDraft || p.Waiting != core.WaitingApproval || p.Awaiting == nil {
			t.Fatalf("state %s waiting %q awaiting %+v", p.State, p.Waiting, p.Awaiting)
		}
		a := p.Awaiting
		if !strings.Contains(a.What, testModel) || !slices.Contains(a.Why, "the external tier always needs approval") || a.CostMicros <= 0 || a.ApproveMicros < a.CostMicros {
			t.Errorf("awaiting %+v", a)
		}
		if n := len(m.srv.Requests()); n != 0 {
			t.Errorf("%d requests reached the external model before approval", n)
		}
		msgs, _ := m.core.Messages(ctx, cv.ID)
		if last := msgs[len(msgs)-1].Text; !strings.Contains(last, "Nothing was spent or pushed") {
			t.Errorf("chat: %q", last)
		}
		m.assertAccounting(t, p)
	})
}

func TestModelChainExternalPatchAfterAPlanKeepsThePlanSpend(t *testing.T) {
	m := newModelEnv(t, provider.KindOpenAI, modelOpts{patchTier: budget.TierExternal}, providertest.Reply{Text: planGood, Usage: use})
	cv := startConversation(t, m.env)
	p := sendAndSettle(t, m.env, cv, readmeRequest)
	if p.Waiting != core.WaitingApproval || p.Awaiting == nil || !strings.HasPrefix(p.Awaiting.What, "patch") {
		t.Fatalf("waiting %q awaiting %+v", p.Waiting, p.Awaiting)
	}
	if len(p.Current().Spent) != 1 || p.Current().Spent[0].Stage != "plan" {
		t.Errorf("spent %+v: the plan's call is accounted", p.Current().Spent)
	}
	msgs, _ := m.core.Messages(ctx, cv.ID)
	if last := msgs[len(msgs)-1].Text; !strings.Contains(last, "spent $") {
		t.Errorf("the chat must say what the plan spent: %q", last)
	}
	m.assertAccounting(t, p)
}

func TestModelChainAfterApprovalPatchesTheKeptPlanOnTheExternalTier(t *testing.T) {
	m := newModelEnv(t, provider.KindAnthropic, modelOpts{patchTier: budget.TierExternal},
		providertest.Reply{Text: planGood, Usage: use}, providertest.Reply{Text: patchGood, Usage: use})
	p := sendAndSettle(t, m.env, startConversation(t, m.env), readmeRequest)
	if p.Awaiting == nil || len(m.srv.Requests()) != 1 {
		t.Fatalf("awaiting %+v after %d requests", p.Awaiting, len(m.srv.Requests()))
	}
	// What the approve method does: record the approval, queue the draft
	// again with SpendApproved.
	if err := m.db.Update(func(tx *bolt.Tx) error {
		return m.ledger.ApproveTx(tx, budget.Approval{Proposal: p.ID, Revision: 1, Amount: budget.Micros(p.Awaiting.ApproveMicros),
			Actor: "alice", Reason: strings.Join(p.Awaiting.Why, "; ")})
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.core.RequeueApprovedDraft(p.ID); err != nil {
		t.Fatal(err)
	}
	m.waitJobsIdle()
	p, _ = m.core.Proposal(ctx, p.ID)
	if p.State != core.StateProposed || !strings.Contains(p.Current().Diff, "+# demo project") {
		t.Fatalf("state %s reason %q", p.State, p.Reason)
	}
	if n := len(m.srv.Requests()); n != 2 {
		t.Errorf("%d requests, want the plan once and the approved patch once", n)
	}
	sp := p.Current().Spent
	if len(sp) != 2 || sp[0].Stage != "plan" || sp[0].Category != core.CostModel || sp[1].Stage != "patch" || sp[1].Category != core.CostExternal {
		t.Errorf("spent %+v", sp)
	}
	st, _ := m.ledger.Status()
	approved := 0
	for _, s := range st.Recent {
		if s.Approved {
			approved++
		}
	}
	if approved != 1 {
		t.Errorf("%d spends under the approval, want the patch call's: %+v", approved, st.Recent)
	}
	m.assertAccounting(t, p)
}

func TestModelChainOverTheCapAwaitsApproval(t *testing.T) {
	// $0.001 an hour cannot hold the plan's worst case (500 output tokens
	// at $8/M alone is $0.004).
	m := newModelEnv(t, provider.KindAnthropic, modelOpts{hourCap: 1_000}, providertest.Reply{Text: planGood, Usage: use})
	p := sendAndSettle(t, m.env, startConversation(t, m.env), readmeRequest)
	if p.Waiting != core.WaitingApproval || p.Awaiting == nil || !strings.Contains(strings.Join(p.Awaiting.Why, " "), "budget refused") {
		t.Fatalf("waiting %q awaiting %+v", p.Waiting, p.Awaiting)
	}
	if n := len(m.srv.Requests()); n != 0 {
		t.Errorf("%d requests made over the cap", n)
	}
	m.assertAccounting(t, p)
}

func TestModelChainTimeoutStaysDraftAndReleasesTheReservation(t *testing.T) {
	// The OpenAI SDK gives up on a timed-out attempt at once (docs/assistant.md).
	m := newModelEnv(t, provider.KindOpenAI, modelOpts{timeout: 300 * time.Millisecond},
		providertest.Reply{Text: planGood, Usage: use, Hang: 5 * time.Second})
	p := sendAndSettle(t, m.env, startConversation(t, m.env), readmeRequest)
	if p.State != core.StateDraft || !strings.Contains(p.Reason, "provider timed out") {
		t.Fatalf("state %s reason %q", p.State, p.Reason)
	}
	st, _ := m.ledger.Status()
	if st.Hour.Spent != 0 || st.Hour.Reserved != 0 || len(st.Open) != 0 {
		t.Errorf("a call that never answered: %+v", st.Hour)
	}
	entries, _ := m.audit.List(0, 0)
	var calls []map[string]string
	for _, e := range entries {
		if e.Kind == "model.call" {
			calls = append(calls, e.Data)
		}
	}
	if len(calls) != 1 || calls[0]["error"] != "provider timed out" || calls[0]["cost_micros"] != "0" {
		t.Errorf("model.call entries %v", calls)
	}
}

func TestProseWithoutAModelGetsTheOfflineAnswer(t *testing.T) {
	e := newEnv(t)
	cv := startConversation(t, e)
	m, err := e.core.Send(ctx, "alice", cv.ID, readmeRequest)
	if err != nil || m.ProposalID != "" {
		t.Fatalf("message %+v err %v: no proposal without a model", m, err)
	}
	msgs, _ := e.core.Messages(ctx, cv.ID)
	if last := msgs[len(msgs)-1].Text; !strings.Contains(last, "diff") {
		t.Errorf("offline answer: %q", last)
	}
}

// ShortID keeps failure messages short.
func ShortID(id string) string { return core.ShortID(id) }

// A model's revision whose verify is metered keeps both accounts: the
// model calls and the helper time, each a Spent line, together what the
// ledger charged.
func TestModelChainWithMeteredVerifyKeepsModelAndHelperSpend(t *testing.T) {
	m := newModelEnv(t, provider.KindOpenAI, modelOpts{localHourly: 600_000}, // $0.60/h: a $0.01 first minute
		providertest.Reply{Text: planGood, Usage: use}, providertest.Reply{Text: patchGood, Usage: use})
	cv := startConversation(t, m.env)
	p := sendAndSettle(t, m.env, cv, readmeRequest)
	if p.State != core.StateProposed {
		t.Fatalf("state %s reason %q", p.State, p.Reason)
	}
	byCategory := map[string]int64{}
	var total int64
	for _, l := range p.Current().Spent {
		byCategory[l.Category] += l.CostMicros
		total += l.CostMicros
	}
	var models budget.Micros
	for _, u := range m.seenUsage(t) {
		models += testPrice.Cost(u.Input, u.Output, u.Cached)
	}
	if byCategory[core.CostModel] != int64(models) || byCategory[core.CostHelper] <= 0 {
		t.Errorf("spent by category %v; the model calls cost %d and the verify must be charged", byCategory, models)
	}
	st, err := m.ledger.Status()
	if err != nil {
		t.Fatal(err)
	}
	if int64(st.Hour.Spent) != total || st.Hour.Reserved != 0 {
		t.Errorf("ledger spent %s reserved %s; the revision's Spent lines sum to %s", st.Hour.Spent, st.Hour.Reserved, budget.Micros(total))
	}
}
