package config

import (
	"strings"
	"testing"
)

func TestHelperConfigValidation(t *testing.T) {
	c := Default()
	c.DataDir = "/srv/pg"
	c.Helper.Provider = "aws"
	c.Helper.Sizes = []string{"s-2vcpu-4gb", "Big One"}
	err := c.Validate()
	for _, want := range []string{`helper.provider: "aws" is not valid (valid: local, digitalocean, ssh)`,
		`helper.sizes[1]: "Big One" is not a size slug`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}

	c = Default()
	c.DataDir = "/srv/pg"
	c.Helper.Provider = "ssh"
	c.Helper.DigitalOcean.APIURL = "http://api.example.com"
	c.Helper.DigitalOcean.SSHUser = "root; rm"
	c.Helper.DigitalOcean.WorkDir = "var/lib/x"
	c.Helper.SSH.WorkDir = "/srv/../etc"
	err = c.Validate()
	for _, want := range []string{"helper.ssh.host: is empty", "helper.ssh.host_key: is not a public key line",
		`helper.digitalocean.api_url: "http://api.example.com" must be https://`,
		`helper.digitalocean.ssh_user: "root; rm" is not a user name`,
		`helper.digitalocean.work_dir: "var/lib/x" is not a clean absolute directory`,
		`helper.ssh.work_dir: "/srv/../etc" is not a clean absolute directory`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}

	// Plain http is refused even on loopback (and a prefix is not a host).
	for _, u := range []string{"http://127.0.0.1:8080", "http://127.0.0.1.example.com"} {
		c = Default()
		c.DataDir = "/srv/pg"
		c.Helper.DigitalOcean.APIURL = u
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "must be https://") {
			t.Errorf("api_url %s: %v", u, err)
		}
	}

	c = Default()
	c.DataDir = "/srv/pg"
	if err := c.Validate(); err != nil || c.Helper.Provider != "local" {
		t.Fatalf("defaults: %v, provider %q", err, c.Helper.Provider)
	}
	if got := c.DigitalOceanTokenFile(); got != "/srv/pg/digitalocean.token" {
		t.Fatalf("token file %s", got)
	}
}

// The droplet's login and work directory: defaults as DigitalOcean's
// images need them; another directory loads, a path with .. or spaces not.
func TestDigitalOceanWorkDir(t *testing.T) {
	c := Default()
	if c.Helper.DigitalOcean.WorkDir != "/var/lib/patchgit-helper" || c.Helper.DigitalOcean.SSHUser != "root" {
		t.Fatalf("defaults: %+v", c.Helper.DigitalOcean)
	}
	cfg, err := Load(writeConfig(t, "helper:\n  digitalocean:\n    ssh_user: ci\n    work_dir: /home/ci/patchgit-helper\n"), true, []string{"HOME=/h"})
	if err != nil || cfg.Helper.DigitalOcean.WorkDir != "/home/ci/patchgit-helper" || cfg.Helper.DigitalOcean.SSHUser != "ci" {
		t.Fatalf("from the file: %v %+v", err, cfg.Helper.DigitalOcean)
	}
	for _, bad := range []string{"/srv/../etc", "/srv/my helper", "/", "/srv/x/"} {
		_, err := Load("", false, []string{"HOME=/h", "PATCHGIT_HELPER_DIGITALOCEAN_WORK_DIR=" + bad})
		if err == nil || !strings.Contains(err.Error(), "helper.digitalocean.work_dir") {
			t.Errorf("work_dir %q: %v", bad, err)
		}
	}
}

// Helper prices are money: the format users wrote as floats still loads
// (more decimals than the micro-dollar round up), and a bad one says so.
func TestHelperPricesAreMoney(t *testing.T) {
	cfg, err := Load(writeConfig(t, "budget:\n  local_helper_hourly: 0.05\nhelper:\n  ssh:\n    price_hourly: 0.0089286\n"), true, []string{"HOME=/h"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Budget.LocalHelperHourly.Micros() != 50_000 || cfg.Helper.SSH.PriceHourly.Micros() != 8_929 {
		t.Fatalf("prices %d and %d, want 50000 and 8929 micro-dollars", cfg.Budget.LocalHelperHourly, cfg.Helper.SSH.PriceHourly)
	}
	cfg, err = Load("", false, []string{"HOME=/h", "PATCHGIT_BUDGET_LOCAL_HELPER_HOURLY=$0.02"})
	if err != nil || cfg.Budget.LocalHelperHourly != 20_000 {
		t.Fatalf("from the environment: %v %d", err, cfg.Budget.LocalHelperHourly)
	}
	_, err = Load(writeConfig(t, "helper:\n  ssh:\n    price_hourly: -0.05\n"), true, []string{"HOME=/h"})
	if err == nil || !strings.Contains(err.Error(), `"-0.05" is not a price in dollars like $0.05`) {
		t.Fatalf("a negative price: %v", err)
	}
}

// budget.local_helper_hourly is the one price of this machine: the old
// helper.local_price_hourly, from the file or the environment, is refused
// with the key to use and the value to move there.
func TestLocalPriceHourlyIsReplaced(t *testing.T) {
	want := "helper.local_price_hourly: was replaced by budget.local_helper_hourly"
	_, err := Load(writeConfig(t, "helper:\n  local_price_hourly: 0.05\n"), true, []string{"HOME=/h"})
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "budget.local_helper_hourly: $0.05") {
		t.Fatalf("the old key in the file: %v", err)
	}
	_, err = Load("", false, []string{"HOME=/h", "PATCHGIT_HELPER_LOCAL_PRICE_HOURLY=$0.02"})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("the old key in the environment: %v", err)
	}
	if _, err := Load(writeConfig(t, "helper:\n  local_price_hourly: 0\n"), true, []string{"HOME=/h"}); err != nil {
		t.Fatalf("a zero price changes nothing and still loads: %v", err)
	}
}

// repos[].helper: read from the file, and a bad value names its key.
func TestRepoHelperNeed(t *testing.T) {
	cfg, err := Load(writeConfig(t, "repos:\n  - name: big\n    url: /srv/big.git\n    helper: {memory_mb: 4096, vcpus: 2, required: true}\n"), true, []string{"HOME=/h"})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Repos[0].Helper; got != (RepoHelper{MemoryMB: 4096, VCPUs: 2, Required: true}) {
		t.Fatalf("helper need %+v", got)
	}
	_, err = Load(writeConfig(t, "repos:\n  - name: big\n    url: /srv/big.git\n    helper: {memory_mb: -1, vcpus: 1000}\n"), true, []string{"HOME=/h"})
	for _, want := range []string{"repos[0].helper.memory_mb: -1 is not a memory size in MB", "repos[0].helper.vcpus: 1000 is not a number of vCPUs"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	_, err = Load(writeConfig(t, "repos:\n  - name: big\n    url: /srv/big.git\n    helper: {memory: 4096}\n"), true, []string{"HOME=/h"})
	if err == nil || !strings.Contains(err.Error(), "repos[0].helper.memory") || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("a misspelt key: %v", err)
	}
}

// The existing host's work directory: the same default and rules as a
// droplet's; another directory loads from the file, a bad one from the
// environment is refused with the key named.
func TestSSHHostWorkDir(t *testing.T) {
	if c := Default(); c.Helper.SSH.WorkDir != "/var/lib/patchgit-helper" {
		t.Fatalf("default %q", c.Helper.SSH.WorkDir)
	}
	cfg, err := Load(writeConfig(t, "helper:\n  ssh:\n    user: ci\n    work_dir: /home/ci/patchgit-helper\n"), true, []string{"HOME=/h"})
	if err != nil || cfg.Helper.SSH.WorkDir != "/home/ci/patchgit-helper" {
		t.Fatalf("from the file: %v %+v", err, cfg.Helper.SSH)
	}
	for _, bad := range []string{"/srv/../etc", "/srv/my helper", "/", "/srv/x/", "relative/dir", "/srv/$(id)"} {
		_, err := Load("", false, []string{"HOME=/h", "PATCHGIT_HELPER_SSH_WORK_DIR=" + bad})
		if err == nil || !strings.Contains(err.Error(), "helper.ssh.work_dir") || !strings.Contains(err.Error(), "not a clean absolute directory") {
			t.Errorf("work_dir %q: %v", bad, err)
		}
	}
}
