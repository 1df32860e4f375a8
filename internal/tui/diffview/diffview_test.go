package diffview

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

const twoFiles = `diff --git a/main.go b/main.go
index 1111111..2222222 100644
--- a/main.go
+++ b/main.go
@@ -1,4 +1,4 @@
 package main
-import "fmt"
+import "log"
 func main() {
@@ -10,2 +10,3 @@ func main() {
 	x := 1
+	y := 2
 }
diff --git a/README.md b/README.md
new file mode 100644
--- /dev/null
+++ b/README.md
@@ -0,0 +1 @@
+# Demo
\ No newline at end of file
`

func TestClassify(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(twoFiles, "\n"), "\n")
	kinds, files := classify(lines)
	want := []kind{
		kindFile, kindMeta, kindMeta, kindMeta, kindHunk, kindContext, kindDel, kindAdd, kindContext,
		kindHunk, kindContext, kindAdd, kindContext,
		kindFile, kindMeta, kindMeta, kindMeta, kindHunk, kindAdd, kindNoEOL,
	}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("kinds:\n got %v\nwant %v", kinds, want)
	}
	if fmt.Sprint(files) != "[0 13]" {
		t.Fatalf("file starts = %v, want [0 13]", files)
	}
}

// A removed line "-- x" and an added line "++ y" read as "--- x" / "+++ y":
// the hunk counts must keep them from starting a new file.
func TestClassifyHunkLinesThatLookLikeHeaders(t *testing.T) {
	diff := "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n--- x\n+++ y\n keep\n"
	lines := strings.Split(strings.TrimSuffix(diff, "\n"), "\n")
	kinds, files := classify(lines)
	want := []kind{kindFile, kindMeta, kindHunk, kindDel, kindAdd, kindContext}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("kinds:\n got %v\nwant %v", kinds, want)
	}
	if len(files) != 1 {
		t.Fatalf("files = %v, want one (a plain diff without a diff line)", files)
	}
}

// Pasted diffs often carry wrong counts: the extra lines are still colored,
// and a following plain header still starts a file.
func TestClassifyWrongCounts(t *testing.T) {
	diff := "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n+c\n--- a/g\n+++ b/g\n@@ -1 +1 @@\n-x\n+y\n\nthanks\n"
	lines := strings.Split(strings.TrimSuffix(diff, "\n"), "\n")
	kinds, files := classify(lines)
	want := []kind{kindFile, kindMeta, kindHunk, kindDel, kindAdd, kindAdd, kindFile, kindMeta, kindHunk, kindDel, kindAdd, kindOther, kindOther}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("kinds:\n got %v\nwant %v", kinds, want)
	}
	if fmt.Sprint(files) != "[0 6]" {
		t.Fatalf("file starts = %v, want [0 6]", files)
	}
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"\tx", "    x"},
		{"ab\tc", "ab  c"},
		{"+\tx", "+   x"},
		{"a\x1b[31mred", "a^[[31mred"},
		{"bell\a", "bell^G"},
		{"del\x7f", "del^?"},
		{"crlf\r", "crlf^M"},
		{"c1\u009bx", "c1\ufffdx"},
		{"bad\xffutf8", "bad\ufffdutf8"},
		{"if admin \u202e{", "if admin <U+202E>{"},
		{"wide 世\tx", "wide 世 x"}, // 世 is two cells: the tab stop is one away
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func newView(diff string, w, h int) *Model {
	m := New()
	m.SetContent(diff)
	m.SetSize(w, h)
	return &m
}

func TestViewSizeAndTruncation(t *testing.T) {
	long := "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-" + strings.Repeat("x", 200) + "\n+\ty\x1b]0;pwned\a\n"
	m := newView(long, 30, 8)
	rows := strings.Split(m.View(), "\n")
	if len(rows) != 8 {
		t.Fatalf("got %d rows, want 8", len(rows))
	}
	for i, r := range rows {
		if w := ansi.StringWidth(r); w > 30 {
			t.Errorf("row %d is %d cells wide, want <= 30: %q", i, w, r)
		}
		if strings.Contains(ansi.Strip(r), "\x1b") || strings.ContainsAny(ansi.Strip(r), "\a\t") {
			t.Errorf("row %d leaks a control character: %q", i, r)
		}
	}
	plain := ansi.Strip(m.View())
	if !strings.Contains(plain, "-"+strings.Repeat("x", 28)+"…") {
		t.Errorf("long line not truncated with an ellipsis:\n%s", plain)
	}
	if !strings.Contains(plain, "+   y^[]0;pwned^G") {
		t.Errorf("tab not expanded or control not made visible:\n%s", plain)
	}
}

func TestScrollAndFiles(t *testing.T) {
	m := newView(twoFiles, 40, 6) // 5 diff rows + the indicator
	if line, lines, file, files := m.Position(); line != 1 || lines != 20 || file != 1 || files != 2 {
		t.Fatalf("start position = %d/%d file %d/%d", line, lines, file, files)
	}
	m.NextFile()
	if line, _, file, _ := m.Position(); line != 14 || file != 2 {
		t.Fatalf("after NextFile: line %d file %d, want 14 and 2", line, file)
	}
	if first := ansi.Strip(strings.Split(m.View(), "\n")[0]); !strings.HasPrefix(first, "diff --git a/README.md") {
		t.Fatalf("top row after NextFile = %q", first)
	}
	m.NextFile() // no further file: stays
	if line, _, _, _ := m.Position(); line != 14 {
		t.Fatalf("NextFile past the last file moved to line %d", line)
	}
	m.PrevFile()
	if line, _, file, _ := m.Position(); line != 1 || file != 1 {
		t.Fatalf("after PrevFile: line %d file %d, want 1 and 1", line, file)
	}
	m.Bottom()
	if line, _, _, _ := m.Position(); line != 16 { // 20 lines, 5 visible
		t.Fatalf("Bottom: top line %d, want 16", line)
	}
	m.ScrollDown(100)
	if line, _, _, _ := m.Position(); line != 16 {
		t.Fatalf("ScrollDown past the end: top line %d, want 16", line)
	}
	m.ScrollUp(3)
	if line, _, _, _ := m.Position(); line != 13 {
		t.Fatalf("ScrollUp(3): top line %d, want 13", line)
	}
	if ind := ansi.Strip(lastRow(m.View())); ind != "line 13/20  file 1/2  3 more below" {
		t.Fatalf("indicator = %q", ind)
	}
	m.Top()
	if line, _, _, _ := m.Position(); line != 1 {
		t.Fatalf("Top: line %d", line)
	}
}

func TestSetContentKeepsPositionOnlyForSameDiff(t *testing.T) {
	m := newView(twoFiles, 40, 6)
	m.ScrollDown(4)
	m.SetContent(twoFiles)
	if line, _, _, _ := m.Position(); line != 5 {
		t.Fatalf("same diff again moved the view to line %d, want 5", line)
	}
	m.SetContent(twoFiles + "diff --git a/x b/x\n")
	if line, _, _, _ := m.Position(); line != 1 {
		t.Fatalf("a new diff kept line %d, want 1", line)
	}
}

func TestWidthChangeRestylesLines(t *testing.T) {
	diff := "@@ -1 +1 @@\n-" + strings.Repeat("a", 50) + "\n+b\n"
	m := newView(diff, 20, 4)
	narrow := m.View()
	m.SetSize(40, 4)
	wide := m.View()
	if narrow == wide {
		t.Fatal("the view did not change when the width grew: memoized lines were not invalidated")
	}
	if !strings.Contains(ansi.Strip(wide), "-"+strings.Repeat("a", 38)+"…") {
		t.Fatalf("wide view not re-truncated at 40:\n%s", ansi.Strip(wide))
	}
}

func TestEmptyAndTinySizes(t *testing.T) {
	m := newView("", 20, 3)
	if got := ansi.Strip(m.View()); got != "no changes\n\nline 0/0" {
		t.Fatalf("empty view = %q", got)
	}
	m = newView(twoFiles, 0, 5)
	if m.View() != "" {
		t.Fatal("zero width must render nothing")
	}
	m = newView(twoFiles, 20, 1) // no room for the indicator
	if rows := strings.Split(m.View(), "\n"); len(rows) != 1 {
		t.Fatalf("height 1 rendered %d rows", len(rows))
	}
}

func TestGoldenColored(t *testing.T) {
	m := newView(twoFiles, 50, 14)
	golden.RequireEqual(t, m.View())
}

func lastRow(s string) string {
	rows := strings.Split(s, "\n")
	return rows[len(rows)-1]
}
