package core_test

import (
	"fmt"
	"os"
	"strconv"
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

// livePrice prices the real model as if it were paid, so every call's
// tokens become money the ledger, the audit log and the revision must
// agree on.
func livePrice(model string) budget.TokenPrice {
	return budget.TokenPrice{Model: model, Input: 1_000_000, Output: 2_000_000, Cached: 100_000}
}

// liveRequest is prose on the demo repository, with a check that can fail.
const liveRequest = `In greet.go, make Greet say "Hi" instead of "Hello" (so Greet("Ada") returns "Hi, Ada!"), and update greet_test.go to match.`

// TestLiveModelDraftOnTheDemo runs a prose request on the demo repository
// through core (Plan, Patch, the real sandbox) against a real
// OpenAI-compatible server, for example a local Ollama:
//
//	PATCHGIT_TEST_OPENAI_URL=http://127.0.0.1:11434/v1 PATCHGIT_TEST_OPENAI_MODEL=qwen2.5-coder:7b \
//	  go test -run LiveModelDraft -v -timeout 30m ./internal/core/
//
// Whatever the model does (a good patch, a bad one, questions, edits that
// fail twice), the accounting must hold: the ledger's spends, the audit's
// model.call entries and the revision's Spent are the same money, nothing
// stays reserved, and the projection of what remains is cleared.
// PATCHGIT_TEST_OPENAI_KEY_ENV names a variable holding a key, if the
// server needs one.
func TestLiveModelDraftOnTheDemo(t *testing.T) {
	url := os.Getenv("PATCHGIT_TEST_OPENAI_URL")
	if url == "" {
		t.Skip("no real model server: set PATCHGIT_TEST_OPENAI_URL (and PATCHGIT_TEST_OPENAI_MODEL) to run this test against one, e.g. a local Ollama at http://127.0.0.1:11434/v1")
	}
	model := os.Getenv("PATCHGIT_TEST_OPENAI_MODEL")
	if model == "" {
		t.Fatal("PATCHGIT_TEST_OPENAI_URL is set but PATCHGIT_TEST_OPENAI_MODEL is not: name the model to use")
	}
	liveDraft(t, url, model, os.Getenv("PATCHGIT_TEST_OPENAI_KEY_ENV"), os.Getenv, 25*time.Minute)
}

// TestLiveHarnessHoldsOnAScriptedServer runs the live test's body against
// a scripted server answering the same protocol, so the opt-in test's
// own checks are known to work before anyone points it at a real model.
func TestLiveHarnessHoldsOnAScriptedServer(t *testing.T) {
	srv := providertest.NewOpenAI(t,
		providertest.Reply{Text: "PLAN:\nSay Hi.\nTARGETS:\n- greet.go\n- greet_test.go\nQUESTIONS:\n- none\n", Usage: &providertest.Usage{Input: 700, Output: 40}},
		providertest.Reply{Text: "greet.go\n<<<<<<< SEARCH\n\treturn \"Hello, \" + name + \"!\"\n=======\n\treturn \"Hi, \" + name + \"!\"\n>>>>>>> REPLACE\nCONFIDENCE: 70\n"}) // no usage: estimated
	p := liveDraft(t, srv.URL, "scripted-live", "", func(string) string { return "" }, 3*time.Minute)
	if sp := p.Current().Spent; p.State != core.StateProposed || len(sp) != 2 || !strings.Contains(sp[1].What, "estimated") {
		t.Errorf("state %s (%s), spent %+v: want Proposed, the patch call's usage estimated", p.State, p.Reason, sp)
	}
}

func liveDraft(t *testing.T, url, model, keyEnv string, getenv func(string) string, bound time.Duration) core.Proposal {
	t.Helper()
	p, err := provider.New(provider.Options{Name: "live", Kind: provider.KindOpenAI, BaseURL: url, KeyEnv: keyEnv,
		Getenv:  func(k string) (string, bool) { v := getenv(k); return v, v != "" },
		Timeout: 10 * time.Minute, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	deny, err := chain.NewDeny(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ledger *budget.Ledger
	e := newEnv(t, func(opt *core.Options) {
		a := opt.Audit
		ledger = budget.NewLedger(opt.DB, budget.Caps{Hour: 5 * budget.Dollar, Day: 10 * budget.Dollar}, nil,
			func(tx *bolt.Tx, kind, subject string, data map[string]string) error {
				_, err := a.Append(tx, kind, "patchgit", subject, data)
				return err
			})
		prices := budget.DefaultPrices()
		prices.Models = []budget.TokenPrice{livePrice(model)}
		opt.Budget, opt.Prices = ledger, prices
		opt.Assistant = &core.Assistant{Deny: deny, ContextTokens: 8000,
			Plan:  core.ModelStage{Tier: budget.TierBase, Provider: p, Model: model, MaxOutputTokens: 1024},
			Patch: core.ModelStage{Tier: budget.TierBase, Provider: p, Model: model, MaxOutputTokens: 4096}}
	})
	cv := startConversation(t, e)
	msg, err := e.core.Send(ctx, "alice", cv.ID, liveRequest)
	if err != nil || msg.ProposalID == "" {
		t.Fatalf("send: %+v %v", msg, err)
	}
	deadline := time.Now().Add(bound)
	for {
		jobs, err := e.core.Jobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		busy := false
		for _, j := range jobs {
			busy = busy || j.State == core.JobQueued || j.State == core.JobRunning
		}
		if !busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the draft still runs after %s", bound)
		}
		time.Sleep(200 * time.Millisecond)
	}
	prop, err := e.core.Proposal(ctx, msg.ProposalID)
	if err != nil {
		t.Fatal(err)
	}
	rev := prop.Current()
	t.Logf("state %s, reason %q, questions %q, checks %d, verified %v", prop.State, prop.Reason, rev.Questions, len(rev.Checks), rev.Verified)
	t.Logf("diff:\n%s", rev.Diff)

	// The audit's model.call entries: what each call cost and what the
	// ledger settled (never above the reservation).
	entries, err := e.audit.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var audited int64
	calls := 0
	for _, en := range entries {
		if en.Kind != "model.call" {
			continue
		}
		calls++
		field := "cost_micros"
		if _, ok := en.Data["settled_micros"]; ok {
			field = "settled_micros"
		}
		n, err := strconv.ParseInt(en.Data[field], 10, 64)
		if err != nil {
			t.Fatalf("model.call %s = %q: %v", field, en.Data[field], err)
		}
		audited += n
		in, _ := strconv.ParseInt(en.Data["input_tokens"], 10, 64)
		out, _ := strconv.ParseInt(en.Data["output_tokens"], 10, 64)
		cached, _ := strconv.ParseInt(en.Data["cached_input_tokens"], 10, 64)
		if want := fmt.Sprint(int64(livePrice(model).Cost(in, out, cached))); en.Data["cost_micros"] != want {
			t.Errorf("model.call %v: cost_micros is not the price of its tokens (%s)", en.Data, want)
		}
	}
	if calls == 0 {
		t.Fatalf("no model.call in the audit: state %s, %s", prop.State, prop.Reason)
	}
	var spent int64
	for _, l := range rev.Spent {
		spent += l.CostMicros
	}
	st, err := ledger.Status()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls; ledger %s, audit %s, revision %s", calls, st.Hour.Spent, budget.Micros(audited), budget.Micros(spent))
	if int64(st.Hour.Spent) != audited || spent != audited || st.Hour.Reserved != 0 || len(st.Open) != 0 {
		t.Errorf("accounting: ledger spent %s reserved %s (%d open), audit %s, revision Spent %s: all must be the same money, nothing reserved",
			st.Hour.Spent, st.Hour.Reserved, len(st.Open), budget.Micros(audited), budget.Micros(spent))
	}
	if rev.Remaining != nil {
		t.Errorf("the projection of what remains outlived the draft: %+v", rev.Remaining)
	}
	return prop
}
