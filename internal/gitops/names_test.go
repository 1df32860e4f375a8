package gitops

import (
	"context"
	"strings"
	"testing"
)

var branchCases = []string{
	"main", "feature/x", "patchgit/abc-fix", "a.b", "v1.2", "über", "x@y", "a-", "_a",
	"", "@", "HEAD", "-x", "/a", "a/", "a//b", "a..b", "a.", ".a", "a/.b", "a.lock", "a/b.lock/c",
	"a b", "a~1", "a^", "a:b", "a?", "a*", "a[b", `a\b`, "a@{1}", "a\tb", "a\x7fb",
}

// TestValidBranchNameAgreesWithGit asks git itself about every case.
func TestValidBranchNameAgreesWithGit(t *testing.T) {
	g := New()
	for _, name := range branchCases {
		_, gitErr := g.Run(context.Background(), "", RunOpts{}, "check-ref-format", "--branch", name)
		// check-ref-format --branch accepts "HEAD", "-x" and "@" (it expands
		// "@" to the current branch), but `git branch` refuses the first two
		// and "@" alone is not a ref name (rule 9); we refuse all three.
		gitOK := gitErr == nil && name != "HEAD" && name != "@" && !strings.HasPrefix(name, "-")
		err := ValidBranchName(name)
		if (err == nil) != gitOK {
			t.Errorf("ValidBranchName(%q) = %v; git says ok=%v (%v)", name, err, gitOK, gitErr)
		}
	}
}

func TestBranchName(t *testing.T) {
	for _, tc := range []struct{ id, title, want string }{
		{"abc123", "Fix the greeting", "patchgit/abc123-fix-the-greeting"},
		{"abc123", "  --Ünïcode & symbols!! ", "patchgit/abc123-n-code-symbols"},
		{"abc123", "", "patchgit/abc123"},
		{"abc123", "!!!", "patchgit/abc123"},
		{"AB/../c", "x", "patchgit/ab-c-x"},
		{"", "x", "patchgit/x-x"},
		{"id", strings.Repeat("word ", 20), "patchgit/id-word-word-word-word-word-word-word-word"},
	} {
		got := BranchName(tc.id, tc.title)
		if got != tc.want {
			t.Errorf("BranchName(%q, %q) = %q, want %q", tc.id, tc.title, got, tc.want)
		}
		if err := ValidBranchName(got); err != nil {
			t.Errorf("BranchName gave an invalid name: %v", err)
		}
	}
	long := BranchName("id", strings.Repeat("abcdefghij", 10))
	if slugPart := strings.TrimPrefix(long, "patchgit/id-"); len(slugPart) != maxSlug {
		t.Errorf("slug of %q has %d bytes, want %d", long, len(slugPart), maxSlug)
	}
}

func FuzzBranchName(f *testing.F) {
	f.Add("abc", "Fix: the thing")
	f.Add("..", "a.lock")
	f.Fuzz(func(t *testing.T, id, title string) {
		name := BranchName(id, title)
		if err := ValidBranchName(name); err != nil {
			t.Fatalf("BranchName(%q, %q) = %q: %v", id, title, name, err)
		}
		if len(name) > len("patchgit/")+32+1+maxSlug {
			t.Fatalf("name too long: %q", name)
		}
	})
}
