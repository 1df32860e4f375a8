package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The local helper at $0.01/hour: DigitalOcean's $0.01 minimum charge
// makes every sandbox run under an hour cost exactly $0.01, so the figures
// below do not depend on how fast this machine runs the checks. The cap
// fits the draft's verify but not the draft and GO's re-verify together.
var pricedEnv = []string{
	"PATCHGIT_PIN=" + testPIN,
	"PATCHGIT_BUDGET_LOCAL_HELPER_HOURLY=$0.01",
	"PATCHGIT_BUDGET_HOURLY_CAP=$0.015",
	"PATCHGIT_BUDGET_METER_SLICE=1m",
}

const (
	runCost  = 10_000 // one sandbox run, micro-dollars
	hourCap  = 15_000
	approved = 11_000 // the $0.01 projection + 10%
)

type budgetOut struct {
	Hour   struct{ Cap, Spent, Reserved, Remaining int64 }
	Day    struct{ Cap, Spent, Reserved, Remaining int64 }
	Recent []struct {
		Amount   int64
		Purpose  string
		Approved bool
	}
}

func readBudget(t *testing.T, data string, env ...string) budgetOut {
	t.Helper()
	out, err := patchgitEnv(t, data, env, "budget", "--json")
	if err != nil {
		t.Fatalf("patchgit budget --json: %v\n%s", err, out)
	}
	var b budgetOut
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("budget --json is not one JSON object: %v\n%s", err, out)
	}
	return b
}

// overBudgetProposal drives the TUI over ssh to a Proposed proposal whose
// full plan needs approval, and opens the GO confirmation.
func overBudgetProposal(t *testing.T, name string) (string, *daemon, *tmux) {
	t.Helper()
	data := t.TempDir()
	d := startDaemon(t, data, pricedEnv...)
	x := newTmux(t, name, 160, 50, sshCommand(d.port, "alice", "-t")...)
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	x.waitFor(`Proposed Execution`, 30*time.Second)
	x.paste(demoDiff(t, filepath.Join(data, "repos", "demo.git"), howdy(t)))
	x.waitFor(`Howdy`, 10*time.Second)
	x.keys("Enter")
	screen := x.waitFor(`proposed\s+revision 1`, 5*time.Minute)
	for _, want := range []string{"Escalation", "WHY", "costs $0.01 but the budget has $0.005 left this hour",
		"approving allows up to $0.011", "expected confidence gain not computed yet", "toggle ON", "toggle OFF  no helper"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the escalation panel lacks %q:\n%s", want, screen)
		}
	}
	x.keys("C-g")
	x.waitFor(`Approve extra spend: OFF`, 10*time.Second)
	return data, d, x
}

func TestE2EOverBudgetToggleOffSpendsNothingBeyondTheCap(t *testing.T) {
	requireTools(t, "tmux", "ssh", "git")
	data, d, x := overBudgetProposal(t, "budget-off")
	x.keys("y") // the toggle stays off
	x.waitFor(`published\s+revision 1`, 5*time.Minute)

	b := readBudget(t, data) // through the control socket
	if b.Hour.Cap != hourCap || b.Hour.Spent != runCost || b.Hour.Reserved != 0 || b.Hour.Spent+b.Hour.Reserved > b.Hour.Cap {
		t.Fatalf("hour window %+v: only the draft's $0.01 may be spent, within the cap", b.Hour)
	}
	out, err := patchgit(t, data, "", "audit", "export")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind":"budget.spent"`, `"plan":"lean"`} {
		if !strings.Contains(out, want) {
			t.Errorf("audit export lacks %s", want)
		}
	}
	if strings.Contains(out, `"kind":"budget.approved"`) {
		t.Errorf("an approval was recorded with the toggle off")
	}
	d.stop()
	if after := readBudget(t, data); after.Hour.Spent != b.Hour.Spent || len(after.Recent) != len(b.Recent) {
		t.Fatalf("on the store directly: %+v, through the socket: %+v", after, b)
	}
}

func TestE2EOverBudgetToggleOnSpendsNoMoreThanApproved(t *testing.T) {
	requireTools(t, "tmux", "ssh", "git")
	data, _, x := overBudgetProposal(t, "budget-on")
	x.keys("a")
	x.waitFor(`Approve extra spend: ON`, 10*time.Second)
	x.keys("y")
	x.waitFor(`published\s+revision 1`, 5*time.Minute)

	b := readBudget(t, data)
	if b.Hour.Spent != 2*runCost || b.Hour.Reserved != 0 {
		t.Fatalf("hour window %+v: the draft and the approved re-verify cost $0.01 each", b.Hour)
	}
	if over := b.Hour.Spent - b.Hour.Cap; over > approved {
		t.Fatalf("spent %d micro-dollars beyond the cap, more than the %d approved", over, approved)
	}
	approvedSpends := 0
	for _, s := range b.Recent {
		if s.Approved {
			approvedSpends++
		}
	}
	if approvedSpends != 1 {
		t.Fatalf("recent spends %+v: want one under the approval", b.Recent)
	}
	out, err := patchgit(t, data, "", "audit", "export")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind":"budget.approved"`, `"amount":"11000"`, `"approved_by":"alice"`, `"plan":"full"`} {
		if !strings.Contains(out, want) {
			t.Errorf("audit export lacks %s", want)
		}
	}
	if out, err := patchgit(t, data, "", "audit", "verify"); err != nil || !strings.Contains(out, "audit log OK") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
}

func TestBudgetOnANeverServedDataDir(t *testing.T) {
	data := t.TempDir()
	b := readBudget(t, data, "PATCHGIT_BUDGET_HOURLY_CAP=$0.25")
	if b.Hour.Cap != 250_000 || b.Hour.Remaining != 250_000 || b.Day.Cap != 5_000_000 || b.Hour.Spent != 0 || len(b.Recent) != 0 {
		t.Fatalf("a never-served data dir: %+v", b)
	}
	out, err := patchgitEnv(t, data, nil, "budget")
	if err != nil || !strings.Contains(out, "No spends yet") || !strings.Contains(out, "$5.00") {
		t.Fatalf("patchgit budget: %v\n%s", err, out)
	}
}

// patchgitEnv is patchgit with extra environment variables.
func patchgitEnv(t *testing.T, dataDir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(args, "--data-dir", dataDir)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
