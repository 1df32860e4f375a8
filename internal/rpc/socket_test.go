package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/patchgit/patchgit/internal/core"
)

// TestListenMakesTheSocketOwnerOnly runs with umask 0, so only the chmod
// after bind can give mode 0600. (Not parallel: the umask is per process.)
func TestListenMakesTheSocketOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Type() != fs.ModeSocket || info.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", info.Mode())
	}
}

func TestListenReplacesAStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	dead, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dead.SetUnlinkOnClose(false) // like a daemon killed with -9
	dead.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the stale socket file is gone already: %v", err)
	}
	svc := newMemService()
	l, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ServeListener(ctx, l, svc, nil, "server-test", nil)
	c, err := Dial(ctx, path, "client-test")
	if err != nil {
		t.Fatalf("Dial the new daemon: %v", err)
	}
	defer c.Close()
	if _, err := c.Repos(ctx); err != nil {
		t.Error(err)
	}
}

func TestListenRefusesWhenADaemonAnswers(t *testing.T) {
	svc := newMemService()
	path, _ := serveSocket(t, svc, nil, nil)
	_, err := Listen(path)
	if !errors.Is(err, ErrAlreadyRunning) || !strings.Contains(err.Error(), "already running?") {
		t.Fatalf("second Listen: %v, want ErrAlreadyRunning", err)
	}
	c, err := Dial(context.Background(), path, "client-test")
	if err != nil {
		t.Fatalf("the first daemon stopped answering: %v", err)
	}
	defer c.Close()
	if _, err := c.Repos(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestListenRefusesUnsafePaths(t *testing.T) {
	t.Run("not a socket", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "control.sock")
		if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Errorf("Listen on a regular file: %v", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "keep me" {
			t.Error("Listen touched a regular file")
		}
	})
	t.Run("directory others may write", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		_, err := Listen(filepath.Join(dir, "control.sock"))
		if err == nil || !strings.Contains(err.Error(), "chmod 700") {
			t.Errorf("Listen in a 0777 directory: %v", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		_, err := Listen(filepath.Join(t.TempDir(), "nope", "control.sock"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Listen in a missing directory: %v", err)
		}
	})
}

func TestDialWithoutDaemon(t *testing.T) {
	_, err := Dial(context.Background(), filepath.Join(t.TempDir(), "control.sock"), "client-test")
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "patchgit serve") {
		t.Errorf("Dial with no daemon: %v, want ErrNotRunning that says how to start one", err)
	}
}

// The other-uid tests run a copy of this test binary as nobody (65534).
const (
	otherUID  = 65534
	helperEnv = "PATCHGIT_RPC_TEST_HELPER"
)

// TestHelperProcess is not a test: it is what the child runs.
func TestHelperProcess(t *testing.T) {
	mode, path, ok := strings.Cut(os.Getenv(helperEnv), ":")
	if !ok {
		t.Skip("helper for the other-uid tests; runs only in their child process")
	}
	switch mode {
	case "dial": // connect without Dial's own owner check, report what happened
		conn, err := net.Dial("unix", path)
		if err != nil {
			fmt.Println("connect:", err)
			os.Exit(0)
		}
		c, err := NewClient(context.Background(), conn, "child")
		if err != nil {
			fmt.Println("handshake:", err)
			os.Exit(0)
		}
		repos, err := c.Repos(context.Background())
		fmt.Println("connected:", len(repos), err)
	case "serve": // a daemon of another user; stops when stdin closes
		l, err := Listen(path)
		if err != nil {
			fmt.Println("listen:", err)
			os.Exit(1)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			io.Copy(io.Discard, os.Stdin)
			cancel()
		}()
		fmt.Println("ready")
		ServeListener(ctx, l, newMemService(), nil, "child", slog.New(slog.DiscardHandler))
	}
	os.Exit(0)
}

// otherUser returns a command that runs this test binary as otherUID in
// helper mode, and a directory both users can reach.
func otherUser(t *testing.T, mode, path string) *exec.Cmd {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child process as another uid")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(sharedDir(t), "rpc.test")
	if err := copyFile(self, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperProcess$")
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = []string{helperEnv + "=" + mode + ":" + path, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: otherUID, Gid: otherUID}}
	return cmd
}

// sharedDir is a fresh 0755 directory: readable by the other uid, not
// writable by it.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "patchgit-rpc-uid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyFile(from, to string, mode os.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, mode)
}

func TestOtherUsersAreRefused(t *testing.T) {
	t.Run("by the peer uid check", func(t *testing.T) {
		svc := newMemService()
		log, logs := bufferLogger()
		path, _ := serveSocketIn(t, sharedDir(t), svc, log)
		// Open the file mode up, as a careless chmod or ACL would, so only
		// the SO_PEERCRED check stands between the other user and the
		// daemon.
		if err := os.Chmod(path, 0o666); err != nil {
			t.Fatal(err)
		}
		out, err := otherUser(t, "dial", path).CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if !strings.HasPrefix(string(out), "handshake:") || !strings.Contains(string(out), ErrClosed.Error()) {
			t.Errorf("the other user's client reported %q, want the connection closed at the handshake", out)
		}
		if got := logs.String(); !strings.Contains(got, "refused a connection from another user") ||
			!strings.Contains(got, fmt.Sprintf("peer_uid=%d", otherUID)) {
			t.Errorf("the refusal was not logged with the peer's uid; log:\n%s", got)
		}
		if calls := svc.callLog(); len(calls) != 0 {
			t.Errorf("the other user reached the service: %v", calls)
		}
		// The owner still gets in.
		c, err := Dial(context.Background(), path, "client-test")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Repos(context.Background()); err != nil {
			t.Error(err)
		}
	})
	t.Run("by the file mode", func(t *testing.T) {
		svc := newMemService()
		path, _ := serveSocketIn(t, sharedDir(t), svc, nil)
		out, err := otherUser(t, "dial", path).CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "connect:") || !strings.Contains(string(out), "permission denied") {
			t.Errorf("the other user's connect reported %q, want permission denied", out)
		}
	})
}

func TestDialRefusesAnotherUsersDaemon(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		if err := os.Chown(dir, otherUID, otherUID); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "control.sock")
	cmd := otherUser(t, "serve", path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close() // the child stops serving and exits
		if err := cmd.Wait(); err != nil {
			t.Errorf("the other user's daemon: %v", err)
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("the other user's daemon said %q, %v", line, err)
	}
	_, err = Dial(context.Background(), path, "client-test")
	if !errors.Is(err, ErrNotOurs) || !strings.Contains(err.Error(), fmt.Sprintf("uid %d", otherUID)) {
		t.Errorf("Dial another user's daemon: %v, want ErrNotOurs naming its uid", err)
	}
}

// serveSocketIn is serveSocket with the socket in dir.
func serveSocketIn(t *testing.T, dir string, svc core.Service, log *slog.Logger) (string, func()) {
	t.Helper()
	return serveSocketAt(t, filepath.Join(dir, "control.sock"), svc, nil, log)
}
