package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"

	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/sandbox"
)

func init() {
	register("sandbox", command{"run the whole sandbox on a local repository: sandbox try --repo PATH --patch FILE", runSandbox})
}

// checkFlags collects repeated --check NAME=CMD.
type checkFlags []sandbox.Check

func (c *checkFlags) String() string { return "" }

func (c *checkFlags) Set(v string) error {
	name, cmd, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(name) == "" || strings.TrimSpace(cmd) == "" {
		return fmt.Errorf("%q is not NAME=COMMAND (for example --check 'test=go test ./...')", v)
	}
	*c = append(*c, sandbox.Check{Name: name, Command: cmd})
	return nil
}

// tryReport is the --json output.
type tryReport struct {
	Admitted      bool                  `json:"admitted"`
	Applied       bool                  `json:"applied"`
	Passed        bool                  `json:"passed"`
	Failure       string                `json:"failure,omitempty"`
	Base          string                `json:"base,omitempty"`
	Files         []string              `json:"files,omitempty"`
	TouchesChecks []string              `json:"touches_checks,omitempty"`
	Mode          string                `json:"mode,omitempty"`
	Checks        []sandbox.CheckResult `json:"checks"`
}

// runSandbox: `sandbox try`. Exit 0 when the patch was admitted, applied
// and every check passed; 1 when it was refused or a check failed; 2 on a
// usage or setup error. The repository given is only read.
func runSandbox(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "try" {
		fmt.Fprintln(stderr, "Usage: patchgit sandbox try --repo PATH --patch FILE [--base REV] [--check NAME=CMD ...] [--json]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return exitError{code: 2}
	}
	fs := flag.NewFlagSet("sandbox try", flag.ContinueOnError)
	fs.SetOutput(stderr)
	repo := fs.String("repo", "", "a local git repository (work tree or bare); it is never modified")
	patch := fs.String("patch", "", "the unified diff to try (- for stdin)")
	base := fs.String("base", "HEAD", "the commit or ref to apply the patch to")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	isolation := fs.String("isolation", sandbox.ModeAuto, "auto, bwrap, namespaces or plain (unisolated)")
	timeout := fs.Duration("timeout", 5*time.Minute, "per check, unless the repository's .patchgit.yaml says otherwise")
	var checks checkFlags
	fs.Var(&checks, "check", "NAME=COMMAND, repeatable; default: the base commit's .patchgit.yaml")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: patchgit sandbox try --repo PATH --patch FILE [--base REV] [--check NAME=CMD ...] [--json]\n\n"+
			"Admits, applies and checks a patch exactly as PatchGit does before a Proposed Execution.\n"+
			"Exit status: 0 admitted, applied and every check passed; 1 refused or a check failed; 2 usage or setup error.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitError{code: 2}
	}
	if *repo == "" || *patch == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitError{code: 2, msg: "--repo and --patch are required"}
	}
	diff, err := readPatch(*patch)
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	// A work tree's objects are in .git; the sandbox reads the git dir.
	gitDir, err := exec.Command("git", "-C", *repo, "rev-parse", "--absolute-git-dir").Output()
	if err != nil {
		return exitError{code: 2, msg: fmt.Sprintf("--repo %s: not a git repository (%v)", *repo, err)}
	}
	root, err := os.MkdirTemp("", "patchgit-try-")
	if err != nil {
		return exitError{code: 2, msg: fmt.Sprintf("create sandbox dir: %v", err)}
	}
	defer os.RemoveAll(root)
	if err := os.Chmod(root, 0o711); err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	sb, err := sandbox.Open(root, gitops.New(), sandbox.Options{Isolation: *isolation})
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := sb.Verify(ctx, sandbox.Request{MirrorDir: strings.TrimSpace(string(gitDir)), Base: *base, Diff: diff, CheckSpecs: checks, CheckTimeout: *timeout})
	if err != nil {
		return exitError{code: 2, msg: err.Error()}
	}
	rep := tryReport{Admitted: !res.Refused, Applied: res.Diff != nil, Failure: res.Failure,
		Base: res.Base, Files: res.Files, TouchesChecks: res.TouchesChecks, Mode: res.Mode, Checks: res.Checks}
	rep.Passed = res.Failure == "" && res.Diff != nil
	if rep.Checks == nil {
		rep.Checks = []sandbox.CheckResult{}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return exitError{code: 2, msg: err.Error()}
		}
	} else {
		printTry(stdout, rep)
	}
	if !rep.Passed {
		return exitError{code: 1}
	}
	return nil
}

func readPatch(path string) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<20))
		if err != nil {
			return nil, fmt.Errorf("read patch from stdin: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read patch: %w", err)
	}
	return b, nil
}

func printTry(w io.Writer, r tryReport) {
	switch {
	case !r.Admitted:
		fmt.Fprintf(w, "REFUSED %s\n", r.Failure)
		return
	case !r.Applied:
		fmt.Fprintf(w, "NOT APPLIED %s\n", r.Failure)
		return
	}
	fmt.Fprintf(w, "applied to %s: %s\n", r.Base[:12], strings.Join(r.Files, ", "))
	if len(r.TouchesChecks) > 0 {
		fmt.Fprintf(w, "touches what the checks depend on: %s\n", strings.Join(r.TouchesChecks, ", "))
	}
	if len(r.Checks) == 0 {
		fmt.Fprintln(w, "no checks (give --check NAME=CMD or a .patchgit.yaml at the base commit)")
	}
	for _, c := range r.Checks {
		status := "PASS"
		if !c.Passed {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%s %s: %s (exit %d, %s, mode %s)\n", status, c.Name, c.Command, c.ExitCode, c.Duration.Round(time.Millisecond), c.Mode)
		if !c.Passed && c.Output != "" {
			for line := range strings.Lines(c.Output) {
				fmt.Fprint(w, "    ", line)
			}
			if !strings.HasSuffix(c.Output, "\n") {
				fmt.Fprintln(w)
			}
		}
	}
	if r.Failure != "" {
		fmt.Fprintln(w, r.Failure)
	} else {
		fmt.Fprintln(w, "verified")
	}
}
