package helperrun_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
	"github.com/patchgit/patchgit/internal/helperrun"
	"github.com/patchgit/patchgit/internal/sandbox"
	"github.com/patchgit/patchgit/internal/store"

	"github.com/patchgit/patchgit/internal/testbin"
)

// binary is the real patchgit binary, built once: the runner uploads it.
var binary string

func TestMain(m *testing.M) { os.Exit(testbin.Main(m, &binary)) }

// uploads records what was uploaded to a target.
type uploads struct {
	helperrun.Target
	mu    sync.Mutex
	names []string
}

func (u *uploads) Upload(ctx context.Context, r io.Reader, name string, mode uint32) error {
	u.mu.Lock()
	u.names = append(u.names, name)
	u.mu.Unlock()
	return u.Target.Upload(ctx, r, name, mode)
}

func (u *uploads) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.names
	u.names = nil
	return out
}

// mirrorRepo is a bare mirror with one commit: greet.txt and no config.
func mirrorRepo(t *testing.T) (mirror, base string) { return mirrorRepoTB(t) }

func mirrorRepoTB(t testing.TB) (mirror, base string) {
	t.Helper()
	work := t.TempDir()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}} {
		gitCmd(t, work, args...)
	}
	if err := os.WriteFile(filepath.Join(work, "greet.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitCmd(t, work, "add", "-A")
	gitCmd(t, work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
	mirror = filepath.Join(t.TempDir(), "mirror.git")
	if err := gitops.New().SyncMirror(context.Background(), work, mirror); err != nil {
		t.Fatal(err)
	}
	return mirror, strings.TrimSpace(gitCmd(t, work, "rev-parse", "HEAD"))
}

func gitCmd(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// comparable drops what differs between two honest runs: timings.
func comparable(r sandbox.Result) sandbox.Result {
	r.Checks = slices.Clone(r.Checks)
	for i := range r.Checks {
		r.Checks[i].Duration = 0
	}
	if r.Operation != nil {
		op := *r.Operation
		op.Duration = 0
		r.Operation = &op
	}
	return r
}

// The runner over a real sshd (an existing host, helper.provider ssh, with
// its pinned host key), through the real helper.Manager: the first verify
// uploads the binary, the second finds the same build and skips it; each
// Result equals what sandbox.Verify gives on this machine for the same
// request, for a change that passes and one that fails a check, and for
// repository-wide operations (Request.Command): one whose tree passes, one
// that fails, one that changes nothing.
func TestRunnerOverSSH(t *testing.T) {
	ctx := context.Background()
	hk, err := helper.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	signer := helpertest.ClientKey(t)
	port := helpertest.FreePort(t)
	helpertest.BootSSHD(t, t.TempDir(), port, hk.PrivatePEM, helpertest.AuthorizedKey(signer))
	dataDir := t.TempDir()
	db, err := store.Open(filepath.Join(dataDir, "patchgit.db"), store.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prov := &helper.SSHHost{Target: helper.SSHTarget{Address: "127.0.0.1", Port: port, User: helpertest.CurrentUser(t),
		Signer: signer, HostKey: hk.Public, Dir: filepath.Join(t.TempDir(), "helper-work")}}
	m, err := helper.NewManager(db, prov, helper.Options{Instance: "test", Audit: audit.New(db, filepath.Join(dataDir, "audit.head")),
		Poll: 20 * time.Millisecond, ReadyTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	mirror, base := mirrorRepo(t)
	g := gitops.New()
	local, err := sandbox.New(filepath.Join(t.TempDir(), "sandbox"), g)
	if err != nil {
		t.Fatal(err)
	}
	runner := &helperrun.Runner{Binary: binary, Git: g}
	checks := []string{"grep -q '^h' greet.txt", "test ! -e BROKEN"}

	later := []string{"verify-*.json", "verify-*.bundle"}
	for i, tc := range []struct {
		name, diff, command string
		wantFailure         string
		wantUploads         []string
	}{
		{"passes", "--- a/greet.txt\n+++ b/greet.txt\n@@ -1 +1 @@\n-hello\n+hi there\n", "", "",
			[]string{"patchgit", "verify-*.json", "verify-*.bundle"}},
		{"fails a check", "--- /dev/null\n+++ b/BROKEN\n@@ -0,0 +1 @@\n+x\n", "", `check "test ! -e BROKEN" failed (exit code 1)`, later},
		{"operation", "", "sed -i 's/hello/hello from the operation/' greet.txt", "", later},
		{"operation fails", "", "echo no tool >&2; exit 4", "operation \"echo no tool >&2; exit 4\" failed (exit code 4); its output ends:\nno tool", later},
		{"operation changes nothing", "", "true", sandbox.MsgOperationChangedNothing, later},
	} {
		req := sandbox.Request{MirrorDir: mirror, Base: base, Command: tc.command, Checks: checks, CheckTimeout: time.Minute}
		if tc.diff != "" {
			req.Diff = []byte(tc.diff)
		}
		want, err := local.Verify(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if want.Failure != tc.wantFailure {
			t.Fatalf("%s: local failure %q, want %q", tc.name, want.Failure, tc.wantFailure)
		}

		prep, err := runner.Prepare(ctx, "demo", mirror, req)
		if err != nil {
			t.Fatal(err)
		}
		h, err := m.Acquire(ctx, fmt.Sprintf("job-%d", i), helper.Need{})
		if err != nil {
			t.Fatal(err)
		}
		target := &uploads{Target: h}
		got, err := prep.Run(ctx, target)
		if rerr := h.Release(ctx); rerr != nil {
			t.Fatal(rerr)
		}
		prep.Close()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.command != "" && (got.Operation == nil || got.Operation.Command != tc.command) {
			t.Fatalf("%s: the operation did not run on the helper: %+v", tc.name, got)
		}
		if tc.name == "operation" && !strings.Contains(string(got.Diff), "+hello from the operation") {
			t.Fatalf("%s: diff %s", tc.name, got.Diff)
		}
		if !reflect.DeepEqual(comparable(got), comparable(want)) {
			t.Fatalf("%s: the helper's result differs from the local one:\n%+v\nwant\n%+v", tc.name, got, want)
		}
		names := target.take()
		if len(names) != len(tc.wantUploads) {
			t.Fatalf("%s: uploaded %v, want %v", tc.name, names, tc.wantUploads)
		}
		for j, pattern := range tc.wantUploads {
			if ok, _ := filepath.Match(pattern, names[j]); !ok {
				t.Fatalf("%s: uploaded %v, want %v", tc.name, names, tc.wantUploads)
			}
		}
	}
	// The request and the bundle do not stay on the helper.
	left, _ := filepath.Glob(filepath.Join(prov.Target.Dir, "verify-*"))
	if len(left) != 0 {
		t.Fatalf("left on the helper: %v", left)
	}
}

// restrictedPath runs every command with a PATH that has only the tools
// in tools: a helper machine without git, say.
type restrictedPath struct {
	helperrun.Target
	dir string
}

func (r restrictedPath) Run(ctx context.Context, command string, stdout, stderr io.Writer) error {
	return r.Target.Run(ctx, "PATH="+r.dir+"; export PATH; "+command, stdout, stderr)
}

// A helper without git is refused before anything is uploaded, with what
// to do.
func TestRunnerRefusesAHelperWithoutGit(t *testing.T) {
	ctx := context.Background()
	tools := t.TempDir()
	for _, tool := range []string{"uname", "sha256sum"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(tools, tool)); err != nil {
			t.Fatal(err)
		}
	}
	local := &helper.Local{Dir: t.TempDir()}
	m, err := local.Create(ctx, helper.CreateRequest{Name: "patchgit-test-nogit-000000"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := local.Connect(ctx, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	mirror, base := mirrorRepo(t)
	runner := &helperrun.Runner{Binary: binary, Git: gitops.New()}
	prep, err := runner.Prepare(ctx, "demo", mirror, sandbox.Request{MirrorDir: mirror, Base: base, Diff: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	defer prep.Close()
	target := &uploads{Target: restrictedPath{Target: conn, dir: tools}}
	_, err = prep.Run(ctx, target)
	if !errors.Is(err, helperrun.ErrIncompatible) || !strings.Contains(err.Error(), "git is not installed on the helper") {
		t.Fatalf("a helper without git: %v", err)
	}
	if names := target.take(); len(names) != 0 {
		t.Fatalf("uploaded %v to a helper that cannot run it", names)
	}
}
