package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/helper/helpertest"
)

// The daemon on DigitalOcean end to end: `patchgit serve` with
// helper.provider digitalocean talks HTTPS to the fake API (its CA handed
// over through SSL_CERT_FILE) with the token from a 0600 file; the droplet
// boots as a real sshd with the host key from its cloud-init; a diff
// proposed through a real ssh client has its checks run there, in the
// configured work directory; the proposal reaches Proposed, the droplet is
// deleted, and the helper's metered cost is in the budget and the audit log.
func TestE2EDraftOnDigitalOceanHelper(t *testing.T) {
	requireTools(t, "tmux", "ssh", "git")
	helpertest.RequireSSHD(t)
	do := helpertest.NewDOHarnessTLS(t)
	data := t.TempDir()
	workDir := filepath.Join(t.TempDir(), "helper-work")
	cfg := "repos:\n  - name: demo\n    url: " + filepath.Join(data, "repos", "demo.git") +
		"\n    checks: [\"test ! -e BROKEN\"]\n"
	if err := os.WriteFile(filepath.Join(data, "patchgit.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "digitalocean.token"), []byte(do.Fake.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, data, "PATCHGIT_PIN="+testPIN,
		"SSL_CERT_FILE="+do.Fake.CAFile(),
		"PATCHGIT_HELPER_PROVIDER=digitalocean",
		"PATCHGIT_HELPER_DIGITALOCEAN_API_URL="+do.URL(),
		"PATCHGIT_HELPER_DIGITALOCEAN_SSH_PORT="+strconv.Itoa(do.Port),
		"PATCHGIT_HELPER_DIGITALOCEAN_SSH_USER="+helpertest.CurrentUser(t),
		"PATCHGIT_HELPER_DIGITALOCEAN_WORK_DIR="+workDir)
	if !strings.HasPrefix(do.URL(), "https://") {
		t.Fatalf("the fake API is not HTTPS: %s", do.URL())
	}

	fix := filepath.Join(t.TempDir(), "fix.diff")
	if err := os.WriteFile(fix, []byte(demoDiff(t, filepath.Join(data, "repos", "demo.git"), howdy(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := append(quoteAll(sshCommand(d.port, "alice")), "propose", "--repo", "demo", "<", fix)
	x := newTmux(t, "dopropose", 160, 20, "sh", "-c", strings.Join(cmd, " ")+"; echo SSH-EXIT=$?")
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	screen := x.waitFor(`SSH-EXIT=\d+`, 4*time.Minute)
	if !regexp.MustCompile(`proposal [0-9a-f]+ proposed`).MatchString(screen) || !strings.Contains(screen, "SSH-EXIT=0") {
		t.Fatalf("propose did not make a Proposed proposal:\n%s\ndaemon:\n%s", screen, d.logs.String())
	}

	// One droplet, created with the daemon's key and deleted (confirmed).
	if all, alive := do.Fake.Droplets(), do.Fake.Alive(); len(all) != 1 || len(alive) != 0 {
		t.Fatalf("droplets created %d, left %d: want 1 and 0\n%s", len(all), len(alive), d.logs.String())
	}
	if do.Fake.Count("DELETE /v2/droplets/") == 0 {
		t.Fatal("the droplet was never deleted through the API")
	}
	// The checks ran there: the binary was uploaded into the configured
	// work directory and the runner ran from it.
	if st, err := os.Stat(filepath.Join(workDir, "patchgit")); err != nil || st.Size() == 0 {
		t.Fatalf("no patchgit binary in the helper's work directory %s: %v\n%s", workDir, err, d.logs.String())
	}
	if !strings.Contains(d.logs.String(), "uploaded patchgit to the helper") {
		t.Fatalf("the daemon did not upload itself to the droplet:\n%s", d.logs.String())
	}

	// The helper's time is in the budget: DigitalOcean's $0.01 minimum
	// (s-1vcpu-2gb at $0.01786/h for well under a minute).
	b := readBudget(t, data)
	var helperSpend int64
	for _, r := range b.Recent {
		if strings.HasPrefix(r.Purpose, "helper patchgit-") && strings.Contains(r.Purpose, "s-1vcpu-2gb at $0.01786/h") {
			helperSpend += r.Amount
		}
	}
	if helperSpend != 10_000 || b.Hour.Spent < 10_000 || b.Hour.Reserved != 0 {
		t.Fatalf("budget: helper spend %d (want 10000), hour spent %d, reserved %d: %+v", helperSpend, b.Hour.Spent, b.Hour.Reserved, b)
	}
	audit, err := patchgit(t, data, "", "audit", "export")
	if err != nil || strings.Count(audit, `"kind":"helper.created"`) != 1 || strings.Count(audit, `"kind":"helper.destroyed"`) != 1 {
		t.Fatalf("audit: one helper created and destroyed expected: %v\n%s", err, audit)
	}
	if !regexp.MustCompile(`"kind":"helper.destroyed"[^\n]*"cost":"\$0\.01"`).MatchString(audit) {
		t.Fatalf("helper.destroyed lacks its cost $0.01:\n%s", audit)
	}
	if strings.Contains(audit, do.Fake.Token) || strings.Contains(d.logs.String(), do.Fake.Token) {
		t.Fatal("the API token leaked into the audit log or the daemon's log")
	}
}
