package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/gitops"
)

// symlinkDiff creates a symlink name -> target in git's format.
func symlinkDiff(name, target string) string {
	return "diff --git a/" + name + " b/" + name + "\nnew file mode 120000\n--- /dev/null\n+++ b/" + name +
		"\n@@ -0,0 +1 @@\n+" + target + "\n\\ No newline at end of file\n"
}

// TestHostilePatches throws path escapes, symlink tricks (git's own
// t4139-apply-escape cases re-expressed as diffs), hook and config
// plants and giant hunks at Verify. Every case is refused or confined:
// afterwards nothing was written outside the work dir, no hook ran, the
// mirror is unchanged, and no work dir is left.
func TestHostilePatches(t *testing.T) {
	outside := t.TempDir()
	marker := filepath.Join(outside, "hook-ran")
	hookDiff := func(name string) string {
		return "diff --git a/" + name + " b/" + name + "\nnew file mode 100755\n--- /dev/null\n+++ b/" + name +
			"\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+touch " + marker + "\n"
	}
	// The tree holds the symlinks t4139 sets up: one to the parent, one
	// to an absolute path outside.
	f := newFixture(t, map[string]string{"a.txt": "a\n", "dir/b.txt": "b\n"},
		map[string]string{"up": "..", "abs": outside, "dir/self": "."})
	mirrorBefore := snapshot(t, f.mirror)
	victim := filepath.Join(outside, "victim.txt")
	if err := os.WriteFile(victim, []byte("victim\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	huge := "diff --git a/big.txt b/big.txt\nnew file mode 100644\n--- /dev/null\n+++ b/big.txt\n@@ -0,0 +1,20000 @@\n" +
		strings.Repeat("+x\n", 20000)
	cases := []struct {
		name, diff string
		lim        Limits
	}{
		// git t4139: "symlink escape via .." and "via absolute path".
		{"t4139 write through a symlink to ..", newFileDiff("up/escaped.txt"), Limits{}},
		{"t4139 write through an absolute symlink", newFileDiff("abs/escaped.txt"), Limits{}},
		{"t4139 same, symlinks allowed", newFileDiff("abs/escaped.txt"), Limits{AllowSymlinks: true}},
		// git t4139: "symlink escape when creating new files": the symlink
		// and the file behind it arrive in one patch.
		{"t4139 new symlink and a file through it", symlinkDiff("link", outside) + newFileDiff("link/escaped.txt"), Limits{}},
		{"t4139 new symlink and a file through it, symlinks allowed", symlinkDiff("link", outside) + newFileDiff("link/escaped.txt"), Limits{AllowSymlinks: true}},
		{"t4139 new symlink to .. and a file through it, allowed", symlinkDiff("link", "..") + newFileDiff("link/escaped.txt"), Limits{AllowSymlinks: true}},
		// git t4139: "symlink escape when deleting file".
		{"t4139 delete through a symlink", "diff --git a/abs/victim.txt b/abs/victim.txt\ndeleted file mode 100644\n--- a/abs/victim.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-victim\n", Limits{AllowSymlinks: true}},
		// git t4139: "symlink escape when modifying": via a rename target.
		{"rename into a symlinked dir", "diff --git a/a.txt b/up/a.txt\nsimilarity index 100%\nrename from a.txt\nrename to up/a.txt\n", Limits{AllowSymlinks: true}},
		{"through a nested symlink to .", newFileDiff("dir/self/self/x.txt"), Limits{AllowSymlinks: true}},
		{"retarget an existing symlink", "diff --git a/up b/up\nindex 1111111..2222222 120000\n--- a/up\n+++ b/up\n@@ -1 +1 @@\n-..\n\\ No newline at end of file\n+/etc\n\\ No newline at end of file\n", Limits{}},
		{"dot-dot", newFileDiff("../escaped.txt"), Limits{}},
		{"dot-dot deep", newFileDiff("dir/../../escaped.txt"), Limits{}},
		{"absolute", "--- /dev/null\n+++ " + filepath.Join(outside, "escaped.txt") + "\n@@ -0,0 +1 @@\n+pwned\n", Limits{}},
		{"hook pre-commit", hookDiff(".git/hooks/pre-commit"), Limits{}},
		{"hook in .GIT", hookDiff(".GIT/hooks/post-checkout"), Limits{}},
		{"hook via NTFS short name", hookDiff("GIT~1/hooks/pre-commit"), Limits{}},
		{"hook via trailing dot", hookDiff(".git./hooks/pre-commit"), Limits{}},
		{"core.fsmonitor in .git/config", "diff --git a/.git/config b/.git/config\n--- a/.git/config\n+++ b/.git/config\n@@ -1 +1,3 @@\n [core]\n+\tfsmonitor = touch " + marker + "\n+\thooksPath = /tmp\n", Limits{}},
		{"gitlink", "diff --git a/sub b/sub\nnew file mode 160000\nindex 0000000..1111111\n--- /dev/null\n+++ b/sub\n@@ -0,0 +1 @@\n+Subproject commit 1111111111111111111111111111111111111111\n", Limits{AllowSymlinks: true, AllowBinary: true}},
		{"binary", "diff --git a/b.bin b/b.bin\nnew file mode 100644\nindex 0000000..e69de29\nGIT binary patch\nliteral 3\nKcmZQzWB>pF00031\n\nliteral 0\nHcmV?d00001\n\n", Limits{}},
		{"gigantic hunk", huge, Limits{}},
		{"too many bytes", huge, Limits{MaxPatchBytes: 1000, MaxLines: 1 << 30}},
		{"half applies", newFileDiff("fine.txt") + "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-not a\n+b\n", Limits{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := f.verify(t, Request{Diff: []byte(tc.diff), Limits: tc.lim,
				Checks: []string{"touch " + filepath.Join(outside, "check-ran")}})
			if res.Failure == "" {
				t.Fatalf("admitted: %+v", res)
			}
			if res.Checks != nil {
				t.Errorf("checks ran on a refused patch")
			}
		})
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("written outside the work dir (hook runs included): %v", names)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "victim\n" {
		t.Errorf("the file outside was changed: %q, %v", b, err)
	}
	if after := snapshot(t, f.mirror); !slices.Equal(after, mirrorBefore) {
		t.Errorf("the mirror changed")
	}
	f.assertNoWorkDirs(t)
}

// TestHostileChecksAreConfined: an admitted patch whose check tries to
// escape is confined by the runner (writes outside fail; the hook a check
// plants in the work dir's .git never runs, since no git command runs
// there after the checks).
func TestHostileChecksAreConfined(t *testing.T) {
	modes := isolatedModes(t)
	outside := t.TempDir()
	if err := os.Chmod(outside, 0o777); err != nil { // even a world-writable dir
		t.Fatal(err)
	}
	marker := filepath.Join(outside, "hook-ran")
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			f := newGreetFixture(t).openMode(t, mode, Resources{})
			res := f.verify(t, Request{Diff: []byte(greetDiff), Checks: []string{
				"mkdir -p .git/hooks && printf '#!/bin/sh\\ntouch " + marker + "\\n' > .git/hooks/post-commit && chmod +x .git/hooks/post-commit; git config core.fsmonitor 'touch " + marker + "' || true",
				"touch " + filepath.Join(outside, "written") + " || true",
				"touch ../../escaped || true",
			}})
			if res.Failure != "" {
				t.Fatalf("Failure = %q; %+v", res.Failure, res.Checks)
			}
			if mode == ModeNamespaces {
				return // the host filesystem is visible; a 0777 dir is writable (docs/security.md)
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Errorf("a check wrote outside: %v", entries)
			}
		})
	}
	// Committing the canonical diff (what GO does) runs no planted hook.
	f := newGreetFixture(t)
	res := f.verify(t, Request{Diff: []byte(greetDiff)})
	if _, err := f.g.CommitPatch(context.Background(), f.mirror, res.Base, res.Diff,
		gitops.CommitInfo{AuthorName: "t", AuthorEmail: "t@example.com", Message: "m", When: time.Unix(1767225600, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a planted hook ran")
	}
}

// TestBaseConfigDecidesTheChecks: a patch that rewrites .patchgit.yaml
// into `true` is still checked by the base commit's config, and it is
// flagged as touching what the checks depend on.
func TestBaseConfigDecidesTheChecks(t *testing.T) {
	f := newFixture(t, map[string]string{
		"state.txt":    "safe\n",
		RepoConfigFile: "checks:\n  - name: state\n    run: grep -q '^safe$' state.txt\n    timeout: 30s\n  - echo plain\n",
	}, nil)
	cheat := "diff --git a/.patchgit.yaml b/.patchgit.yaml\n--- a/.patchgit.yaml\n+++ b/.patchgit.yaml\n@@ -1,5 +1,2 @@\n checks:\n-  - name: state\n-    run: grep -q '^safe$' state.txt\n-    timeout: 30s\n-  - echo plain\n+  - \"true\"\n" +
		"diff --git a/state.txt b/state.txt\n--- a/state.txt\n+++ b/state.txt\n@@ -1 +1 @@\n-safe\n+unsafe\n"
	res := f.verify(t, Request{Diff: []byte(cheat)})
	if len(res.Checks) != 1 || res.Checks[0].Name != "state" || res.Checks[0].Passed {
		t.Fatalf("the base config's check did not run and fail: %+v", res.Checks)
	}
	if !strings.Contains(res.Failure, `check "grep -q '^safe$' state.txt" failed`) {
		t.Errorf("Failure = %q", res.Failure)
	}
	if !slices.Equal(res.TouchesChecks, []string{RepoConfigFile}) {
		t.Errorf("TouchesChecks = %v", res.TouchesChecks)
	}
	// The operator's config wins over the repository's file.
	res = f.verify(t, Request{Diff: []byte(greetDiffFor("state.txt")), Checks: []string{"echo operator"}})
	if len(res.Checks) != 1 || res.Checks[0].Output != "operator\n" {
		t.Errorf("operator checks: %+v", res.Checks)
	}
	// A plain entry gets a name, a named one keeps its timeout.
	res = f.verify(t, Request{Diff: []byte(greetDiffFor("state.txt"))})
	if len(res.Checks) != 2 || res.Checks[1].Name != "check 2" || res.Checks[1].Output != "plain\n" || res.Failure != "" || res.Diff == nil || !res.Checks[0].Passed || !res.Checks[1].Passed {
		t.Errorf("checks: %+v", res.Checks)
	}
}

// greetDiffFor appends a line to a file holding "safe\n".
func greetDiffFor(name string) string {
	return "diff --git a/" + name + " b/" + name + "\n--- a/" + name + "\n+++ b/" + name + "\n@@ -1 +1,2 @@\n safe\n+more\n"
}

func TestRepoConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"checks:\n  - name: x\n", "checks[0] has no command"},
		{"checks:\n  - name: x\n    run: y\n    timeout: soon\n", `timeout "soon" is not a positive duration`},
		{"chekcs: []\n", "valid keys: checks, prepare"},
	} {
		_, err := ParseRepoConfig([]byte(tc.yaml))
		if !errors.Is(err, ErrRepoConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
	rc, err := ParseRepoConfig([]byte("checks:\n  - go vet ./...\n  - name: test\n    run: go test ./...\n    timeout: 2m\nprepare:\n  - go mod download\n"))
	if err != nil || len(rc.Checks) != 2 || rc.Checks[1] != (Check{Name: "test", Command: "go test ./...", Timeout: 2 * time.Minute}) || rc.Prepare[0] != "go mod download" {
		t.Errorf("rc = %+v, %v", rc, err)
	}
}

func TestTouchesChecks(t *testing.T) {
	got := TouchesChecks([]string{"main.go", "main_test.go", ".github/workflows/ci.yml", "go.mod", "docs/x.md", "web/app.spec.ts", "Makefile", "testdata/in.txt", ".patchgit.yaml"})
	want := []string{"main_test.go", ".github/workflows/ci.yml", "go.mod", "web/app.spec.ts", "Makefile", "testdata/in.txt", ".patchgit.yaml"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v", got)
	}
}

// snapshot lists every file under dir with its size and mode.
func snapshot(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, fmt.Sprintf("%s %s %d", rel, info.Mode(), info.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
