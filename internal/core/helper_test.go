package core_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
	"github.com/patchgit/patchgit/internal/helperrun"
	"github.com/patchgit/patchgit/internal/store"
	"github.com/patchgit/patchgit/internal/testbin"
)

func TestMain(m *testing.M) { os.Exit(testbin.Main(m, nil)) }

// patchgitBinary is the real patchgit: the runner uploads it to the helper
// and runs `patchgit helper verify` there.
func patchgitBinary(t *testing.T) string { return testbin.MustPath(t) }

// withHelpers wires a real helper.Manager over prov (made per open, since
// the store is reopened) and the runner; need is the demo repository's.
func withHelpers(t *testing.T, need core.HelperNeed, prov func(e *env) helper.Provider, tweak ...func(*helper.Options)) func(e *env, o *core.Options) {
	bin := patchgitBinary(t)
	return func(e *env, o *core.Options) {
		id, err := helper.InstanceID(o.DB)
		if err != nil {
			t.Fatal(err)
		}
		ho := helper.Options{Instance: id, Audit: o.Audit,
			Poll: 20 * time.Millisecond, ReadyTimeout: 30 * time.Second, ConfirmFor: 10 * time.Second}
		for _, f := range tweak {
			f(&ho)
		}
		m, err := helper.NewManager(o.DB, prov(e), ho)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
		o.Helpers = m
		o.HelperRunner = &helperrun.Runner{Binary: bin, Git: o.Git, TempDir: t.TempDir()}
		o.Repos[0].Helper = need
		// No local sandbox: a verify that ran here instead of on the
		// helper would panic.
		o.Sandbox = nil
	}
}

func helperRecords(t *testing.T, db *store.DB) []helper.Record {
	t.Helper()
	recs, err := helper.Records(db, true)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// A repository that requires a helper, with the local provider: the draft's
// checks and GO's re-verify (the base moved) each run through `patchgit
// helper verify` in a helper work directory that is gone afterwards; each
// helper is created and destroyed in the audit log.
func TestDraftAndReverifyOnLocalHelper(t *testing.T) {
	helpersDir := ""
	e := newEnvWith(t, withHelpers(t, core.HelperNeed{Required: true}, func(e *env) helper.Provider {
		helpersDir = filepath.Join(e.dir, "helpers")
		return &helper.Local{Dir: helpersDir}
	}))
	cv := startConversation(t, e)
	diff := makeDiff(t, e.bare, addNotes(t, "# Notes\n\nChecked on a helper.\n"))
	p := sendAndSettle(t, e, cv, "Add notes\n\n```diff\n"+diff+"```\n")
	if p.State != core.StateProposed {
		t.Fatalf("state %s (reason %q), want proposed", p.State, p.Reason)
	}
	rev := p.Current()
	if len(rev.Checks) != 2 || !rev.Checks[0].Passed || !rev.Checks[1].Passed {
		t.Fatalf("checks %+v", rev.Checks)
	}
	recs := helperRecords(t, e.db)
	if len(recs) != 1 || recs[0].Provider != "local" || recs[0].State != helper.StateDestroyed {
		t.Fatalf("helper records %+v: want one local helper, destroyed", recs)
	}
	if entries, _ := os.ReadDir(helpersDir); len(entries) != 0 {
		t.Fatalf("helper work directories left: %v", entries)
	}

	pushToMain(t, e.bare, func(dir string) { writeFile(t, filepath.Join(dir, "OTHER.md"), "other\n") })
	if _, err := e.core.Go(ctx, "alice", p.ID, rev.N); err != nil {
		t.Fatal(err)
	}
	p = e.waitProposal(p.ID, func(p core.Proposal) bool { return p.State == core.StatePublished || p.State == core.StateFailed })
	if p.State != core.StatePublished {
		t.Fatalf("state %s (reason %q), want published after the re-verify on the helper", p.State, p.Reason)
	}
	recs = helperRecords(t, e.db)
	if len(recs) != 2 || recs[0].State != helper.StateDestroyed || recs[1].State != helper.StateDestroyed {
		t.Fatalf("helper records %+v: want a second helper for the re-verify, both destroyed", recs)
	}
	kinds := auditKinds(t, e.audit, "")
	if n := count(kinds, "helper.created"); n != 2 || count(kinds, "helper.destroyed") != 2 {
		t.Fatalf("audit %v: want two helpers created and destroyed", kinds)
	}
}

// A change that fails a check on the helper stays in Draft with the
// check's reason; the helper is destroyed all the same.
func TestDraftFailingOnLocalHelper(t *testing.T) {
	e := newEnvWith(t, withHelpers(t, core.HelperNeed{Required: true}, func(e *env) helper.Provider {
		return &helper.Local{Dir: filepath.Join(e.dir, "helpers")}
	}))
	cv := startConversation(t, e)
	diff := makeDiff(t, e.bare, func(dir string) { writeFile(t, filepath.Join(dir, "BROKEN"), "x\n") })
	p := sendAndSettle(t, e, cv, "Break it\n\n```diff\n"+diff+"```\n")
	if p.State != core.StateDraft || !strings.Contains(p.Reason, `check "test ! -e BROKEN" failed`) {
		t.Fatalf("state %s reason %q", p.State, p.Reason)
	}
	if recs := helperRecords(t, e.db); len(recs) != 1 || recs[0].State != helper.StateDestroyed {
		t.Fatalf("helper records %+v", recs)
	}
}

// The DigitalOcean provider through godo against the fake API, whose
// droplet boots as a real sshd with the host key from its user data: the
// draft's checks run on the droplet, the draft reaches Proposed, the
// droplet is destroyed (the fake lists none), and the audit log has the
// helper's creation and destruction. A need only a size outside the
// allow-list meets pauses the next draft for approval, creating nothing.
func TestDraftOnDigitalOceanHelper(t *testing.T) {
	h := helpertest.NewDOHarness(t)
	remoteDir := filepath.Join(t.TempDir(), "helper-work")
	e := newEnvWith(t, withHelpers(t, core.HelperNeed{MemoryMB: 2048, VCPUs: 2}, func(*env) helper.Provider {
		return h.Provider(remoteDir)
	}))
	cv := startConversation(t, e)
	diff := makeDiff(t, e.bare, addNotes(t, "# Notes\n\nChecked on a droplet.\n"))
	p := sendAndSettle(t, e, cv, "Add notes\n\n```diff\n"+diff+"```\n")
	if p.State != core.StateProposed {
		t.Fatalf("state %s (reason %q), want proposed", p.State, p.Reason)
	}
	if rev := p.Current(); len(rev.Checks) != 2 || !rev.Checks[0].Passed || !rev.Checks[1].Passed {
		t.Fatalf("checks %+v", rev.Checks)
	}
	if alive := h.Fake.Alive(); len(alive) != 0 {
		t.Fatalf("droplets left: %+v", alive)
	}
	if n := h.Fake.Count("POST /v2/droplets"); n != 1 {
		t.Fatalf("%d droplet creates, want 1", n)
	}
	// cloud-init installs git (the helper side unbundles the base) and
	// bubblewrap (the sandbox's isolation there).
	if ud := h.Fake.Droplets()[0].UserData; !strings.Contains(ud, "packages:\n    - git\n    - bubblewrap") {
		t.Fatalf("user data does not install git and bubblewrap:\n%s", strings.ReplaceAll(ud, "PRIVATE KEY", "(key)"))
	}
	recs := helperRecords(t, e.db)
	if len(recs) != 1 || recs[0].Size != "s-2vcpu-2gb" || recs[0].State != helper.StateDestroyed {
		t.Fatalf("helper records %+v", recs)
	}
	kinds := auditKinds(t, e.audit, recs[0].Name)
	for _, want := range []string{"helper.intent", "helper.created", "helper.destroyed"} {
		if !slices.Contains(kinds, want) {
			t.Fatalf("audit of %s: %v lacks %s", recs[0].Name, kinds, want)
		}
	}
	// What the checks ran on: the uploaded binary is in the droplet's work
	// directory, and nothing of the request or the bundle stayed there.
	if _, err := os.Stat(filepath.Join(remoteDir, "patchgit")); err != nil {
		t.Fatalf("the binary was not uploaded to the helper: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(remoteDir, "verify-*")); len(left) != 0 {
		t.Fatalf("left on the helper: %v", left)
	}

	// 8 GB: only s-4vcpu-8gb fits, which is outside the allow-list. This
	// time the manager is wired as serve wires it: metered in the budget,
	// asking core whether a job's spend is approved.
	e.close()
	var ledger *budget.Ledger
	e.configure = func(o *core.Options) {
		a := o.Audit
		ledger = budget.NewLedger(o.DB, budget.Caps{Hour: budget.Dollar, Day: 10 * budget.Dollar}, nil,
			func(tx *bolt.Tx, kind, subject string, data map[string]string) error {
				_, err := a.Append(tx, kind, "patchgit", subject, data)
				return err
			})
		o.Budget, o.Prices, o.Policy = ledger, budget.DefaultPrices(), budget.DefaultPolicy()
		meter, err := helper.NewBudgetMeter(ledger, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		withHelpers(t, core.HelperNeed{MemoryMB: 8192}, func(*env) helper.Provider { return h.Provider(remoteDir) },
			func(ho *helper.Options) {
				ho.Meter = meter
				ho.JobSpend = func(job string) (string, bool) { return e.core.JobSpend(job) }
			})(e, o)
	}
	e.open()
	cv = startConversation(t, e)
	p = sendAndSettle(t, e, cv, "Add notes\n\n```diff\n"+diff+"```\n")
	if p.State != core.StateDraft || p.Waiting != core.WaitingApproval || p.Awaiting == nil {
		t.Fatalf("state %s waiting %q reason %q: want a draft waiting for approval", p.State, p.Waiting, p.Reason)
	}
	// The most it can cost: its hourly price for the TTL (2 h).
	if !strings.Contains(p.Awaiting.What, "s-4vcpu-8gb") || p.Awaiting.CostMicros != 2*71430 ||
		p.Awaiting.ApproveMicros < p.Awaiting.CostMicros || !strings.Contains(p.Reason, "not in the allow-list") {
		t.Fatalf("escalation %+v reason %q", p.Awaiting, p.Reason)
	}
	if n := h.Fake.Count("POST /v2/droplets"); n != 1 {
		t.Fatalf("a droplet was created for a need that waits for approval (%d creates)", n)
	}

	// Approved: the larger droplet is created for the re-queued job,
	// metered against the approval, and destroyed.
	if _, err := e.core.DecideSpend(ctx, "alice", p.ID, p.Current().N, true); err != nil {
		t.Fatal(err)
	}
	p = e.waitProposal(p.ID, func(p core.Proposal) bool { return p.State != core.StateDraft || p.Reason != "" })
	if p.State != core.StateProposed {
		t.Fatalf("after approval: state %s waiting %q reason %q", p.State, p.Waiting, p.Reason)
	}
	e.waitJobsIdle()
	if n := h.Fake.Count("POST /v2/droplets"); n != 2 || h.Fake.Droplets()[1].Size != "s-4vcpu-8gb" {
		t.Fatalf("%d creates; want the approved s-4vcpu-8gb", n)
	}
	if alive := h.Fake.Alive(); len(alive) != 0 {
		t.Fatalf("droplets left: %+v", alive)
	}
	st, err := ledger.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Hour.Spent < 1190 || st.Hour.Reserved != 0 || len(st.Open) != 0 { // at least the 60 s minimum of $0.07143/h
		t.Fatalf("ledger %+v: want the droplet's time charged, nothing left reserved", st.Hour)
	}
	for _, sp := range st.Recent {
		if !sp.Approved || sp.Proposal != p.ID {
			t.Fatalf("spend %+v: want it under the approval of %s", sp, core.ShortID(p.ID))
		}
	}
}

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// The local provider is this machine: with the local helper priced, a
// draft verified through it is metered like the local sandbox ($0.01, the
// minimum charge, for a run under an hour).
func TestLocalHelperIsMeteredAsLocalTime(t *testing.T) {
	var ledger *budget.Ledger
	helpers := withHelpers(t, core.HelperNeed{Required: true}, func(e *env) helper.Provider {
		return &helper.Local{Dir: filepath.Join(e.dir, "helpers")}
	})
	e := newEnvWith(t, func(e *env, o *core.Options) {
		helpers(e, o)
		a := o.Audit
		ledger = budget.NewLedger(o.DB, budget.Caps{Hour: budget.Dollar, Day: 5 * budget.Dollar}, nil,
			func(tx *bolt.Tx, kind, subject string, data map[string]string) error {
				_, err := a.Append(tx, kind, "patchgit", subject, data)
				return err
			})
		prices := budget.DefaultPrices()
		prices.Local = budget.NewHelperPrice(budget.LocalHelperSize, 10_000, 0)
		o.Budget, o.Prices, o.MeterSlice = ledger, prices, time.Minute
	})
	p := proposeNotes(t, e)
	if recs := helperRecords(t, e.db); len(recs) != 1 || recs[0].State != helper.StateDestroyed {
		t.Fatalf("the draft did not run on the helper: %+v (proposal %s)", recs, p.State)
	}
	if st := status(t, e); st.Hour.Spent != 10_000 || st.Hour.Reserved != 0 {
		t.Fatalf("after the draft on the local helper: %+v, want $0.01 spent", st.Hour)
	}
}
