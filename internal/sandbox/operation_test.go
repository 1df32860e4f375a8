package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unformatted is Go that gofmt rewrites.
const unformatted = "package demo\n\nfunc  Add(a,b int) int {\nreturn a+b\n}\n"

// TestOperationDiffIsWhatTheCommandDid runs `gofmt -w .` as an operation
// and compares its diff with what the same command does to a plain clone
// on the host; then the checks run on the operation's tree.
func TestOperationDiffIsWhatTheCommandDid(t *testing.T) {
	files := map[string]string{"add.go": unformatted, "sub/more.go": "package sub\nvar  X=1\n", "greet.go": greetGo, "README.md": "# demo\n"}
	for _, tc := range []struct {
		name, command, check string
		noLayers             bool
	}{
		{"gofmt", "gofmt -w .", `test -z "$(gofmt -l .)"`, false},
		{"sed", "sed -i 's/demo/DEMO/' README.md greet.go", "grep -q DEMO greet.go", false},
		{"sed, full checkout", "sed -i 's/demo/DEMO/' README.md greet.go", "grep -q DEMO greet.go", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, files, nil)
			if tc.noLayers {
				sb, err := Open(f.root, f.g, Options{NoLayers: true})
				if err != nil {
					t.Fatal(err)
				}
				f.sb = sb
			}
			res := f.verify(t, Request{Command: tc.command, Checks: []string{tc.check, "cat README.md"}})
			if res.Failure != "" {
				t.Fatalf("Failure = %q; operation %+v; checks %+v", res.Failure, res.Operation, res.Checks)
			}
			if res.Operation == nil || !res.Operation.Passed || res.Operation.Command != tc.command || res.Operation.Mode != res.Mode {
				t.Fatalf("operation: %+v", res.Operation)
			}
			want := hostDiff(t, f, tc.command)
			if string(res.Diff) != want {
				t.Errorf("diff differs from the command's on the host:\n--- sandbox\n%s\n--- host\n%s", res.Diff, want)
			}
			if len(res.Checks) != 2 || !res.Checks[1].Passed {
				t.Fatalf("checks: %+v", res.Checks)
			}
			if tc.name == "gofmt" && !slices.Equal(res.Files, []string{"add.go", "sub/more.go"}) {
				t.Errorf("files = %v", res.Files)
			}
			if tc.command[:3] == "sed" && res.Checks[1].Output != "# DEMO\n" {
				t.Errorf("the checks did not see the operation's tree: %q", res.Checks[1].Output)
			}
		})
	}
}

// hostDiff runs command in a fresh clone of the fixture's base, as the test
// process, and returns git's diff in the sandbox's canonical format.
func hostDiff(t *testing.T, f fixture, command string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	git(t, f.g, "", "clone", "--quiet", f.mirror, dir)
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s on the host: %v: %s", command, err, out)
	}
	git(t, f.g, dir, "add", "--all")
	out, err := exec.Command("git", "-C", dir, "diff", "--cached", "--binary", "--no-color", "--find-renames",
		"--src-prefix=a/", "--dst-prefix=b/", f.base, "--").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestOperationThatFails(t *testing.T) {
	f := newGreetFixture(t)
	res := f.verify(t, Request{Command: "echo first; echo 'fatal: no such tool' >&2; exit 3", Checks: []string{"true"}})
	if res.Operation == nil || res.Operation.ExitCode != 3 {
		t.Fatalf("operation: %+v", res.Operation)
	}
	if !strings.Contains(res.Failure, `operation "echo first;`) || !strings.Contains(res.Failure, "exit code 3") ||
		!strings.HasSuffix(res.Failure, "its output ends:\nfirst\nfatal: no such tool") {
		t.Errorf("Failure = %q", res.Failure)
	}
	if res.Diff != nil || len(res.Checks) != 0 {
		t.Errorf("a failed operation still gave a diff or ran checks: %q %+v", res.Diff, res.Checks)
	}
}

func TestOperationThatChangesNothing(t *testing.T) {
	f := newFixture(t, map[string]string{"greet.go": greetGo}, nil)
	// gofmt on formatted code, and a file written then removed again.
	res := f.verify(t, Request{Command: "gofmt -w . && touch x && rm x", Checks: []string{"true"}})
	if res.Failure != MsgOperationChangedNothing || res.Diff != nil || len(res.Checks) != 0 {
		t.Errorf("Failure = %q, diff %q, checks %+v", res.Failure, res.Diff, res.Checks)
	}
}

func TestOperationOverTheLimits(t *testing.T) {
	f := newGreetFixture(t)
	res := f.verify(t, Request{Command: "for i in 1 2 3 4 5; do echo $i > f$i.txt; done", Limits: Limits{MaxFiles: 3}})
	if !res.Refused || !strings.HasPrefix(res.Failure, "the operation's change was refused: patch refused (files)") || res.Diff != nil {
		t.Errorf("Refused %v, Failure %q, diff %q", res.Refused, res.Failure, res.Diff)
	}
	res = f.verify(t, Request{Command: "seq 1 50 > lines.txt", Limits: Limits{MaxLines: 10}})
	if !res.Refused || !strings.Contains(res.Failure, "refused") {
		t.Errorf("lines: Refused %v, Failure %q", res.Refused, res.Failure)
	}
	// A nested repository becomes a gitlink, which is always refused.
	res = f.verify(t, Request{Command: "mkdir sub && cd sub && git init -q && git -c user.name=x -c user.email=x@x commit -q --allow-empty -m x"})
	if !res.Refused || !strings.Contains(res.Failure, "gitlink") {
		t.Errorf("nested repository: Refused %v, Failure %q", res.Refused, res.Failure)
	}
}

// TestOperationIsConfinedLikeChecks: an operation has no network, cannot
// write outside the work tree (bwrap), and what it plants in the work
// tree's .git (config, index) neither runs nor bends the diff.
func TestOperationIsConfinedLikeChecks(t *testing.T) {
	probe := probeBinary(t)
	ln := acceptingListener(t)
	if out := runOutside(t, "tcp", ln.Addr().String()); !strings.HasPrefix(out, "OK") {
		t.Fatalf("the probe cannot connect even outside: %s", out)
	}
	outside := t.TempDir()
	if err := os.Chmod(outside, 0o777); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(outside, "fsmonitor-ran")
	for _, mode := range isolatedModes(t) {
		t.Run(mode, func(t *testing.T) {
			f := newGreetFixture(t).openMode(t, mode, Resources{})
			// The probe prints OK or FAIL; the operation keeps what it said.
			res := f.verify(t, Request{Command: probe + " tcp " + ln.Addr().String() + " > net.txt"})
			if res.Failure != "" || !strings.Contains(string(res.Diff), "+FAIL") {
				t.Errorf("network: Failure %q, diff %s", res.Failure, res.Diff)
			}
			res = f.verify(t, Request{Command: "touch " + filepath.Join(outside, "written") + " || true; " +
				"git config core.fsmonitor 'touch " + marker + "' || true; printf garbage > .git/index; " +
				"rm -rf .git/objects/info; echo changed > README.md"})
			if res.Failure != "" {
				t.Fatalf("Failure = %q; %+v", res.Failure, res.Operation)
			}
			if !slices.Equal(res.Files, []string{"README.md"}) || !strings.Contains(string(res.Diff), "+changed") {
				t.Errorf("files %v, diff %s", res.Files, res.Diff)
			}
			if _, err := os.Stat(marker); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a planted fsmonitor ran")
			}
			if mode == ModeNamespaces {
				return // the host filesystem is visible; a 0777 dir is writable (docs/security.md)
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Errorf("the operation wrote outside: %v", entries)
			}
		})
	}
}

func TestOperationRequestValidation(t *testing.T) {
	f := newGreetFixture(t)
	for _, req := range []Request{
		{Command: "true", Diff: []byte(greetDiff)},
		{Command: "true", Edits: []Edit{{Path: "a", Search: "b", Replace: "c"}}},
		{Command: "  "},
	} {
		req.MirrorDir, req.Base = f.mirror, f.base
		if _, err := f.sb.Verify(t.Context(), req); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%+v: err = %v", req, err)
		}
	}
}

// BenchmarkVerifyOperation compares a repository-wide operation with the
// same change pasted as a diff, on a 3,000-file repository, no checks: the
// operation's extra cost is its run in the sandbox and the git dir of our
// own (index copy, `git add --all` over the whole tree).
//
//	go test -run '^$' -bench VerifyOperation -benchtime 10x ./internal/sandbox/
func BenchmarkVerifyOperation(b *testing.B) {
	files := map[string]string{}
	for i := range 3000 {
		files[fmt.Sprintf("pkg%02d/file%04d.go", i/50, i)] = fmt.Sprintf("package p%02d\n\n%s", i/50, strings.Repeat("// some realistic line of text in the file\n", 30))
	}
	f := newFixture(b, files, nil)
	command := "sed -i 's/realistic/real/' pkg00/file0000.go"
	res, err := f.sb.Verify(b.Context(), Request{MirrorDir: f.mirror, Base: f.base, Command: command})
	if err != nil || res.Failure != "" {
		b.Fatalf("operation: %v %q", err, res.Failure)
	}
	diff := res.Diff
	for _, bc := range []struct {
		name string
		req  Request
	}{
		{"diff", Request{Diff: diff}},
		{"operation", Request{Command: command}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := bc.req
			req.MirrorDir, req.Base = f.mirror, f.base
			for range b.N {
				res, err := f.sb.Verify(b.Context(), req)
				if err != nil || res.Failure != "" || string(res.Diff) != string(diff) {
					b.Fatalf("%v %q", err, res.Failure)
				}
			}
		})
	}
}
