package core_test

import (
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
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
)

const helperModel = "qwen2.5-coder:7b"

// helperTierEnv is a core whose plan and patch stages use the helper tier
// with its model server on a DigitalOcean helper (fake API through godo,
// real sshd booted from the user data), metered in the ledger.
type helperTierEnv struct {
	*env
	do     *helpertest.DOHarness
	ledger *budget.Ledger
}

// newHelperTierEnv: the tier's provider is configured with a base_url
// whose host does not resolve, so only the tunnel can reach a server;
// port is the on_helper port.
func newHelperTierEnv(t *testing.T, port int, ready time.Duration) *helperTierEnv {
	return newHelperTierEnvMem(t, port, ready, 4096)
}

func newHelperTierEnvMem(t *testing.T, port int, ready time.Duration, memoryMB int) *helperTierEnv {
	t.Helper()
	h := &helperTierEnv{do: helpertest.NewDOHarness(t)}
	p, err := provider.New(provider.Options{Name: "ollama", Kind: provider.KindOpenAI, BaseURL: "http://ollama.invalid:11434/v1",
		Timeout: 20 * time.Second, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	deny, err := chain.NewDeny(nil)
	if err != nil {
		t.Fatal(err)
	}
	remoteDir := filepath.Join(t.TempDir(), "helper-work")
	tier := &core.OnHelperTier{Port: port, MemoryMB: memoryMB, ReadyTimeout: ready}
	h.env = newEnvWith(t, func(e *env, o *core.Options) {
		a := o.Audit
		h.ledger = budget.NewLedger(o.DB, budget.Caps{Hour: 5 * budget.Dollar, Day: 10 * budget.Dollar}, nil,
			func(tx *bolt.Tx, kind, subject string, data map[string]string) error {
				_, err := a.Append(tx, kind, "patchgit", subject, data)
				return err
			})
		prices := budget.DefaultPrices()
		prices.Models = []budget.TokenPrice{{Model: helperModel}} // $0: its cost is the helper's time
		o.Budget, o.Prices, o.Policy = h.ledger, prices, budget.DefaultPolicy()
		meter, err := helper.NewBudgetMeter(h.ledger, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		setup := helper.OllamaSetup(port, helperModel)
		withHelpers(t, core.HelperNeed{}, func(*env) helper.Provider { return h.do.Provider(remoteDir) },
			func(ho *helper.Options) {
				ho.Meter, ho.ModelServer = meter, &setup
				ho.JobSpend = func(job string) (string, bool) { return e.core.JobSpend(job) }
			})(e, o)
		o.Assistant = &core.Assistant{Deny: deny, ContextTokens: 8000,
			Plan:  core.ModelStage{Tier: budget.TierHelper, Provider: p, Model: helperModel, MaxOutputTokens: 500, OnHelper: tier},
			Patch: core.ModelStage{Tier: budget.TierHelper, Provider: p, Model: helperModel, MaxOutputTokens: 1500, OnHelper: tier}}
	})
	return h
}

func auditData(t *testing.T, e *env, kind string) []map[string]string {
	t.Helper()
	entries, err := e.audit.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, en := range entries {
		if en.Kind == kind {
			out = append(out, en.Data)
		}
	}
	return out
}

// The plan and patch stages on the helper tier draft a Proposed revision:
// one droplet (s-2vcpu-4gb, the tier's 4 GB) serves both stages through an
// SSH tunnel and then runs the sandbox verify, and is destroyed; every
// request the model server got came from sshd, none from this process;
// each call is audited as a model.call of the helper tier at the model's
// $0 price, and the droplet's time is charged in the ledger.
func TestHelperTierDraftsOnADigitalOceanHelper(t *testing.T) {
	ln, err := helpertest.NewPeerListener()
	if err != nil {
		t.Fatal(err)
	}
	srv := providertest.NewOpenAIWith(t, providertest.Config{Listener: ln, Models: []string{"other", helperModel}},
		providertest.Reply{Text: planGood, Usage: use}, providertest.Reply{Text: patchGood, Usage: use})
	h := newHelperTierEnv(t, ln.Port(), 20*time.Second)
	cv := startConversation(t, h.env)
	p := sendAndSettle(t, h.env, cv, readmeRequest)
	if p.State != core.StateProposed {
		t.Fatalf("state %s reason %q", p.State, p.Reason)
	}
	h.waitJobsIdle()
	rev := p.Current()
	if want := exactDiff(t, h.bare, readmeEdit(t)); rev.Diff != want {
		t.Errorf("diff:\n%s\nwant:\n%s", rev.Diff, want)
	}
	if len(rev.Checks) != 2 || !rev.Checks[0].Passed || !rev.Checks[1].Passed {
		t.Errorf("checks %+v", rev.Checks)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Fatalf("%d chat requests, want plan and patch", n)
	}
	peers := ln.Peers()
	if len(peers) == 0 {
		t.Fatal("the model server accepted no connection")
	}
	for _, who := range peers {
		if !strings.HasPrefix(who, "sshd") {
			t.Fatalf("the model server was dialed by %q (all %v): only sshd may reach it", who, peers)
		}
	}
	if n := h.do.Fake.Count("POST /v2/droplets"); n != 1 {
		t.Fatalf("%d droplets created; one helper serves plan, patch and verify", n)
	}
	waitDestroyed(t, h)
	d := h.do.Fake.Droplets()[0]
	if d.Size != "s-2vcpu-4gb" || !strings.Contains(d.UserData, "ollama pull") {
		t.Errorf("droplet size %s; user data installs ollama: %v", d.Size, strings.Contains(d.UserData, "ollama pull"))
	}
	recs := helperRecords(t, h.db)
	if len(recs) != 1 || recs[0].State != helper.StateDestroyed {
		t.Fatalf("helper records %+v", recs)
	}
	kinds := auditKinds(t, h.audit, recs[0].Name)
	for _, want := range []string{"helper.intent", "helper.created", "helper.destroyed"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("audit of %s: %v lacks %s", recs[0].Name, kinds, want)
		}
	}
	calls := auditData(t, h.env, "model.call")
	if len(calls) != 2 {
		t.Fatalf("%d model.call entries, want 2", len(calls))
	}
	for i, c := range calls {
		if c["tier"] != "helper" || c["provider"] != "ollama" || c["model"] != helperModel || c["input_tokens"] != "900" ||
			c["output_tokens"] != "70" || c["cost_micros"] != "0" || c["error"] != "" {
			t.Errorf("model.call %d = %v", i, c)
		}
	}
	st, err := h.ledger.Status()
	if err != nil {
		t.Fatal(err)
	}
	var helperSpent budget.Micros
	for _, sp := range st.Recent {
		if strings.Contains(sp.Purpose, recs[0].Name) {
			helperSpent += sp.Amount
		}
	}
	// The droplet's time: at least the 60 s minimum of s-2vcpu-4gb's price.
	if helperSpent < 10_000 || st.Hour.Reserved != 0 || len(st.Open) != 0 {
		t.Errorf("ledger: helper spent %s, reserved %s, open %d", helperSpent, st.Hour.Reserved, len(st.Open))
	}
}

// A model server that never answers: the stage gives up at the tier's
// ready bound with a reason that says what to check, the proposal stays in
// Draft, no model call is made or audited, and the droplet is destroyed.
func TestHelperTierServerNotAnsweringLeavesDraftAndDestroysTheHelper(t *testing.T) {
	port := helpertest.FreePort(t) // nothing listens there
	h := newHelperTierEnv(t, port, 2*time.Second)
	cv := startConversation(t, h.env)
	p := sendAndSettle(t, h.env, cv, readmeRequest)
	h.waitJobsIdle()
	if p.State != core.StateDraft || !strings.Contains(p.Reason, "did not list "+helperModel+" within 2s") ||
		!strings.Contains(p.Reason, "assistant.tiers.helper.on_helper") {
		t.Fatalf("state %s reason %q", p.State, p.Reason)
	}
	t.Logf("reason: %s", p.Reason)
	// The job closes the proposal, then releases the helper on its way out.
	waitDestroyed(t, h)
	if recs := helperRecords(t, h.db); len(recs) != 1 || recs[0].State != helper.StateDestroyed {
		t.Fatalf("helper records %+v", recs)
	}
	if calls := auditData(t, h.env, "model.call"); len(calls) != 0 {
		t.Fatalf("model.call entries for calls never made: %v", calls)
	}
	if n := len(auditData(t, h.env, "helper.destroyed")); n != 1 {
		t.Fatalf("%d helper.destroyed entries", n)
	}
}

// waitDestroyed waits until the fake lists no droplet and every helper
// record is confirmed destroyed.
func waitDestroyed(t *testing.T, h *helperTierEnv) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		recs := helperRecords(t, h.db)
		done := len(h.do.Fake.Alive()) == 0
		for _, r := range recs {
			done = done && r.State == helper.StateDestroyed
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("droplets left: %+v; records %+v", h.do.Fake.Alive(), recs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A tier whose memory only a size outside the allow-list has pauses the
// draft for approval before anything is created or sent, naming the size
// and what it can cost.
func TestHelperTierAboveTheAllowListAwaitsApproval(t *testing.T) {
	ln, err := helpertest.NewPeerListener()
	if err != nil {
		t.Fatal(err)
	}
	srv := providertest.NewOpenAIWith(t, providertest.Config{Listener: ln, Models: []string{helperModel}},
		providertest.Reply{Text: planGood, Usage: use})
	h := newHelperTierEnvMem(t, ln.Port(), 5*time.Second, 8192)
	cv := startConversation(t, h.env)
	p := sendAndSettle(t, h.env, cv, readmeRequest)
	if p.State != core.StateDraft || p.Waiting != core.WaitingApproval || p.Awaiting == nil ||
		!strings.Contains(p.Awaiting.What, "s-4vcpu-8gb") || !strings.Contains(p.Awaiting.What, "plan stage") {
		t.Fatalf("state %s waiting %q awaiting %+v reason %q", p.State, p.Waiting, p.Awaiting, p.Reason)
	}
	if n := h.do.Fake.Count("POST /v2/droplets"); n != 0 {
		t.Fatalf("%d droplets created while waiting for approval", n)
	}
	if n := len(srv.Requests()); n != 0 || len(auditData(t, h.env, "model.call")) != 0 {
		t.Fatalf("%d requests sent while waiting for approval", n)
	}
}

// On the local provider the helper is this machine: the stages dial the
// model server on 127.0.0.1 directly (its peer is this process), and since
// the repository's verify runs in the local sandbox, the helper is
// released before the verify.
func TestHelperTierOnTheLocalProvider(t *testing.T) {
	ln, err := helpertest.NewPeerListener()
	if err != nil {
		t.Fatal(err)
	}
	providertest.NewOpenAIWith(t, providertest.Config{Listener: ln, Models: []string{helperModel}},
		providertest.Reply{Text: planGood, Usage: use}, providertest.Reply{Text: patchGood, Usage: use})
	p, err := provider.New(provider.Options{Name: "ollama", Kind: provider.KindOpenAI, BaseURL: "http://ollama.invalid:11434/v1", Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	deny, err := chain.NewDeny(nil)
	if err != nil {
		t.Fatal(err)
	}
	tier := &core.OnHelperTier{Port: ln.Port(), ReadyTimeout: 10 * time.Second}
	e := newEnvWith(t, func(e *env, o *core.Options) {
		sb := o.Sandbox
		withHelpers(t, core.HelperNeed{}, func(e *env) helper.Provider { return &helper.Local{Dir: filepath.Join(e.dir, "helpers")} })(e, o)
		o.Sandbox = sb // the verify runs here: the repository does not require a helper
		prices := budget.DefaultPrices()
		prices.Models = []budget.TokenPrice{{Model: helperModel}}
		o.Prices = prices
		o.Assistant = &core.Assistant{Deny: deny, ContextTokens: 8000,
			Plan:  core.ModelStage{Tier: budget.TierHelper, Provider: p, Model: helperModel, MaxOutputTokens: 500, OnHelper: tier},
			Patch: core.ModelStage{Tier: budget.TierHelper, Provider: p, Model: helperModel, MaxOutputTokens: 1500, OnHelper: tier}}
	})
	cv := startConversation(t, e)
	prop := sendAndSettle(t, e, cv, readmeRequest)
	if prop.State != core.StateProposed {
		t.Fatalf("state %s reason %q", prop.State, prop.Reason)
	}
	if peers := ln.Peers(); len(peers) == 0 || slices.ContainsFunc(peers, func(s string) bool { return s != "self" }) {
		t.Fatalf("peers %v: want this process only", peers)
	}
	recs := helperRecords(t, e.db)
	if len(recs) != 1 || recs[0].Provider != "local" || recs[0].State != helper.StateDestroyed {
		t.Fatalf("helper records %+v", recs)
	}
	// Released before the verify: its destroy is logged before the
	// proposal turned Proposed.
	entries, err := e.audit.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	destroyed, proposed := -1, -1
	for i, en := range entries {
		switch en.Kind {
		case "helper.destroyed":
			destroyed = i
		case "proposal.proposed":
			proposed = i
		}
	}
	if destroyed < 0 || proposed < 0 || destroyed > proposed {
		t.Fatalf("helper.destroyed at %d, proposal.proposed at %d: the helper must be released before the local verify", destroyed, proposed)
	}
}
