package helpertest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// RequireSSHD returns the sshd binary; it skips without one, or fails
// under CI=true (where .ci/run must have installed openssh-server).
func RequireSSHD(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("sshd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err == nil {
		return "/usr/sbin/sshd"
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("sshd is not installed; .ci/run installs openssh-server")
	}
	t.Skipf("sshd is not installed (apt-get install openssh-server)")
	return ""
}

// CurrentUser is the user the tests' sshd lets in.
func CurrentUser(t testing.TB) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// ClientKey is a fresh control-plane SSH key.
func ClientKey(t testing.TB) ssh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// AuthorizedKey is s's public key as an authorized_keys line.
func AuthorizedKey(s ssh.Signer) string { return string(ssh.MarshalAuthorizedKey(s.PublicKey())) }

func legacyFingerprint(t testing.TB, line string) string {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Errorf("fake DO: bad public key: %v", err)
		return ""
	}
	return ssh.FingerprintLegacyMD5(k)
}

// FreePort finds a loopback port for sshd (which cannot take a listener).
func FreePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// SSHD is a real OpenSSH sshd on loopback playing a helper machine.
type SSHD struct {
	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

// BootSSHD starts sshd on 127.0.0.1:port with the host key hostKeyPEM (an
// OpenSSH private key), letting in authorizedKey. It returns once sshd
// listens; the test's cleanup stops it.
func BootSSHD(t testing.TB, dir string, port int, hostKeyPEM, authorizedKey string) *SSHD {
	t.Helper()
	sshd := RequireSSHD(t)
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation dir
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	auth := filepath.Join(dir, "authorized_keys")
	cfg := filepath.Join(dir, "sshd_config")
	must(t, os.WriteFile(hostKey, []byte(hostKeyPEM), 0o600))
	must(t, os.WriteFile(auth, []byte(authorizedKey), 0o600))
	conf := strings.Join([]string{
		fmt.Sprintf("Port %d", port), "ListenAddress 127.0.0.1", "HostKey " + hostKey, "AuthorizedKeysFile " + auth,
		"PidFile " + filepath.Join(dir, "sshd.pid"), "StrictModes no", "UsePAM no",
		"PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
		"PermitRootLogin prohibit-password", "LogLevel VERBOSE", "",
	}, "\n")
	must(t, os.WriteFile(cfg, []byte(conf), 0o600))
	h := &SSHD{logs: &bytes.Buffer{}}
	h.cmd = exec.Command(sshd, "-D", "-e", "-f", cfg)
	h.cmd.Stdout, h.cmd.Stderr = &lockedWriter{mu: &h.mu, w: h.logs}, &lockedWriter{mu: &h.mu, w: h.logs}
	must(t, h.cmd.Start())
	t.Cleanup(h.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd log:\n%s", h.Log())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen:\n%s", h.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills sshd (a droplet being deleted).
func (h *SSHD) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd != nil && h.cmd.Process != nil {
		h.cmd.Process.Kill()
		go h.cmd.Wait()
		h.cmd = nil
	}
}

// Log is what sshd wrote.
func (h *SSHD) Log() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
