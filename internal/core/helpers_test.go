package core_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/demo"
	"github.com/patchgit/patchgit/internal/forge"
	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/sandbox"
	"github.com/patchgit/patchgit/internal/store"
)

// env is a core wired to real parts: a bbolt store, the audit log, the git
// CLI, the sandbox, the local forge and the seeded demo repository.
type env struct {
	t     *testing.T
	dir   string
	bare  string
	db    *store.DB
	audit *audit.Log
	core  *core.Core
	fault func(string) error
	// configure, when set, changes the options before each open (other
	// forges and repositories).
	configure func(*core.Options)
	// paused opens the core without starting its workers: jobs stay
	// queued, as in a daemon that stopped before running them.
	paused bool
}

func newEnv(t *testing.T, tweak ...func(*core.Options)) *env {
	t.Helper()
	if len(tweak) == 0 {
		return newEnvWith(t, nil)
	}
	return newEnvWith(t, func(_ *env, o *core.Options) { tweak[0](o) })
}

// newEnvWith is newEnv with the options changed by configure (which may
// read e.bare and e.dir).
func newEnvWith(t *testing.T, configure func(e *env, o *core.Options)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	if configure != nil {
		e.configure = func(o *core.Options) { configure(e, o) }
	}
	e.bare = filepath.Join(e.dir, "repos", "demo.git")
	if _, err := demo.Seed(context.Background(), gitops.New(), e.bare); err != nil {
		t.Fatalf("seed demo: %v", err)
	}
	e.open()
	t.Cleanup(e.close)
	return e
}

// open (re)opens the store and starts a core on it.
func (e *env) open() {
	t := e.t
	t.Helper()
	db, err := store.Open(filepath.Join(e.dir, "patchgit.db"), store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	g := gitops.New()
	sb, err := sandbox.New(filepath.Join(e.dir, "sandbox"), g)
	if err != nil {
		t.Fatal(err)
	}
	e.db, e.audit = db, audit.New(db, filepath.Join(e.dir, "audit.head"))
	opt := core.Options{
		DB: db, Audit: e.audit, Git: g, Sandbox: sb,
		Forges: map[string]forge.Forge{"local": forge.NewLocal(db, g, map[string]string{"demo": e.bare})},
		Repos: []core.RepoSpec{{
			// Fast checks that can fail: core's tests are about states and
			// jobs; the sandbox's and the end-to-end tests run `go test`.
			Repo:      core.Repo{Name: "demo", BaseBranch: "main", Forge: "local", Checks: []string{`test -z "$(gofmt -l .)"`, "test ! -e BROKEN"}},
			URL:       e.bare,
			MirrorDir: filepath.Join(e.dir, "mirrors", "demo.git"),
		}},
		Author:       core.Author{Name: "PatchGit Test", Email: "test@patchgit.local"},
		Limits:       sandbox.Limits{MaxPatchBytes: 1 << 20, MaxFiles: 50, MaxLines: 5000},
		CheckTimeout: 10 * time.Minute, // a cold Go build cache on a loaded machine is slow
		Fault:        func(step string) error { return e.faultAt(step) },
	}
	if e.configure != nil {
		e.configure(&opt)
	}
	e.core, err = core.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if e.paused {
		return
	}
	if err := e.core.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (e *env) faultAt(step string) error {
	if e.fault != nil {
		return e.fault(step)
	}
	return nil
}

func (e *env) close() {
	if e.core != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		e.core.Shutdown(ctx)
		e.core = nil
	}
	if e.db != nil {
		e.db.Close()
		e.db = nil
	}
}

// waitProposal polls until cond holds; the deadline only guards against a hang.
func (e *env) waitProposal(id string, cond func(core.Proposal) bool) core.Proposal {
	e.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		p, err := e.core.Proposal(context.Background(), id)
		if err != nil {
			e.t.Fatal(err)
		}
		if cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("proposal %s stuck in %s (reason %q)", id, p.State, p.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitJobsIdle polls until no job is queued or running.
func (e *env) waitJobsIdle() {
	e.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		jobs, err := e.core.Jobs(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		busy := false
		for _, j := range jobs {
			busy = busy || j.State == core.JobQueued || j.State == core.JobRunning
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("jobs still busy: %+v", jobs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func settled(p core.Proposal) bool {
	return p.State != core.StateDraft || p.Reason != "" || (p.Current() != nil && p.Current().BaseCommit != "")
}

// git runs the git CLI itself, so assertions do not trust PatchGit's code.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func branches(t *testing.T, bare string) []string {
	out := git(t, bare, "for-each-ref", "--format=%(refname:short)", "refs/heads/")
	return strings.Fields(out)
}

func auditKinds(t *testing.T, l *audit.Log, subject string) []string {
	t.Helper()
	es, err := l.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range es {
		if subject == "" || e.Subject == subject {
			kinds = append(kinds, e.Kind)
		}
	}
	return kinds
}

func mustErrIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want %v", err, target)
	}
}

// makeDiff clones the repository, lets edit change the clone and returns
// `git diff` of the result: a real patch against the current main.
func makeDiff(t *testing.T, bare string, edit func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	if out, err := exec.Command("git", "clone", "-q", bare, dir).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	edit(dir)
	git(t, dir, "add", "-A")
	return git(t, dir, "diff", "--cached") + "\n"
}

// writeFile is a small helper for edits.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// addNotes adds a file that passes gofmt and go test.
func addNotes(t *testing.T, text string) func(string) {
	return func(dir string) { writeFile(t, filepath.Join(dir, "NOTES.md"), text) }
}

// pushToMain commits a change straight to the bare repo's main, as another
// person would, to move the base.
func pushToMain(t *testing.T, bare string, edit func(dir string)) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "other")
	if out, err := exec.Command("git", "clone", "-q", bare, dir).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	edit(dir)
	git(t, dir, "add", "-A")
	git(t, dir, "-c", "user.name=Other", "-c", "user.email=o@example.com", "commit", "-qm", "other change")
	git(t, dir, "push", "-q", "origin", "HEAD:main")
}
