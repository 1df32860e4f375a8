package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/patchgit/patchgit/internal/core"
)

func TestFormatMicros(t *testing.T) {
	for micros, want := range map[int64]string{
		0:          "$0.00",
		1:          "$0.000001",
		1234:       "$0.001234",
		10_000:     "$0.01",
		1_500_000:  "$1.50",
		12_345_678: "$12.345678",
		-250_000:   "-$0.25",
	} {
		if got := formatMicros(micros); got != want {
			t.Errorf("formatMicros(%d) = %q, want %q", micros, got, want)
		}
	}
}

func TestTranscriptCapsPastedDiffs(t *testing.T) {
	st := NewStyles(true)
	tr := transcript{st: &st, loaded: true}
	tr.setSize(60, 40)
	diff := strings.Repeat("+added line\n", 500)
	tr.setMessages([]core.Message{
		{Role: core.RoleUser, Text: diff, ProposalID: "p123456789"},
		{Role: core.RoleAssistant, Text: "Drafted revision 1."},
	})
	plain := ansi.Strip(tr.view())
	if got := strings.Count(plain, "+added line"); got != userMessageRows {
		t.Errorf("transcript shows %d diff lines, want %d", got, userMessageRows)
	}
	if want := fmt.Sprintf("… %d more lines; the change is in the proposal pane", 500-userMessageRows); !strings.Contains(plain, want) {
		t.Errorf("transcript lacks %q:\n%s", want, plain)
	}
	if !strings.Contains(plain, "you · proposal p1234567") || !strings.Contains(plain, "patchgit\n┃ Drafted revision 1.") {
		t.Errorf("roles are not labelled distinctly:\n%s", plain)
	}
}

func TestTranscriptScrollsAndReturnsOnNewMessage(t *testing.T) {
	st := NewStyles(true)
	tr := transcript{st: &st, loaded: true}
	tr.setSize(40, 5)
	var msgs []core.Message
	for i := range 10 {
		msgs = append(msgs, core.Message{Role: core.RoleAssistant, Text: fmt.Sprintf("answer %d", i)})
	}
	tr.setMessages(msgs)
	if !strings.Contains(ansi.Strip(tr.view()), "answer 9") {
		t.Fatal("the newest message is not visible")
	}
	tr.scrollBy(100)
	top := ansi.Strip(tr.view())
	if !strings.Contains(top, "answer 0") || strings.Contains(top, "answer 9") {
		t.Fatalf("scrolled to the top, got:\n%s", top)
	}
	tr.setMessages(append(msgs, core.Message{Role: core.RoleUser, Text: "new"}))
	if !strings.Contains(ansi.Strip(tr.view()), "new") {
		t.Fatal("a new message did not bring the view back to the bottom")
	}
}

func TestFitPadsAndCuts(t *testing.T) {
	got := fit("abcdef\nxy\n1\n2", 4, 3)
	if got != "abc…\nxy  \n1   " {
		t.Fatalf("fit = %q", got)
	}
}
