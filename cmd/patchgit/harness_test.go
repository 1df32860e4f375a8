package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/testbin"
)

// binary is the patchgit binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) { os.Exit(testbin.Main(m, &binary)) }

// requireTools skips without the tools, except under CI=true where a
// missing tool is a failure: CI must install them.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed: .ci/run must install it", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
}

// syncBuffer collects a process's output for the test to read.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// daemon is a running `patchgit serve`.
type daemon struct {
	t       *testing.T
	cmd     *exec.Cmd
	dataDir string
	sshAddr string
	port    string
	logs    *syncBuffer
	done    chan error
}

var listenRE = regexp.MustCompile(`ssh server listening.*addr=(\S+)`)

// startDaemon runs serve on a free port (the server picks it: port 0) and
// waits for its "listening" log line.
func startDaemon(t *testing.T, dataDir string, env ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, dataDir: dataDir, logs: &syncBuffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(binary, "serve", "--data-dir", dataDir, "--ssh-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { d.stop() })
	deadline := time.Now().Add(time.Minute)
	for {
		if m := listenRE.FindStringSubmatch(d.logs.String()); m != nil {
			d.sshAddr = strings.Trim(m[1], `"`)
			d.port = d.sshAddr[strings.LastIndex(d.sshAddr, ":")+1:]
			return d
		}
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("patchgit serve exited: %v\n%s", err, d.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("patchgit serve did not listen:\n%s", d.logs.String())
		}
	}
}

// stop ends the daemon gracefully (SIGTERM) if it still runs.
func (d *daemon) stop() {
	if d.cmd.ProcessState != nil {
		return
	}
	select {
	case err := <-d.done:
		d.done <- err
		return
	default:
	}
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-d.done:
		d.done <- err
	case <-time.After(45 * time.Second):
		d.cmd.Process.Kill()
		d.t.Errorf("daemon did not stop on SIGINT:\n%s", d.logs.String())
	}
}

// waitExit waits for the daemon to die by itself (the fault injection).
func (d *daemon) waitExit(timeout time.Duration) error {
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(timeout):
		d.t.Fatalf("daemon still running:\n%s", d.logs.String())
		return nil
	}
}

// patchgit runs a CLI subcommand against the data dir.
func patchgit(t *testing.T, dataDir string, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(args, "--data-dir", dataDir)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// tmux drives a real terminal: a private tmux server (-L) with no config.
type tmux struct {
	t      *testing.T
	socket string
	target string
}

func newTmux(t *testing.T, name string, width, height int, command ...string) *tmux {
	t.Helper()
	x := &tmux{t: t, socket: fmt.Sprintf("pg-%d-%s", os.Getpid(), name), target: name}
	args := append([]string{"new-session", "-d", "-s", name, "-x", fmt.Sprint(width), "-y", fmt.Sprint(height)}, command...)
	x.run(args...)
	// Keep the pane after the command exits, to read its last words.
	x.run("set-option", "-t", name, "remain-on-exit", "on")
	t.Cleanup(func() { exec.Command("tmux", "-L", x.socket, "kill-server").Run() })
	return x
}

func (x *tmux) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", x.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// keys sends tmux key names (e.g. "Enter", "C-g") or literal text with -l.
func (x *tmux) keys(keys ...string) { x.run(append([]string{"send-keys", "-t", x.target}, keys...)...) }

func (x *tmux) typeText(s string) { x.run("send-keys", "-t", x.target, "-l", s) }

// paste loads text into a tmux buffer and pastes it as a bracketed paste.
func (x *tmux) paste(text string) {
	f := filepath.Join(x.t.TempDir(), "paste")
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		x.t.Fatal(err)
	}
	x.run("load-buffer", "-b", "p", f)
	x.run("paste-buffer", "-p", "-b", "p", "-t", x.target)
}

func (x *tmux) screen() string { return x.run("capture-pane", "-p", "-t", x.target) }

// waitFor polls the screen until re matches; the deadline only guards a hang.
func (x *tmux) waitFor(re string, timeout time.Duration) string {
	x.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for {
		s := x.screen()
		if rx.MatchString(s) {
			return s
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("screen never matched %q; it shows:\n%s", re, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sshCommand is the real OpenSSH client, asking only for the PIN.
func sshCommand(port, user string, extra ...string) []string {
	args := []string{"ssh", "-F", "/dev/null", "-p", port,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "PubkeyAuthentication=no", "-o", "PasswordAuthentication=no",
		"-o", "PreferredAuthentications=keyboard-interactive", "-o", "IdentitiesOnly=yes"}
	args = append(args, extra...)
	return append(args, user+"@127.0.0.1")
}

// gitOut runs git itself: the assertions do not trust PatchGit's code.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// demoDiff makes a real diff against the demo repository's main.
func demoDiff(t *testing.T, bare string, edit func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	if out, err := exec.Command("git", "clone", "-q", bare, dir).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	edit(dir)
	gitOut(t, dir, "add", "-A")
	return gitOut(t, dir, "diff", "--cached") + "\n"
}

func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
