package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests drive the real OpenSSH client through a pseudo-terminal, the
// way a person types the PIN: no askpass, no sshpass.

func TestOpenSSHRetriesAreThrottledAndCapped(t *testing.T) {
	ts := startServer(t, nil)
	term := startSSH(t, ts.addr, "mallory", nil, "-o", "NumberOfPasswordPrompts=6", "help")
	for i := 1; i <= DefaultLimits().MaxAuthTries; i++ {
		term.waitFor(t, "PIN: ", i)
		term.send(t, fmt.Sprintf("00000%d\r", i))
	}
	if code := term.wait(t); code != 255 {
		t.Errorf("ssh exit %d, want 255 (authentication failed)\n%s", code, term.output())
	}
	// The client would have asked 6 times; the server stops it after 3.
	if n := strings.Count(term.output(), "PIN: "); n != DefaultLimits().MaxAuthTries {
		t.Errorf("prompted %d times, want %d\n%s", n, DefaultLimits().MaxAuthTries, term.output())
	}
	if got, want := ts.clock.Sleeps(), []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("retries on one connection waited %v, want %v", got, want)
	}
	if n := ts.failures(t); n != DefaultLimits().MaxAuthTries {
		t.Errorf("gate counted %d failures, want %d", n, DefaultLimits().MaxAuthTries)
	}
}

func TestOpenSSHOpensAppWithPIN(t *testing.T) {
	ts := startServer(t, nil)
	term := startSSH(t, ts.addr, "alice", nil, "-t")
	term.waitFor(t, "PIN: ", 1)
	term.send(t, testPIN+"\r")
	term.waitFor(t, "hello alice", 1)
	term.send(t, "q")
	if code := term.wait(t); code != 0 {
		t.Errorf("ssh exit %d, want 0\n%s", code, term.output())
	}
}

func TestOpenSSHProposeFromStdin(t *testing.T) {
	ts := startServer(t, nil)
	patchFile := filepath.Join(t.TempDir(), "fix.diff")
	if err := os.WriteFile(patchFile, []byte(samplePatch), 0o600); err != nil {
		t.Fatal(err)
	}
	stdin, err := os.Open(patchFile)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	term := startSSH(t, ts.addr, "alice", stdin, "propose", "--repo", "demo", "--no-wait")
	term.waitFor(t, "PIN: ", 1)
	term.send(t, testPIN+"\r")
	if code := term.wait(t); code != 0 {
		t.Errorf("ssh exit %d, want 0\n%s", code, term.output())
	}
	if !strings.Contains(term.output(), "proposal p1 draft") {
		t.Errorf("output lacks the proposal line:\n%s", term.output())
	}
	if calls := ts.svc.proposeCalls(); len(calls) != 1 || calls[0].patch != samplePatch {
		t.Errorf("Propose calls %+v, want one with the file's patch", calls)
	}
}

// terminal is the master side of a pty whose slave is ssh's controlling
// terminal.
type terminal struct {
	cmd    *exec.Cmd
	master *os.File

	mu      sync.Mutex
	out     bytes.Buffer
	changed chan struct{} // closed and replaced on every read
	eof     bool
}

// startSSH runs ssh with a pty for its terminal; stdin, when given, replaces
// the pty as ssh's standard input (ssh still asks for the PIN on the tty).
func startSSH(t *testing.T, addr, user string, stdin *os.File, args ...string) *terminal {
	t.Helper()
	return startSSHWith(t, addr, user, stdin, nil, args...)
}

// startSSHWith is startSSH with client options in front of the defaults
// (OpenSSH takes the first value it sees for an option).
func startSSHWith(t *testing.T, addr, user string, stdin *os.File, opts []string, args ...string) *terminal {
	t.Helper()
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("OpenSSH client not installed")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	master, slave := openPTY(t)
	full := append(append([]string{"-F", "/dev/null", "-p", port}, opts...),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=keyboard-interactive",
		user+"@"+host)
	full = append(full, args...)
	cmd := exec.Command(sshPath, full...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TERM=xterm-256color"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 1}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ssh: %v", err)
	}
	_ = slave.Close() // the child holds it; closing ours lets reads end at exit
	term := &terminal{cmd: cmd, master: master, changed: make(chan struct{})}
	go term.read()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = master.Close()
	})
	return term
}

func (tm *terminal) read() {
	buf := make([]byte, 4096)
	for {
		n, err := tm.master.Read(buf)
		tm.mu.Lock()
		tm.out.Write(buf[:n])
		tm.eof = err != nil
		close(tm.changed)
		tm.changed = make(chan struct{})
		tm.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (tm *terminal) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// waitFor blocks until want has appeared count times. The bound only keeps
// a broken test from hanging; nothing here measures speed.
func (tm *terminal) waitFor(t *testing.T, want string, count int) {
	t.Helper()
	bound := time.After(60 * time.Second)
	for {
		tm.mu.Lock()
		seen, eof, changed := strings.Count(tm.out.String(), want), tm.eof, tm.changed
		tm.mu.Unlock()
		if seen >= count {
			return
		}
		if eof {
			t.Fatalf("ssh ended before %q appeared %d times:\n%s", want, count, tm.output())
		}
		select {
		case <-changed:
		case <-bound:
			t.Fatalf("gave up waiting for %q (%d times):\n%s", want, count, tm.output())
		}
	}
}

func (tm *terminal) waitEOF(t *testing.T) {
	t.Helper()
	bound := time.After(60 * time.Second)
	for {
		tm.mu.Lock()
		eof, changed := tm.eof, tm.changed
		tm.mu.Unlock()
		if eof {
			return
		}
		select {
		case <-changed:
		case <-bound:
			t.Fatalf("ssh exited but its terminal never closed:\n%s", tm.output())
		}
	}
}

func (tm *terminal) send(t *testing.T, s string) {
	t.Helper()
	if _, err := tm.master.WriteString(s); err != nil {
		t.Fatalf("type into ssh: %v", err)
	}
}

// wait returns ssh's exit status once its output is drained.
func (tm *terminal) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- tm.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second): // e.g. ssh still asking for a PIN
		_ = tm.cmd.Process.Kill()
		t.Fatalf("ssh did not exit:\n%s", tm.output())
	}
	tm.waitEOF(t)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	default:
		t.Fatalf("wait for ssh: %v", err)
		return -1
	}
}

// openPTY opens a pseudo-terminal pair with plain syscalls.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	// A zero-sized terminal would give the app nothing to draw on.
	if err := unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80}); err != nil {
		t.Fatalf("size pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	return m, s
}

// The owner's real OpenSSH client, with its key, gets the PIN prompt and in
// while the anonymous gate is locked; without the key it is told why.
func TestOpenSSHKeyHolderDuringLock(t *testing.T) {
	dir := t.TempDir()
	_, keys := newKey(t, dir)
	ts := startServer(t, func(o *Options) { o.AuthorizedKeysPath = keys })
	for i := range 10 {
		_, _ = ts.gate.CheckPIN(context.Background(), nil, fmt.Sprintf("00000%d", i))
	}
	term := startSSHWith(t, ts.addr, "mallory", nil, []string{"-o", "LogLevel=INFO"}, "help")
	if code := term.wait(t); code != 255 || !strings.Contains(term.output(), "locked until") {
		t.Errorf("PIN only during the lock: exit %d, want 255 and the lock message\n%s", code, term.output())
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	term = startSSHWith(t, ts.addr, "alice", nil, []string{"-i", keyFile, "-o", "IdentitiesOnly=yes",
		"-o", "PubkeyAuthentication=yes", "-o", "PreferredAuthentications=publickey,keyboard-interactive"}, "help")
	term.waitFor(t, "PIN: ", 1)
	term.send(t, testPIN+"\r")
	if code := term.wait(t); code != 0 || !strings.Contains(term.output(), "propose --repo NAME") {
		t.Errorf("key and PIN during the lock: exit %d\n%s", code, term.output())
	}
}
