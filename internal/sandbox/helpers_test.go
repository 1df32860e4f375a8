package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/gitops"
)

var testAuthor = []string{
	"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com", "GIT_AUTHOR_DATE=1700000000 +0000",
	"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com", "GIT_COMMITTER_DATE=1700000000 +0000",
}

func git(t testing.TB, g *gitops.Git, dir string, args ...string) string {
	t.Helper()
	out, err := g.Run(context.Background(), dir, gitops.RunOpts{Env: testAuthor}, args...)
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// fixture is a sandbox plus a mirror holding one commit.
type fixture struct {
	g            *gitops.Git
	sb           *Sandbox
	root         string
	mirror, base string
}

const greetGo = "package demo\n\n// Greet says hello.\nfunc Greet() string {\n\treturn \"hello\"\n}\n"

// newFixture commits files (and symlinks: name -> target) to a bare
// repository that serves as the mirror.
func newFixture(t testing.TB, files, symlinks map[string]string) fixture {
	t.Helper()
	g := gitops.New()
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	git(t, g, dir, "init", "--quiet", "--initial-branch=main", work)
	for p, content := range files {
		full := filepath.Join(work, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range symlinks {
		if err := os.Symlink(target, filepath.Join(work, name)); err != nil {
			t.Fatal(err)
		}
	}
	git(t, g, work, "add", "-A")
	git(t, g, work, "commit", "--quiet", "-m", "base")
	mirror := filepath.Join(dir, "mirror.git")
	if err := g.SyncMirror(context.Background(), work, mirror); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "sandbox")
	sb, err := New(root, g)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{g: g, sb: sb, root: root, mirror: mirror, base: git(t, g, work, "rev-parse", "HEAD")}
}

func newGreetFixture(t testing.TB) fixture {
	return newFixture(t, map[string]string{"greet.go": greetGo, "README.md": "# demo\n"}, nil)
}

// greetDiff changes "hello" to "hi" in greet.go.
const greetDiff = `diff --git a/greet.go b/greet.go
--- a/greet.go
+++ b/greet.go
@@ -3,4 +3,4 @@ package demo
 // Greet says hello.
 func Greet() string {
-	return "hello"
+	return "hi"
 }
`

func (f fixture) verify(t testing.TB, req Request) Result {
	t.Helper()
	req.MirrorDir, req.Base = f.mirror, f.base
	res, err := f.sb.Verify(context.Background(), req)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	f.assertNoWorkDirs(t)
	return res
}

// assertNoWorkDirs: every Verify removes its work dir.
func (f fixture) assertNoWorkDirs(t testing.TB) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(f.root, "work"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("work dir left behind: %s", e.Name())
	}
}

// newFileDiff creates name with one line, in git's format.
func newFileDiff(name string) string {
	return "diff --git a/" + name + " b/" + name + "\nnew file mode 100644\n--- /dev/null\n+++ b/" + name + "\n@@ -0,0 +1 @@\n+pwned\n"
}
