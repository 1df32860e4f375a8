package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestE2ERunOperationReviewGoPublishes: the real daemon with
// repos[].operations in its config file, the real OpenSSH client in tmux:
// `/run` lists the operations, `/run fmt` runs gofmt in the sandbox on a
// base with an unformatted file (the format check fails there), the
// proposal shows the command and its output, reaches Proposed, and GO
// publishes exactly what gofmt wrote.
func TestE2ERunOperationReviewGoPublishes(t *testing.T) {
	requireTools(t, "tmux", "ssh", "git")
	data := t.TempDir()
	bare := filepath.Join(data, "repos", "demo.git")
	cfg := "repos:\n  - name: demo\n    url: " + bare + "\n    checks: ['test -z \"$(gofmt -l .)\"']\n" +
		"    operations:\n      fmt: gofmt -l -w .\n      tidy: go mod tidy\n"
	if err := os.WriteFile(filepath.Join(data, "patchgit.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, data, "PATCHGIT_PIN="+testPIN)
	// Someone pushes an unformatted file to main.
	clone := filepath.Join(t.TempDir(), "clone")
	for _, args := range [][]string{{"clone", "-q", bare, clone}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(clone, "messy.go"), []byte("package greet\n\nfunc  Messy( ) int {\nreturn 1\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitOut(t, clone, "add", "messy.go")
	gitOut(t, clone, "-c", "user.name=o", "-c", "user.email=o@example.com", "commit", "-qm", "messy")
	gitOut(t, clone, "push", "-q", "origin", "HEAD:main")

	x := newTmux(t, "e2erun", 160, 48, sshCommand(d.port, "alice", "-t")...)
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	x.waitFor(`Proposed Execution`, 30*time.Second)
	x.typeText("/run")
	x.keys("Enter")
	x.waitFor(`fmt: gofmt -l -w \.`, 30*time.Second)
	x.typeText("/run fmt")
	x.keys("Enter")
	screen := x.waitFor(`proposed\s+revision 1`, 3*time.Minute)
	for _, want := range []string{"Operation  fmt: gofmt -l -w .  exit 0", "│ messy.go", "Targets    messy.go",
		"+25 a configured repository operation made the change"} {
		if !strings.Contains(screen, want) {
			t.Errorf("proposal screen lacks %q:\n%s", want, screen)
		}
	}
	if got := patchgitBranches(t, bare); len(got) != 0 {
		t.Fatalf("pushed before GO: %v", got)
	}
	branch := goAndPublish(t, x, bare)
	if messy := gitOut(t, bare, "show", branch+":messy.go"); messy != "package greet\n\nfunc Messy() int {\n\treturn 1\n}" {
		t.Fatalf("published messy.go is not gofmt's:\n%q", messy)
	}
	if files := gitOut(t, bare, "diff", "--name-only", "main", branch); files != "messy.go" {
		t.Fatalf("the branch changes %q, want messy.go only", files)
	}
}
