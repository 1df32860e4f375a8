package gitops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testAuthor makes commits in test work trees reproducible.
var testAuthor = []string{
	"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com", "GIT_AUTHOR_DATE=1700000000 +0000",
	"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com", "GIT_COMMITTER_DATE=1700000000 +0000",
}

// git runs a git command in dir (a work tree) and returns trimmed stdout.
func git(t testing.TB, g *Git, dir string, args ...string) string {
	t.Helper()
	out, err := g.Run(context.Background(), dir, RunOpts{Env: testAuthor}, args...)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// writeFiles writes path -> content under dir, creating directories.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// upstream is a bare "remote" plus a work clone that commits and pushes
// to it.
type upstream struct {
	bare, work string
}

func newUpstream(t testing.TB, g *Git, files map[string]string) upstream {
	t.Helper()
	root := t.TempDir()
	u := upstream{bare: filepath.Join(root, "remote.git"), work: filepath.Join(root, "work")}
	if err := g.InitBare(context.Background(), u.bare, "main"); err != nil {
		t.Fatal(err)
	}
	git(t, g, root, "clone", "--quiet", u.bare, u.work)
	u.commit(t, g, "initial", files)
	return u
}

// commit writes files in the work clone, commits and pushes main; it
// returns the new commit's sha.
func (u upstream) commit(t testing.TB, g *Git, msg string, files map[string]string) string {
	t.Helper()
	writeFiles(t, u.work, files)
	git(t, g, u.work, "add", "-A")
	git(t, g, u.work, "commit", "--quiet", "-m", msg)
	git(t, g, u.work, "push", "--quiet", "origin", "HEAD:refs/heads/main")
	return git(t, g, u.work, "rev-parse", "HEAD")
}

var testWhen = time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("", 2*3600))

func testCommitInfo() CommitInfo {
	return CommitInfo{AuthorName: "PatchGit", AuthorEmail: "bot@patchgit.local", Message: "Fix greeting\n\nBody.", When: testWhen}
}
