// Package assist turns chat messages into changes. This file is the offline
// assistant's parser: with no model configured, a message becomes a change
// when it carries a unified diff or aider-style search/replace blocks.
package assist

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind says what a message carried.
type Kind string

const (
	KindNone  Kind = "none"  // no change: answer with OfflineReply
	KindDiff  Kind = "diff"  // a unified diff in Change.Diff
	KindEdits Kind = "edits" // search/replace edits in Change.Edits
)

// Edit replaces Search with Replace in the file at Path. An empty Search
// creates a new file whose content is Replace.
type Edit struct {
	Path    string
	Search  string
	Replace string
}

// Change is what a message asks for.
type Change struct {
	Kind  Kind
	Diff  string // KindDiff: the pasted diff, ending in a newline
	Edits []Edit // KindEdits: in message order
	Title string // a short title for the proposal
}

// maxTitle is a commit subject's customary limit.
const maxTitle = 72

// Normalize makes pasted text uniform: CRLF and lone CR become LF (tabs are
// kept), and what a terminal's bracketed paste leaves behind is removed.
func Normalize(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	text = strings.ReplaceAll(text, "\x1b[200~", "")
	text = strings.ReplaceAll(text, "\x1b[201~", "")
	// Without the ESC (eaten by an input widget) the markers can still be
	// told apart at the very start and end of a paste.
	text = strings.TrimPrefix(text, "\ufeff")
	text = strings.TrimPrefix(text, "[200~")
	if rest, ok := strings.CutSuffix(strings.TrimRight(text, "\n"), "[201~"); ok {
		text = rest // the line break after the marker goes with it
	}
	return text
}

// Parse finds the change in a chat message. A message with neither a diff
// nor search/replace blocks is Kind "none" with no error; a malformed block
// or diff is an error that names the block or line and what is missing.
func Parse(text string) (Change, error) {
	m := newMessage(Normalize(text))
	edits, err := m.parseEdits()
	if err != nil {
		return Change{}, err
	}
	fences := m.findFences()
	diff, firstFile, err := m.parseDiffs(fences)
	if err != nil {
		return Change{}, err
	}
	switch {
	case len(edits) > 0 && diff != "":
		return Change{}, fmt.Errorf("%w: send the diff and the blocks in separate messages", ErrMixedChange)
	case len(edits) > 0:
		return Change{Kind: KindEdits, Edits: edits, Title: m.title("Edit " + edits[0].Path)}, nil
	case diff != "":
		fallback := "Apply pasted diff"
		if firstFile != "" {
			fallback += " to " + firstFile
		}
		return Change{Kind: KindDiff, Diff: diff, Title: m.title(fallback)}, nil
	}
	return Change{Kind: KindNone}, nil
}

// message is a normalized text as lines, with the lines a change consumed.
type message struct {
	lines   []string
	used    []bool // part of a block, a block's path line, or a diff
	inFence []bool // inside a fenced code block, or a fence line itself
}

func newMessage(text string) *message {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	return &message{lines: lines, used: make([]bool, len(lines)), inFence: make([]bool, len(lines))}
}

// joinLines turns lines back into text, each ending in a newline.
func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// title is the first line of prose (outside every block, diff and fence),
// or a "Subject:" line of a mailed patch, else fallback; at most maxTitle
// characters.
func (m *message) title(fallback string) string {
	first := ""
	for i, line := range m.lines {
		if m.used[i] || m.inFence[i] {
			continue
		}
		line = strings.TrimSpace(line)
		if subject, ok := strings.CutPrefix(line, "Subject: "); ok {
			first = stripPatchTag(subject)
			break
		}
		line = strings.TrimSpace(strings.TrimLeft(line, "#"))
		if first == "" && strings.ContainsFunc(line, isAlnum) { // not a "---" rule
			first = line
		}
	}
	if first == "" {
		first = fallback
	}
	return shorten(first, maxTitle)
}

// stripPatchTag drops git format-patch's "[PATCH 1/2] " prefix.
func stripPatchTag(s string) string {
	if strings.HasPrefix(s, "[") {
		if end := strings.Index(s, "] "); end > 0 {
			return strings.TrimSpace(s[end+2:])
		}
	}
	return strings.TrimSpace(s)
}

// shorten cuts s to at most n characters, at a word boundary when one is
// near, marking the cut with an ellipsis.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)[:n-1]
	cut := string(runes)
	if sp := strings.LastIndex(cut, " "); sp >= n/2 {
		cut = cut[:sp]
	}
	return strings.TrimRight(cut, " ,.;:") + "…"
}

func isAlnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
