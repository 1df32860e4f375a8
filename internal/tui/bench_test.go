package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// BenchmarkTypeAfterBigPaste is one keystroke plus one frame with a
// 9,000-line diff pasted in the input.
func BenchmarkTypeAfterBigPaste(b *testing.B) {
	svc := newFakeService("demo")
	m := New(svc, Options{Actor: "ada", Context: b.Context()}).(*model)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m.Update(tea.PasteMsg{Content: strings.Repeat("+\tif err := validate(r); err != nil { return err }\n", 9000)})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Update(tea.KeyPressMsg{Code: 'a', Text: "a"})
		_ = m.View()
	}
}
