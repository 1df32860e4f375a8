package tui

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

func newTestInput(w, h, maxBytes int) *input {
	st := NewStyles(true)
	in := newInput(maxBytes, &st)
	in.setSize(w, h)
	in.focus()
	return &in
}

// keys sends key names ("left", "ctrl+w") or, for anything else, types it.
func keys(t *testing.T, in *input, names ...string) {
	t.Helper()
	for _, n := range names {
		k, known := namedKeys[n]
		if !known {
			k = tea.KeyPressMsg{Code: []rune(n)[0], Text: n}
		}
		if err := in.key(k); err != nil {
			t.Fatalf("key %q: %v", n, err)
		}
	}
}

var namedKeys = map[string]tea.KeyPressMsg{
	"left":      {Code: tea.KeyLeft},
	"right":     {Code: tea.KeyRight},
	"up":        {Code: tea.KeyUp},
	"down":      {Code: tea.KeyDown},
	"home":      {Code: tea.KeyHome},
	"end":       {Code: tea.KeyEnd},
	"backspace": {Code: tea.KeyBackspace},
	"delete":    {Code: tea.KeyDelete},
	"alt+enter": {Code: tea.KeyEnter, Mod: tea.ModAlt},
	"ctrl+j":    {Code: 'j', Mod: tea.ModCtrl},
	"ctrl+w":    {Code: 'w', Mod: tea.ModCtrl},
	"ctrl+u":    {Code: 'u', Mod: tea.ModCtrl},
	"ctrl+k":    {Code: 'k', Mod: tea.ModCtrl},
	"alt+b":     {Code: 'b', Mod: tea.ModAlt},
	"alt+f":     {Code: 'f', Mod: tea.ModAlt},
	"ctrl+home": {Code: tea.KeyHome, Mod: tea.ModCtrl},
	"ctrl+end":  {Code: tea.KeyEnd, Mod: tea.ModCtrl},
}

func TestPasteKeepsTabsAndNormalizesLineEndings(t *testing.T) {
	in := newTestInput(40, 5, 1<<20)
	paste := "a\tb\r\nc\rd\x1b[31m\u202eé世\n"
	if err := in.paste(paste); err != nil {
		t.Fatal(err)
	}
	want := "a\tb\nc\nd\x1b[31m\u202eé世\n"
	if got := in.value(); got != want {
		t.Fatalf("value = %q, want %q", got, want)
	}
	if in.ed.size != len(want) {
		t.Fatalf("size = %d, want %d", in.ed.size, len(want))
	}
	// Drawn safely: the tab as spaces, ESC as ^[, the override as a mark.
	plain := ansi.Strip(in.view())
	for _, w := range []string{"┃ a   b", "┃ d^[[31m<U+202E>é世"} {
		if !strings.Contains(plain, w) {
			t.Errorf("view lacks %q:\n%s", w, plain)
		}
	}
	if strings.Contains(strings.ReplaceAll(in.view(), cursorOn, ""), "\x1b[31m") {
		t.Error("a pasted escape sequence reached the terminal")
	}
}

func TestEditingKeys(t *testing.T) {
	in := newTestInput(40, 5, 1<<20)
	keys(t, in, "h", "e", "l", "l", "o", " ", "w", "o", "r", "l", "d")
	keys(t, in, "ctrl+w")
	if got := in.value(); got != "hello " {
		t.Fatalf("after ctrl+w: %q", got)
	}
	keys(t, in, "alt+enter", "x", "ctrl+j", "y")
	if got := in.value(); got != "hello \nx\ny" {
		t.Fatalf("after newlines: %q", got)
	}
	keys(t, in, "home", "backspace") // joins "y" onto "x"
	if got := in.value(); got != "hello \nxy" {
		t.Fatalf("backspace at line start: %q", got)
	}
	keys(t, in, "up", "end", "delete") // joins "xy" onto "hello "
	if got := in.value(); got != "hello xy" {
		t.Fatalf("delete at line end: %q", got)
	}
	keys(t, in, "end", "alt+b", "ctrl+k")
	if got := in.value(); got != "hello " {
		t.Fatalf("alt+b then ctrl+k: %q", got)
	}
	keys(t, in, "left", "left", "ctrl+u")
	if got := in.value(); got != "o " {
		t.Fatalf("ctrl+u: %q", got)
	}
	keys(t, in, "alt+f", "!")
	if got := in.value(); got != "o! " {
		t.Fatalf("alt+f then typing: %q", got)
	}
	keys(t, in, "ctrl+end", "backspace", "backspace", "backspace", "backspace") // one more than there is
	if got := in.value(); got != "" || in.ed.size != 0 {
		t.Fatalf("emptied buffer: %q (size %d)", got, in.ed.size)
	}
}

// The byte count is kept incrementally; it must always equal the value.
func TestSizeTracksValueUnderRandomEdits(t *testing.T) {
	in := newTestInput(12, 4, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	ops := []string{"left", "right", "up", "down", "home", "end", "backspace", "delete", "alt+enter", "ctrl+w", "ctrl+u", "ctrl+k", "alt+b", "alt+f", "ctrl+home", "ctrl+end"}
	texts := []string{"a", "é", "世", "\t", " ", "word"}
	for i := range 5000 {
		if rng.IntN(3) == 0 {
			keys(t, in, ops[rng.IntN(len(ops))])
		} else if err := in.paste(texts[rng.IntN(len(texts))]); err != nil {
			t.Fatal(err)
		}
		if v := in.value(); in.ed.size != len(v) {
			t.Fatalf("step %d: size %d, value is %d bytes", i, in.ed.size, len(v))
		}
		if c := in.ed.cur; c.row < 0 || c.row >= len(in.ed.lines) || c.col < 0 || c.col > len(in.ed.lines[c.row]) {
			t.Fatalf("step %d: cursor %+v outside the text", i, c)
		}
	}
}

func TestWrapKeepsRowsInWidthAndCursorVisible(t *testing.T) {
	in := newTestInput(12, 3, 1<<20) // 9 text cells per row
	if err := in.paste("0123456789abcdefghij\tX世界世界世界 end"); err != nil {
		t.Fatal(err)
	}
	rows := in.ed.rows(true, "[", "]")
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want the window's 3: %q", len(rows), rows)
	}
	for _, r := range rows {
		plain := strings.NewReplacer("[", "", "]", "").Replace(r)
		if w := ansi.StringWidth(plain); w > 10 { // 9 text cells + the end-of-line cursor
			t.Errorf("row %q is %d cells wide", r, w)
		}
	}
	if last := rows[len(rows)-1]; !strings.HasSuffix(last, "[ ]") {
		t.Fatalf("cursor at the end is not on the last visible row: %q", rows)
	}
	keys(t, in, "ctrl+home")
	if first := in.ed.rows(true, "[", "]")[0]; first != "[0]12345678" {
		t.Fatalf("after ctrl+home the first row is %q", first)
	}
	keys(t, in, "down", "right")
	if in.ed.cur != (pos{0, 10}) {
		t.Fatalf("down then right from the start: cursor %+v, want {0 10}", in.ed.cur)
	}
}

func TestBigPasteScrollsToCursor(t *testing.T) {
	in := newTestInput(40, 4, 1<<20)
	var b strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&b, "+line %d\n", i)
	}
	if err := in.paste(b.String()); err != nil {
		t.Fatal(err)
	}
	rows := in.ed.rows(false, "", "")
	if rows[len(rows)-2] != "+line 9999" {
		t.Fatalf("window after the paste: %q", rows)
	}
	keys(t, in, "ctrl+home")
	if rows := in.ed.rows(false, "", ""); rows[0] != "+line 0" {
		t.Fatalf("window after ctrl+home: %q", rows)
	}
}

func TestTypingOverLimitKeepsText(t *testing.T) {
	in := newTestInput(40, 4, 5)
	keys(t, in, "a", "b", "c", "d", "e")
	if err := in.key(tea.KeyPressMsg{Code: 'f', Text: "f"}); err == nil {
		t.Fatal("typing past the limit was accepted")
	}
	if err := in.paste("xyz"); err == nil {
		t.Fatal("pasting past the limit was accepted")
	}
	if in.value() != "abcde" {
		t.Fatalf("value = %q, want abcde untouched", in.value())
	}
}
