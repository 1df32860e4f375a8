package tui

import (
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/core"
)

// The proposal pane shows the operation that made a revision: its name,
// command, exit code and mode, and the end of its output.
func TestPaneShowsTheOperation(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	var out strings.Builder
	for i := 1; i <= 20; i++ {
		out.WriteString("formatted file" + string(rune('a'+i)) + ".go\n")
	}
	p.Revisions[1].Source = core.SourceOperation
	p.Revisions[1].Plan = []string{"Run the repository operation fmt (`gofmt -w .`) in the sandbox"}
	p.Revisions[1].Operation = &core.OperationRun{Name: "fmt", Command: "gofmt -w .", Passed: true, Mode: "bwrap",
		Output: out.String() + "done \x1b[2J\n"}
	svc.putProposal(p)
	tm := startApp(t, svc, Options{}, 120, 60)
	waitScreen(t, tm, "I drafted a change")
	tm.Send(press("tab"))
	waitScreen(t, tm, "Operation  fmt: gofmt -w .  exit 0 bwrap")
	screen := currentScreen(t, tm)
	for _, want := range []string{"… 9 earlier lines", "│ formatted filek.go", "│ formatted fileu.go", "│ done ^[[2J"} {
		if !strings.Contains(screen, want) {
			t.Errorf("pane lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "formatted filej.go") {
		t.Errorf("the pane shows more than the output's end:\n%s", screen)
	}
	finalScreen(t, tm)
}

// f1 lists `/run` among the chat's commands.
func TestHelpListsRun(t *testing.T) {
	svc := newFakeService("demo")
	tm := startApp(t, svc, Options{}, 140, 30)
	waitScreen(t, tm, "No messages yet")
	tm.Send(press("f1"))
	waitScreen(t, tm, "/run NAME propose what an operation changes (/run lists them)")
	finalScreen(t, tm)
}
