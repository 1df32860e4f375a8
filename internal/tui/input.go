package tui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
)

const (
	// defaultMaxPasteBytes caps the message input when Options leaves it 0.
	defaultMaxPasteBytes = 1 << 20
	// promptWidth is the "┃ " in front of every input row.
	promptWidth = 2
)

// input is the message box: the editor plus its keys, its byte limit and
// its look. Text over the limit is refused whole, never cut, so what the
// person already typed is never lost.
type input struct {
	st          *Styles
	ed          editor
	maxBytes    int
	focused     bool
	placeholder string
	width       int
}

func newInput(maxBytes int, st *Styles) input {
	return input{
		st:          st,
		ed:          newEditor(),
		maxBytes:    maxBytes,
		placeholder: "Describe a change, or paste a unified diff or search/replace blocks",
	}
}

func (in *input) setSize(w, h int) {
	in.width = w
	// One cell stays free for the cursor at the end of a full row.
	in.ed.setSize(max(1, w-promptWidth-1), max(h, 1))
}

func (in *input) height() int   { return in.ed.height }
func (in *input) value() string { return in.ed.value() }
func (in *input) reset()        { in.ed.reset() }
func (in *input) focus()        { in.focused = true }
func (in *input) blur()         { in.focused = false }

// paste inserts pasted text at the cursor as it is, except that CRLF and
// lone CR line endings become LF. Tabs are kept. Over the limit it is
// refused whole and the input stays as it was.
func (in *input) paste(s string) error {
	s = normalizeNewlines(s)
	if total := in.ed.size + len(s); total > in.maxBytes {
		return fmt.Errorf("%w: pasting %s would make your message %s, over the %s limit; nothing was inserted and your text is unchanged",
			ErrInputTooLarge, formatBytes(len(s)), formatBytes(total), formatBytes(in.maxBytes))
	}
	in.ed.insert(s)
	return nil
}

// key applies an editing key and ignores keys it does not know. Typing
// past the byte limit is refused with an error.
func (in *input) key(k tea.KeyPressMsg) error {
	ed := &in.ed
	switch k.String() {
	case "alt+enter", "ctrl+j":
		return in.typeText("\n")
	case "backspace", "ctrl+h":
		ed.deleteRange(ed.left(), ed.cur)
	case "delete", "ctrl+d":
		ed.deleteRange(ed.cur, ed.right())
	case "ctrl+w", "alt+backspace":
		ed.deleteRange(ed.wordLeft(), ed.cur)
	case "alt+d", "alt+delete":
		ed.deleteRange(ed.cur, ed.wordRight())
	case "ctrl+u":
		ed.deleteRange(pos{ed.cur.row, 0}, ed.cur)
	case "ctrl+k":
		ed.deleteRange(ed.cur, pos{ed.cur.row, len(ed.lines[ed.cur.row])})
	case "left", "ctrl+b":
		ed.moveTo(ed.left())
	case "right", "ctrl+f":
		ed.moveTo(ed.right())
	case "alt+left", "ctrl+left", "alt+b":
		ed.moveTo(ed.wordLeft())
	case "alt+right", "ctrl+right", "alt+f":
		ed.moveTo(ed.wordRight())
	case "home", "ctrl+a":
		ed.moveTo(pos{ed.cur.row, 0})
	case "end", "ctrl+e":
		ed.moveTo(pos{ed.cur.row, len(ed.lines[ed.cur.row])})
	case "ctrl+home", "alt+<":
		ed.moveTo(pos{})
	case "ctrl+end", "alt+>":
		last := len(ed.lines) - 1
		ed.moveTo(pos{last, len(ed.lines[last])})
	case "up", "ctrl+p":
		ed.vertical(-1)
	case "down":
		ed.vertical(1)
	default:
		if k.Text == "" || k.Mod.Contains(tea.ModCtrl) || k.Mod.Contains(tea.ModAlt) {
			return nil
		}
		return in.typeText(k.Text)
	}
	return nil
}

func (in *input) typeText(s string) error {
	if in.ed.size+len(s) > in.maxBytes {
		return fmt.Errorf("%w: your message is at the %s limit; send it or delete some text first",
			ErrInputTooLarge, formatBytes(in.maxBytes))
	}
	in.ed.insert(s)
	return nil
}

// view renders exactly height rows: a prompt, the visible text, and the
// cursor as a reversed cell while focused.
func (in *input) view() string {
	st := in.st
	prompt := st.InputPrompt.Render("┃ ")
	var rows []string
	if in.ed.size == 0 {
		// The cursor sits on the placeholder's first letter.
		first, rest := in.placeholder[:1], in.placeholder[1:]
		if in.focused {
			first = st.Cursor.Render(first)
		} else {
			first = st.InputPlaceholder.Render(first)
		}
		rows = []string{first + st.InputPlaceholder.Render(rest)}
	} else {
		on, off := "", ""
		if in.focused {
			on, off = cursorOn, cursorOff
		}
		rows = in.ed.rows(in.focused, on, off)
	}
	var b strings.Builder
	for i := range in.ed.height {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(prompt)
		if i < len(rows) {
			b.WriteString(rows[i])
		}
	}
	return b.String()
}

// The cursor is drawn as reverse video around one cell; plain SGR codes
// because the cell sits inside unstyled text.
const (
	cursorOn  = "\x1b[7m"
	cursorOff = "\x1b[27m"
)

// normalizeNewlines turns CRLF and lone CR into LF.
func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}
