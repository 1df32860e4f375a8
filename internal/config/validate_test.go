package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	cfg := defaults(lookupIn([]string{"HOME=/h"}))
	cfg.Repos = []Repo{
		{Name: "a", URL: "https://example.com/a.git"},
		{Name: "b.c_d-1", URL: "/srv/b.git", Checks: []string{"go vet ./..."}},
	}
	return cfg
}

func TestValidateMessages(t *testing.T) {
	cases := map[string]struct {
		edit func(c *Config)
		want string
	}{
		"forge":          {func(c *Config) { c.Repos[1].Forge = "gitlab" }, `repos[1].forge: "gitlab" is not valid (valid: local, github, gitea)`},
		"ssh addr":       {func(c *Config) { c.SSH.Addr = "2222" }, `ssh.addr: "2222" is not host:port (for example 127.0.0.1:2222, or :2222 for all interfaces)`},
		"port range":     {func(c *Config) { c.HTTP.Addr = "localhost:70000" }, `http.addr: "localhost:70000" has port "70000"; use a number from 0 to 65535`},
		"same port":      {func(c *Config) { c.HTTP.Addr = c.SSH.Addr }, `http.addr: "127.0.0.1:2222" is also ssh.addr`},
		"public url":     {func(c *Config) { c.HTTP.PublicURL = "patchgit.example.com" }, `http.public_url: "patchgit.example.com" is not an http(s) address`},
		"public path":    {func(c *Config) { c.HTTP.PublicURL = "https://example.com/pg" }, `http.public_url: "https://example.com/pg" has a path`},
		"repo name":      {func(c *Config) { c.Repos[0].Name = "My Repo" }, `repos[0].name: "My Repo" is not valid: use 1 to 63 lower-case letters`},
		"long name":      {func(c *Config) { c.Repos[0].Name = strings.Repeat("a", 64) }, `repos[0].name: "aaaa`},
		"duplicate name": {func(c *Config) { c.Repos[1].Name = "a" }, `repos[1].name: "a" is already used by repos[0]; names must be unique`},
		"empty url":      {func(c *Config) { c.Repos[0].URL = " " }, `repos[0].url: is empty`},
		"branch":         {func(c *Config) { c.Repos[0].BaseBranch = "rel..1" }, `repos[0].base_branch: "rel..1" is not a valid branch name`},
		"branch space":   {func(c *Config) { c.Repos[0].BaseBranch = "my branch" }, `repos[0].base_branch: "my branch" is not a valid branch name`},
		"empty check":    {func(c *Config) { c.Repos[1].Checks = append(c.Repos[1].Checks, "  ") }, `repos[1].checks[1]: is empty`},
		"concurrency":    {func(c *Config) { c.Jobs.Concurrency = 0 }, `jobs.concurrency: 0 is too low`},
		"lease ttl":      {func(c *Config) { c.Jobs.LeaseTTL = 0 }, `jobs.lease_ttl: must be greater than zero`},
		"check timeout":  {func(c *Config) { c.Sandbox.CheckTimeout = -1 }, `sandbox.check_timeout: must be greater than zero`},
		"max files":      {func(c *Config) { c.Sandbox.MaxFiles = 0 }, `sandbox.max_files: must be greater than zero`},
		"log level":      {func(c *Config) { c.LogLevel = "loud" }, `log_level: "loud" is not valid (valid: debug, info, warn, error)`},
		"data dir":       {func(c *Config) { c.DataDir = "" }, `data_dir: is empty; set data_dir or PATCHGIT_DATA_DIR`},
		"email":          {func(c *Config) { c.Author.Email = "patchgit" }, `author.email: "patchgit" is not an email address`},
		"author name":    {func(c *Config) { c.Author.Name = "A <b>" }, `author.name: "A <b>" is not usable in a commit`},
		"gate failures":  {func(c *Config) { c.Gate.MaxFailures = 101 }, `gate.max_failures: 101 is out of range; use 1 to 100 (NIST`},
		"gate delays":    {func(c *Config) { c.Gate.MaxDelay = Duration(time.Millisecond) }, `gate.max_delay: 1ms is below gate.first_delay 250ms`},
		"gate exempt":    {func(c *Config) { c.Gate.ExemptNetworks = []string{"10.0.0.0/33"} }, `gate.exempt_networks[0]: "10.0.0.0/33" is not a network`},
		"max startups":   {func(c *Config) { c.SSH.MaxStartupsPerNetwork = 100 }, `ssh.max_startups_per_network: 100 is above ssh.max_startups 64`},
		"login grace":    {func(c *Config) { c.SSH.LoginGrace = 0 }, `ssh.login_grace: must be greater than zero`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := validConfig()
			c.edit(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\n does not contain %q", err, c.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrInvalid")
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := validConfig()
	cfg.Jobs.Concurrency = 0
	cfg.Repos[0].Forge = "gitlab"
	cfg.SSH.Addr = "nope"
	err := cfg.Validate()
	for _, key := range []string{"jobs.concurrency:", "repos[0].forge:", "ssh.addr:"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not report %s", err, key)
		}
	}
}

func TestValidateNormalizes(t *testing.T) {
	cfg := validConfig()
	cfg.DataDir = "data"
	cfg.LogLevel = "DEBUG"
	cfg.Repos = append(cfg.Repos,
		Repo{Name: "local", URL: "repos/x.git"},
		Repo{Name: "scp", URL: "git@example.com:o/r.git"})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(cfg.DataDir) || filepath.Base(cfg.DataDir) != "data" {
		t.Errorf("DataDir %q not made absolute", cfg.DataDir)
	}
	if cfg.LogLevel != "debug" {
		t.Errorf("log level %q", cfg.LogLevel)
	}
	want := map[string]string{"a": "https://example.com/a.git", "b.c_d-1": "/srv/b.git", "scp": "git@example.com:o/r.git"}
	for _, r := range cfg.Repos {
		if r.BaseBranch != "main" || r.Forge != "local" {
			t.Errorf("%s: defaults not filled: %+v", r.Name, r)
		}
		if w, ok := want[r.Name]; ok && r.URL != w {
			t.Errorf("%s: URL changed to %q", r.Name, r.URL)
		}
	}
	if u := cfg.Repos[2].URL; !filepath.IsAbs(u) || !strings.HasSuffix(u, "repos/x.git") {
		t.Errorf("local path %q not made absolute", u)
	}
}
