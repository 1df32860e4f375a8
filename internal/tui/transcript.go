package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/tui/diffview"
)

const (
	// userMessageRows caps how much of a person's message the transcript
	// shows: a pasted diff belongs in the proposal pane, not the chat.
	userMessageRows = 12
	// otherMessageRows keeps one runaway answer from flooding the chat.
	otherMessageRows = 200
)

// transcript is the chat history, bottom-anchored like a terminal. It is
// rendered to rows once per change of messages or width; a frame only
// slices the visible rows.
type transcript struct {
	st     *Styles
	msgs   []core.Message
	width  int
	height int
	rows   []string
	stale  bool
	scroll int  // rows scrolled up from the bottom
	loaded bool // the open conversation's messages have arrived
}

func (t *transcript) setMessages(msgs []core.Message) {
	grew := len(msgs) > len(t.msgs)
	t.msgs = msgs
	t.stale = true
	if grew {
		t.scroll = 0 // a new message brings the view back to the bottom
	}
}

func (t *transcript) setSize(w, h int) {
	if w != t.width {
		t.stale = true
	}
	t.width, t.height = w, h
}

// scrollBy moves up (positive) or down (negative) by n rows.
func (t *transcript) scrollBy(n int) {
	t.render()
	t.scroll = min(max(t.scroll+n, 0), max(0, len(t.rows)-t.height))
}

func (t *transcript) view() string {
	if t.width <= 0 || t.height <= 0 {
		return ""
	}
	if !t.loaded {
		return t.st.Hint.Render("Opening the conversation…")
	}
	if len(t.msgs) == 0 {
		return t.st.Hint.Render(ansi.Wrap("No messages yet. Describe a change, or paste a unified diff or search/replace blocks below; enter sends.", t.width, ""))
	}
	t.render()
	end := len(t.rows) - t.scroll
	start := max(0, end-t.height)
	visible := t.rows[start:end]
	pad := strings.Repeat("\n", t.height-len(visible))
	return pad + strings.Join(visible, "\n")
}

func (t *transcript) render() {
	if !t.stale {
		return
	}
	t.stale = false
	t.rows = t.rows[:0]
	for i, m := range t.msgs {
		if i > 0 {
			t.rows = append(t.rows, "")
		}
		t.rows = append(t.rows, t.renderMessage(m)...)
	}
}

func (t *transcript) renderMessage(m core.Message) []string {
	var name, bar string
	text, limit := t.st.UserText, userMessageRows
	switch m.Role {
	case core.RoleUser:
		name, bar = t.st.UserName.Render("you"), "  "
	case core.RoleAssistant:
		name, bar = t.st.AssistantName.Render("patchgit"), t.st.AssistantBar.Render("┃ ")
		text, limit = t.st.AssistantText, otherMessageRows
	default:
		name, bar = t.st.SystemName.Render(string(m.Role)), "  "
		text, limit = t.st.SystemText, otherMessageRows
	}
	header := name
	if m.ProposalID != "" {
		header += t.st.Hint.Render(" · proposal " + shortID(m.ProposalID))
	}
	rows := []string{header}
	body, more := wrapText(m.Text, max(1, t.width-2), limit)
	for _, r := range body {
		rows = append(rows, bar+text.Render(r))
	}
	if more > 0 {
		note := fmt.Sprintf("… %d more lines", more)
		if m.ProposalID != "" {
			note += "; the change is in the proposal pane"
		}
		rows = append(rows, bar+t.st.Hint.Render(note))
	}
	return rows
}

// wrapText makes untrusted text printable and wraps it to width, returning
// at most limit rows and how many source lines were left out.
func wrapText(s string, width, limit int) (rows []string, more int) {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if len(rows) >= limit {
			return rows[:limit], len(lines) - i
		}
		wrapped := ansi.Wrap(diffview.Printable(l), width, "")
		rows = append(rows, strings.Split(wrapped, "\n")...)
	}
	if len(rows) > limit {
		return rows[:limit], 1
	}
	return rows, 0
}
