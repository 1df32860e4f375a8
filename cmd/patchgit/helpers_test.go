package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/config"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
)

// The daemon with a repository that requires a helper (local provider):
// `ssh propose` reaches Proposed with the checks run through the running
// binary's own copy in a helper work directory, which is gone afterwards;
// the helper's creation and destruction are in the audit log.
func TestE2EDraftOnLocalHelper(t *testing.T) {
	requireTools(t, "tmux", "ssh", "git")
	data := t.TempDir()
	cfg := "repos:\n  - name: demo\n    url: " + filepath.Join(data, "repos", "demo.git") +
		"\n    checks: [\"test ! -e BROKEN\"]\n    helper: {required: true}\n"
	if err := os.WriteFile(filepath.Join(data, "patchgit.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, data, "PATCHGIT_PIN="+testPIN)
	fix := filepath.Join(t.TempDir(), "fix.diff")
	if err := os.WriteFile(fix, []byte(demoDiff(t, filepath.Join(data, "repos", "demo.git"), howdy(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := append(quoteAll(sshCommand(d.port, "alice")), "propose", "--repo", "demo", "<", fix)
	x := newTmux(t, "helperpropose", 160, 20, "sh", "-c", strings.Join(cmd, " ")+"; echo SSH-EXIT=$?")
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	screen := x.waitFor(`SSH-EXIT=\d+`, 3*time.Minute)
	if !regexp.MustCompile(`proposal [0-9a-f]+ proposed`).MatchString(screen) || !strings.Contains(screen, "SSH-EXIT=0") {
		t.Fatalf("propose did not make a Proposed proposal:\n%s\ndaemon:\n%s", screen, d.logs.String())
	}
	audit, err := patchgit(t, data, "", "audit", "export")
	if err != nil || strings.Count(audit, `"kind":"helper.created"`) != 1 || strings.Count(audit, `"kind":"helper.destroyed"`) != 1 {
		t.Fatalf("audit: one helper created and destroyed expected: %v\n%s", err, audit)
	}
	if entries, _ := os.ReadDir(filepath.Join(data, "helpers")); len(entries) != 0 {
		t.Fatalf("helper work directories left: %v", entries)
	}
	if !strings.Contains(d.logs.String(), "uploaded patchgit to the helper") {
		t.Fatalf("the daemon did not upload itself to the helper:\n%s", d.logs.String())
	}
}

// serve's DigitalOcean wiring: the token comes from a 0600 file only, the
// control plane's key is generated once (0600) and kept, and the
// API URL is honoured (the fake API answers, checking the token).
func TestDigitalOceanWiring(t *testing.T) {
	fake := helpertest.NewFakeDO(t)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Helper.Provider = "digitalocean"
	cfg.Helper.DigitalOcean.APIURL = fake.Srv.URL
	tokenFile := cfg.DigitalOceanTokenFile()

	if _, err := helperProvider(cfg); err == nil || !strings.Contains(err.Error(), "helper.digitalocean.token_file") {
		t.Fatalf("no token file: %v", err)
	}
	if err := os.WriteFile(tokenFile, []byte(fake.Token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := helperProvider(cfg)
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+tokenFile) || strings.Contains(err.Error(), fake.Token) {
		t.Fatalf("a token file others can read: %v", err)
	}
	if err := os.Chmod(tokenFile, 0o600); err != nil {
		t.Fatal(err)
	}
	prov, err := helperProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sizes, err := prov.Sizes(context.Background())
	if err != nil || len(sizes) == 0 || prov.Name() != "digitalocean" {
		t.Fatalf("sizes through the fake API: %v, %v", sizes, err)
	}
	keyFile := filepath.Join(cfg.DataDir, helperKeyFile)
	st, err := os.Stat(keyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("control plane key: %v, mode %v", err, st.Mode())
	}
	first, _ := os.ReadFile(keyFile)
	if _, err := helperProvider(cfg); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(keyFile); string(again) != string(first) {
		t.Fatal("the control plane key was generated again")
	}
	if _, err := prov.ListByTag(context.Background(), helper.TagHelper); err != nil {
		t.Fatal(err)
	}
	if fake.Count("GET /v2/sizes") != 1 || fake.Count("GET /v2/droplets") != 1 {
		t.Fatalf("the fake API saw sizes %d, droplets %d requests", fake.Count("GET /v2/sizes"), fake.Count("GET /v2/droplets"))
	}

	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := helperProvider(cfg); err == nil || !strings.Contains(err.Error(), "chmod 600 "+keyFile) {
		t.Fatalf("a key others can read: %v", err)
	}
}

// budget.local_helper_hourly prices this machine once: core meters the
// local provider's verifies as local helper time at that price, so the
// provider itself is unpriced (a price on both would charge twice).
func TestLocalHelperProviderIsPricedByTheBudgetKey(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Budget.LocalHelperHourly = 50_000
	prov, err := helperProvider(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sizes, err := prov.Sizes(context.Background())
	if err != nil || len(sizes) != 1 || sizes[0].PriceHourly != 0 {
		t.Fatalf("the local provider's sizes %+v (%v): want one, unpriced", sizes, err)
	}
}
