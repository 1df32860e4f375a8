package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tryRepo is a real git work tree with one commit and a .patchgit.yaml.
func tryRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"greet.txt":      "hello\n",
		".patchgit.yaml": "checks:\n  - name: greeting\n    run: grep -q '^h' greet.txt\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	return dir
}

func writePatch(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "p.diff")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSandboxTry(t *testing.T) {
	requireTools(t, "git")
	repo := tryRepo(t)
	status := func() string {
		out, err := exec.Command("git", "-C", repo, "status", "--porcelain", "--ignored").CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		head, _ := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
		return string(out) + string(head)
	}
	before := status()
	good := writePatch(t, "--- a/greet.txt\n+++ b/greet.txt\n@@ -1 +1 @@\n-hello\n+hi\n")
	bad := writePatch(t, "--- a/greet.txt\n+++ b/greet.txt\n@@ -1 +1 @@\n-hello\n+bye\n")
	escape := writePatch(t, "diff --git a/.git/hooks/pre-commit b/.git/hooks/pre-commit\nnew file mode 100755\n--- /dev/null\n+++ b/.git/hooks/pre-commit\n@@ -0,0 +1 @@\n+evil\n")
	prose := writePatch(t, "please make it friendlier\n")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"passes", []string{"--patch", good}, 0, "PASS greeting"},
		{"check fails", []string{"--patch", bad}, 1, "FAIL greeting"},
		{"flag check", []string{"--patch", good, "--check", "nope=exit 4"}, 1, `check "exit 4" failed (exit code 4)`},
		{"refused", []string{"--patch", escape}, 1, "REFUSED patch refused (dot-git): .git/hooks/pre-commit"},
		{"unparseable", []string{"--patch", prose}, 1, "REFUSED the patch is not a valid unified diff"},
		{"missing patch file", []string{"--patch", filepath.Join(repo, "nope.diff")}, 2, "read patch"},
		{"bad check flag", []string{"--patch", good, "--check", "nocommand"}, 2, "is not NAME=COMMAND"},
		{"no such base", []string{"--patch", good, "--base", "nope"}, 2, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"sandbox", "try", "--repo", repo}, tc.args...), &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.want) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, tc.code, stdout.String(), stderr.String(), tc.want)
			}
		})
	}
	if code := run([]string{"sandbox", "try", "--repo", repo}, new(bytes.Buffer), new(bytes.Buffer)); code != 2 {
		t.Errorf("without --patch: exit %d, want 2", code)
	}
	var stdout bytes.Buffer
	if code := run([]string{"sandbox", "try", "--repo", repo, "--patch", good, "--json"}, &stdout, new(bytes.Buffer)); code != 0 {
		t.Fatalf("json: exit %d: %s", code, stdout.String())
	}
	var rep tryReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || !rep.Passed || !rep.Admitted || len(rep.Checks) != 1 || rep.Checks[0].Name != "greeting" || rep.Mode == "" {
		t.Errorf("json report %+v, %v", rep, err)
	}
	if after := status(); after != before {
		t.Errorf("the repository was modified:\n%s\nvs\n%s", before, after)
	}
}

func TestDoctor(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"doctor", "--data-dir", t.TempDir()}, &stdout, &stderr)
	out := stdout.String()
	for _, want := range []string{"config", "git", "bubblewrap", "isolation", "test check"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor does not report %s:\n%s", want, out)
		}
	}
	if code == 0 && !strings.Contains(out, "all good") {
		t.Errorf("exit 0 without all good:\n%s", out)
	}
	if code != 0 && !strings.Contains(out, "FAIL") {
		t.Errorf("exit %d without a FAIL line:\n%s%s", code, out, stderr.String())
	}
	if os.Getenv("CI") == "true" && code != 0 {
		t.Errorf("doctor fails under CI (.ci/run installs bubblewrap):\n%s", out)
	}
	var bad bytes.Buffer
	if code := run([]string{"doctor", "--data-dir", t.TempDir(), "--config", filepath.Join(t.TempDir(), "none.yaml")}, &bad, new(bytes.Buffer)); code != 1 || !strings.Contains(bad.String(), "FAIL config") {
		t.Errorf("a missing config file: exit %d:\n%s", code, bad.String())
	}
}
