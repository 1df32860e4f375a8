package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// writeConfig writes a YAML file into a fresh dir and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "patchgit.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadDefaultsWithoutFile(t *testing.T) {
	home := t.TempDir()
	cfg, err := Load("", false, []string{"HOME=" + home})
	if err != nil {
		t.Fatal(err)
	}
	want := defaults(lookupIn([]string{"HOME=" + home}))
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
	if cfg.DataDir != filepath.Join(home, ".local/share/patchgit") || cfg.SSH.Addr != "127.0.0.1:2222" ||
		cfg.Jobs.LeaseTTL.Std() != 10*time.Minute || cfg.Sandbox.MaxPasteBytes != 1<<20 {
		t.Errorf("unexpected defaults: %+v", cfg)
	}
}

func TestDataDirFollowsXDG(t *testing.T) {
	xdg := t.TempDir()
	cfg, err := Load("", false, []string{"HOME=/nonexistent", "XDG_DATA_HOME=" + xdg})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != filepath.Join(xdg, "patchgit") {
		t.Errorf("DataDir %s", cfg.DataDir)
	}
	// The XDG spec says a relative XDG_DATA_HOME is ignored.
	if got := defaultDataDir(lookupIn([]string{"HOME=/h", "XDG_DATA_HOME=rel"})); got != "/h/.local/share/patchgit" {
		t.Errorf("relative XDG_DATA_HOME used: %s", got)
	}
}

func TestPrecedenceDefaultsFileEnv(t *testing.T) {
	path := writeConfig(t, `
ssh:
  addr: 0.0.0.0:2200
http:
  addr: 127.0.0.1:9090
jobs:
  concurrency: 3
  lease_ttl: 90s
repos:
  - name: app
    url: https://example.com/app.git
    checks: ["make test"]
`)
	env := []string{"HOME=" + t.TempDir(), "PATCHGIT_SSH_ADDR=127.0.0.1:2300", "PATCHGIT_JOBS_LEASE_TTL=2m", "PATCHGIT_LOG_LEVEL="}
	cfg, err := Load(path, true, env)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]any{
		"env over file":         {cfg.SSH.Addr, "127.0.0.1:2300"},
		"env duration":          {cfg.Jobs.LeaseTTL.Std(), 2 * time.Minute},
		"file over default":     {cfg.HTTP.Addr, "127.0.0.1:9090"},
		"file int":              {cfg.Jobs.Concurrency, 3},
		"default kept":          {cfg.Sandbox.MaxFiles, 200},
		"empty env is unset":    {cfg.LogLevel, "info"},
		"repo default branch":   {cfg.Repos[0].BaseBranch, "main"},
		"repo default forge":    {cfg.Repos[0].Forge, "local"},
		"repo checks from file": {cfg.Repos[0].Checks[0], "make test"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s: got %v, want %v", name, c[0], c[1])
		}
	}
}

func TestDefaultFileIsInDataDirFromEnv(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("log_level: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load("", false, []string{"PATCHGIT_DATA_DIR=" + dir})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogLevel != "debug" || cfg.DataDir != dir {
		t.Errorf("file in PATCHGIT_DATA_DIR not read: %+v", cfg)
	}
}

func TestMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	if _, err := Load(missing, false, []string{"HOME=/h"}); err != nil {
		t.Errorf("implicit missing file: %v", err)
	}
	_, err := Load(missing, true, []string{"HOME=/h"})
	if !errors.Is(err, ErrMissingFile) || !strings.Contains(err.Error(), missing) {
		t.Errorf("explicit missing file: %v", err)
	}
}

func TestFileErrorsNameTheKey(t *testing.T) {
	cases := map[string]struct{ body, want string }{
		"unknown top-level key": {"colour: red\n", `colour (line 1): unknown key (valid keys here: assistant, author, budget, data_dir,`},
		"unknown nested key":    {"ssh:\n  adr: :22\n", `ssh.adr (line 2): unknown key (valid keys here: addr, idle_timeout,`},
		"unknown key in a list": {"repos:\n  - name: a\n    url: /r\n    forg: local\n", `repos[0].forg (line 4): unknown key`},
		"not a number":          {"jobs:\n  concurrency: many\n", `jobs.concurrency (line 2): "many" is not a whole number`},
		"bare number duration":  {"sandbox:\n  check_timeout: 30\n", `sandbox.check_timeout (line 2): "30" is not a duration like 30s`},
		"mapping expected":      {"ssh: 2222\n", `ssh (line 1): expected a mapping of keys (valid keys: addr, idle_timeout,`},
		"list expected":         {"repos:\n  name: a\n", `repos (line 2): expected a list`},
		"duplicate key":         {"log_level: info\nlog_level: debug\n", `log_level (line 2): set twice (first on line 1)`},
		"syntax error":          {"ssh: [\n", `parse YAML`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeConfig(t, c.body), true, []string{"HOME=/h"})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v\n does not contain %q", err, c.want)
			}
		})
	}
}

func TestEnvErrorsNameTheVariable(t *testing.T) {
	_, err := Load("", false, []string{"HOME=/h", "PATCHGIT_JOBS_CONCURRENCY=lots", "PATCHGIT_SANDBOX_CHECK_TIMEOUT=5"})
	for _, want := range []string{
		`PATCHGIT_JOBS_CONCURRENCY (sets jobs.concurrency): "lots" is not a whole number`,
		`PATCHGIT_SANDBOX_CHECK_TIMEOUT (sets sandbox.check_timeout): "5" is not a duration`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\n does not contain %q", err, want)
		}
	}
}

// Every leaf of Config is reachable from the environment under the name its
// yaml path implies; a new field without a value here fails the test.
func TestEveryEnvVarSetsItsField(t *testing.T) {
	values := map[string]string{
		"data_dir": "/srv/pg", "log_level": "warn", "ssh.addr": ":2022", "http.addr": ":8081",
		"http.public_url": "https://pg.example.com",
		"author.name":     "Bot", "author.email": "bot@example.com", "jobs.concurrency": "4",
		"jobs.lease_ttl": "3m0s", "sandbox.check_timeout": "1m0s", "sandbox.max_patch_bytes": "2048",
		"sandbox.max_files": "7", "sandbox.max_lines": "70", "sandbox.max_paste_bytes": "4096",
		"ssh.login_grace": "20s", "ssh.max_startups": "32", "ssh.max_startups_per_network": "4",
		"ssh.max_auth_tries": "2", "ssh.require_key": "true", "ssh.idle_timeout": "10m0s",
		"ssh.max_session": "2h0m0s", "ssh.max_sessions": "5",
		"gate.first_delay": "100ms", "gate.max_delay": "4s", "gate.max_failures": "5", "gate.lock_for": "1h0m0s",
		"gate.key_max_failures": "2", "gate.penalty_first": "1s", "gate.penalty_max": "5m0s",
		"budget.hourly_cap": "$0.25", "budget.daily_cap": "$3.10", "budget.day_window": "calendar",
		"budget.time_zone": "Europe/Berlin", "budget.approval_margin_percent": "15", "budget.meter_slice": "1m0s",
		"budget.local_helper_hourly": "$6.00", "budget.max_helper_mb": "2048", "budget.cheaper_plan": "false",
		"sandbox.isolation": "namespaces",
		"helper.provider":   "ssh", "helper.ttl": "30m0s", "helper.ready_timeout": "5m0s", "helper.local_price_hourly": "$0.01",
		"helper.digitalocean.token_file": "/etc/pg/do.token", "helper.digitalocean.region": "ams3",
		"helper.digitalocean.image": "debian-13-x64", "helper.digitalocean.ssh_port": "2200",
		"helper.digitalocean.api_url":  "https://api.example.com",
		"helper.digitalocean.ssh_user": "ci", "helper.digitalocean.work_dir": "/home/ci/helper", "helper.ssh.host": "build.example.com",
		"helper.ssh.port": "2201", "helper.ssh.user": "ci", "helper.ssh.host_key": "ssh-ed25519 AAAA",
		"helper.ssh.memory_mb": "4096", "helper.ssh.vcpus": "2", "helper.ssh.price_hourly": "$0.05",
		"helper.ssh.work_dir":           "/home/ci/pg-helper",
		"assistant.tiers.base.provider": "p1", "assistant.tiers.base.model": "m1", "assistant.tiers.helper.provider": "p2",
		"assistant.tiers.helper.model": "m2", "assistant.tiers.external.provider": "p3", "assistant.tiers.external.model": "m3",
		"assistant.plan.tier": "helper", "assistant.plan.model": "m4", "assistant.plan.max_output_tokens": "512",
		"assistant.patch.tier": "external", "assistant.patch.model": "m5", "assistant.patch.max_output_tokens": "2048",
		"assistant.context_tokens": "9000",
	}
	vars := EnvVars()
	if len(vars) != len(values) {
		t.Errorf("EnvVars has %d entries, the test knows %d: %v", len(vars), len(values), vars)
	}
	var env []string
	for _, v := range vars {
		if v.Name != "PATCHGIT_"+strings.ToUpper(strings.ReplaceAll(v.Key, ".", "_")) {
			t.Errorf("%s is not the name of %s", v.Name, v.Key)
		}
		val, ok := values[v.Key]
		if !ok {
			t.Errorf("no test value for %s (%s)", v.Key, v.Name)
		}
		env = append(env, v.Name+"="+val)
	}
	cfg := Default()
	if err := applyEnv(&cfg, env); err != nil {
		t.Fatal(err)
	}
	out, _ := yaml.Marshal(cfg)
	var tree map[string]any
	if err := yaml.Unmarshal(out, &tree); err != nil {
		t.Fatal(err)
	}
	for key, want := range values {
		var node any = tree
		for _, part := range strings.Split(key, ".") {
			node = node.(map[string]any)[part]
		}
		if got := strings.TrimSpace(yamlScalar(t, node)); got != want {
			t.Errorf("%s = %q after env, want %q", key, got, want)
		}
	}
}

func yamlScalar(t *testing.T, v any) string {
	t.Helper()
	out, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestMarshalledDefaultsLoadBack(t *testing.T) {
	cfg := defaults(lookupIn([]string{"HOME=/h"}))
	cfg.Repos = []Repo{{Name: "r", URL: "/srv/r.git", BaseBranch: "dev", Forge: "local", Checks: []string{"true"}}}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(writeConfig(t, string(out)), true, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(got, cfg) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, cfg)
	}
}

func TestDemoAndEffectiveRepos(t *testing.T) {
	cfg := defaults(lookupIn([]string{"HOME=/h"}))
	demo := cfg.DemoRepo()
	if demo.Name != "demo" || demo.URL != "/h/.local/share/patchgit/repos/demo.git" || demo.BaseBranch != "main" ||
		demo.Forge != "local" || len(demo.Checks) != 2 || demo.Checks[0] != `test -z "$(gofmt -l .)"` || demo.Checks[1] != "go test ./..." {
		t.Errorf("demo repo %+v", demo)
	}
	if r := cfg.EffectiveRepos(); len(r) != 1 || r[0].Name != "demo" {
		t.Errorf("no repos configured: %+v", r)
	}
	cfg.Repos = []Repo{{Name: "mine", URL: "/srv/mine"}}
	if r := cfg.EffectiveRepos(); len(r) != 1 || r[0].Name != "mine" {
		t.Errorf("configured repos: %+v", r)
	}
}
