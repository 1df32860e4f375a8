package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/patchgit/patchgit/internal/core"
)

// waitLimit bounds how long a test waits for the app to react; it is a
// deadline against hangs, not a speed assertion.
const waitLimit = 15 * time.Second

const sampleDiff = "diff --git a/greet.go b/greet.go\n" +
	"index 1111111..2222222 100644\n" +
	"--- a/greet.go\n" +
	"+++ b/greet.go\n" +
	"@@ -1,5 +1,5 @@\n" +
	" package greet\n" +
	" \n" +
	" func Hello() string {\n" +
	"-\treturn \"hello\"\n" +
	"+\treturn \"hello, world\"\n" +
	" }\n"

// probeMsg asks the running program for its current screen. The filter
// answers it inside the event loop, so reading the model does not race
// with Update.
type probeMsg struct {
	screen chan string
	raw    bool // with the escape sequences the app itself wrote
}

func probeFilter(m tea.Model, msg tea.Msg) tea.Msg {
	if p, ok := msg.(probeMsg); ok {
		content := m.View().Content
		if !p.raw {
			content = ansi.Strip(content)
		}
		p.screen <- content
		return nil
	}
	return msg
}

func startApp(t *testing.T, svc core.Service, opts Options, w, h int) *teatest.TestModel {
	t.Helper()
	if opts.Context == nil {
		opts.Context = t.Context()
	}
	if opts.Actor == "" {
		opts.Actor = "ada"
	}
	return teatest.NewTestModel(t, New(svc, opts),
		teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithFilter(probeFilter)))
}

// currentScreen returns what the app shows right now, as plain text.
func currentScreen(t *testing.T, tm *teatest.TestModel) string {
	t.Helper()
	ch := make(chan string, 1)
	tm.Send(probeMsg{screen: ch})
	return recv(t, ch, "the screen")
}

// waitScreen waits until the app shows text. Service answers arrive
// asynchronously, so it asks again until they are in.
func waitScreen(t *testing.T, tm *teatest.TestModel, text string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		s := currentScreen(t, tm)
		if strings.Contains(s, text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen never showed %q; last screen:\n%s", text, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitScreenWithout waits until the app no longer shows text: a reload
// that follows an answer arrives after the answer's own message.
func waitScreenWithout(t *testing.T, tm *teatest.TestModel, text string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		s := currentScreen(t, tm)
		if !strings.Contains(s, text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen still shows %q; last screen:\n%s", text, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// finalScreen quits the app and returns its last frame as plain text.
func finalScreen(t *testing.T, tm *teatest.TestModel) string {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	m := tm.FinalModel(t, teatest.WithFinalTimeout(waitLimit))
	return ansi.Strip(m.View().Content)
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func press(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "ctrl+g":
		return tea.KeyPressMsg{Code: 'g', Mod: tea.ModCtrl}
	case "alt+enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter, Mod: tea.ModAlt}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// proposedFixture is one repo with a conversation whose proposal sits at
// revision 2 in the given state, with nothing scored or metered yet.
func proposedFixture(state core.ProposalState) (*fakeService, core.Proposal) {
	svc := newFakeService("demo")
	conv := svc.addConversation("demo", "Greeting fix")
	svc.addMessage(conv.ID, core.RoleUser, "make the greeting friendlier", "")
	svc.addMessage(conv.ID, core.RoleAssistant, "I drafted a change: see the proposal.", "")
	p := core.Proposal{
		ID: "p1a2b3c4d-1111", ConversationID: conv.ID, Repo: "demo", Title: "Friendlier greeting",
		State: state, Created: svc.now(),
		Revisions: []core.Revision{
			{N: 1, Source: "pasted-diff", Diff: sampleDiff},
			{N: 2, Source: "pasted-diff", Plan: []string{"Change the greeting text"}, Targets: []string{"greet.go"}, Diff: sampleDiff},
		},
	}
	svc.putProposal(p)
	return svc, p
}

func TestPasteThenEnterSendsExactlyThePaste(t *testing.T) {
	svc := newFakeService("demo")
	tm := startApp(t, svc, Options{}, 100, 30)
	waitScreen(t, tm, "No messages yet")

	pasted := "diff --git a/x.go b/x.go\r\n--- a/x.go\r\n+++ b/x.go\r\n@@ -1 +1 @@\r\n-\told()\r\n+\tnew()\r\n"
	tm.Send(tea.PasteMsg{Content: pasted})
	waitScreen(t, tm, "pasted 6 lines")
	select {
	case c := <-svc.sends:
		t.Fatalf("a paste was sent without enter: %q", c.text)
	default:
	}

	tm.Send(press("enter"))
	got := recv(t, svc.sends, "Send")
	want := strings.ReplaceAll(pasted, "\r\n", "\n")
	if got.text != want {
		t.Fatalf("sent text differs from the paste:\n got %q\nwant %q", got.text, want)
	}
	if got.actor != "ada" {
		t.Fatalf("sent as %q, want the session's actor ada", got.actor)
	}
	// The transcript shows it with the tab expanded; the input is empty again.
	waitScreen(t, tm, "  +   new()")
	waitScreen(t, tm, "┃ Describe a change")
	finalScreen(t, tm)
}

func TestHugePasteIsRefusedAndInputKept(t *testing.T) {
	svc := newFakeService("demo")
	tm := startApp(t, svc, Options{MaxPasteBytes: 1024}, 100, 30)
	waitScreen(t, tm, "No messages yet")

	tm.Type("keep me")
	tm.Send(tea.PasteMsg{Content: strings.Repeat("+ a line of a big diff\n", 100)})
	waitScreen(t, tm, "over the 1.0 KiB limit")

	tm.Send(press("enter"))
	if got := recv(t, svc.sends, "Send"); got.text != "keep me" {
		t.Fatalf("after the refused paste the input held %q, want %q", got.text, "keep me")
	}
	finalScreen(t, tm)
}

func TestTypingPastTheLimitIsRefused(t *testing.T) {
	svc := newFakeService("demo")
	tm := startApp(t, svc, Options{MaxPasteBytes: 8}, 100, 30)
	waitScreen(t, tm, "No messages yet")
	tm.Type("12345678")
	tm.Type("9")
	waitScreen(t, tm, "at the 8 B limit")
	tm.Send(press("enter"))
	if got := recv(t, svc.sends, "Send"); got.text != "12345678" {
		t.Fatalf("sent %q, want the first 8 bytes only", got.text)
	}
	finalScreen(t, tm)
}

func TestNilScoresRenderNotComputedYet(t *testing.T) {
	svc, _ := proposedFixture(core.StateProposed)
	tm := startApp(t, svc, Options{}, 100, 30)
	waitScreen(t, tm, "I drafted a change")
	tm.Send(press("tab")) // narrow layout: the pane replaces the chat
	waitScreen(t, tm, "Friendlier greeting")

	screen := finalScreen(t, tm)
	for _, want := range []string{
		"Risk       not computed yet",
		"Confidence not computed yet",
		"Cost       not metered yet",
		"revision 2 of 2",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("pane lacks %q:\n%s", want, screen)
		}
	}
}

func TestScoresAndCostWhenComputed(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	cost := int64(1_500_000)
	rev := &p.Revisions[1]
	rev.Risk = &core.Score{Value: 12, Factors: []string{"one file"}}
	rev.Confidence = &core.Score{Value: 90}
	rev.CostMicros = &cost
	rev.Checks = []core.CheckResult{
		{Command: "go test ./...", Passed: true},
		{Command: "go vet ./...", ExitCode: 1, Output: "\nvet: greet.go:3: bad\nsecond\nthird\nfourth\n"},
	}
	svc.putProposal(p)
	tm := startApp(t, svc, Options{}, 140, 40) // wide: pane beside the chat
	waitScreen(t, tm, "Friendlier greeting")
	screen := finalScreen(t, tm)
	for _, want := range []string{"12/100  one file", "90/100", "$1.50", "pass go test ./...", "FAIL go vet ./... (exit 1)", "vet: greet.go:3: bad", "third"} {
		if !strings.Contains(screen, want) {
			t.Errorf("pane lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "fourth") {
		t.Errorf("pane shows more than %d lines of a failed check's output:\n%s", failedOutputRows, screen)
	}
}

func TestGoNeedsConfirmationAndUsesShownRevision(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	tm := startApp(t, svc, Options{}, 100, 30)
	waitScreen(t, tm, "ctrl+g GO")

	tm.Send(press("ctrl+g"))
	waitScreen(t, tm, "GO on revision 2: create branch, commit, push and open a PR? y/n")
	tm.Send(press("n")) // anything but y declines
	waitScreen(t, tm, "GO not started")

	tm.Send(press("ctrl+g"))
	waitScreen(t, tm, "GO on revision 2: create branch")
	tm.Send(press("y"))
	call := recv(t, svc.gos, "Go")
	if call.id != p.ID || call.rev != 2 || call.actor != "ada" {
		t.Fatalf("Go(%q, %q, %d), want Go(ada, %q, 2)", call.actor, call.id, call.rev, p.ID)
	}
	waitScreen(t, tm, "queued")
	finalScreen(t, tm)
	if len(svc.gos) != 0 {
		t.Fatalf("Go was called %d more times: the declined confirmation must not call it", len(svc.gos))
	}
}

func TestGoNotOfferedUnlessProposed(t *testing.T) {
	for _, state := range []core.ProposalState{core.StateDraft, core.StateRunning, core.StatePublished} {
		t.Run(string(state), func(t *testing.T) {
			svc, _ := proposedFixture(state)
			tm := startApp(t, svc, Options{}, 100, 30)
			waitScreen(t, tm, "I drafted a change")
			// The chat's message can show before the proposal loads; a
			// ctrl+g then finds no proposal (a flake under -cpu 1). Wait
			// until the pane shows it, then go back to the chat.
			tm.Send(press("tab"))
			waitScreen(t, tm, "Friendlier greeting")
			tm.Send(press("tab"))
			waitScreen(t, tm, "tab proposal")
			tm.Send(press("ctrl+g"))
			waitScreen(t, tm, "GO is only possible on a proposed change")
			tm.Send(press("y")) // no question is open: this just types
			screen := finalScreen(t, tm)
			if strings.Contains(screen, "ctrl+g GO") {
				t.Errorf("help offers GO on a %s proposal:\n%s", state, screen)
			}
			if strings.Contains(screen, "y/n") {
				t.Errorf("a confirmation opened on a %s proposal:\n%s", state, screen)
			}
			if len(svc.gos) != 0 {
				t.Errorf("Go was called on a %s proposal", state)
			}
		})
	}
}

func TestNewRevisionClosesGoConfirmation(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	tm := startApp(t, svc, Options{}, 100, 30)
	waitScreen(t, tm, "ctrl+g GO")
	tm.Send(press("ctrl+g"))
	waitScreen(t, tm, "GO on revision 2")

	p.Revisions = append(p.Revisions, core.Revision{N: 3, Diff: sampleDiff})
	svc.putProposal(p)
	svc.emit(core.Event{Kind: core.EventProposal, ID: p.ID, Repo: "demo"})
	waitScreen(t, tm, "GO not started: the proposal changed")

	tm.Send(press("y")) // the question is gone: y is just a letter now
	tm.Send(press("ctrl+g"))
	waitScreen(t, tm, "GO on revision 3")
	tm.Send(press("y"))
	if call := recv(t, svc.gos, "Go"); call.rev != 3 {
		t.Fatalf("Go on revision %d, want 3", call.rev)
	}
	finalScreen(t, tm)
}

func TestLiveJobProgress(t *testing.T) {
	svc, p := proposedFixture(core.StateRunning)
	svc.putJob(core.Job{ID: "j1", Kind: core.JobExecute, ProposalID: p.ID, State: core.JobRunning, Progress: "applying patch"})
	p.JobID = "j1"
	svc.putProposal(p)
	tm := startApp(t, svc, Options{}, 140, 40)
	recv(t, svc.subbed, "Subscribe")
	waitScreen(t, tm, "applying patch")

	svc.putJob(core.Job{ID: "j1", Kind: core.JobExecute, ProposalID: p.ID, State: core.JobRunning, Progress: "pushing branch"})
	svc.emit(core.Event{Kind: core.EventJob, ID: "j1", ProposalID: p.ID, Text: "pushing branch"})
	waitScreen(t, tm, "pushing branch")

	p.State, p.PR = core.StatePublished, &core.PRRef{Number: 7, URL: "http://forge.local/demo/pulls/7"}
	svc.putProposal(p)
	svc.emit(core.Event{Kind: core.EventResync})
	waitScreen(t, tm, "pulls/7")
	screen := finalScreen(t, tm)
	if !strings.Contains(screen, "#7 http://forge.local/demo/pulls/7") || !strings.Contains(screen, "published") {
		t.Fatalf("published proposal without its PR:\n%s", screen)
	}
}

func TestCancelNeedsConfirmation(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	tm := startApp(t, svc, Options{}, 140, 40)
	waitScreen(t, tm, "Friendlier greeting")
	tm.Send(press("tab"))
	tm.Send(press("x"))
	waitScreen(t, tm, "Cancel proposal p1a2b3c4")
	tm.Send(press("y"))
	if id := recv(t, svc.cancels, "Cancel"); id != p.ID {
		t.Fatalf("cancelled %q, want %q", id, p.ID)
	}
	waitScreen(t, tm, "cancelled")
	finalScreen(t, tm)
}

func TestPickerWithSeveralRepos(t *testing.T) {
	svc := newFakeService("alpha", "beta")
	tm := startApp(t, svc, Options{}, 100, 30)
	waitScreen(t, tm, "Choose a repository")
	tm.Send(press("j"))
	tm.Send(press("enter"))
	waitScreen(t, tm, "No messages yet")
	screen := finalScreen(t, tm)
	if !strings.Contains(screen, "repo beta") || !strings.Contains(screen, "conversation Conversation") {
		t.Fatalf("header does not show the picked repository and its new conversation:\n%s", screen)
	}
	if convs, _ := svc.Conversations(t.Context(), "beta"); len(convs) != 1 {
		t.Fatalf("beta has %d conversations, want the one the app started", len(convs))
	}
}

func TestUnknownPreselectedRepoShowsPicker(t *testing.T) {
	svc := newFakeService("alpha", "beta")
	tm := startApp(t, svc, Options{Repo: "gamma"}, 100, 30)
	waitScreen(t, tm, "Choose a repository")
	if screen := finalScreen(t, tm); !strings.Contains(screen, `unknown repository "gamma"`) {
		t.Fatalf("no clear error for the unknown repository:\n%s", screen)
	}
}

func TestNewConversationKey(t *testing.T) {
	svc, _ := proposedFixture(core.StateProposed)
	tm := startApp(t, svc, Options{}, 100, 30)
	waitScreen(t, tm, "I drafted a change")
	tm.Send(tea.KeyPressMsg{Code: 'n', Mod: tea.ModCtrl})
	waitScreen(t, tm, "No messages yet")
	screen := finalScreen(t, tm)
	if strings.Contains(screen, "Greeting fix") {
		t.Fatalf("still on the old conversation:\n%s", screen)
	}
}

func TestGoldenChat(t *testing.T) {
	svc, _ := proposedFixture(core.StateProposed)
	tm := startApp(t, svc, Options{}, 100, 30)
	waitScreen(t, tm, "I drafted a change")
	golden.RequireEqual(t, finalScreen(t, tm))
}

func TestGoldenProposal(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	p.Waiting = core.WaitingNone
	p.Revisions[1].Checks = []core.CheckResult{{Command: "go test ./...", Passed: true}}
	svc.putProposal(p)
	tm := startApp(t, svc, Options{}, 100, 30)
	waitScreen(t, tm, "I drafted a change")
	tm.Send(press("tab"))
	waitScreen(t, tm, "Proposed Execution")
	golden.RequireEqual(t, finalScreen(t, tm))
}

// Every frame is exactly the terminal's size, whatever the size and view.
func TestEveryFrameFitsTheTerminal(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	p.Revisions[1].Checks = []core.CheckResult{{Command: "go vet ./...", ExitCode: 2, Output: strings.Repeat("x", 300)}}
	svc.putProposal(p)
	tm := startApp(t, svc, Options{}, 100, 30)
	waitScreen(t, tm, "I drafted a change")
	tm.Send(tea.PasteMsg{Content: strings.Repeat("a long pasted line that will need wrapping ", 20)})
	for _, view := range []string{"chat", "pane", "pane+help"} {
		switch view {
		case "pane":
			tm.Send(press("tab"))
		case "pane+help":
			tm.Send(press("?"))
		}
		for _, w := range []int{1, 2, 7, 20, 40, 79, 80, 119, 120, 200} {
			for _, h := range []int{1, 2, 3, 6, 24, 60} {
				tm.Send(tea.WindowSizeMsg{Width: w, Height: h})
				rows := strings.Split(currentScreen(t, tm), "\n")
				if len(rows) != h {
					t.Fatalf("%s at %dx%d: %d rows", view, w, h, len(rows))
				}
				for i, r := range rows {
					if rw := ansi.StringWidth(r); rw != w {
						t.Fatalf("%s at %dx%d: row %d is %d cells: %q", view, w, h, i, rw, r)
					}
				}
			}
		}
	}
	finalScreen(t, tm)
}

func TestUntrustedTextCannotReachTheTerminal(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	p.Title = "evil\x1b]52;c;cHduZWQ=\atitle"
	p.Revisions[1].Plan = []string{"step \x1b[2J"}
	svc.putProposal(p)
	svc.addMessage(p.ConversationID, core.RoleAssistant, "answer \x1b[31mred\x9b", "")
	tm := startApp(t, svc, Options{}, 140, 40)
	waitScreen(t, tm, "answer ^[[31mred")
	rawCh := make(chan string, 1)
	tm.Send(probeMsg{screen: rawCh, raw: true})
	raw := recv(t, rawCh, "the raw screen")
	for _, bad := range []string{"\x1b]52", "\x1b[2J", "\x1b[31mred", "\u009b", "\a"} {
		if strings.Contains(raw, bad) {
			t.Errorf("the frame carries %q from untrusted text", bad)
		}
	}
	screen := finalScreen(t, tm)
	for _, want := range []string{"evil^[]52;c;cHduZWQ=^Gtitle", "step ^[[2J"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks the visible form %q:\n%s", want, screen)
		}
	}
}
