package tui

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/patchgit/patchgit/internal/tui/diffview"
)

// tabWidth matches the diff view, so a pasted diff looks the same in both.
const tabWidth = diffview.TabWidth

// pos is a cursor position: a line index and a rune index in that line.
type pos struct{ row, col int }

func (a pos) before(b pos) bool { return a.row < b.row || (a.row == b.row && a.col < b.col) }

// editor is the message buffer behind the input: lines of runes, a cursor,
// and a window of visible rows. It keeps text exactly as typed or pasted
// (tabs and all; control characters are only drawn as ^X) and soft-wraps
// only the lines on screen, so a 10,000-line paste types as fast as a
// one-liner. (bubbles' textarea re-renders every line on each key: about
// 0.9 s a keystroke with a 9,000-line paste, measured here.)
type editor struct {
	lines [][]rune // never empty
	cur   pos
	goal  int // display column that up/down try to keep; -1 when unset
	size  int // bytes of value(), kept as the buffer changes

	textWidth int // cells per row, excluding the prompt and the cursor cell
	height    int
	top       int // first visible line
	topSkip   int // wrapped rows of lines[top] scrolled off above
}

func newEditor() editor {
	return editor{lines: [][]rune{{}}, goal: -1}
}

func (e *editor) value() string {
	var b strings.Builder
	b.Grow(e.size)
	for i, l := range e.lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(string(l))
	}
	return b.String()
}

func (e *editor) reset() {
	*e = editor{lines: [][]rune{{}}, goal: -1, textWidth: e.textWidth, height: e.height}
}

func (e *editor) setSize(textWidth, height int) {
	e.textWidth, e.height = max(textWidth, 1), max(height, 1)
	e.scrollToCursor()
}

// insert puts s at the cursor; "\n" starts a new line. Invalid UTF-8
// becomes U+FFFD so the byte count stays exact.
func (e *editor) insert(s string) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	parts := strings.Split(s, "\n")
	line := e.lines[e.cur.row]
	tail := slices.Clone(line[e.cur.col:])
	first := append(line[:e.cur.col:e.cur.col], []rune(parts[0])...)
	if len(parts) == 1 {
		e.lines[e.cur.row] = append(first, tail...)
		e.cur.col = len(first)
	} else {
		added := make([][]rune, 0, len(parts))
		added = append(added, first)
		for _, p := range parts[1 : len(parts)-1] {
			added = append(added, []rune(p))
		}
		last := []rune(parts[len(parts)-1])
		col := len(last)
		added = append(added, append(last, tail...))
		e.lines = slices.Replace(e.lines, e.cur.row, e.cur.row+1, added...)
		e.cur = pos{e.cur.row + len(parts) - 1, col}
	}
	e.size += len(s)
	e.changed()
}

// deleteRange removes the text between a and b, in either order.
func (e *editor) deleteRange(a, b pos) {
	if b.before(a) {
		a, b = b, a
	}
	if a == b {
		return
	}
	removed := 0
	for r := a.row; r <= b.row; r++ {
		from, to := 0, len(e.lines[r])
		if r == a.row {
			from = a.col
		}
		if r == b.row {
			to = b.col
		}
		removed += runesLen(e.lines[r][from:to])
	}
	removed += b.row - a.row // the joined newlines
	joined := append(e.lines[a.row][:a.col:a.col], e.lines[b.row][b.col:]...)
	e.lines = slices.Replace(e.lines, a.row, b.row+1, joined)
	e.cur = a
	e.size -= removed
	e.changed()
}

func runesLen(rs []rune) int {
	n := 0
	for _, r := range rs {
		n += utf8.RuneLen(r)
	}
	return n
}

func (e *editor) changed() {
	e.goal = -1
	e.scrollToCursor()
}

// Cursor motions.

func (e *editor) left() pos {
	switch {
	case e.cur.col > 0:
		return pos{e.cur.row, e.cur.col - 1}
	case e.cur.row > 0:
		return pos{e.cur.row - 1, len(e.lines[e.cur.row-1])}
	}
	return e.cur
}

func (e *editor) right() pos {
	switch {
	case e.cur.col < len(e.lines[e.cur.row]):
		return pos{e.cur.row, e.cur.col + 1}
	case e.cur.row < len(e.lines)-1:
		return pos{e.cur.row + 1, 0}
	}
	return e.cur
}

// wordLeft skips spaces, then a word, backwards.
func (e *editor) wordLeft() pos {
	p := e.cur
	if p.col == 0 {
		return e.left()
	}
	line := e.lines[p.row]
	for p.col > 0 && unicode.IsSpace(line[p.col-1]) {
		p.col--
	}
	for p.col > 0 && !unicode.IsSpace(line[p.col-1]) {
		p.col--
	}
	return p
}

// wordRight skips spaces, then a word, forwards.
func (e *editor) wordRight() pos {
	p := e.cur
	line := e.lines[p.row]
	if p.col == len(line) {
		return e.right()
	}
	for p.col < len(line) && unicode.IsSpace(line[p.col]) {
		p.col++
	}
	for p.col < len(line) && !unicode.IsSpace(line[p.col]) {
		p.col++
	}
	return p
}

func (e *editor) moveTo(p pos) {
	e.cur = p
	e.goal = -1
	e.scrollToCursor()
}

// vertical moves the cursor one wrapped row up (-1) or down (+1), keeping
// its display column where the row allows.
func (e *editor) vertical(dir int) {
	segs := e.wrap(e.cur.row)
	seg, col := segmentOf(segs, e.lines[e.cur.row], e.cur.col)
	if e.goal < 0 {
		e.goal = col
	}
	row := e.cur.row
	switch {
	case dir < 0 && seg > 0:
		seg--
	case dir < 0 && row > 0:
		row--
		seg = len(e.wrap(row)) - 1
	case dir > 0 && seg < len(segs)-1:
		seg++
	case dir > 0 && row < len(e.lines)-1:
		row, seg = row+1, 0
	default:
		return
	}
	e.cur = pos{row, indexAtColumn(e.wrap(row), e.lines[row], seg, e.goal)}
	e.scrollToCursor()
}

// Wrapping and the visible window.

// wrap returns the rune index where each wrapped row of line li starts.
func (e *editor) wrap(li int) []int {
	line := e.lines[li]
	starts := []int{0}
	col, rowW := 0, 0
	for i, r := range line {
		_, w := cell(r, col)
		if rowW > 0 && rowW+w > e.textWidth {
			starts = append(starts, i)
			rowW = 0
		}
		rowW += w
		col += w
	}
	return starts
}

// segmentOf finds the wrapped row holding rune index idx and the display
// column of idx within that row.
func segmentOf(starts []int, line []rune, idx int) (seg, col int) {
	seg = len(starts) - 1
	for seg > 0 && starts[seg] > idx {
		seg--
	}
	logical := 0
	for i := 0; i < idx && i < len(line); i++ {
		_, w := cell(line[i], logical)
		if i >= starts[seg] {
			col += w
		}
		logical += w
	}
	return seg, col
}

// indexAtColumn is the rune index in row seg closest to display column col.
func indexAtColumn(starts []int, line []rune, seg, col int) int {
	end := len(line)
	if seg+1 < len(starts) {
		end = starts[seg+1] - 1 // the next row starts at its own index
	}
	logical := 0
	for i := range starts[seg] {
		_, w := cell(line[i], logical)
		logical += w
	}
	at := 0
	for i := starts[seg]; i < end; i++ {
		_, w := cell(line[i], logical)
		if at+w > col {
			return i
		}
		at += w
		logical += w
	}
	return max(end, starts[seg])
}

// scrollToCursor moves the window the least that shows the cursor's row.
// It walks at most a screenful of rows, never the whole buffer.
func (e *editor) scrollToCursor() {
	if e.height <= 0 || e.textWidth <= 0 {
		return
	}
	seg, _ := segmentOf(e.wrap(e.cur.row), e.lines[e.cur.row], e.cur.col)
	if e.cur.row < e.top || (e.cur.row == e.top && seg < e.topSkip) {
		e.top, e.topSkip = e.cur.row, seg
		return
	}
	if e.cur.row-e.top < e.height {
		rows := len(e.wrap(e.top)) - e.topSkip
		for li := e.top + 1; li < e.cur.row; li++ {
			rows += len(e.wrap(li))
		}
		if e.cur.row > e.top {
			rows += seg + 1
		} else {
			rows = seg - e.topSkip + 1
		}
		if rows <= e.height {
			return
		}
	}
	// Put the cursor's row at the bottom: walk up a screenful.
	left := e.height - (seg + 1)
	if left < 0 {
		e.top, e.topSkip = e.cur.row, seg-e.height+1
		return
	}
	for li := e.cur.row - 1; li >= 0; li-- {
		n := len(e.wrap(li))
		if n > left {
			e.top, e.topSkip = li, n-left
			return
		}
		left -= n
	}
	e.top, e.topSkip = 0, 0
}

// rows renders the visible window: one entry per screen row, the cursor
// cell marked by cursorOn/cursorOff wrappers when show is set.
func (e *editor) rows(show bool, cursorOn, cursorOff string) []string {
	var out []string
	for li := e.top; li < len(e.lines) && len(out) < e.height; li++ {
		starts := e.wrap(li)
		line := e.lines[li]
		logical := 0
		for s := range starts {
			end := len(line)
			if s+1 < len(starts) {
				end = starts[s+1]
			}
			var b strings.Builder
			for i := starts[s]; i < end; i++ {
				text, w := cell(line[i], logical)
				logical += w
				if s < e.topSkipFor(li) {
					continue
				}
				if show && li == e.cur.row && i == e.cur.col {
					text = cursorOn + text + cursorOff
				}
				b.WriteString(text)
			}
			if s < e.topSkipFor(li) {
				continue
			}
			if show && li == e.cur.row && e.cur.col == len(line) && s == len(starts)-1 {
				b.WriteString(cursorOn + " " + cursorOff)
			}
			out = append(out, b.String())
			if len(out) == e.height {
				break
			}
		}
	}
	return out
}

func (e *editor) topSkipFor(li int) int {
	if li == e.top {
		return e.topSkip
	}
	return 0
}

// cell is how rune r is drawn at logical column col: tabs expand to the
// next stop of tabWidth, control characters show as ^X, C1 controls and
// bidirectional overrides become visible marks; all are kept in the text.
func cell(r rune, col int) (string, int) {
	switch {
	case r == '\t':
		n := tabWidth - col%tabWidth
		return strings.Repeat(" ", n), n
	case r < 0x20:
		return "^" + string(r+'@'), 2
	case r == 0x7f:
		return "^?", 2
	case r < 0x7f:
		return asciiCells[r], 1
	}
	s := diffview.Printable(string(r)) // C1 controls, bidi overrides
	return s, ansi.StringWidth(s)
}

// asciiCells saves a string allocation per printable ASCII rune drawn.
var asciiCells = func() (t [0x7f]string) {
	for r := range t {
		t[r] = string(rune(r))
	}
	return t
}()
