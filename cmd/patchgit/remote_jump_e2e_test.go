package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startJumpHost runs Debian's OpenSSH server on loopback as a jump host
// that lets in one key, and returns its port.
func startJumpHost(t *testing.T, dir, authorizedKey string) string {
	t.Helper()
	sshd := sshdPath(t)
	if os.Geteuid() == 0 {
		// sshd's privilege separation directory, fixed at build time.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hostKey := filepath.Join(dir, "host_ed25519")
	runTool(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey)
	auth := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(auth, []byte(authorizedKey), 0o600); err != nil {
		t.Fatal(err)
	}
	// A free port for sshd, which cannot take an open listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cfg := filepath.Join(dir, "sshd_config")
	conf := strings.Join([]string{
		"Port " + port, "ListenAddress 127.0.0.1", "HostKey " + hostKey, "AuthorizedKeysFile " + auth,
		"PidFile " + filepath.Join(dir, "sshd.pid"), "StrictModes no", "UsePAM no",
		"PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
		"PermitRootLogin prohibit-password", "AllowTcpForwarding yes", "LogLevel VERBOSE", "",
	}, "\n")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// sshdPath finds sshd, which a user's PATH often lacks (/usr/sbin).
func sshdPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("sshd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err == nil {
		return "/usr/sbin/sshd"
	}
	requireTools(t, "sshd") // skips, or fails under CI=true
	return ""
}

// TestE2ERemoteTUIThroughJumpHost: -J goes through a real OpenSSH jump
// host with a key; the daemon's own login (host key, PIN) is unchanged.
func TestE2ERemoteTUIThroughJumpHost(t *testing.T) {
	requireTools(t, "tmux", "ssh", "ssh-keygen")
	sshdPath(t)
	d := startDaemon(t, t.TempDir(), "PATCHGIT_PIN="+testPIN)
	keys := t.TempDir()
	clientKey := filepath.Join(keys, "id_ed25519")
	runTool(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", clientKey)
	pub, err := os.ReadFile(clientKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	jumpPort := startJumpHost(t, t.TempDir(), string(pub))
	me := localUser()

	home, work := t.TempDir(), t.TempDir()
	// OpenSSH reads the home directory from the password database, not
	// $HOME: point it at the test's key and known_hosts explicitly.
	sshCmd := strings.Join(quoteAll([]string{"ssh", "-F", "/dev/null", "-i", clientKey, "-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new",
		"-o", "UserKnownHostsFile=" + filepath.Join(home, "jump_known_hosts"), "-o", "LogLevel=ERROR"}), " ")
	x := remoteTUI(t, "jump", 160, home, work, "alice@127.0.0.1:"+d.port+" -J "+me+"@127.0.0.1:"+jumpPort,
		"PATCHGIT_SSH_COMMAND="+sshCmd)
	x.waitFor(`The authenticity of host '\[127.0.0.1\]:`+d.port+`' can't be established`, 30*time.Second)
	x.typeText("yes")
	x.keys("Enter")
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	x.waitFor(`Proposed Execution`, 30*time.Second)
	x.keys("C-c")
	x.waitFor(`TUI-EXIT=0`, 10*time.Second)
	if !strings.Contains(d.logs.String(), "pin accepted") {
		t.Fatalf("the daemon saw no login:\n%s", d.logs.String())
	}
}
