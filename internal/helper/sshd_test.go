package helper

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

// requireTool skips without the tool, or fails under CI=true (where .ci/run
// must have installed it).
func requireTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := "/usr/sbin/" + name; fileExists(p) {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; .ci/run installs openssh-server", name)
	}
	t.Skipf("%s is not installed (apt-get install openssh-server)", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func currentUser(t testing.TB) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// clientKey is the control plane's SSH key for tests.
func clientKey(t testing.TB) ssh.Signer {
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

func legacyFingerprint(t testing.TB, line string) string {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Errorf("fake DO: bad public key: %v", err)
		return ""
	}
	return ssh.FingerprintLegacyMD5(k)
}

// freePort finds a loopback port for sshd (which cannot take a listener).
func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// helperSSHD is a real OpenSSH sshd on loopback playing a booted droplet:
// its host key is the one cloud-init would install from the user data.
type helperSSHD struct {
	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

// bootSSHD starts sshd on port with the host key from userData, letting
// in authorizedKey. It returns once sshd listens.
func bootSSHD(t testing.TB, dir string, port int, userData, authorizedKey string) *helperSSHD {
	t.Helper()
	sshd := requireTool(t, "sshd")
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation dir
			t.Fatal(err)
		}
	}
	priv, _, err := HostKeyFromUserData(userData)
	if err != nil {
		t.Fatalf("cloud-init: %v", err)
	}
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	auth := filepath.Join(dir, "authorized_keys")
	cfg := filepath.Join(dir, "sshd_config")
	must(t, os.WriteFile(hostKey, []byte(priv), 0o600))
	must(t, os.WriteFile(auth, []byte(authorizedKey), 0o600))
	conf := strings.Join([]string{
		fmt.Sprintf("Port %d", port), "ListenAddress 127.0.0.1", "HostKey " + hostKey, "AuthorizedKeysFile " + auth,
		"PidFile " + filepath.Join(dir, "sshd.pid"), "StrictModes no", "UsePAM no",
		"PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
		"PermitRootLogin prohibit-password", "LogLevel VERBOSE", "",
	}, "\n")
	must(t, os.WriteFile(cfg, []byte(conf), 0o600))
	h := &helperSSHD{logs: &bytes.Buffer{}}
	h.cmd = exec.Command(sshd, "-D", "-e", "-f", cfg)
	h.cmd.Stdout, h.cmd.Stderr = &lockedWriter{mu: &h.mu, w: h.logs}, &lockedWriter{mu: &h.mu, w: h.logs}
	must(t, h.cmd.Start())
	t.Cleanup(h.stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen:\n%s", h.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *helperSSHD) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd != nil && h.cmd.Process != nil {
		h.cmd.Process.Kill()
		go h.cmd.Wait()
		h.cmd = nil
	}
}

func (h *helperSSHD) log() string {
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

func sshAuthorized(s ssh.Signer) []byte { return ssh.MarshalAuthorizedKey(s.PublicKey()) }
