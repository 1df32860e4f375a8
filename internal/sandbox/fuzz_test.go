package sandbox

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// FuzzAdmit: parsing and admission never panic, and whatever Admit lets
// through names only paths inside the repository: no absolute path, no
// "..", nothing in .git, no symlink or gitlink mode, no binary hunk.
// CI runs it for a bounded time (.ci/run):
//
//	go test -run '^$' -fuzz FuzzAdmit -fuzztime 20s ./internal/sandbox/
func FuzzAdmit(f *testing.F) {
	for _, seed := range []string{
		greetDiff,
		newFileDiff("../x"),
		newFileDiff(".git/hooks/pre-commit"),
		newFileDiff("GIT~1/config"),
		symlinkDiff("l", ".."),
		"--- /etc/x\n+++ /etc/x\n@@ -1 +1 @@\n-a\n+b\n",
		"diff --git a/old.go b/new.go\nsimilarity index 90%\nrename from old.go\nrename to ../new.go\n",
		"diff --git \"a/\\303\\274.txt\" \"b/.g\\342\\200\\214it/x\"\nnew file mode 100644\n--- /dev/null\n+++ \"b/.g\\342\\200\\214it/x\"\n@@ -0,0 +1 @@\n+x\n",
		"diff --git a/sub b/sub\nnew file mode 160000\n--- /dev/null\n+++ b/sub\n@@ -0,0 +1 @@\n+Subproject commit 1111111111111111111111111111111111111111\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, diff []byte) {
		files, err := Admit(diff, Limits{})
		if err != nil {
			var rej *Rejection
			if !errors.As(err, &rej) && !errors.Is(err, ErrEmptyPatch) && !errors.Is(err, ErrMalformedPatch) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, name := range files {
			if r := checkPath(name); r != nil {
				t.Fatalf("admitted a bad path %q: %v", name, r)
			}
		}
		parsed, _, perr := gitdiff.Parse(bytes.NewReader(diff))
		if perr != nil {
			t.Fatalf("admitted a diff that does not parse: %v", perr)
		}
		for _, file := range parsed {
			for _, name := range []string{file.OldName, file.NewName} {
				if strings.HasPrefix(name, "/") || strings.Contains("/"+name+"/", "/../") {
					t.Fatalf("admitted %q", name)
				}
			}
			for _, mode := range []uint32{uint32(file.OldMode), uint32(file.NewMode)} {
				if m := mode & modeTypeMask; m == modeSymlink || m == modeGitlink {
					t.Fatalf("admitted mode %o for %q", mode, file.NewName)
				}
			}
			if file.IsBinary {
				t.Fatalf("admitted a binary patch for %q", file.NewName)
			}
		}
	})
}
