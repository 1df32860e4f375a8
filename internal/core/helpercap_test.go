package core_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
)

// capStop is what the person reads when the budget stops a helper.
const capStop = "the helper was stopped: the hourly cap $2.50 would be crossed; nothing was pushed; raise budget.hourly_cap or wait"

// cappedHelperEnv wires a DigitalOcean helper (fake API, real sshd) at
// $36/h under a $2.50 hourly cap, metered in 2-minute slices, with the
// manager's and the ledger's clocks 30 times faster than real time: the
// cap comes about 3 simulated minutes (6 s) into a long check. The check
// is slow only when the tree has a file SLOW.
func cappedHelperEnv(t *testing.T) (*env, *helpertest.DOHarness, *budget.Ledger) {
	h := helpertest.NewDOHarness(t)
	h.Fake.SetHourlyPrice(36)
	remoteDir := filepath.Join(t.TempDir(), "helper-work")
	const speed = 30
	start, real0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), time.Now()
	now := func() time.Time { return start.Add(speed * time.Since(real0)) }
	slice := 2 * time.Minute
	var ledger *budget.Ledger
	var e *env
	e = newEnvWith(t, func(e *env, o *core.Options) {
		a := o.Audit
		ledger = budget.NewLedger(o.DB, budget.Caps{Hour: 2_500_000, Day: 100 * budget.Dollar}, now,
			func(tx *bolt.Tx, kind, subject string, data map[string]string) error {
				_, err := a.Append(tx, kind, "patchgit", subject, data)
				return err
			})
		o.Budget, o.Prices, o.Policy = ledger, budget.DefaultPrices(), budget.DefaultPolicy()
		meter, err := helper.NewBudgetMeter(ledger, slice)
		if err != nil {
			t.Fatal(err)
		}
		withHelpers(t, core.HelperNeed{}, func(*env) helper.Provider { return h.Provider(remoteDir) },
			func(ho *helper.Options) {
				ho.Meter, ho.Now, ho.ExtendEvery, ho.TTL = meter, now, slice/2/speed, time.Hour
				ho.JobSpend = func(job string) (string, bool) { return e.core.JobSpend(job) }
			})(e, o)
		o.Repos[0].Checks = []string{"if test -e SLOW; then echo slow; sleep 120; fi"}
	})
	return e, h, ledger
}

// checkStoppedInTime: the droplet is gone, the hour's spend is within the
// cap and nothing is left reserved.
func checkStoppedInTime(t *testing.T, e *env, h *helpertest.DOHarness, ledger *budget.Ledger) {
	t.Helper()
	if alive := h.Fake.Alive(); len(alive) != 0 {
		t.Fatalf("droplets left after the budget's stop: %+v", alive)
	}
	var st budget.Status
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if st, err = ledger.Status(); err != nil {
			t.Fatal(err)
		}
		if len(st.Open) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if st.Hour.Spent > 2_500_000 || st.Hour.Spent == 0 || st.Hour.Reserved != 0 {
		t.Fatalf("hour window %+v: want the helper's time charged, within the $2.50 cap, nothing reserved", st.Hour)
	}
	var stopped bool
	for _, r := range helperRecords(t, e.db) {
		stopped = stopped || (r.State == helper.StateDestroyed && strings.HasPrefix(r.Reason, "budget stop: "+capStop))
	}
	if !stopped {
		t.Fatalf("no helper record destroyed by the budget's stop: %+v", helperRecords(t, e.db))
	}
	t.Logf("hour window after the stop: spent %s of the %s cap", st.Hour.Spent, budget.Micros(2_500_000))
}

// The cap while the draft's checks run on a droplet: the helper is stopped
// and destroyed before the cap is crossed, and the proposal waits in Draft
// with the stop in words (which cap, nothing pushed, what to do) as its
// Reason and in the chat, beside what the helper cost.
func TestHelperCapStopDuringDraftIsToldInWords(t *testing.T) {
	e, h, ledger := cappedHelperEnv(t)
	cv := startConversation(t, e)
	diff := makeDiff(t, e.bare, func(dir string) { writeFile(t, filepath.Join(dir, "SLOW"), "x\n") })
	p := sendAndSettle(t, e, cv, "Slow it down\n\n```diff\n"+diff+"```\n")
	if p.State != core.StateDraft || p.Waiting != core.WaitingApproval || p.Reason != capStop {
		t.Fatalf("state %s waiting %q reason %q: want Draft waiting for approval with reason %q", p.State, p.Waiting, p.Reason, capStop)
	}
	checkStoppedInTime(t, e, h, ledger)
	spent := p.Current().Spent
	if len(spent) != 1 || spent[0].CostMicros <= 0 || !strings.Contains(spent[0].What, "stopped by the budget") {
		t.Fatalf("spent lines %+v: want the helper's cost, stopped by the budget", spent)
	}
	msgs, err := e.core.Messages(ctx, cv.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := msgs[len(msgs)-1].Text
	for _, want := range []string{capStop, "spent " + budget.Micros(spent[0].CostMicros).String(), "a approves or d declines"} {
		if !strings.Contains(last, want) {
			t.Errorf("the chat's last message lacks %q:\n%s", want, last)
		}
	}
	if strings.Contains(last, "use helper") || strings.Contains(last, "Nothing was spent") {
		t.Errorf("the chat shows the error chain or denies the spend:\n%s", last)
	}
}

// The cap during GO's re-verify on a droplet (the base moved and now has a
// slow check): the proposal returns to Draft with the same words, nothing
// is pushed, and the droplet is gone within the cap.
func TestHelperCapStopDuringReverifyReturnsToDraft(t *testing.T) {
	e, h, ledger := cappedHelperEnv(t)
	cv := startConversation(t, e)
	diff := makeDiff(t, e.bare, addNotes(t, "# Notes\n\nFast here.\n"))
	p := sendAndSettle(t, e, cv, "Add notes\n\n```diff\n"+diff+"```\n")
	if p.State != core.StateProposed {
		t.Fatalf("state %s (reason %q), want proposed", p.State, p.Reason)
	}
	pushToMain(t, e.bare, func(dir string) { writeFile(t, filepath.Join(dir, "SLOW"), "x\n") })
	if _, err := e.core.Go(ctx, "alice", p.ID, p.Current().N); err != nil {
		t.Fatal(err)
	}
	p = e.waitProposal(p.ID, func(p core.Proposal) bool {
		return p.State == core.StateDraft || p.State == core.StateFailed || p.State == core.StatePublished
	})
	want := capStop + "; then send the change again to make a new revision"
	if p.State != core.StateDraft || p.Reason != want {
		t.Fatalf("state %s reason %q: want Draft with %q", p.State, p.Reason, want)
	}
	e.waitJobsIdle()
	checkStoppedInTime(t, e, h, ledger)
	if bs := branches(t, e.bare); len(bs) != 1 || bs[0] != "main" {
		t.Fatalf("something was pushed: branches %v", bs)
	}
	msgs, err := e.core.Messages(ctx, cv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := msgs[len(msgs)-1].Text; !strings.Contains(last, want) {
		t.Fatalf("the chat's last message lacks the stop:\n%s", last)
	}
}
