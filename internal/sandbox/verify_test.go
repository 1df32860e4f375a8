package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/demo"
	"github.com/patchgit/patchgit/internal/gitops"
)

// TestVerifyPassingPatchOnTheDemo runs the embedded default's real checks
// (gofmt and go test) on the seeded demo project, then commits the
// canonical diff to prove it applies to Base as shown.
func TestVerifyPassingPatchOnTheDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles with a cold Go cache (~20 s)")
	}
	ctx := context.Background()
	g := gitops.New()
	mirror := filepath.Join(t.TempDir(), "demo.git")
	if _, err := demo.Seed(ctx, g, mirror); err != nil {
		t.Fatal(err)
	}
	sb, err := New(filepath.Join(t.TempDir(), "sandbox"), g)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sb.Verify(ctx, Request{
		MirrorDir: mirror, Base: "main",
		Edits: []Edit{
			{Path: "greet.go", Search: `return "Hello, " + name + "!"`, Replace: `return "Hi, " + name + "!"`},
			{Path: "greet_test.go", Search: `{"Ada", "Hello, Ada!"},
		{"  Linus ", "Hello, Linus!"},
		{"", "Hello, world!"},`, Replace: `{"Ada", "Hi, Ada!"},
		{"  Linus ", "Hi, Linus!"},
		{"", "Hi, world!"},`},
		},
		Checks: []string{`test -z "$(gofmt -l .)"`, "go test ./..."},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failure != "" {
		t.Fatalf("Failure = %q; checks: %+v", res.Failure, res.Checks)
	}
	if len(res.Checks) != 2 || !res.Checks[0].Passed || !res.Checks[1].Passed || res.Checks[1].Mode != ModeBwrap {
		t.Fatalf("checks: %+v", res.Checks)
	}
	if !strings.Contains(res.Checks[1].Output, "ok") || !slices.Equal(res.Files, []string{"greet.go", "greet_test.go"}) || res.Added != 4 || res.Deleted != 4 {
		t.Errorf("result: files %v +%d -%d, go test said %q", res.Files, res.Added, res.Deleted, res.Checks[1].Output)
	}
	info := gitops.CommitInfo{AuthorName: "PatchGit", AuthorEmail: "bot@patchgit.local", Message: "Say hi", When: time.Unix(1767225600, 0)}
	sha, err := g.CommitPatch(ctx, mirror, res.Base, res.Diff, info)
	if err != nil {
		t.Fatalf("the canonical diff does not commit: %v", err)
	}
	if got := git(t, g, "", "--git-dir="+mirror, "diff", res.Base, sha) + "\n"; got != string(res.Diff) {
		t.Errorf("committed diff differs from the canonical diff:\n%s\nvs\n%s", got, res.Diff)
	}
}

func TestVerifyReportsAFailingCheckAndStops(t *testing.T) {
	f := newGreetFixture(t)
	res := f.verify(t, Request{
		Diff: []byte(greetDiff),
		Checks: []string{
			"grep -q hi greet.go",
			"echo to-stdout; echo to-stderr >&2; exit 3",
			"echo never",
		},
	})
	if len(res.Checks) != 2 {
		t.Fatalf("ran %d checks, want 2 (stop at the first failure): %+v", len(res.Checks), res.Checks)
	}
	c := res.Checks[1]
	if c.Passed || c.TimedOut || c.ExitCode != 3 || c.Output != "to-stdout\nto-stderr\n" {
		t.Errorf("check = %+v", c)
	}
	want := `check "echo to-stdout; echo to-stderr >&2; exit 3" failed (exit code 3)`
	if res.Failure != want {
		t.Errorf("Failure = %q, want %q", res.Failure, want)
	}
	if !strings.HasPrefix(string(res.Diff), "diff --git a/greet.go b/greet.go") {
		t.Errorf("a failed check still reports the diff; got %q", res.Diff)
	}
}

func TestVerifyTimeoutKillsTheProcessGroup(t *testing.T) {
	f := newGreetFixture(t)
	marker := uniqueSleep()
	res := f.verify(t, Request{
		Diff:         []byte(greetDiff),
		Checks:       []string{marker + ` & echo started; ` + marker},
		CheckTimeout: time.Second,
	})
	c := res.Checks[0]
	if !c.TimedOut || c.Passed || c.ExitCode != -1 {
		t.Fatalf("check = %+v", c)
	}
	if !strings.Contains(res.Failure, "timed out after 1s") {
		t.Errorf("Failure = %q", res.Failure)
	}
	if !strings.Contains(c.Output, "started") {
		t.Fatalf("the check did not start its child: %q", c.Output)
	}
	waitNoneRunning(t, marker)
}

// uniqueSleep is a sleep command whose argument no other process uses, so
// a survivor can be found by its command line from outside the sandbox's
// PID namespace.
func uniqueSleep() string {
	return fmt.Sprintf("sleep 60.%d", time.Now().UnixNano()%1000000000)
}

// waitNoneRunning gives the kernel time to finish SIGKILLed processes.
// The bound is generous: it is not a speed assertion, only a stop for a
// test that would otherwise wait forever on a survivor.
func waitNoneRunning(t *testing.T, cmdline string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		pids := processesRunning(cmdline)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v (%q) survived their check", pids, cmdline)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processesRunning lists live (not zombie) processes whose command line
// is cmdline.
func processesRunning(cmdline string) []int {
	want := strings.ReplaceAll(cmdline, " ", "\x00") + "\x00"
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || string(b) != want {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if i := strings.LastIndexByte(string(stat), ')'); err == nil && i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

func TestVerifyLeftoverBackgroundJobIsKilled(t *testing.T) {
	f := newGreetFixture(t)
	marker := uniqueSleep()
	res := f.verify(t, Request{Diff: []byte(greetDiff), Checks: []string{marker + ` & echo started`}})
	c := res.Checks[0]
	if !c.Passed || !strings.Contains(c.Output, "started") {
		t.Fatalf("check = %+v", c)
	}
	waitNoneRunning(t, marker)
}

func TestVerifyCapsOutput(t *testing.T) {
	f := newGreetFixture(t)
	res := f.verify(t, Request{Diff: []byte(greetDiff), Checks: []string{`head -c 300000 /dev/zero | tr '\0' x; echo; echo END`}})
	out := res.Checks[0].Output
	if len(out) > outputLimit+200 || !strings.Contains(out, "bytes cut") || !strings.HasSuffix(out, "\nEND\n") || !strings.HasPrefix(out, "xxxx") {
		t.Errorf("output (%d bytes) is not capped with a note: %q…%q", len(out), out[:min(80, len(out))], out[max(0, len(out)-200):])
	}
}

func TestVerifyCheckEnvironmentHasNoSecrets(t *testing.T) {
	t.Setenv("PATCHGIT_GITHUB_TOKEN", "ghp_supersecret")
	f := newGreetFixture(t)
	res := f.verify(t, Request{Diff: []byte(greetDiff), Checks: []string{"env; pwd; cat .git/config; ls .git/hooks 2>&1"}})
	out := res.Checks[0].Output
	for _, bad := range []string{"ghp_supersecret", "PATCHGIT_", "[remote", "url ="} {
		if strings.Contains(out, bad) {
			t.Errorf("check sees %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{"GOPROXY=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "LANG=C",
		"HOME=" + filepath.Join(f.root, "work"), "TMPDIR=/tmp",
		"GOCACHE=" + filepath.Join(f.root, "cache"), "GOMODCACHE=" + filepath.Join(f.root, "cache")} {
		if !strings.Contains(out, want) {
			t.Errorf("check environment lacks %q:\n%s", want, out)
		}
	}
}

func TestVerifyMalformedDiff(t *testing.T) {
	f := newGreetFixture(t)
	res := f.verify(t, Request{Diff: []byte("make it say hi please\n"), Checks: []string{"false"}})
	if !strings.Contains(res.Failure, "not a valid unified diff") || res.Checks != nil || res.Diff != nil {
		t.Errorf("result = %+v", res)
	}
}

func TestVerifyDiffThatDoesNotApply(t *testing.T) {
	f := newGreetFixture(t)
	stale := strings.Replace(greetDiff, "-\treturn \"hello\"", "-\treturn \"howdy\"", 1)
	// A second file that would apply: all or nothing means it is not written.
	both := newFileDiff("added.txt") + stale
	res := f.verify(t, Request{Diff: []byte(both), Checks: []string{"false"}})
	if !strings.Contains(res.Failure, "does not apply") || !strings.Contains(res.Failure, "greet.go:3") {
		t.Errorf("Failure = %q, want it to name greet.go and the hunk line", res.Failure)
	}
	if res.Checks != nil {
		t.Errorf("checks ran on a patch that did not apply")
	}
}

func TestVerifyRefusesPathEscapesBeforeTouchingDisk(t *testing.T) {
	outside := t.TempDir()
	abs := filepath.Join(outside, "abs.txt")
	f := newGreetFixture(t)
	for _, diff := range []string{
		newFileDiff("../x"),
		newFileDiff("a/../../x"),
		newFileDiff(".git/hooks/pre-commit"),
		newFileDiff(".GIT/config"),
		"--- /dev/null\n+++ " + abs + "\n@@ -0,0 +1 @@\n+pwned\n",
		"diff --git a/l b/l\nnew file mode 120000\n--- /dev/null\n+++ b/l\n@@ -0,0 +1 @@\n+" + outside + "\n",
	} {
		res := f.verify(t, Request{Diff: []byte(diff), Checks: []string{"touch " + filepath.Join(outside, "check-ran")}})
		if !strings.HasPrefix(res.Failure, "patch refused (") {
			t.Errorf("diff %q: Failure = %q", diff, res.Failure)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("something was written outside: %v", entries)
	}
}

func TestVerifyRefusesWritingThroughASymlink(t *testing.T) {
	outside := t.TempDir()
	f := newFixture(t, map[string]string{"a.txt": "a\n"}, map[string]string{"link": outside})
	for _, req := range []Request{
		{Diff: []byte(newFileDiff("link/pwned.txt"))},
		{Diff: []byte(newFileDiff("link/pwned.txt")), Limits: Limits{AllowSymlinks: true}},
		{Edits: []Edit{{Path: "link/pwned.txt", Replace: "pwned\n"}}, Limits: Limits{AllowSymlinks: true}},
	} {
		res := f.verify(t, req)
		if !strings.HasPrefix(res.Failure, "patch refused (symlink-traversal): link/pwned.txt") {
			t.Errorf("Failure = %q", res.Failure)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("written through the symlink: %v", entries)
	}
}

func TestVerifyEdits(t *testing.T) {
	f := newFixture(t, map[string]string{"greet.go": greetGo, "twice.txt": "x\nx\n"}, nil)
	res := f.verify(t, Request{Edits: []Edit{
		{Path: "greet.go", Search: "\treturn \"hello\"\n", Replace: "\treturn \"hi\"\n"},
		{Path: "docs/new.md", Replace: "# New\n"},
	}})
	if res.Failure != "" || !slices.Equal(res.Files, []string{"docs/new.md", "greet.go"}) || res.Added != 2 || res.Deleted != 1 {
		t.Fatalf("result: %q %v +%d -%d", res.Failure, res.Files, res.Added, res.Deleted)
	}
	if !strings.Contains(string(res.Diff), "+++ b/docs/new.md\n@@ -0,0 +1 @@\n+# New\n") {
		t.Errorf("diff lacks the new file:\n%s", res.Diff)
	}
	for _, tc := range []struct {
		edit Edit
		want string
	}{
		{Edit{Path: "greet.go", Search: "return \"bye\"", Replace: "x"}, "edit 1 (greet.go): the search text matches 0 times"},
		{Edit{Path: "twice.txt", Search: "x\n", Replace: "y\n"}, "edit 1 (twice.txt): the search text matches 2 times"},
		{Edit{Path: "missing.go", Search: "a", Replace: "b"}, "edit 1 (missing.go): the file does not exist"},
		{Edit{Path: "greet.go", Replace: "package x\n"}, "edit 1 (greet.go): the file already exists"},
		{Edit{Path: "../escape.txt", Replace: "x"}, "patch refused (dot-dot): ../escape.txt"},
		{Edit{Path: "greet.go", Search: "return \"hello\"", Replace: "return \"hello\""}, "the change makes no difference"},
	} {
		res := f.verify(t, Request{Edits: []Edit{tc.edit}})
		if !strings.HasPrefix(res.Failure, tc.want) {
			t.Errorf("%+v: Failure = %q, want %q…", tc.edit, res.Failure, tc.want)
		}
	}
}

func TestVerifyGivesACanonicalGitDiff(t *testing.T) {
	f := newGreetFixture(t)
	// GNU diff style: no "diff --git" line, timestamps, one context line.
	traditional := "--- a/greet.go\t2024-01-01 10:00:00\n+++ b/greet.go\t2024-01-01 10:01:00\n" +
		"@@ -4,3 +4,3 @@\n func Greet() string {\n-\treturn \"hello\"\n+\treturn \"hi\"\n }\n"
	res := f.verify(t, Request{Diff: []byte(traditional)})
	if res.Failure != "" {
		t.Fatal(res.Failure)
	}
	if !strings.HasPrefix(string(res.Diff), "diff --git a/greet.go b/greet.go\nindex ") || !strings.Contains(string(res.Diff), "@@ -2,5 +2,5 @@ package demo") {
		t.Errorf("not git's own diff with context:\n%s", res.Diff)
	}
}

func TestVerifyInternalErrors(t *testing.T) {
	f := newGreetFixture(t)
	ctx := context.Background()
	for _, req := range []Request{
		{Base: "main", Diff: []byte(greetDiff)},
		{MirrorDir: f.mirror, Base: "main"},
		{MirrorDir: f.mirror, Base: "main", Diff: []byte(greetDiff), Edits: []Edit{}},
	} {
		if _, err := f.sb.Verify(ctx, req); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Verify(%+v) err = %v, want ErrBadRequest", req, err)
		}
	}
	_, err := f.sb.Verify(ctx, Request{MirrorDir: f.mirror, Base: "no-such-branch", Diff: []byte(greetDiff)})
	if !errors.Is(err, gitops.ErrRefNotFound) {
		t.Errorf("missing base: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.sb.Verify(cancelled, Request{MirrorDir: f.mirror, Base: f.base, Diff: []byte(greetDiff)}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	f.assertNoWorkDirs(t)
}
