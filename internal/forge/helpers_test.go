package forge_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// git runs the git CLI itself, so setup does not trust PatchGit's code.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=T", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=T", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// bareWithBranches makes a bare repository with main and the given
// branches, each one commit ahead of main.
func bareWithBranches(t *testing.T, branches ...string) string {
	t.Helper()
	dir := t.TempDir()
	work, bare := filepath.Join(dir, "work"), filepath.Join(dir, "repo.git")
	git(t, dir, "init", "-q", "-b", "main", work)
	os.WriteFile(filepath.Join(work, "README.md"), []byte("hello\n"), 0o644)
	git(t, work, "add", "-A")
	git(t, work, "commit", "-qm", "seed")
	for _, b := range branches {
		git(t, work, "checkout", "-q", "-b", b, "main")
		os.WriteFile(filepath.Join(work, b+".txt"), []byte(b+"\n"), 0o644)
		git(t, work, "add", "-A")
		git(t, work, "commit", "-qm", b)
	}
	git(t, dir, "clone", "-q", "--bare", work, bare)
	return bare
}
