package web_test

import (
	"encoding/json"
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
)

// The budget page and /api/budget show the real ledger: both windows with
// cap, spent, reserved and remaining, the recent spends and the open
// reservations, beside the open proposals' projected cost.
func TestBudgetPageShowsTheLedger(t *testing.T) {
	e := newEnv(t, envOptions{caps: &budget.Caps{Hour: budget.Dollar, Day: 5 * budget.Dollar}})
	p := e.propose(howdy(t))
	spent, err := e.ledger.Reserve(budget.Request{Proposal: p.ID, Purpose: "sandbox verify on the local helper",
		Category: budget.CategoryHelper, Amount: 300_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ledger.Settle(spent.ID, 250_000, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ledger.Reserve(budget.Request{Purpose: "model call for the plan", Category: budget.CategoryAPI, Amount: 100_000}); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	e.signIn(c)

	resp, body := e.do(c, "GET", "/budget", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("budget page: %d", resp.StatusCode)
	}
	body = html.UnescapeString(body)
	for _, want := range []string{
		`id="hour"><h2>This hour</h2><b>$0.65</b> <span class="of">left of $1.00</span><p class="muted small">spent $0.25 · reserved $0.10</p>`,
		`id="day"><h2>Today</h2><b>$4.65</b> <span class="of">left of $5.00</span>`,
		`class="num">$0.25</td><td data-label="Category">helper</td>`, `<a href="/proposals/` + p.ID + `">`,
		"sandbox verify on the local helper", "model call for the plan", `class="num">$0.10</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("budget page lacks %s", want)
		}
	}
	if strings.Contains(body, "not metered yet") || strings.Contains(body, "No spends yet") {
		t.Error("the budget page still says nothing is metered")
	}

	_, body = e.do(c, "GET", "/api/budget", nil)
	var got struct {
		Hour, Day struct{ Cap, Spent, Reserved, Remaining int64 }
		Recent    []struct {
			Amount   int64
			Purpose  string
			Proposal string
		}
		Open          []struct{ Amount int64 }
		OpenProposals []struct{ ID string } `json:"open_proposals"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("api budget: %v\n%s", err, body)
	}
	if got.Hour.Cap != 1_000_000 || got.Hour.Spent != 250_000 || got.Hour.Reserved != 100_000 || got.Hour.Remaining != 650_000 ||
		got.Day.Cap != 5_000_000 || got.Day.Remaining != 4_650_000 {
		t.Errorf("api budget windows: hour %+v, day %+v", got.Hour, got.Day)
	}
	if len(got.Recent) != 1 || got.Recent[0].Amount != 250_000 || got.Recent[0].Proposal != p.ID ||
		len(got.Open) != 1 || got.Open[0].Amount != 100_000 {
		t.Errorf("api budget spends %+v, open %+v", got.Recent, got.Open)
	}
	if len(got.OpenProposals) != 1 || got.OpenProposals[0].ID != p.ID {
		t.Errorf("api budget open proposals: %+v", got.OpenProposals)
	}
}

// Without a ledger the windows are empty, not invented, and the lists are
// [] rather than null.
func TestBudgetPageWithoutALedger(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	e.signIn(c)
	_, body := e.do(c, "GET", "/budget", nil)
	body = html.UnescapeString(body)
	for _, want := range []string{`<b>$0.00</b> <span class="of">left of $0.00</span>`, "No spends yet.", "No open proposals."} {
		if !strings.Contains(body, want) {
			t.Errorf("budget page lacks %s", want)
		}
	}
	_, body = e.do(c, "GET", "/api/budget", nil)
	for _, want := range []string{`"recent": []`, `"open": []`, `"open_proposals": []`, `"name": "hour"`, `"name": "day"`} {
		if !strings.Contains(body, want) {
			t.Errorf("api budget lacks %s:\n%s", want, body)
		}
	}
}

// A draft waiting for approval of spend shows the request read-only (no
// form, no button: answers come from the terminal app), and once approved
// and verified, the page shows what drafting spent.
func TestProposalPageShowsTheAwaitingPanelAndTheSpentLines(t *testing.T) {
	e := newEnv(t, envOptions{caps: &budget.Caps{Hour: 5_000, Day: 5 * budget.Dollar}, localHourly: 10_000})
	p := e.propose(howdy(t))
	if p.Waiting != "awaiting-approval" {
		t.Fatalf("proposal %s waiting %q: %s", p.State, p.Waiting, p.Reason)
	}
	c := e.client()
	e.signIn(c)
	_, body := e.do(c, "GET", "/proposals/"+p.ID, nil)
	body = html.UnescapeString(body)
	start := strings.Index(body, `id="awaiting"`)
	if start < 0 {
		t.Fatalf("no awaiting panel:\n%s", body)
	}
	panel := body[start:]
	panel = panel[:strings.Index(panel, "</section>")]
	for _, want := range []string{"Awaiting approval", "the sandbox verify", "the budget refused the sandbox verify",
		"$0.01; approving allows up to $0.011", "not computed yet", `id="awaiting-budget">$0.005 this hour, $5.00 today`} {
		if !strings.Contains(panel, want) {
			t.Errorf("awaiting panel lacks %q:\n%s", want, panel)
		}
	}
	for _, banned := range []string{"<form", "<button", "<input"} {
		if strings.Contains(panel, banned) {
			t.Errorf("the read-only panel has a %s", banned)
		}
	}
	if !strings.Contains(body, `id="spent"><h2>Spent</h2><b class="muted">nothing</b>`) {
		t.Error("the page claims a spend before anything ran")
	}

	if _, err := e.core.DecideSpend(t.Context(), "alice", p.ID, 1, true); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for p.State != core.StateProposed {
		if time.Now().After(deadline) {
			t.Fatalf("the approved draft is stuck in %s: %s", p.State, p.Reason)
		}
		time.Sleep(20 * time.Millisecond)
		var err error
		if p, err = e.core.Proposal(t.Context(), p.ID); err != nil {
			t.Fatal(err)
		}
	}
	_, body = e.do(c, "GET", "/proposals/"+p.ID, nil)
	body = html.UnescapeString(body)
	for _, want := range []string{`id="spent"><h2>Spent</h2><b>$0.01</b>`, `id="spent-lines"`,
		`<td data-label="Stage">verify</td><td data-label="Category">helper time</td><td data-label="What">sandbox verify (draft), under your approval</td><td data-label="Cost" class="num">$0.01</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the verified proposal's page lacks %s", want)
		}
	}
	if strings.Contains(body, `id="awaiting"`) {
		t.Error("the awaiting panel stays after the approval")
	}
}
