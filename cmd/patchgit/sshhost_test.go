package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/config"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
	"github.com/patchgit/patchgit/internal/store"
)

// helper.provider ssh with helper.ssh.work_dir: the provider serve builds
// from the config uploads to and runs in that directory on the existing
// host (a real sshd on loopback, logged into as the test user), which it
// creates; nothing lands in the default /var/lib/patchgit-helper.
func TestSSHHostWiringUsesWorkDir(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	signer, err := helperKey(dataPath(cfg, helperKeyFile)) // what serve generates at first use
	if err != nil {
		t.Fatal(err)
	}
	hk, err := helper.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	port := helpertest.FreePort(t)
	helpertest.BootSSHD(t, t.TempDir(), port, hk.PrivatePEM, helpertest.AuthorizedKey(signer))
	workDir := filepath.Join(t.TempDir(), "pg-helper", "work")
	cfg.Helper.Provider = "ssh"
	cfg.Helper.SSH.Host, cfg.Helper.SSH.Port, cfg.Helper.SSH.User = "127.0.0.1", port, helpertest.CurrentUser(t)
	cfg.Helper.SSH.HostKey, cfg.Helper.SSH.WorkDir = hk.PublicLine(), workDir
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	prov, err := helperProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(cfg.DataDir, "patchgit.db"), store.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, err := helper.NewManager(db, prov, helper.Options{Instance: "wd", Audit: audit.New(db, filepath.Join(cfg.DataDir, "audit.head")),
		ReadyTimeout: 20 * time.Second, Poll: 20 * time.Millisecond, ConfirmFor: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h, err := m.Acquire(ctx, "job-wd", helper.Need{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release(ctx)
	if err := h.Upload(ctx, strings.NewReader("probe"), "probe.txt", 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := h.Run(ctx, "pwd", &out, &out); err != nil {
		t.Fatalf("run: %v: %s", err, out.String())
	}
	if got := strings.TrimSpace(out.String()); got != workDir {
		t.Fatalf("ran in %q, want helper.ssh.work_dir %s", got, workDir)
	}
	if raw, err := os.ReadFile(filepath.Join(workDir, "probe.txt")); err != nil || string(raw) != "probe" {
		t.Fatalf("the upload is not in helper.ssh.work_dir: %q, %v", raw, err)
	}
}
