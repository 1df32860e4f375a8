package sandbox

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestAdmitRefusesPathEscapes(t *testing.T) {
	for _, tc := range []struct{ path, rule string }{
		{"../x", "dot-dot"},
		{"a/../../x", "dot-dot"},
		{"a/./b", "path"},
		{".git/hooks/pre-commit", "dot-git"},
		{".GIT/config", "dot-git"},
		{".git./config", "dot-git"},
		{".git . /config", "dot-git"},
		{"sub/.Git/x", "dot-git"},
		{"GIT~1/config", "dot-git"},
		{".git::$INDEX_ALLOCATION/config", "dot-git"},
		{".g\u200cit/config", "dot-git"}, // HFS+ ignores U+200C
		{"\ufeff.git/config", "dot-git"},
		{"evil\x1b[31mname", "path"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			diff := newFileDiff(tc.path)
			if strings.ContainsAny(tc.path, "\x1b\u200c\ufeff") {
				q := fmt.Sprintf("%q", "b/"+tc.path) // git quotes such names
				diff = "diff --git " + fmt.Sprintf("%q", "a/"+tc.path) + " " + q + "\nnew file mode 100644\n--- /dev/null\n+++ " + q + "\n@@ -0,0 +1 @@\n+pwned\n"
			}
			_, err := Admit([]byte(diff), Limits{})
			var rej *Rejection
			if !errors.As(err, &rej) || rej.Rule != tc.rule {
				t.Fatalf("Admit(%q) = %v, want rule %s", tc.path, err, tc.rule)
			}
			if !strings.HasPrefix(err.Error(), "patch refused ("+tc.rule+"): ") {
				t.Errorf("message %q", err)
			}
		})
	}
}

func TestAdmitRefusesAbsolutePaths(t *testing.T) {
	// Only the traditional format can name an absolute path: go-gitdiff
	// and git both squash "a//etc/x" in a git header to "etc/x".
	diff := "--- /etc/x\n+++ /etc/x\n@@ -1 +1 @@\n-a\n+b\n"
	_, err := Admit([]byte(diff), Limits{})
	var rej *Rejection
	if !errors.As(err, &rej) || rej.Rule != "absolute-path" || rej.Path != "/etc/x" {
		t.Fatalf("err = %v", err)
	}
	if err.Error() != "patch refused (absolute-path): /etc/x: paths must be relative to the repository" {
		t.Errorf("message %q", err)
	}
}

func TestAdmitAcceptsOrdinaryPaths(t *testing.T) {
	for _, p := range []string{"a.go", "dir/.gitignore", ".github/workflows/ci.yml", "docs/git~2.md", ".gitattributes", "x/.git-foo/y", "über/ß.txt"} {
		files, err := Admit([]byte(newFileDiff(p)), Limits{})
		if err != nil || !slices.Equal(files, []string{p}) {
			t.Errorf("Admit(%q) = %v, %v", p, files, err)
		}
	}
}

func TestAdmitModesAndBinary(t *testing.T) {
	symlink := "diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+/etc/passwd\n\\ No newline at end of file\n"
	modifySymlink := "diff --git a/l b/l\nindex 1111111..2222222 120000\n--- a/l\n+++ b/l\n@@ -1 +1 @@\n-x\n+/etc\n"
	gitlink := "diff --git a/sub b/sub\nnew file mode 160000\nindex 0000000..1111111\n--- /dev/null\n+++ b/sub\n@@ -0,0 +1 @@\n+Subproject commit 1111111111111111111111111111111111111111\n"
	binary := "diff --git a/b.bin b/b.bin\nnew file mode 100644\nindex 0000000..e69de29\nGIT binary patch\nliteral 3\nKcmZQzWB>pF00031\n\nliteral 0\nHcmV?d00001\n\n"
	for _, tc := range []struct {
		name, diff, rule string
		lim              Limits
	}{
		{"new symlink", symlink, "symlink", Limits{}},
		{"symlink allowed", symlink, "", Limits{AllowSymlinks: true}},
		{"modified symlink", modifySymlink, "symlink", Limits{}},
		{"gitlink", gitlink, "gitlink", Limits{AllowSymlinks: true, AllowBinary: true}},
		{"binary", binary, "binary", Limits{}},
		{"binary allowed", binary, "", Limits{AllowBinary: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Admit([]byte(tc.diff), tc.lim)
			var rej *Rejection
			switch {
			case tc.rule == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.rule != "" && (!errors.As(err, &rej) || rej.Rule != tc.rule):
				t.Fatalf("err = %v, want rule %s", err, tc.rule)
			}
		})
	}
}

func TestAdmitLimits(t *testing.T) {
	var many strings.Builder
	for i := range 5 {
		many.WriteString(newFileDiff(fmt.Sprintf("f%d.txt", i)))
	}
	long := "diff --git a/big b/big\nnew file mode 100644\n--- /dev/null\n+++ b/big\n@@ -0,0 +1,50 @@\n" + strings.Repeat("+line\n", 50)
	for _, tc := range []struct {
		name, diff, rule string
		lim              Limits
	}{
		{"bytes", many.String(), "size", Limits{MaxPatchBytes: 100}},
		{"files", many.String(), "files", Limits{MaxFiles: 4}},
		{"lines", long, "lines", Limits{MaxLines: 49}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Admit([]byte(tc.diff), tc.lim)
			var rej *Rejection
			if !errors.As(err, &rej) || rej.Rule != tc.rule {
				t.Fatalf("err = %v, want rule %s", err, tc.rule)
			}
			if _, err := Admit([]byte(tc.diff), Limits{}); err != nil {
				t.Errorf("the defaults refuse it too: %v", err)
			}
		})
	}
}

func TestAdmitEmptyAndMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, diff string
		want       error
	}{
		{"empty", "", ErrEmptyPatch},
		{"blank", " \n\t\n", ErrEmptyPatch},
		{"prose", "please make the greeting friendlier\n", ErrMalformedPatch},
		{"bad hunk", "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n-a\n+b\n", ErrMalformedPatch},
		{"bad header", "diff --git a/x b/x\nnew file mode 10x644\n", ErrMalformedPatch},
		{"crlf", strings.ReplaceAll(greetDiff, "\n", "\r\n"), ErrMalformedPatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Admit([]byte(tc.diff), Limits{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAdmitListsFiles(t *testing.T) {
	rename := "diff --git a/old.go b/new.go\nsimilarity index 90%\nrename from old.go\nrename to new.go\n"
	traditional := "--- a/greet.go\t2024-01-01\n+++ b/greet.go\t2024-01-02\n@@ -1 +1 @@\n-a\n+b\n"
	for _, tc := range []struct {
		diff string
		want []string
	}{
		{rename + greetDiff, []string{"greet.go", "new.go", "old.go"}},
		{traditional, []string{"greet.go"}},
	} {
		files, err := Admit([]byte(tc.diff), Limits{})
		if err != nil || !slices.Equal(files, tc.want) {
			t.Errorf("Admit = %v, %v; want %v", files, err, tc.want)
		}
	}
}
