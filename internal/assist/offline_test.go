package assist

import (
	"errors"
	"strings"
	"testing"
)

// A small real diff, as git diff prints it.
const helloDiff = `diff --git a/main.go b/main.go
index 3b18e51..a0f6fb4 100644
--- a/main.go
+++ b/main.go
@@ -1,5 +1,5 @@
 package main
 
 func main() {
-	println("hello")
+	println("hello, world")
 }
`

const twoFileDiff = `diff --git a/a.go b/a.go
--- a/a.go
+++ b/a.go
@@ -1 +1 @@
-package a
+package alpha
diff --git a/docs/new.md b/docs/new.md
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/docs/new.md
@@ -0,0 +1,2 @@
+# New
+text
\ No newline at end of file
`

func TestParseDiffs(t *testing.T) {
	cases := []struct {
		name, in, diff, title string
	}{
		{"raw git diff with prose around", "Say hello to the world.\n\n" + helloDiff + "\nThanks!\n",
			helloDiff, "Say hello to the world."},
		{"raw diff only", helloDiff, helloDiff, "Apply pasted diff to main.go"},
		{"raw diff without trailing newline", strings.TrimSuffix(helloDiff, "\n"), helloDiff, "Apply pasted diff to main.go"},
		{"fenced diff", "Greeting fix:\n```diff\n" + helloDiff + "```\nand more prose\n", helloDiff, "Greeting fix:"},
		{"fenced patch, indented fence, tilde", "~~~patch\n" + helloDiff + "~~~\n", helloDiff, "Apply pasted diff to main.go"},
		{"unclosed fence", "```diff\n" + helloDiff, helloDiff, "Apply pasted diff to main.go"},
		{"unlabelled fence holding a diff", "```\n" + helloDiff + "```\n", helloDiff, "Apply pasted diff to main.go"},
		{"CRLF", strings.ReplaceAll("Fix it\n"+helloDiff, "\n", "\r\n"), helloDiff, "Fix it"},
		{"lone CR", strings.ReplaceAll(helloDiff, "\n", "\r"), helloDiff, "Apply pasted diff to main.go"},
		{"bracketed paste remnants", "\x1b[200~" + helloDiff + "\x1b[201~", helloDiff, "Apply pasted diff to main.go"},
		{"bare bracketed paste remnants", "[200~" + helloDiff + "[201~", helloDiff, "Apply pasted diff to main.go"},
		{"two files, new file, no newline marker", twoFileDiff, twoFileDiff, "Apply pasted diff to a.go"},
		{"two fenced diffs", "```diff\n" + helloDiff + "```\ntext between\n```diff\n" + twoFileDiff + "```\n",
			helloDiff + twoFileDiff, "text between"},
		{"plain diff -u without git header", "diff -u a/x.txt b/x.txt\n--- a/x.txt\t2026-01-01 10:00:00\n+++ b/x.txt\t2026-01-02 10:00:00\n@@ -1,2 +1,2 @@\n-a\n+b\n c\n",
			"diff -u a/x.txt b/x.txt\n--- a/x.txt\t2026-01-01 10:00:00\n+++ b/x.txt\t2026-01-02 10:00:00\n@@ -1,2 +1,2 @@\n-a\n+b\n c\n", "Apply pasted diff to x.txt"},
		{"deleted file", "--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n", "--- a/old.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n", "Apply pasted diff to old.txt"},
		{"context line whose space was trimmed", "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n\nprose after\n",
			"--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n", "prose after"},
		{"rename without hunks", "diff --git a/x b/y\nsimilarity index 100%\nrename from x\nrename to y\n",
			"diff --git a/x b/y\nsimilarity index 100%\nrename from x\nrename to y\n", "Apply pasted diff to y"},
		{"format-patch mail", "From 1234 Mon Sep 17 00:00:00 2001\nSubject: [PATCH 1/1] Greet the world\n---\n main.go | 2 +-\n\n" + helloDiff + "-- \n2.39.5\n",
			helloDiff, "Greet the world"},
		{"rule lines are not titles", "---\n***\n" + helloDiff, helloDiff, "Apply pasted diff to main.go"},
		{"markdown heading as title", "## Make it friendlier\n" + helloDiff, helloDiff, "Make it friendlier"},
		{"long title", strings.Repeat("word ", 30) + "\n" + helloDiff, helloDiff,
			strings.TrimSpace(strings.Repeat("word ", 14)) + "…"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != KindDiff {
				t.Fatalf("kind %q, want diff", got.Kind)
			}
			if got.Diff != c.diff {
				t.Errorf("diff:\n%q\nwant\n%q", got.Diff, c.diff)
			}
			if got.Title != c.title {
				t.Errorf("title %q, want %q", got.Title, c.title)
			}
			if n := len([]rune(got.Title)); n > maxTitle {
				t.Errorf("title has %d characters", n)
			}
		})
	}
}

func TestParseEdits(t *testing.T) {
	block := func(path, search, replace string) string {
		return path + "\n<<<<<<< SEARCH\n" + search + "=======\n" + replace + ">>>>>>> REPLACE\n"
	}
	cases := []struct {
		name  string
		in    string
		edits []Edit
		title string
	}{
		{"one block", block("main.go", "a\n", "b\n"),
			[]Edit{{"main.go", "a\n", "b\n"}}, "Edit main.go"},
		{"prose, backticks, fence after path", "Rename the thing.\n\n`pkg/x y.go`\n```go\n<<<<<<< SEARCH\nold()\n=======\nnew()\n>>>>>>> REPLACE\n```\nDone.\n",
			[]Edit{{"pkg/x y.go", "old()\n", "new()\n"}}, "Rename the thing."},
		{"fence before path", "```\nmain.go\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\n",
			[]Edit{{"main.go", "a\n", "b\n"}}, "Edit main.go"},
		{"decorated path", "### **internal/x.go**:\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n",
			[]Edit{{"internal/x.go", "a\n", "b\n"}}, "Edit internal/x.go"},
		{"several blocks and files", block("a.go", "1\n", "2\n") + "\nthen\n\n" + block("b.go", "3\n", "4\n"),
			[]Edit{{"a.go", "1\n", "2\n"}, {"b.go", "3\n", "4\n"}}, "then"},
		{"adjacent block reuses the path", "a.go\n<<<<<<< SEARCH\n1\n=======\n2\n>>>>>>> REPLACE\n<<<<<<< SEARCH\n3\n=======\n4\n>>>>>>> REPLACE\n",
			[]Edit{{"a.go", "1\n", "2\n"}, {"a.go", "3\n", "4\n"}}, "Edit a.go"},
		{"new file", block("docs/new.md", "", "# New\n"), []Edit{{"docs/new.md", "", "# New\n"}}, "Edit docs/new.md"},
		{"delete lines", block("a.go", "x\ny\n", ""), []Edit{{"a.go", "x\ny\n", ""}}, "Edit a.go"},
		{"CRLF", strings.ReplaceAll(block("a.go", "1\n", "2\n"), "\n", "\r\n"), []Edit{{"a.go", "1\n", "2\n"}}, "Edit a.go"},
		{"tabs kept", block("a.go", "\tx := 1\n", "\tx := 2\n"), []Edit{{"a.go", "\tx := 1\n", "\tx := 2\n"}}, "Edit a.go"},
		{"content with fences, a diff and a divider", block("README.md", "```sh\ndiff --git a/x b/x\n```\n", "=======\n```\n"),
			[]Edit{{"README.md", "```sh\ndiff --git a/x b/x\n```\n", "=======\n```\n"}}, "Edit README.md"},
		{"longer markers", "a.go\n<<<<<<<<< SEARCH\n1\n=========\n2\n>>>>>>>>> REPLACE\n", []Edit{{"a.go", "1\n", "2\n"}}, "Edit a.go"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != KindEdits {
				t.Fatalf("kind %q, want edits", got.Kind)
			}
			if len(got.Edits) != len(c.edits) {
				t.Fatalf("edits %+v, want %+v", got.Edits, c.edits)
			}
			for i := range c.edits {
				if got.Edits[i] != c.edits[i] {
					t.Errorf("edit %d: %+v, want %+v", i, got.Edits[i], c.edits[i])
				}
			}
			if got.Title != c.title {
				t.Errorf("title %q, want %q", got.Title, c.title)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	cases := []struct {
		name, in string
		is       error
		want     string
	}{
		{"missing divider", "a.go\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n", ErrMalformedBlock,
			"block 1 (a.go, line 2) is missing its ======= divider before >>>>>>> REPLACE at line 4"},
		{"missing end", "a.go\n<<<<<<< SEARCH\nx\n=======\ny\n", ErrMalformedBlock,
			"block 1 (a.go, line 2) is missing its >>>>>>> REPLACE end after the ======= at line 4"},
		{"missing both", "a.go\n<<<<<<< SEARCH\nx\n", ErrMalformedBlock, "block 1 (a.go, line 2) is missing its ======= divider and its >>>>>>> REPLACE end"},
		{"second block missing end", "a.go\n<<<<<<< SEARCH\n1\n=======\n2\n>>>>>>> REPLACE\nb.go\n<<<<<<< SEARCH\n3\n=======\n4\nc.go\n<<<<<<< SEARCH\n5\n=======\n6\n>>>>>>> REPLACE\n",
			ErrMalformedBlock, "block 2 (b.go, line 8) is missing its >>>>>>> REPLACE end: another <<<<<<< SEARCH starts at line 13"},
		{"no path", "<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", ErrMalformedBlock,
			"block 1 (line 1) has no file path: put the file's path alone on the line before <<<<<<< SEARCH"},
		{"prose instead of a path", "Change this in main.go:\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", ErrMalformedBlock,
			`block 1 (line 2) has no file path: line 1 ("Change this in main.go:") is not a path`},
		{"blank line before the block", "a.go\n\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", ErrMalformedBlock, "block 1 (line 3) has no file path"},
		{"stray end marker", "text\n>>>>>>> REPLACE\n", ErrMalformedBlock, "line 2 has >>>>>>> REPLACE with no <<<<<<< SEARCH before it"},
		{"diff fence without a diff", "```diff\nnot a diff\n```\n", ErrMalformedDiff, "the ```diff fence at line 1 holds no diff"},
		{"hunk shorter than its header", "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+c\nThanks\n", ErrMalformedDiff,
			"line 7 does not fit the hunk that starts at line 3 (@@ -1,3 +1,3 @@), which still expects 1 old and 1 new lines"},
		{"hunk longer than its header", "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-b\n+c\n+d\n", ErrMalformedDiff,
			"line 6 looks like part of the diff, but the diff ended at line 5: the @@ line counts are too small"},
		{"fenced hunk longer than its header", "```diff\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-b\n+c\n+d\n```\n", ErrMalformedDiff,
			"line 7, inside the fence, is not part of the diff that ends at line 6"},
		{"diff cut short", "```diff\n--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n```\n", ErrMalformedDiff,
			"the diff ends inside the hunk at line 4, 2 old and 2 new lines short"},
		{"header only in a diff fence", "```diff\ndiff --git a/f b/f\n```\n", ErrMalformedDiff, "has a diff header but no changes under it"},
		{"bad hunk header", "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -x +1 @@\n", ErrMalformedDiff, `line 4, "@@ -x +1 @@", is not a hunk header`},
		{"diff and blocks", helloDiff + "\na.go\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", ErrMixedChange, "send the diff and the blocks in separate messages"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.in)
			if err == nil {
				t.Fatalf("no error; parsed %+v", got)
			}
			if !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\n does not contain %q", err, c.want)
			}
		})
	}
}

func TestParseNone(t *testing.T) {
	for _, in := range []string{
		"",
		"Can you make the greeting friendlier?",
		"Here is some code:\n```go\nfunc main() {}\n```\n",
		"A go block quoting a diff is not a change:\n```go\n" + helloDiff + "```\n",
		"Title\n=======\n\nsetext headings are prose",
		"- a list\n+ another\n--- not a diff\n",
		"diff --git is how you compare\nand then?",
	} {
		got, err := Parse(in)
		if err != nil || got.Kind != KindNone {
			t.Errorf("Parse(%q) = %+v, %v; want kind none", in, got, err)
		}
	}
}

func TestNormalize(t *testing.T) {
	cases := map[string]string{
		"a\r\nb\rc\n":                "a\nb\nc\n",
		"\tx\r\n":                    "\tx\n",
		"\x1b[200~pasted\x1b[201~":   "pasted",
		"[200~pasted\n[201~\n":       "pasted\n",
		"\ufeffbom":                  "bom",
		"keep [200~ in the middle\n": "keep [200~ in the middle\n",
	}
	for in, want := range cases {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOfflineReply(t *testing.T) {
	reply := OfflineReply("what can you do?")
	for _, want := range []string{"unified diff", "```diff", "<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE",
		"empty SEARCH part creates a new file", "model providers are not configured; see docs/configuration.md"} {
		if !strings.Contains(strings.ToLower(reply), strings.ToLower(want)) {
			t.Errorf("reply does not mention %q:\n%s", want, reply)
		}
	}
	if strings.Contains(reply, "code block in your message") {
		t.Error("reply talks about a code block the message does not have")
	}
	if r := OfflineReply("```go\nx := 1\n```"); !strings.Contains(r, "code block in your message is neither a diff") {
		t.Errorf("reply to a code block does not say why nothing changed:\n%s", r)
	}
	// The block format the reply shows must itself parse as an edit.
	example := strings.ReplaceAll(blockExample, "    ", "")
	if c, err := Parse(example); err != nil || c.Kind != KindEdits || c.Edits[0].Path != "path/to/file.go" {
		t.Errorf("the reply's example does not parse: %+v %v", c, err)
	}
}

// A 1 MiB pasted diff (the default paste limit) parses in one pass.
func BenchmarkParseLargeDiff(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("Big change\n")
	for f := 0; sb.Len() < 1<<20; f++ {
		sb.WriteString("diff --git a/f" + string(rune('a'+f%26)) + ".go b/f.go\n--- a/f.go\n+++ b/f.go\n@@ -1,40 +1,40 @@\n")
		for range 40 {
			sb.WriteString("-\told := computeSomething(alpha, beta, gamma)\n+\tnew := computeSomething(alpha, beta, delta)\n")
		}
	}
	msg := sb.String()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if c, err := Parse(msg); err != nil || c.Kind != KindDiff {
			b.Fatal(c.Kind, err)
		}
	}
}
