package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// CheckResult is the outcome of one check command.
type CheckResult struct {
	Command  string
	ExitCode int // -1 when killed by a signal (a timeout, say)
	Passed   bool
	TimedOut bool
	Output   string // stdout and stderr interleaved, capped (see outputLimit)
	Duration time.Duration
	Mode     string // isolation mode: "plain" for now
}

// ModePlain runs checks as ordinary child processes with a scrubbed
// environment, in their own process group. A later mode adds namespaces.
const ModePlain = "plain"

// runCheck runs command with sh -c in dir. The shell leads its own process
// group; on timeout the whole group gets SIGKILL, and so does anything
// left in the group when the shell exits (a forgotten background job). It
// returns an error only when ctx itself ended or the shell could not start.
func runCheck(ctx context.Context, dir string, env []string, command string, timeout time.Duration) (CheckResult, error) {
	res := CheckResult{Command: command, ExitCode: -1, Mode: ModePlain}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := newCappedOutput(outputLimit)
	cmd := exec.CommandContext(cctx, "/bin/sh", "-c", command)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return unix.Kill(-cmd.Process.Pid, unix.SIGKILL) }
	// A grandchild that left the group could hold the output pipe open.
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start check %q: %w", command, err)
	}
	// Wait for the shell to exit without reaping it: while it is a zombie
	// its pid cannot be reused, so killing its group hits only our processes.
	waitExitNoReap(cmd.Process.Pid)
	_ = unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
	waitErr := cmd.Wait()
	res.Duration = time.Since(start)
	res.Output = out.String()
	if ctx.Err() != nil {
		return res, fmt.Errorf("run check %q: %w", command, ctx.Err())
	}
	res.TimedOut = errors.Is(cctx.Err(), context.DeadlineExceeded)
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !res.TimedOut && !errors.As(waitErr, &exitErr) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return res, fmt.Errorf("wait for check %q: %w", command, waitErr)
	}
	res.Passed = res.ExitCode == 0 && !res.TimedOut
	return res, nil
}

// waitExitNoReap blocks until pid has exited, leaving it unreaped.
func waitExitNoReap(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// checkFailure is the user-facing reason for a failed check.
func checkFailure(r CheckResult, timeout time.Duration) string {
	switch {
	case r.TimedOut:
		return fmt.Sprintf("check %q timed out after %s and was stopped", r.Command, timeout)
	case r.ExitCode < 0:
		return fmt.Sprintf("check %q was killed by a signal", r.Command)
	}
	return fmt.Sprintf("check %q failed (exit code %d)", r.Command, r.ExitCode)
}

// checkEnv is the whole environment a check sees: no variable of ours
// (tokens, keys) is inherited. Go gets a per-repository cache, no network
// and the toolchain that is installed.
func checkEnv(w *workDir, cache string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	return []string{
		"PATH=" + path,
		"HOME=" + w.home,
		"TMPDIR=" + w.tmp,
		"LANG=C",
		"LC_ALL=C",
		"GOCACHE=" + cache + "/go-build",
		"GOMODCACHE=" + cache + "/gomod",
		"GOFLAGS=-mod=mod",
		"GOTOOLCHAIN=local",
		"GOPROXY=off",
		"GOSUMDB=off", // nothing can be downloaded anyway; no lookups either
		"GOTELEMETRY=off",
		"GOENV=off",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"CI=true",
	}
}

// outputLimit caps a check's captured output.
const outputLimit = 64 << 10

// cappedOutput keeps the first quarter and the last three quarters of the
// limit: the start shows what ran, the end usually shows why it failed.
type cappedOutput struct {
	head, tail       []byte
	headMax, tailMax int
	total            int64
}

func newCappedOutput(limit int) *cappedOutput {
	return &cappedOutput{headMax: limit / 4, tailMax: limit - limit/4}
}

func (c *cappedOutput) Write(p []byte) (int, error) {
	n := len(p)
	c.total += int64(n)
	if room := c.headMax - len(c.head); room > 0 {
		take := min(room, len(p))
		c.head = append(c.head, p[:take]...)
		p = p[take:]
	}
	c.tail = append(c.tail, p...)
	if len(c.tail) > 2*c.tailMax { // trim now and then, not on every write
		c.tail = append(c.tail[:0], c.tail[len(c.tail)-c.tailMax:]...)
	}
	return n, nil
}

func (c *cappedOutput) String() string {
	tail := c.tail
	if len(tail) > c.tailMax {
		tail = tail[len(tail)-c.tailMax:]
	}
	kept := int64(len(c.head) + len(tail))
	if kept == c.total {
		return strings.ToValidUTF8(string(c.head)+string(tail), "\uFFFD")
	}
	cut := fmt.Sprintf("\n[… %d bytes cut: the output was longer than %d KiB …]\n", c.total-kept, (c.headMax+c.tailMax)>>10)
	return strings.ToValidUTF8(string(c.head), "\uFFFD") + cut + strings.ToValidUTF8(string(tail), "\uFFFD")
}
