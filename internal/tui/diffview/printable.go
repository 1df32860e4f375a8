package diffview

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// TabWidth is the distance between tab stops when tabs are expanded.
const TabWidth = 4

// Printable makes one line of untrusted text safe and measurable in a
// terminal: tabs become spaces up to the next tab stop, control characters
// become caret notation (^[ for ESC), C1 controls and invalid UTF-8 become
// U+FFFD, and bidirectional overrides (the "Trojan Source" trick) are shown
// as <U+202E> so a diff cannot hide what it changes. Newlines are not
// expected; split lines first.
func Printable(s string) string {
	if isPlainASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	col := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
			col++
		case r == '\t':
			n := TabWidth - col%TabWidth
			b.WriteString(strings.Repeat(" ", n))
			col += n
		case r < 0x20:
			b.WriteByte('^')
			b.WriteByte(byte(r) + '@')
			col += 2
		case r == 0x7f:
			b.WriteString("^?")
			col += 2
		case r >= 0x80 && r <= 0x9f:
			b.WriteRune(utf8.RuneError)
			col++
		case isBidiControl(r):
			esc := fmt.Sprintf("<U+%04X>", r)
			b.WriteString(esc)
			col += len(esc)
		case r < 0x80:
			b.WriteRune(r)
			col++
		default:
			b.WriteRune(r)
			col += ansi.StringWidth(string(r))
		}
	}
	return b.String()
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// isBidiControl reports the explicit directional embeddings, overrides and
// isolates, plus the marks that can reorder what the eye sees.
func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c
}
