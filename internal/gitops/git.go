// Package gitops runs the git CLI for PatchGit: mirrors, plumbing commits
// built without a worktree, pushes with credentials that never touch disk
// or argv, and branch name rules.
//
// The CLI is used rather than go-git because it is an order of magnitude
// faster for clone, push and commit on real repositories (see the
// benchmarks in this package and /work/shared/design/dependencies.md).
//
// Every git process gets a scrubbed environment and command-line config
// (see safetyConfig) so that neither the operator's nor a repository's
// config can run programs or leak credentials.
package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// safetyConfig is passed as -c to every git command. Command-line config
// is "protected" config and beats any repository's own file.
//
//   - core.hooksPath=/dev/null: no hook of any repository ever runs.
//   - core.fsmonitor=false: fsmonitor names a program to run.
//   - core.askPass= (empty): only our GIT_ASKPASS (env beats config) or
//     nothing; a repository cannot name a prompt program.
//   - credential.helper= (empty): resets the helper list, so no helper can
//     store or hand out credentials; they come only from GIT_ASKPASS.
//   - protocol.allow=never + file/http/https/ssh always: ext:: and fd::
//     (which run commands) and git:// are refused. file:// is needed for
//     local mirrors and the embedded demo repository; http:// for a local
//     forge (credentials are refused over http:// except on loopback).
//   - http.sslVerify=true: a repository config cannot turn TLS checks off.
//   - gc.autoDetach/maintenance.autoDetach=false: automatic gc runs in the
//     foreground, inside our mirror lock, never as a stray daemon.
//   - fetch.recurseSubmodules/submodule.recurse=false: never fetch or check
//     out other repositories named by .gitmodules.
//   - safe.bareRepository=explicit: git never picks up a bare repository
//     that is embedded in a checked-out tree; we always pass GIT_DIR.
//   - transfer.credentialsInUrl=die: newer git refuses credentials in URLs
//     (we check ourselves too; older git ignores the key).
//
// Not set, on purpose: uploadpack.packObjectsHook is only read from
// system/global/command-line config, and system and global config are off
// (GIT_CONFIG_NOSYSTEM, GIT_CONFIG_GLOBAL=/dev/null); an empty value would
// make upload-pack fail. core.sshCommand is neutralised by GIT_SSH_COMMAND
// in the environment, which git prefers.
var safetyConfig = []string{
	"core.hooksPath=/dev/null",
	"core.fsmonitor=false",
	"core.askPass=",
	"credential.helper=",
	"protocol.allow=never",
	"protocol.file.allow=always",
	"protocol.http.allow=always",
	"protocol.https.allow=always",
	"protocol.ssh.allow=always",
	"http.sslVerify=true",
	"gc.autoDetach=false",
	"maintenance.autoDetach=false",
	"fetch.recurseSubmodules=false",
	"submodule.recurse=false",
	"safe.bareRepository=explicit",
	"transfer.credentialsInUrl=die",
}

// stderrLimit bounds how much of git's stderr goes into an error.
const stderrLimit = 2000

// Git runs the git CLI with a scrubbed environment.
type Git struct {
	path    string // absolute path of the git binary
	lookErr error
	home    string // HOME for git: empty, so no user config is found
	pathEnv string
}

var (
	emptyHomeOnce sync.Once
	emptyHome     string
)

// New finds git on PATH. HOME for git is an empty private directory made
// once per process; WithHome points it elsewhere (e.g. the data dir).
// If git is missing, every call returns ErrGitNotFound.
func New() *Git {
	g := &Git{pathEnv: os.Getenv("PATH")}
	if g.pathEnv == "" {
		g.pathEnv = "/usr/local/bin:/usr/bin:/bin"
	}
	p, err := exec.LookPath("git")
	if err == nil {
		p, err = filepath.Abs(p)
	}
	if err != nil {
		g.lookErr = fmt.Errorf("%w: install git 2.39 or newer (%v)", ErrGitNotFound, err)
	}
	g.path = p
	emptyHomeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "patchgit-git-home-")
		if err != nil {
			// Never a shared dir like /tmp: another user could plant
			// .config/git/attributes there. A missing home reads as empty.
			dir = "/nonexistent"
		}
		emptyHome = dir
	})
	g.home = emptyHome
	return g
}

// workDir is where git runs when the caller names no directory.
func (g *Git) workDir() string {
	if st, err := os.Stat(g.home); err == nil && st.IsDir() {
		return g.home
	}
	return "/"
}

// WithHome returns a copy of g that gives git dir as HOME. dir should hold
// no git config: global and system config are ignored anyway.
func (g *Git) WithHome(dir string) *Git {
	c := *g
	c.home = dir
	return &c
}

// Path is the git binary in use.
func (g *Git) Path() string { return g.path }

// RunOpts are the extras of one git call.
type RunOpts struct {
	Env   []string  // added to the scrubbed environment, KEY=value
	Stdin io.Reader // nil: no input
}

// Error is a failed git command: the subcommand, exit code and trimmed,
// redacted stderr. It never holds the full argv (which may name paths the
// user should not see) nor credentials.
type Error struct {
	Subcommand string
	ExitCode   int // -1 when git did not start or was killed
	Stderr     string
	Err        error // the underlying exec error
}

func (e *Error) Error() string {
	msg := "git " + e.Subcommand + " failed"
	if e.ExitCode >= 0 {
		msg += " (exit " + strconv.Itoa(e.ExitCode) + ")"
	} else if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Run runs git in dir with the scrubbed environment plus opt.Env and
// returns stdout. dir "" runs in git's empty home (for commands that need
// no repository). A context cancel kills git and its helpers (their own
// process group).
func (g *Git) Run(ctx context.Context, dir string, opt RunOpts, args ...string) ([]byte, error) {
	return g.run(ctx, dir, opt, nil, args...)
}

// run is Run with secrets to redact from stderr.
func (g *Git) run(ctx context.Context, dir string, opt RunOpts, secrets []string, args ...string) ([]byte, error) {
	if g.lookErr != nil {
		return nil, g.lookErr
	}
	if dir == "" {
		dir = g.workDir()
	}
	full := make([]string, 0, 2*len(safetyConfig)+len(args))
	for _, kv := range safetyConfig {
		full = append(full, "-c", kv)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, g.path, full...)
	cmd.Dir = dir
	cmd.Env = append(g.baseEnv(), opt.Env...)
	cmd.Stdin = opt.Stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// Own process group, so a cancel also stops git-remote-https,
	// upload-pack and the like.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	gerr := &Error{Subcommand: subcommand(args), ExitCode: -1, Err: err,
		Stderr: cleanStderr(stderr.String(), secrets)}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		gerr.ExitCode = exitErr.ExitCode()
	}
	if ctx.Err() != nil {
		gerr.Err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return stdout.Bytes(), gerr
}

// baseEnv is the whole environment git sees, before per-call extras.
func (g *Git) baseEnv() []string {
	return []string{
		"PATH=" + g.pathEnv,
		"HOME=" + g.home,
		"LANG=C",
		"LC_ALL=C",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_ATTR_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		// A mirror fetches refs/replace/* too: never let them swap objects.
		"GIT_NO_REPLACE_OBJECTS=1",
		// Beats core.sshCommand from any repository config; never prompt.
		"GIT_SSH_COMMAND=ssh -o BatchMode=yes",
		"GIT_EDITOR=:",
		"GIT_PAGER=cat",
		// Repository discovery never climbs above git's working directory's
		// parent (matters when dir is "" and git runs in its empty home).
		"GIT_CEILING_DIRECTORIES=" + filepath.Dir(g.home),
	}
}

// subcommand is the first argument that is not an option.
func subcommand(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-c" || a == "-C" {
			i++
			continue
		}
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return "(no subcommand)"
}

// cleanStderr trims stderr to its useful tail and removes anything that
// looks like a credential.
func cleanStderr(s string, secrets []string) string {
	s = redact(s, secrets)
	s = strings.TrimSpace(s)
	if len(s) > stderrLimit {
		s = "…" + s[len(s)-stderrLimit:]
	}
	return strings.ReplaceAll(s, "\n", "; ")
}

// gitDirEnv makes git use gitDir without repository discovery (so a
// missing or broken gitDir never lets git find a parent repository).
func gitDirEnv(gitDir string) []string {
	return []string{"GIT_DIR=" + gitDir}
}

// runGitDir runs git against the repository at gitDir.
func (g *Git) runGitDir(ctx context.Context, gitDir string, opt RunOpts, args ...string) ([]byte, error) {
	abs, err := filepath.Abs(gitDir)
	if err != nil {
		return nil, fmt.Errorf("resolve git dir %q: %w", gitDir, err)
	}
	opt.Env = append(gitDirEnv(abs), opt.Env...)
	return g.run(ctx, "", opt, nil, args...)
}
