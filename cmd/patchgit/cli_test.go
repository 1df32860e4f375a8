package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/store"
)

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestCLIEveryCommandHasHelp(t *testing.T) {
	for name := range commands {
		args := []string{name, "--help"}
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Usage") {
			t.Errorf("patchgit %s --help: %v\n%s", name, err, out)
		}
	}
	out, err := exec.Command(binary, "nonsense").CombinedOutput()
	if exitCode(err) != 2 || !strings.Contains(string(out), `unknown command "nonsense"`) {
		t.Fatalf("unknown command: %v\n%s", err, out)
	}
}

// Without a daemon the subcommands work on the store directly, also on a
// data dir that was never served.
func TestCLIWorksWithoutADaemon(t *testing.T) {
	data := t.TempDir()
	out, err := patchgit(t, data, "", "prs")
	if err != nil || !strings.Contains(out, "no pull requests yet") {
		t.Fatalf("prs: %v\n%s", err, out)
	}
	out, err = patchgit(t, data, "12\n", "pin", "set")
	if exitCode(err) != 1 || !strings.Contains(out, "6") {
		t.Fatalf("a short PIN: %v\n%s", err, out)
	}
	out, err = patchgit(t, data, "", "pin", "set", "123456")
	if exitCode(err) != 2 || !strings.Contains(out, "no arguments") {
		t.Fatalf("a PIN as an argument must be refused: %v\n%s", err, out)
	}
	if out, err = patchgit(t, data, "314159\n", "pin", "set"); err != nil || !strings.Contains(out, "PIN changed") {
		t.Fatalf("pin set: %v\n%s", err, out)
	}
	out, err = patchgit(t, data, "", "audit", "verify")
	if err != nil || !strings.Contains(out, "entries: 1") || !strings.Contains(out, "audit log OK") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	out, err = patchgit(t, data, "", "audit", "export")
	if err != nil || !strings.Contains(out, `"kind":"pin.set"`) || strings.Contains(out, "314159") {
		t.Fatalf("audit export must hold the PIN change but never the PIN: %v\n%s", err, out)
	}
	out, err = patchgit(t, data, "", "prs", "show", "7")
	if exitCode(err) != 1 || !strings.Contains(out, "no PR #7") {
		t.Fatalf("prs show 7: %v\n%s", err, out)
	}
}

func TestCLIAuditVerifyFailsOnTampering(t *testing.T) {
	data := t.TempDir()
	for _, p := range []string{"111111\n", "222222\n", "333333\n"} {
		if out, err := patchgit(t, data, p, "pin", "set"); err != nil {
			t.Fatalf("pin set: %v\n%s", err, out)
		}
	}
	db, err := store.Open(filepath.Join(data, dbFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketAudit)
		v := b.Get(store.U64(2))
		return b.Put(store.U64(2), []byte(strings.Replace(string(v), "operator", "intruder", 1)))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := patchgit(t, data, "", "audit", "verify")
	if exitCode(err) != 1 || !strings.Contains(out, "FAILED") || !strings.Contains(out, "2") {
		t.Fatalf("tampered log: %v\n%s", err, out)
	}
}

func TestCLIBadConfigNamesTheKey(t *testing.T) {
	data := t.TempDir()
	cfg := filepath.Join(data, "patchgit.yaml")
	if err := os.WriteFile(cfg, []byte("ssh:\n  adr: 127.0.0.1:22\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := patchgit(t, data, "", "prs")
	if err == nil || !strings.Contains(out, "ssh.adr") {
		t.Fatalf("unknown key: %v\n%s", err, out)
	}
	raw, err := exec.Command(binary, "prs", "--config", filepath.Join(data, "missing.yaml"), "--data-dir", data).CombinedOutput()
	if out = string(raw); err == nil || !strings.Contains(out, "missing.yaml") {
		t.Fatalf("an explicit missing config must be an error: %v\n%s", err, out)
	}
}

// pin set goes through the running daemon's control socket and takes
// effect at once for SSH logins.
func TestCLIPinSetThroughTheDaemon(t *testing.T) {
	data := t.TempDir()
	d := startDaemon(t, data, "PATCHGIT_PIN="+testPIN)
	if _, err := os.Stat(filepath.Join(data, socketFile)); err != nil {
		t.Fatalf("no control socket: %v", err)
	}
	if out, err := patchgit(t, data, "777888\n", "pin", "set"); err != nil || !strings.Contains(out, "PIN changed") {
		t.Fatalf("pin set: %v\n%s", err, out)
	}
	if err := sshLogin(d.sshAddr, "777888"); err != nil {
		t.Fatalf("the new PIN does not open a session: %v", err)
	}
	if err := sshLogin(d.sshAddr, testPIN); err == nil {
		t.Fatal("the old PIN still opens a session")
	}
}

// sshLogin authenticates with the PIN by keyboard-interactive and opens a
// session channel.
func sshLogin(addr, pin string) error {
	cfg := &ssh.ClientConfig{
		User: "alice",
		Auth: []ssh.AuthMethod{ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			answers := make([]string, len(qs))
			for i := range answers {
				answers[i] = pin
			}
			return answers, nil
		})},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // test only: a fresh host key per run
		Timeout:         30 * time.Second,
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		c, err := ssh.Dial("tcp", addr, cfg)
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		s, err := c.NewSession()
		if err == nil {
			s.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
