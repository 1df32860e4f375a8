// Package config loads PatchGit's configuration: defaults, then a YAML
// file, then PATCHGIT_* environment variables (named from the YAML keys by
// reflection, so there is no hand-kept list), then Validate.
package config

import (
	"os"
	"path/filepath"
	"time"
)

// Config is the whole configuration. The yaml tags are the file's keys and
// the source of the environment variable names.
type Config struct {
	DataDir  string        `yaml:"data_dir"`  // default $XDG_DATA_HOME/patchgit or ~/.local/share/patchgit
	LogLevel string        `yaml:"log_level"` // debug|info|warn|error
	SSH      SSHConfig     `yaml:"ssh"`
	HTTP     HTTPConfig    `yaml:"http"`
	Author   AuthorConfig  `yaml:"author"`
	Jobs     JobsConfig    `yaml:"jobs"`
	Sandbox  SandboxConfig `yaml:"sandbox"`
	Gate     GateConfig    `yaml:"gate"` // the PIN gate: config/gate.go
	Budget   BudgetConfig  `yaml:"budget"`
	Helper   HelperConfig  `yaml:"helper"` // the helper machine: config/helper.go
	Repos    []Repo        `yaml:"repos"`  // file only: lists are not settable from the environment

	// Assistant is the model chain: config/assistant.go.
	Assistant AssistantConfig `yaml:"assistant"`
}

// SSHConfig is the SSH listener and its pre-auth and session limits.
type SSHConfig struct {
	Addr string `yaml:"addr"` // host:port
	// LoginGrace closes a connection that has not authenticated within it.
	LoginGrace Duration `yaml:"login_grace"`
	// MaxStartups caps unauthenticated connections at once; at the cap the
	// oldest of the busiest source network is closed to make room.
	MaxStartups int `yaml:"max_startups"`
	// MaxStartupsPerNetwork caps them per source /24 (IPv4) or /64 (IPv6).
	MaxStartupsPerNetwork int `yaml:"max_startups_per_network"`
	// MaxAuthTries caps authentication attempts per connection.
	MaxAuthTries int `yaml:"max_auth_tries"`
	// RequireKey: a key from <data_dir>/authorized_keys AND the PIN, always.
	RequireKey  bool     `yaml:"require_key"`
	IdleTimeout Duration `yaml:"idle_timeout"` // a connection silent this long is closed
	MaxSession  Duration `yaml:"max_session"`  // a connection older than this is closed
	MaxSessions int      `yaml:"max_sessions"` // sessions open at once
}

// HTTPConfig is the web mirror's listener.
type HTTPConfig struct {
	Addr string `yaml:"addr"` // host:port
	// PublicURL is the address people reach the mirror at when it sits
	// behind a proxy (https://patchgit.example.com); used in links. Empty:
	// http://<addr>.
	PublicURL string `yaml:"public_url"`
}

// AuthorConfig is who PatchGit's commits are by.
type AuthorConfig struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
}

// JobsConfig is the durable job queue.
type JobsConfig struct {
	Concurrency int      `yaml:"concurrency"` // jobs running at once (different repos)
	LeaseTTL    Duration `yaml:"lease_ttl"`   // a repo lease not renewed within this is free again
}

// SandboxConfig limits what a patch and its checks may do.
type SandboxConfig struct {
	CheckTimeout  Duration `yaml:"check_timeout"`   // per check command
	MaxPatchBytes int64    `yaml:"max_patch_bytes"` // size of a diff
	MaxFiles      int      `yaml:"max_files"`       // files one patch may touch
	MaxLines      int      `yaml:"max_lines"`       // changed lines in one patch
	MaxPasteBytes int64    `yaml:"max_paste_bytes"` // size of one chat message
	// Isolation of checks: auto (bwrap, else namespaces), bwrap,
	// namespaces, or plain (unisolated; only when set explicitly).
	Isolation string `yaml:"isolation"`
}

// BudgetConfig is the hard caps, the prices and the approval policy
// (docs/budget.md).
type BudgetConfig struct {
	HourlyCap     Money    `yaml:"hourly_cap"`              // the rolling 60 minutes
	DailyCap      Money    `yaml:"daily_cap"`               // the rolling 24 hours, or the calendar day
	DayWindow     string   `yaml:"day_window"`              // rolling|calendar
	TimeZone      string   `yaml:"time_zone"`               // IANA name for the calendar day, e.g. Europe/Berlin
	MarginPercent int      `yaml:"approval_margin_percent"` // approved = projection + this
	MeterSlice    Duration `yaml:"meter_slice"`             // helper time is reserved this much at a time
	// LocalHelperHourly prices this machine's time: the local sandbox and
	// the local helper provider (the one key for both; the old
	// helper.local_price_hourly is refused); 0 is free and unmetered.
	LocalHelperHourly Money `yaml:"local_helper_hourly"`
	MaxHelperMB       int   `yaml:"max_helper_mb"` // larger helpers need approval
	// CheaperPlan offers, beside GO's full re-verify on the helper, the plan
	// that publishes the diff verified in the draft without a helper.
	CheaperPlan bool          `yaml:"cheaper_plan"`
	Helpers     []HelperPrice `yaml:"helpers,omitempty"` // file only; empty: DigitalOcean's basic sizes
	Models      []ModelPrice  `yaml:"models,omitempty"`  // file only: external API prices per million tokens
}

// HelperPrice is one helper size's price.
type HelperPrice struct {
	Size     string `yaml:"size"`
	Hourly   Money  `yaml:"hourly"`
	MemoryMB int    `yaml:"memory_mb"`
}

// ModelPrice is one model's price per million tokens.
type ModelPrice struct {
	Model  string `yaml:"model"`
	Input  Money  `yaml:"input"`
	Output Money  `yaml:"output"`
	Cached Money  `yaml:"cached"`
}

// Repo is one repository PatchGit may change.
type Repo struct {
	Name       string   `yaml:"name"`        // ^[a-z0-9][a-z0-9._-]{0,62}$, unique
	URL        string   `yaml:"url"`         // remote URL, or the local path of a git repository
	BaseBranch string   `yaml:"base_branch"` // default main
	Checks     []string `yaml:"checks"`      // shell commands run in the sandbox
	Forge      string   `yaml:"forge"`       // default local; valid: local, github, gitea

	// For forge github or gitea (docs/forges.md):
	ForgeRepo    string   `yaml:"forge_repo"`       // owner/name on the forge; default: the url's path
	APIURL       string   `yaml:"api_url"`          // github: default https://api.github.com/; gitea: default the url's scheme://host
	TokenEnv     string   `yaml:"token_env"`        // environment variable holding the token (this or token_file)
	TokenFile    string   `yaml:"token_file"`       // file holding the token on its first line
	Username     string   `yaml:"username"`         // username git sends with the token over https; default x-access-token
	ForgeVersion string   `yaml:"forge_version"`    // gitea only: the server's version when it reports "development"
	Draft        bool     `yaml:"draft"`            // open pull requests as drafts
	Labels       []string `yaml:"labels,omitempty"` // labels added to a new pull request
	// AutoMerge is the only way GO ever merges: an opt-in, off by default.
	AutoMerge bool `yaml:"auto_merge"`
	// Helper is what the checks need from a helper machine: config/helper.go.
	Helper RepoHelper `yaml:"helper"`
	// Operations are repository-wide commands a person may run by name
	// (`/run NAME` in the chat), e.g. {fmt: "gofmt -w ."}: config/operations.go.
	Operations map[string]string `yaml:"operations,omitempty"`
}

// Forges PatchGit can open pull requests on.
var validForges = []string{"local", "github", "gitea"}

// DefaultGitUsername is what git sends beside a forge token over https;
// GitHub and Gitea look only at the token.
const DefaultGitUsername = "x-access-token"

// Default is the configuration with nothing set, using this process's
// environment for the data directory's location.
func Default() Config { return defaults(os.LookupEnv) }

func defaults(lookup func(string) (string, bool)) Config {
	return Config{
		DataDir:  defaultDataDir(lookup),
		LogLevel: "info",
		SSH: SSHConfig{Addr: "127.0.0.1:2222", LoginGrace: Duration(30 * time.Second), MaxStartups: 64,
			MaxStartupsPerNetwork: 8, MaxAuthTries: 3, IdleTimeout: Duration(30 * time.Minute),
			MaxSession: Duration(12 * time.Hour), MaxSessions: 16},
		Gate:   defaultGate(),
		Helper: defaultHelper(),
		HTTP:   HTTPConfig{Addr: "127.0.0.1:8080"},
		Author: AuthorConfig{Name: "PatchGit", Email: "patchgit@localhost"},
		Jobs:   JobsConfig{Concurrency: 1, LeaseTTL: Duration(10 * time.Minute)},
		Sandbox: SandboxConfig{
			CheckTimeout:  Duration(5 * time.Minute),
			MaxPatchBytes: 1 << 20,
			MaxFiles:      200,
			MaxLines:      20000,
			MaxPasteBytes: 1 << 20,
			Isolation:     "auto",
		},
		Budget: BudgetConfig{
			HourlyCap:     Money(1_000_000),
			DailyCap:      Money(5_000_000),
			DayWindow:     "rolling",
			TimeZone:      "UTC",
			MarginPercent: 10,
			MeterSlice:    Duration(10 * time.Minute),
			MaxHelperMB:   4096,
			CheaperPlan:   true,
		},

		// The offline assistant unless providers are configured.
		Assistant: defaultAssistant(),
	}
}

// defaultDataDir follows the XDG base directory spec; "" when there is no
// home either (Validate then asks for data_dir).
func defaultDataDir(lookup func(string) (string, bool)) string {
	if xdg, _ := lookup("XDG_DATA_HOME"); filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "patchgit")
	}
	if home, _ := lookup("HOME"); home != "" {
		return filepath.Join(home, ".local", "share", "patchgit")
	}
	return ""
}

// DemoRepo is the embedded demo repository: a bare repo in the data dir
// with checks that suit its small Go project.
func (c *Config) DemoRepo() Repo {
	return Repo{
		Name:       "demo",
		URL:        filepath.Join(c.DataDir, "repos", "demo.git"),
		BaseBranch: "main",
		Forge:      "local",
		Checks:     []string{`test -z "$(gofmt -l .)"`, "go test ./..."},
	}
}

// EffectiveRepos is the configured repositories, or the demo repository
// when none are configured.
func (c *Config) EffectiveRepos() []Repo {
	if len(c.Repos) == 0 {
		return []Repo{c.DemoRepo()}
	}
	return c.Repos
}
