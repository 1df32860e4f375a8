package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/helperrun"
	"github.com/patchgit/patchgit/internal/sandbox"
)

// `patchgit helper verify` end to end, as the control plane runs it on a
// helper: the real binary, a real repository bundled at its base commit,
// a diff that passes the repository's own check (.patchgit.yaml of the
// base), one that fails it, and requests that are not valid.
func TestHelperVerifyCommand(t *testing.T) {
	requireTools(t, "git")
	repo := tryRepo(t)
	g := gitops.New()
	ctx := context.Background()
	base, err := g.ResolveRef(ctx, filepath.Join(repo, ".git"), "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir() // the helper's work directory
	bundle := filepath.Join(work, "base.bundle")
	if err := g.BundleCommit(ctx, filepath.Join(repo, ".git"), base, bundle); err != nil {
		t.Fatal(err)
	}
	run := func(req any) (sandbox.Result, string, int) {
		t.Helper()
		raw, ok := req.([]byte)
		if !ok {
			var err error
			if raw, err = json.Marshal(req); err != nil {
				t.Fatal(err)
			}
		}
		reqFile := filepath.Join(work, "req.json")
		if err := os.WriteFile(reqFile, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binary, "helper", "verify", "--request", reqFile, "--bundle", bundle, "--root", work)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		var res sandbox.Result
		if cmd.ProcessState.ExitCode() == 0 {
			if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
				t.Fatalf("stdout is not a result: %v\n%s", err, stdout.String())
			}
		}
		return res, stderr.String(), cmd.ProcessState.ExitCode()
	}
	request := func(diff string) helperrun.Request {
		return helperrun.NewRequest("try", sandbox.Request{Base: base, Diff: []byte(diff)}, "", sandbox.Resources{})
	}

	res, stderr, code := run(request("--- a/greet.txt\n+++ b/greet.txt\n@@ -1 +1 @@\n-hello\n+hi\n"))
	if code != 0 || res.Failure != "" || res.Base != base || len(res.Checks) != 1 || !res.Checks[0].Passed {
		t.Fatalf("passing diff: exit %d, result %+v, stderr %s", code, res, stderr)
	}
	if res.Checks[0].Name != "greeting" || !strings.Contains(string(res.Diff), "+hi") || res.Mode == "" {
		t.Fatalf("passing diff: the base's .patchgit.yaml check and the canonical diff: %+v", res)
	}

	res, stderr, code = run(request("--- a/greet.txt\n+++ b/greet.txt\n@@ -1 +1 @@\n-hello\n+bye\n"))
	if code != 0 || !strings.Contains(res.Failure, "failed (exit code 1)") || len(res.Checks) != 1 || res.Checks[0].Passed {
		t.Fatalf("failing diff: exit %d, result %+v, stderr %s", code, res, stderr)
	}

	// A repository-wide operation: the JSON request's "command" runs there.
	op := helperrun.NewRequest("try", sandbox.Request{Base: base, Command: "sed -i s/hello/hi/ greet.txt"}, "", sandbox.Resources{})
	res, stderr, code = run(op)
	if code != 0 || res.Failure != "" || res.Operation == nil || !res.Operation.Passed || !strings.Contains(string(res.Diff), "+hi") ||
		len(res.Checks) != 1 || !res.Checks[0].Passed {
		t.Fatalf("operation: exit %d, result %+v, stderr %s", code, res, stderr)
	}

	// Nothing of a run stays behind in the work directory but the sandbox.
	entries, _ := os.ReadDir(filepath.Join(work, "mirrors"))
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("left behind in mirrors/: %s", e.Name())
		}
	}

	wrongBase := request("--- a/greet.txt\n+++ b/greet.txt\n@@ -1 +1 @@\n-hello\n+hi\n")
	wrongBase.Base = strings.Repeat("a", 40)
	noChange := request("")
	noChange.Diff = nil
	diffAndCommand := request("x")
	diffAndCommand.Command = "true"
	for name, tc := range map[string]struct {
		req  any
		want string
	}{
		"not JSON":      {[]byte("checks: [true]"), "not a JSON request"},
		"unknown field": {[]byte(`{"version":1,"repo":"try","base":"` + base + `","diff":"","chekcs":["true"]}`), `unknown field "chekcs"`},
		"short base":    {[]byte(`{"version":1,"repo":"try","base":"main","diff":"eA=="}`), `base "main" is not a full commit id`},
		"no change":     {noChange, "no change to verify"},
		"other base":    {wrongBase, "the bundle holds " + base},
		"two changes":   {diffAndCommand, "give one of diff, edits or command"},
	} {
		_, stderr, code := run(tc.req)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and %q", name, code, stderr, tc.want)
		}
	}
	cmd := exec.Command(binary, "helper", "verify", "--request", filepath.Join(work, "req.json"))
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "needs --request FILE and --bundle FILE") {
		t.Errorf("no bundle: %v %s", err, out)
	}
}
