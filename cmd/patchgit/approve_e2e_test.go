package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A cap below one sandbox run ($0.01): the draft's verify does not fit and
// waits for approval; approving it in the app over the real ssh client
// runs the verify under the approval and the proposal reaches Proposed.
func TestE2EApproveAWaitingDraftInTheApp(t *testing.T) {
	requireTools(t, "tmux", "ssh", "git")
	data := t.TempDir()
	d := startDaemon(t, data, "PATCHGIT_PIN="+testPIN, "PATCHGIT_BUDGET_LOCAL_HELPER_HOURLY=$0.01",
		"PATCHGIT_BUDGET_HOURLY_CAP=$0.005", "PATCHGIT_BUDGET_METER_SLICE=1m")
	x := newTmux(t, "approve", 160, 50, sshCommand(d.port, "alice", "-t")...)
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	x.waitFor(`Proposed Execution`, 30*time.Second)
	x.paste(demoDiff(t, filepath.Join(data, "repos", "demo.git"), howdy(t)))
	x.waitFor(`Howdy`, 10*time.Second)
	x.keys("Enter")
	screen := x.waitFor(`draft \(awaiting approval\)`, 5*time.Minute)
	screen = x.waitFor(`budget  \$0\.005 left this hour`, 30*time.Second)
	for _, want := range []string{"Awaiting approval", "runs    the sandbox verify", "WHY     the budget refused the sandbox verify",
		"cost    $0.01; approving allows up to $0.011", "expected confidence gain not computed yet", "tab approve or decline spend"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the awaiting panel lacks %q:\n%s", want, screen)
		}
	}
	if b := readBudget(t, data); b.Hour.Spent != 0 || b.Hour.Reserved != 0 {
		t.Fatalf("a waiting draft spent: %+v", b.Hour)
	}

	x.keys("Tab")
	x.waitFor(`a approve spend`, 10*time.Second)
	x.keys("a")
	x.waitFor(`Approve spending up to \$0\.011 on revision 1`, 10*time.Second)
	x.keys("y")
	screen = x.waitFor(`proposed\s+revision 1`, 5*time.Minute)
	screen = x.waitFor(`Spent      \$0\.01 drafting this revision`, 30*time.Second)
	if strings.Contains(screen, "Awaiting approval") {
		t.Errorf("the panel stays after the approval:\n%s", screen)
	}

	b := readBudget(t, data)
	if b.Hour.Spent != runCost || b.Hour.Reserved != 0 || len(b.Recent) != 1 || !b.Recent[0].Approved {
		t.Fatalf("budget %+v: want one $0.01 spend under the approval", b)
	}
	if over := b.Hour.Spent - b.Hour.Cap; over > approved {
		t.Fatalf("spent %d micro-dollars beyond the cap, more than the %d approved", over, approved)
	}
	out, err := patchgit(t, data, "", "audit", "export")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind":"proposal.awaiting_approval"`, `"kind":"proposal.spend_approved"`, `"actor":"alice"`,
		`"kind":"budget.approved"`, `"amount":"11000"`, `"approved_by":"alice"`, `"spend_approved":"true"`} {
		if !strings.Contains(out, want) {
			t.Errorf("audit export lacks %s", want)
		}
	}
	if out, err := patchgit(t, data, "", "audit", "verify"); err != nil || !strings.Contains(out, "audit log OK") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
}
