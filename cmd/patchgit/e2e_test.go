package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/rpc"
)

const testPIN = "482916"

// howdy changes the demo's greeting in the code and its test, so both
// checks (gofmt and go test) pass.
func howdy(t *testing.T) func(dir string) {
	return func(dir string) {
		for _, f := range []string{"greet.go", "greet_test.go"} {
			p := filepath.Join(dir, f)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "Hello", "Howdy")), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func patchgitBranches(t *testing.T, bare string) []string {
	return strings.Fields(gitOut(t, bare, "for-each-ref", "--format=%(refname:short)", "refs/heads/patchgit/"))
}

// goAndPublish presses GO on the shown proposal, confirms, waits until it is
// published, and returns the one branch PatchGit pushed (read with git).
func goAndPublish(t *testing.T, x *tmux, bare string) string {
	t.Helper()
	x.keys("C-g")
	x.waitFor(`y/n`, 10*time.Second)
	x.keys("y")
	x.waitFor(`published\s+revision 1`, 3*time.Minute)
	got := patchgitBranches(t, bare)
	if len(got) != 1 {
		t.Fatalf("patchgit branches %v, want one", got)
	}
	return got[0]
}

// TestE2EPasteReviewGoPublishes is the walking skeleton's whole path: the
// real binary, the real OpenSSH client in tmux, a real bracketed paste,
// GO, and git itself to check the result.
func TestE2EPasteReviewGoPublishes(t *testing.T) {
	requireTools(t, "tmux", "ssh", "git")
	data := t.TempDir()
	d := startDaemon(t, data, "PATCHGIT_PIN="+testPIN)
	bare := filepath.Join(data, "repos", "demo.git")

	x := newTmux(t, "e2e", 160, 48, sshCommand(d.port, "alice", "-t")...)
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	x.waitFor(`Proposed Execution`, 30*time.Second)

	diff := demoDiff(t, bare, howdy(t))
	x.paste(diff)
	x.waitFor(`Howdy`, 10*time.Second) // the paste landed in the input, not sent yet
	if got := patchgitBranches(t, bare); len(got) != 0 {
		t.Fatalf("branches before anything was sent: %v", got)
	}
	x.keys("Enter")
	x.waitFor(`proposed\s+revision 1`, 3*time.Minute)
	screen := x.screen()
	// Risk and confidence with their reasons: the change edits a test the checks run.
	for _, want := range []string{"greet.go, greet_test.go", "+10 changes files the checks depend on: greet_test.go",
		"+25 a person wrote the change (pasted-diff)", "GO runs", "ctrl+g GO"} {
		if !strings.Contains(screen, want) {
			t.Errorf("proposal screen lacks %q:\n%s", want, screen)
		}
	}
	if got := patchgitBranches(t, bare); len(got) != 0 {
		t.Fatalf("pushed before GO: %v", got)
	}

	// git, not PatchGit, says what was published.
	branch := goAndPublish(t, x, bare)
	if branchDiff := gitOut(t, bare, "diff", "main", branch) + "\n"; branchDiff != diff {
		t.Fatalf("the branch holds\n%s\nbut the person saw\n%s", branchDiff, diff)
	}
	if n := gitOut(t, bare, "rev-list", "--count", "main.."+branch); n != "1" {
		t.Fatalf("%s commits on the branch, want 1", n)
	}
	if n := gitOut(t, bare, "rev-list", "--count", "main"); n != "1" {
		t.Fatalf("main moved (%s commits): PatchGit must never merge", n)
	}
	out, err := patchgit(t, data, "", "prs")
	if err != nil || !regexp.MustCompile(`demo\s+#1\s+open\s+`+regexp.QuoteMeta(branch)).MatchString(out) {
		t.Fatalf("patchgit prs: %v\n%s", err, out)
	}
	// The PR body links the proposal's page on the web mirror.
	if out, err := patchgit(t, data, "", "prs", "show", "1"); err != nil || !regexp.MustCompile(`\(http://127\.0\.0\.1:\d+/proposals/[0-9a-f]+\)`).MatchString(out) {
		t.Fatalf("the PR body does not link the proposal on the web mirror: %v\n%s", err, out)
	}

	// Bad input in the chat: a path escaping the repository. It is the next
	// revision of the published proposal (docs/forges.md), refused in
	// Draft; the published branch and PR stay as they were.
	published := gitOut(t, bare, "rev-parse", branch)
	escape := "diff --git a/../evil b/../evil\nnew file mode 100644\n--- /dev/null\n+++ b/../evil\n@@ -0,0 +1 @@\n+owned\n"
	x.paste(escape)
	x.keys("Enter")
	x.waitFor(`refused`, 3*time.Minute)
	x.waitFor(`draft\s+revision 2`, 30*time.Second)
	if got := patchgitBranches(t, bare); len(got) != 1 || gitOut(t, bare, "rev-parse", got[0]) != published {
		t.Fatalf("bad input pushed: %v", got)
	}
	if _, err := os.Stat(filepath.Join(data, "evil")); !os.IsNotExist(err) {
		t.Fatalf("the escaping path was written: %v", err)
	}
	out, err = patchgit(t, data, "", "audit", "export")
	if err != nil || !strings.Contains(out, `"kind":"proposal.draft_failed"`) || !strings.Contains(out, `"kind":"job.push"`) {
		t.Fatalf("audit export lacks the draft failure or the push: %v\n%s", err, out)
	}
	if out, err := patchgit(t, data, "", "audit", "verify"); err != nil || !strings.Contains(out, "audit log OK") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
}

func TestE2EWrongPINGetsNoSession(t *testing.T) {
	requireTools(t, "tmux", "ssh")
	d := startDaemon(t, t.TempDir(), "PATCHGIT_PIN="+testPIN)
	shell := []string{"sh", "-c", strings.Join(quoteAll(sshCommand(d.port, "mallory", "-t")), " ") + "; echo SSH-EXIT=$?"}
	x := newTmux(t, "wrongpin", 120, 20, shell...)
	for i := 0; i < 3; i++ {
		x.waitFor(`(?s)(PIN:.*){`+string(rune('1'+i))+`}`, 30*time.Second)
		x.typeText("000000")
		x.keys("Enter")
	}
	screen := x.waitFor(`SSH-EXIT=255`, time.Minute)
	if strings.Contains(screen, "Proposed Execution") {
		t.Fatalf("a wrong PIN got the app:\n%s", screen)
	}
	if logs := d.logs.String(); strings.Contains(logs, "000000") || strings.Contains(logs, testPIN) {
		t.Fatalf("a PIN reached the daemon's log:\n%s", logs)
	}
}

func TestE2ENoTerminalGetsAMessage(t *testing.T) {
	requireTools(t, "tmux", "ssh")
	d := startDaemon(t, t.TempDir(), "PATCHGIT_PIN="+testPIN)
	shell := []string{"sh", "-c", strings.Join(quoteAll(sshCommand(d.port, "alice", "-T")), " ") + " </dev/null; echo SSH-EXIT=$?"}
	x := newTmux(t, "nopty", 120, 20, shell...)
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	screen := x.waitFor(`SSH-EXIT=\d+`, time.Minute)
	if !strings.Contains(screen, "terminal") || !strings.Contains(screen, "SSH-EXIT=1") {
		t.Fatalf("no clear message for a session without a PTY:\n%s", screen)
	}
}

// TestE2ECrashBetweenPushAndPRResumes kills the daemon with SIGKILL right
// after the push, restarts it, and checks with git and the forge that
// there is one branch and one PR.
func TestE2ECrashBetweenPushAndPRResumes(t *testing.T) {
	requireTools(t, "tmux", "ssh", "git")
	data := t.TempDir()
	d := startDaemon(t, data, "PATCHGIT_PIN="+testPIN, "PATCHGIT_FAULT_KILL_AFTER=push")
	bare := filepath.Join(data, "repos", "demo.git")

	// Propose without the app: ssh HOST propose --repo demo < fix.diff.
	fix := filepath.Join(t.TempDir(), "fix.diff")
	if err := os.WriteFile(fix, []byte(demoDiff(t, bare, howdy(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := append(quoteAll(sshCommand(d.port, "alice")), "propose", "--repo", "demo", "<", fix)
	x := newTmux(t, "propose", 160, 20, "sh", "-c", strings.Join(cmd, " ")+"; echo SSH-EXIT=$?")
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	screen := x.waitFor(`SSH-EXIT=\d+`, 3*time.Minute)
	m := regexp.MustCompile(`proposal ([0-9a-f]+) proposed`).FindStringSubmatch(screen)
	if m == nil || !strings.Contains(screen, "SSH-EXIT=0") {
		t.Fatalf("propose did not make a Proposed proposal:\n%s", screen)
	}

	// GO through the control socket, the same protocol the remote TUI uses.
	cl, err := rpc.Dial(context.Background(), filepath.Join(data, socketFile), "e2e")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Go(context.Background(), "alice", m[1], 1)
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	d.waitExit(3 * time.Minute)
	branches := patchgitBranches(t, bare)
	if len(branches) != 1 {
		t.Fatalf("after the crash: branches %v, want the one pushed", branches)
	}
	pushed := gitOut(t, bare, "rev-parse", branches[0])
	if out, _ := patchgit(t, data, "", "prs"); !strings.Contains(out, "no pull requests yet") {
		t.Fatalf("a PR exists although the daemon died before opening it:\n%s", out)
	}

	startDaemon(t, data) // no fault: the job resumes from its journal
	deadline := time.Now().Add(3 * time.Minute)
	var out string
	for !strings.Contains(out, "#1") {
		if time.Now().After(deadline) {
			t.Fatalf("the resumed job opened no PR:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
		out, _ = patchgit(t, data, "", "prs")
	}
	if n := len(regexp.MustCompile(`(?m)^demo\s+#`).FindAllString(out, -1)); n != 1 {
		t.Fatalf("%d PRs, want 1:\n%s", n, out)
	}
	if got := patchgitBranches(t, bare); len(got) != 1 || gitOut(t, bare, "rev-parse", got[0]) != pushed {
		t.Fatalf("the branch changed on resume: %v", got)
	}
	audit, err := patchgit(t, data, "", "audit", "export")
	if err != nil || strings.Count(audit, `"kind":"job.push"`) != 1 || strings.Count(audit, `"kind":"job.pr"`) != 1 ||
		!strings.Contains(audit, `"kind":"job.resumed"`) {
		t.Fatalf("audit: one push, one PR and a resume expected: %v\n%s", err, audit)
	}
}

// quoteAll single-quotes arguments for sh -c.
func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return out
}
