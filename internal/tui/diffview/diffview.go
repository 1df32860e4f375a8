// Package diffview is a scrollable, colored unified-diff view that stays as
// fast on a 20,000-line diff as on a 20-line one: the diff is split and
// classified once, each line is styled only when it first becomes visible
// and then memoized, lines are truncated to the width (never soft-wrapped),
// and only the visible window is rendered.
package diffview

import (
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// ellipsis marks a line cut at the right edge.
const ellipsis = "…"

// Model is the diff view. The zero value is not ready; use New.
type Model struct {
	styles Styles

	content    string
	lines      []string
	kinds      []kind
	fileStarts []int // line indexes of file starts, ascending

	// styled[i] is line i rendered for the current width; valid while
	// rendered[i]. Both are reset on SetContent, SetSize (width) and
	// SetStyles.
	styled   []string
	rendered []bool

	width, height int
	top           int // index of the first visible line
}

// New returns an empty view with the default styles.
func New() Model {
	return Model{styles: DefaultStyles()}
}

// SetStyles replaces the styles and forgets every memoized line.
func (m *Model) SetStyles(s Styles) {
	m.styles = s
	m.invalidate()
}

// SetContent shows a new diff and scrolls to its top. Setting the same diff
// again keeps the scroll position, so a refresh that did not change the
// diff does not throw the reader back to line 1.
func (m *Model) SetContent(diff string) {
	if diff == m.content && m.lines != nil {
		return
	}
	m.content = diff
	trimmed := strings.TrimSuffix(diff, "\n")
	if trimmed == "" {
		m.lines = []string{}
	} else {
		m.lines = strings.Split(trimmed, "\n")
	}
	m.kinds, m.fileStarts = classify(m.lines)
	m.top = 0
	m.invalidate()
}

// SetSize sets the outer size: the last row holds the position indicator
// when there are at least two rows.
func (m *Model) SetSize(width, height int) {
	width, height = max(width, 0), max(height, 0)
	if width != m.width {
		m.width = width
		m.invalidate()
	}
	m.height = height
	m.clamp()
}

// ScrollDown moves the view n lines towards the end.
func (m *Model) ScrollDown(n int) { m.top += n; m.clamp() }

// ScrollUp moves the view n lines towards the start.
func (m *Model) ScrollUp(n int) { m.top -= n; m.clamp() }

// Top scrolls to the first line.
func (m *Model) Top() { m.top = 0 }

// Bottom scrolls so the last line is at the bottom of the view.
func (m *Model) Bottom() { m.top = m.maxTop() }

// NextFile scrolls to the next file header below the top line, if any.
func (m *Model) NextFile() {
	i := sort.SearchInts(m.fileStarts, m.top+1)
	if i < len(m.fileStarts) {
		m.top = m.fileStarts[i]
		m.clamp()
	}
}

// PrevFile scrolls to the file header above the top line, if any.
func (m *Model) PrevFile() {
	i := sort.SearchInts(m.fileStarts, m.top) - 1
	if i >= 0 {
		m.top = m.fileStarts[i]
	}
}

// PageSize is how many diff lines one screen shows.
func (m *Model) PageSize() int {
	if m.height >= 2 {
		return m.height - 1
	}
	return m.height
}

// Position reports the first visible line (1-based), the number of lines,
// the file that line belongs to (1-based, 0 before the first file) and the
// number of files.
func (m *Model) Position() (line, lines, file, files int) {
	if len(m.lines) > 0 {
		line = m.top + 1
	}
	return line, len(m.lines), sort.SearchInts(m.fileStarts, m.top+1), len(m.fileStarts)
}

// View renders exactly height rows, each at most width cells wide.
func (m *Model) View() string {
	if m.height <= 0 || m.width <= 0 {
		return ""
	}
	page := m.PageSize()
	var b strings.Builder
	rows := 0
	if len(m.lines) == 0 {
		b.WriteString(m.styles.Empty.Render(ansi.Truncate("no changes", m.width, ellipsis)))
		rows = 1
	}
	for i := m.top; i < len(m.lines) && rows < page; i++ {
		if rows > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(m.line(i))
		rows++
	}
	for ; rows < page; rows++ {
		if rows > 0 {
			b.WriteByte('\n')
		}
	}
	if m.height >= 2 {
		b.WriteByte('\n')
		b.WriteString(m.styles.Position.Render(ansi.Truncate(m.positionText(), m.width, ellipsis)))
	}
	return b.String()
}

func (m *Model) positionText() string {
	line, lines, file, files := m.Position()
	s := fmt.Sprintf("line %d/%d", line, lines)
	if files > 0 {
		s += fmt.Sprintf("  file %d/%d", file, files)
	}
	if m.top < m.maxTop() {
		s += fmt.Sprintf("  %d more below", lines-(m.top+m.PageSize()))
	}
	return s
}

// line returns line i styled for the current width, memoized.
func (m *Model) line(i int) string {
	if m.rendered[i] {
		return m.styled[i]
	}
	text := ansi.Truncate(Printable(m.lines[i]), m.width, ellipsis)
	k := m.kinds[i]
	if k == kindFile {
		// The band spans the whole width so file boundaries catch the eye.
		text += strings.Repeat(" ", max(0, m.width-ansi.StringWidth(text)))
	}
	s := m.styles.forKind(k).Render(text)
	m.styled[i], m.rendered[i] = s, true
	return s
}

func (m *Model) invalidate() {
	m.styled = make([]string, len(m.lines))
	m.rendered = make([]bool, len(m.lines))
}

func (m *Model) maxTop() int {
	return max(0, len(m.lines)-m.PageSize())
}

func (m *Model) clamp() {
	m.top = min(max(m.top, 0), m.maxTop())
}
