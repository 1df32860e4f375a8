package diffview

import (
	"fmt"
	"strings"
	"testing"
)

// syntheticDiff builds a git diff of about n lines spread over files of
// 200 lines each, with adds, deletes, context and tabs.
func syntheticDiff(n int) string {
	var b strings.Builder
	lines := 0
	for f := 0; lines < n; f++ {
		fmt.Fprintf(&b, "diff --git a/pkg/file%d.go b/pkg/file%d.go\nindex 0123456..89abcde 100644\n--- a/pkg/file%d.go\n+++ b/pkg/file%d.go\n", f, f, f, f)
		lines += 4
		for h := 0; h < 8 && lines < n; h++ {
			fmt.Fprintf(&b, "@@ -%d,24 +%d,24 @@ func handler%d(w http.ResponseWriter, r *http.Request) {\n", h*30+1, h*30+1, h)
			lines++
			for i := 0; i < 24 && lines < n; i++ {
				switch i % 6 {
				case 2:
					fmt.Fprintf(&b, "-\tif err := validate(r, %d); err != nil { return fmt.Errorf(\"validate request: %%w\", err) }\n", i)
				case 3:
					fmt.Fprintf(&b, "+\tif err := validateRequest(ctx, r, %d); err != nil { return fmt.Errorf(\"validate request: %%w\", err) }\n", i)
				default:
					fmt.Fprintf(&b, " \tlog.Printf(\"handling %%s line %d of the request\", r.URL.Path)\n", i)
				}
				lines++
			}
		}
	}
	return b.String()
}

func benchScroll(b *testing.B, n int) {
	m := New()
	m.SetContent(syntheticDiff(n))
	m.SetSize(120, 40)
	_ = m.View()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.ScrollDown(1)
		if line, lines, _, _ := m.Position(); line+m.PageSize() > lines {
			m.Top()
		}
		_ = m.View()
	}
}

// BenchmarkScroll20k scrolls one line and renders a frame of a 20,000-line
// diff; compare with BenchmarkScroll20Lines: the ratio should stay near 1.
func BenchmarkScroll20k(b *testing.B) { benchScroll(b, 20000) }

// BenchmarkScroll20Lines is the baseline: the same frame on a 20-line diff.
func BenchmarkScroll20Lines(b *testing.B) { benchScroll(b, 20) }

// BenchmarkSetContent20k is the one-time cost of showing a new diff.
func BenchmarkSetContent20k(b *testing.B) {
	diff := syntheticDiff(20000)
	b.ReportAllocs()
	for b.Loop() {
		m := New()
		m.SetContent(diff)
		m.SetSize(120, 40)
		_ = m.View()
	}
}
