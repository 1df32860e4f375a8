package assist

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// git runs git in dir and returns its output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A diff made by real git, pasted in the ways people paste, comes out of
// Parse in a form real git applies to give the same tree.
func TestParsedDiffAppliesWithGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	writeFile(t, filepath.Join(repo, "main.go"), "package main\n\nfunc main() {\n\tprintln(\"hello\")\n}\n")
	writeFile(t, filepath.Join(repo, "README.md"), "# Demo\n\nSome text.\n")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-q", "-m", "base")

	writeFile(t, filepath.Join(repo, "main.go"), "package main\n\nfunc main() {\n\tprintln(\"hello, world\")\n}\n")
	writeFile(t, filepath.Join(repo, "internal/greet/greet.go"), "package greet\n\nconst Word = \"hi\"")
	if err := os.Remove(filepath.Join(repo, "README.md")); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "add", "-A")
	diff := git(t, repo, "diff", "--cached")
	want := git(t, repo, "write-tree")
	git(t, repo, "reset", "-q", "--hard")

	messages := map[string]string{
		"raw":            "Greet the world\n\n" + diff + "\nLet me know.",
		"fenced":         "```diff\n" + diff + "```",
		"fenced, CRLF":   strings.ReplaceAll("Greet the world\n```patch\n"+diff+"```\n", "\n", "\r\n"),
		"bracketed raw":  "\x1b[200~" + diff + "\x1b[201~",
		"no final break": strings.TrimSuffix(diff, "\n"),
	}
	for name, msg := range messages {
		t.Run(name, func(t *testing.T) {
			c, err := Parse(msg)
			if err != nil {
				t.Fatal(err)
			}
			if c.Diff != diff {
				t.Fatalf("parsed diff differs from git's:\n%q\nwant\n%q", c.Diff, diff)
			}
			patch := filepath.Join(t.TempDir(), "change.patch")
			writeFile(t, patch, c.Diff)
			git(t, repo, "apply", "--index", patch)
			if got := git(t, repo, "write-tree"); got != want {
				t.Errorf("tree after apply %s, want %s", got, want)
			}
			git(t, repo, "reset", "-q", "--hard")
		})
	}
}

// Every diff the table tests accept is one go-gitdiff (what the sandbox
// uses) can read.
func TestParsedDiffsAreReadable(t *testing.T) {
	for _, in := range []string{helloDiff, twoFileDiff, "Fix:\n```diff\n" + helloDiff + "```\nthanks"} {
		c, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		files, _, err := gitdiff.Parse(strings.NewReader(c.Diff))
		if err != nil || len(files) == 0 {
			t.Errorf("go-gitdiff cannot read %q: %v", c.Diff, err)
		}
	}
}
