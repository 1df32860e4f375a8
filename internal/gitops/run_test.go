package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunErrorNamesTheSubcommandAndStderr(t *testing.T) {
	g := New()
	_, err := g.Run(context.Background(), t.TempDir(), RunOpts{}, "rev-parse", "--verify", "no-such-ref")
	var gerr *Error
	if !errors.As(err, &gerr) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if gerr.Subcommand != "rev-parse" || gerr.ExitCode != 128 || !strings.Contains(gerr.Stderr, "not a git repository") {
		t.Errorf("error = %+v", gerr)
	}
	if strings.Contains(err.Error(), "core.hooksPath") {
		t.Errorf("error leaks the full argv: %v", err)
	}
}

func TestRunIgnoresTheCallersEnvironmentAndConfig(t *testing.T) {
	t.Setenv("GIT_CONFIG_PARAMETERS", "'user.name'='leaked-from-env'")
	t.Setenv("GIT_DIR", "/nonexistent")
	t.Setenv("GIT_ASKPASS", "/bin/false")
	home := t.TempDir()
	writeFiles(t, home, map[string]string{".gitconfig": "[user]\n\tname = leaked-from-home\n"})
	t.Setenv("HOME", home)
	g := New()
	dir := t.TempDir()
	git(t, g, dir, "init", "--quiet")
	out := git(t, g, dir, "config", "--list", "--show-origin")
	if strings.Contains(out, "leaked") {
		t.Errorf("git saw outside config:\n%s", out)
	}
	env := git(t, g, dir, "-c", "alias.showenv=!env", "showenv")
	for _, leak := range []string{"GIT_ASKPASS=", "GIT_DIR=/nonexistent", "leaked", "HOME=" + home} {
		if strings.Contains(env, leak) {
			t.Errorf("git's environment has %q:\n%s", leak, env)
		}
	}
}

// TestNoRepositoryProgramRuns plants hooks, an fsmonitor, a sshCommand and
// an askPass in the config of the repository git runs in: none may run.
// (Hooks of a repository we push to over the local transport are that
// remote's business and do run, as they would on any git server.)
func TestNoRepositoryProgramRuns(t *testing.T) {
	ctx := context.Background()
	g := New()
	u := newUpstream(t, g, map[string]string{"a.txt": "a\n"})
	marker := filepath.Join(t.TempDir(), "ran")
	script := filepath.Join(t.TempDir(), "evil.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$0 $*\" >> "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, hook := range []string{"pre-push", "pre-commit", "post-checkout", "reference-transaction", "pre-receive", "post-update"} {
		if err := os.Symlink(script, filepath.Join(u.work, ".git", "hooks", hook)); err != nil {
			t.Fatal(err)
		}
	}
	git(t, g, u.work, "config", "core.fsmonitor", script)
	git(t, g, u.work, "config", "core.sshCommand", script)
	git(t, g, u.work, "config", "core.askPass", script)

	git(t, g, u.work, "status")
	u.commit(t, g, "second", map[string]string{"a.txt": "b\n"})
	git(t, g, u.work, "checkout", "--quiet", "-b", "other")
	sha := git(t, g, u.work, "rev-parse", "HEAD")
	if err := g.Push(ctx, filepath.Join(u.work, ".git"), u.bare, sha, "pushed", PushOpts{}); err != nil {
		t.Fatal(err)
	}
	_, _ = g.Run(ctx, u.work, RunOpts{}, "fetch", "ssh://example.invalid/x.git")
	srv := newSmartHTTP(t, g, filepath.Dir(u.bare)) // asks for credentials
	_, _ = g.Run(ctx, u.work, RunOpts{}, "fetch", srv.URL+"/remote.git")
	if ran, err := os.ReadFile(marker); err == nil {
		t.Errorf("a repository program ran:\n%s", ran)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	g := New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := g.Run(ctx, "", RunOpts{}, "version")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
