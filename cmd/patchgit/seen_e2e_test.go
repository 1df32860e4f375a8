package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/assist/providertest"
	"github.com/patchgit/patchgit/internal/budget"
)

// TestE2EWhatThePersonSeesWhileAModelDrafts runs the real daemon with a
// model chain on a scripted OpenAI-compatible server and looks at the
// proposal pane over the real ssh client in tmux, at 100x30 and 160x45:
// while the plan and the patch run (spent so far, what remains projected,
// the total against the budget left, the job line), at Proposed (spent,
// GO's projection), and waiting for an escalation (a patch whose test
// fails, on the base tier, with the helper tier above it). Each screen's
// key lines are asserted. PATCHGIT_CAPTURE_DIR=dir writes the screens
// there as text (docs/assistant.md "What you see" shows them).
func TestE2EWhatThePersonSeesWhileAModelDrafts(t *testing.T) {
	requireTools(t, "tmux", "ssh", "git", "go")
	for _, size := range []struct{ w, h int }{{100, 30}, {160, 45}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) { seeModelDraft(t, size.w, size.h) })
	}
}

func seeModelDraft(t *testing.T, w, h int) {
	usage := &providertest.Usage{Input: 1200, Output: 90}
	// Each stage answers after a pause, long enough to look at the pane.
	pause := 5 * time.Second
	srv := providertest.NewOpenAI(t,
		providertest.Reply{Text: "PLAN:\nRename the README's heading to \"demo project\".\nTARGETS:\n- README.md\nQUESTIONS:\n- none\n", Usage: usage, Hang: pause},
		providertest.Reply{Text: "README.md\n<<<<<<< SEARCH\n# demo\n=======\n# demo project\n>>>>>>> REPLACE\nCONFIDENCE: 90\n", Usage: usage, Hang: pause},
		providertest.Reply{Text: "PLAN:\nMake Greet say Hi instead of Hello.\nTARGETS:\n- greet.go\nQUESTIONS:\n- none\n", Usage: usage},
		// Half the change: the test still expects Hello, so it fails.
		providertest.Reply{Text: "greet.go\n<<<<<<< SEARCH\n\treturn \"Hello, \" + name + \"!\"\n=======\n\treturn \"Hi, \" + name + \"!\"\n>>>>>>> REPLACE\nCONFIDENCE: 80\n", Usage: usage})
	data := t.TempDir()
	conf := fmt.Sprintf(`assistant:
  providers:
    - {name: local, kind: openai, base_url: %s}
  tiers:
    base:   {provider: local, model: qwen2.5-coder:7b}
    helper: {provider: local, model: qwen2.5-coder:32b}
budget:
  models:
    - {model: qwen2.5-coder:7b, input: $0.20, output: $0.60, cached: $0.02}
    - {model: qwen2.5-coder:32b, input: $0.80, output: $2.40, cached: $0.08}
`, srv.URL)
	if err := os.WriteFile(filepath.Join(data, "patchgit.yaml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, data, "PATCHGIT_PIN="+testPIN, "PATCHGIT_BUDGET_LOCAL_HELPER_HOURLY=$0.60", "PATCHGIT_BUDGET_METER_SLICE=1m")
	x := newTmux(t, fmt.Sprintf("seen%d", w), w, h, sshCommand(d.port, "alice", "-t")...)
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	x.waitFor(`Describe a change`, 30*time.Second)
	narrow := w < 120 // the pane replaces the chat: tab shows it
	capture := func(name, screen string) {
		if dir := os.Getenv("PATCHGIT_CAPTURE_DIR"); dir != "" {
			file := filepath.Join(dir, fmt.Sprintf("%s-%dx%d.txt", name, w, h))
			if err := os.WriteFile(file, []byte(screen), 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	expect := func(what, screen string, want ...string) {
		t.Helper()
		for _, re := range want {
			if !regexp.MustCompile(re).MatchString(screen) {
				t.Errorf("%s: the screen lacks %q:\n%s", what, re, screen)
			}
		}
	}

	x.typeText("Rename the README heading to demo project")
	x.keys("Enter")
	if narrow {
		x.waitFor(`Drafting proposal`, 30*time.Second)
		x.keys("Tab")
	}
	screen := x.waitFor(`Remaining  \$\S+ projected at most`, 30*time.Second)
	screen = x.waitFor(`Job        draft running: plan`, 10*time.Second)
	capture("plan", screen)
	expect("while planning", screen,
		`Job        draft running: plan`,
		`Spent      \$0\.00 so far`,
		`\$\S+ +plan +model tokens  1 call: \d+ prompt \+ 1024 output tokens`,
		`\$\S+ +patch +model tokens  2 calls at most`,
		`\$0\.01 +verify +helper time  one 1m0s meter slice of local helper time`,
		`Total      \$\S+ spent and projected; \$\S+ left this hour, \$\S+ today`)

	screen = x.waitFor(`Job        draft running: patch`, 30*time.Second)
	screen = x.waitFor(`Spent      \$0\.000294 so far`, 10*time.Second)
	capture("patch", screen)
	expect("while patching", screen,
		`\$0\.000294 plan +model tokens  1 call\(s\) to qwen2\.5-coder:7b`,
		`Remaining  \$\S+ projected at most`,
		`\$\S+ +patch +model tokens  2 calls at most, \$\S+ each`)
	if strings.Contains(screen, "upper estimate") {
		t.Errorf("after the plan the patch is projected from its own request, not estimated:\n%s", screen)
	}

	screen = x.waitFor(`proposed\s+revision 1`, 3*time.Minute)
	// Spent is the two calls ($0.000588) and the metered verify: $0.01 for
	// its first minute, more when a loaded machine makes it run longer.
	costRow := `Cost       GO \$0\.01 \+ spent \$(\S+) = \$(\S+); \$\S+ left this hour, \$\S+ today`
	screen = x.waitFor(costRow, 10*time.Second)
	capture("proposed", screen)
	m := regexp.MustCompile(costRow).FindStringSubmatch(screen)
	spent, err1 := budget.ParseMicros(m[1])
	total, err2 := budget.ParseMicros(m[2])
	if err1 != nil || err2 != nil || spent < 10_588 || total != spent+10_000 {
		t.Fatalf("at Proposed: spent %s total %s; want the calls and at least one metered minute, and GO on top:\n%s", m[1], m[2], screen)
	}
	expect("at Proposed", screen, `Spent      \$`+regexp.QuoteMeta(m[1])+` drafting this revision`)
	if !narrow {
		expect("at Proposed", screen, `GO +\$0\.01 projected, plan full`, `Total      \$`+regexp.QuoteMeta(m[2])+` with GO;`)
	}
	if strings.Contains(screen, "Remaining") {
		t.Errorf("the projection outlived the draft:\n%s", screen)
	}

	if narrow {
		x.keys("Tab") // back to the chat
	}
	x.typeText("Make the greeting say Hi instead of Hello")
	x.keys("Enter")
	if narrow {
		x.waitFor(`Drafting proposal \S+ revision 2`, 30*time.Second)
		x.keys("Tab")
	}
	screen = x.waitFor(`awaiting approval`, 3*time.Minute)
	screen = x.waitFor(`keys +`, 10*time.Second)
	capture("escalation", screen)
	expect("waiting for an escalation", screen,
		`Awaiting approval a stronger model may do better`,
		`runs    redraft this request on the helper tier`,
		`cost    \$\S+; approving allows up to \$\S+`,
		`gain    expected confidence gain \+\d+`,
		`keys    `,
		`Confidence \d+/100`)
}
