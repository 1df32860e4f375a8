package sandbox

import (
	"fmt"
	"strings"
	"time"
)

// CheckResult is the outcome of one check command.
type CheckResult struct {
	Name        string        `json:"name"` // "format", "test", or "check N" for an unnamed one
	Command     string        `json:"command"`
	ExitCode    int           `json:"exit_code"` // -1 when killed by a signal (a timeout, say)
	Passed      bool          `json:"passed"`
	TimedOut    bool          `json:"timed_out,omitempty"`
	OutOfMemory bool          `json:"out_of_memory,omitempty"` // the memory cgroup's limit was hit
	Output      string        `json:"output"`                  // stdout and stderr interleaved, capped (see outputLimit)
	Duration    time.Duration `json:"duration_ns"`
	Mode        string        `json:"mode"` // isolation mode: bwrap, namespaces or plain
}

// checkFailure is the user-facing reason for a failed check.
func checkFailure(r CheckResult, timeout time.Duration) string {
	switch {
	case r.TimedOut:
		return fmt.Sprintf("check %q timed out after %s and was stopped", r.Command, timeout)
	case r.OutOfMemory && r.ExitCode != 0:
		return fmt.Sprintf("check %q ran out of memory (the sandbox's limit) and was stopped", r.Command)
	case r.ExitCode < 0:
		return fmt.Sprintf("check %q was killed by a signal (a process, CPU or file size limit, say)", r.Command)
	}
	return fmt.Sprintf("check %q failed (exit code %d)", r.Command, r.ExitCode)
}

// checkEnv is the whole environment a check sees: no variable of ours
// (tokens, keys) is inherited. Go gets a per-repository cache, no network
// and the toolchain that is installed.
func checkEnv(w *workDir, tmp, cache string) []string {
	return []string{
		"PATH=" + checkPATH,
		"HOME=" + w.home,
		"TMPDIR=" + tmp,
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

// checkPATH is the PATH checks see: system directories only (bwrap binds
// /usr read-only; the Go toolchain lives in /usr/local/go).
const checkPATH = "/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

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

// prepareEnv is checkEnv for the prepare phase: the module proxy is
// reachable (network on), and the module cache is writable.
func prepareEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		switch {
		case strings.HasPrefix(kv, "GOPROXY="):
			kv = "GOPROXY=https://proxy.golang.org,direct"
		case strings.HasPrefix(kv, "GOSUMDB="):
			kv = "GOSUMDB=sum.golang.org"
		}
		out = append(out, kv)
	}
	return out
}
