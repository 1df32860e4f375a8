package config

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// HelperConfig is the helper machine that heavy work runs on: at most one at
// a time. docs/helper.md explains each value.
type HelperConfig struct {
	Provider     string   `yaml:"provider"`      // local (default), digitalocean, ssh
	TTL          Duration `yaml:"ttl"`           // a helper older than this is destroyed
	ReadyTimeout Duration `yaml:"ready_timeout"` // bound on "active and reachable over SSH"
	// LocalPriceHourly is refused: budget.local_helper_hourly prices this
	// machine, for the local sandbox and the local provider alike. It stays
	// a field so that an old config gets an error naming the replacement
	// instead of "unknown key".
	LocalPriceHourly Price `yaml:"local_price_hourly"`
	// Sizes is the allow-list (file only); default s-1vcpu-2gb, s-2vcpu-2gb,
	// s-2vcpu-4gb for digitalocean.
	Sizes        []string           `yaml:"sizes,omitempty"`
	DigitalOcean HelperDigitalOcean `yaml:"digitalocean"`
	SSH          HelperSSH          `yaml:"ssh"`
}

// HelperDigitalOcean is the digitalocean provider. The API token is read
// from TokenFile, never from this file or the environment.
type HelperDigitalOcean struct {
	TokenFile string `yaml:"token_file"` // default <data_dir>/digitalocean.token (mode 0600)
	Region    string `yaml:"region"`
	Image     string `yaml:"image"`
	SSHPort   int    `yaml:"ssh_port"` // the helper's sshd port
	APIURL    string `yaml:"api_url"`  // empty: the real API (tests point it elsewhere)
	// SSHUser is who PatchGit logs in as on a droplet (root on
	// DigitalOcean's images); WorkDir is where it uploads and runs there
	// (the user must be able to create it).
	SSHUser string `yaml:"ssh_user"`
	WorkDir string `yaml:"work_dir"`
}

// HelperSSH is an existing host used as the helper (nothing is created or
// destroyed). HostKey is pinned: its public host key line.
type HelperSSH struct {
	Host        string `yaml:"host"`
	Port        int    `yaml:"port"`
	User        string `yaml:"user"`
	HostKey     string `yaml:"host_key"` // "ssh-ed25519 AAAA..." (ssh-keyscan -t ed25519 HOST)
	MemoryMB    int    `yaml:"memory_mb"`
	VCPUs       int    `yaml:"vcpus"`
	PriceHourly Price  `yaml:"price_hourly"` // per hour; 0: not metered
	// WorkDir is where PatchGit uploads and runs on the host (User must be
	// able to create it).
	WorkDir string `yaml:"work_dir"`
}

var helperProviders = []string{"local", "digitalocean", "ssh"}

var doSlug = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// unixUser and remotePath keep the droplet's login and work directory to
// plain names: they travel into ssh and (quoted) into shell commands.
var (
	unixUser   = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	remotePath = regexp.MustCompile(`^/[A-Za-z0-9._/-]{1,200}$`)
)

func defaultHelper() HelperConfig {
	return HelperConfig{
		Provider: "local", TTL: Duration(2 * time.Hour), ReadyTimeout: Duration(10 * time.Minute),
		DigitalOcean: HelperDigitalOcean{Region: "fra1", Image: "debian-12-x64", SSHPort: 22,
			SSHUser: "root", WorkDir: "/var/lib/patchgit-helper"},
		SSH: HelperSSH{Port: 22, User: "root", WorkDir: "/var/lib/patchgit-helper"},
	}
}

func (c *Config) validateHelper() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	h := &c.Helper
	h.Provider = strings.ToLower(h.Provider)
	if !slices.Contains(helperProviders, h.Provider) {
		bad("helper.provider", "%q is not valid (valid: %s)", h.Provider, strings.Join(helperProviders, ", "))
	}
	if h.TTL <= 0 {
		bad("helper.ttl", "must be greater than zero, e.g. 2h")
	}
	if h.ReadyTimeout <= 0 {
		bad("helper.ready_timeout", "must be greater than zero, e.g. 10m")
	}
	if h.LocalPriceHourly != 0 {
		bad("helper.local_price_hourly", "was replaced by budget.local_helper_hourly, the one price of this machine "+
			"(the local sandbox and the local helper provider run on it): move the value there, e.g. budget.local_helper_hourly: %s", h.LocalPriceHourly.Micros())
	}
	for i, s := range h.Sizes {
		if !doSlug.MatchString(s) {
			bad(fmt.Sprintf("helper.sizes[%d]", i), "%q is not a size slug like s-2vcpu-4gb", s)
		}
	}
	d := &h.DigitalOcean
	if d.TokenFile != "" {
		if abs, err := filepath.Abs(expandHome(d.TokenFile)); err == nil {
			d.TokenFile = abs
		}
	}
	if h.Provider == "digitalocean" {
		if !doSlug.MatchString(d.Region) {
			bad("helper.digitalocean.region", "%q is not a region slug like fra1", d.Region)
		}
		if !doSlug.MatchString(d.Image) {
			bad("helper.digitalocean.image", "%q is not an image slug like debian-12-x64", d.Image)
		}
	}
	if d.SSHPort < 1 || d.SSHPort > 65535 {
		bad("helper.digitalocean.ssh_port", "%d is not a port (1..65535)", d.SSHPort)
	}
	if !unixUser.MatchString(d.SSHUser) {
		bad("helper.digitalocean.ssh_user", "%q is not a user name like root", d.SSHUser)
	}
	if !cleanRemoteDir(d.WorkDir) {
		bad("helper.digitalocean.work_dir", "%q is not a clean absolute directory below / (letters, digits, . _ - /), e.g. /var/lib/patchgit-helper", d.WorkDir)
	}
	if d.APIURL != "" && !strings.HasPrefix(d.APIURL, "https://") {
		bad("helper.digitalocean.api_url", "%q must be https:// (the token travels with every request)", d.APIURL)
	}
	s := &h.SSH
	if s.Port < 1 || s.Port > 65535 {
		bad("helper.ssh.port", "%d is not a port (1..65535)", s.Port)
	}
	if !cleanRemoteDir(s.WorkDir) {
		bad("helper.ssh.work_dir", "%q is not a clean absolute directory below / (letters, digits, . _ - /), e.g. /var/lib/patchgit-helper", s.WorkDir)
	}
	if h.Provider == "ssh" {
		if strings.TrimSpace(s.Host) == "" {
			bad("helper.ssh.host", "is empty; name the existing host to run helper work on")
		}
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s.HostKey)); err != nil {
			bad("helper.ssh.host_key", "is not a public key line like \"ssh-ed25519 AAAA...\" (get it with ssh-keyscan -t ed25519 HOST and check it out of band): its key is pinned, never learned")
		}
	}
	return errs
}

// cleanRemoteDir says dir is fit to be a helper's work directory: absolute,
// clean, not / itself, and plain characters only (it travels, quoted, into
// shell commands on the helper).
func cleanRemoteDir(dir string) bool {
	return remotePath.MatchString(dir) && path.Clean(dir) == dir && dir != "/"
}

// DigitalOceanTokenFile is where the API token is read from:
// helper.digitalocean.token_file, or <data_dir>/digitalocean.token.
func (c *Config) DigitalOceanTokenFile() string {
	if c.Helper.DigitalOcean.TokenFile != "" {
		return c.Helper.DigitalOcean.TokenFile
	}
	return filepath.Join(c.DataDir, "digitalocean.token")
}

// RepoHelper is what a repository's checks need from a helper machine
// (repos[].helper). The smallest allowed size that meets MemoryMB and
// VCPUs is used; with helper.provider local the checks run on this machine
// unless Required is set.
type RepoHelper struct {
	MemoryMB int `yaml:"memory_mb"` // 0: any size
	VCPUs    int `yaml:"vcpus"`     // 0: any size
	// Required runs the checks on a helper even with the local provider
	// (in a helper work directory, through `patchgit helper verify`).
	Required bool `yaml:"required"`
}

// maxHelperMemoryMB bounds a stated need (DigitalOcean's largest
// droplets have 1 TB and more; a need beyond this is a typo).
const maxHelperMemoryMB = 4 << 20

func (h RepoHelper) validate() []*FieldError {
	var errs []*FieldError
	if h.MemoryMB < 0 || h.MemoryMB > maxHelperMemoryMB {
		errs = append(errs, &FieldError{Key: "helper.memory_mb", Msg: fmt.Sprintf("%d is not a memory size in MB (0..%d), e.g. 2048", h.MemoryMB, maxHelperMemoryMB)})
	}
	if h.VCPUs < 0 || h.VCPUs > 512 {
		errs = append(errs, &FieldError{Key: "helper.vcpus", Msg: fmt.Sprintf("%d is not a number of vCPUs (0..512), e.g. 2", h.VCPUs)})
	}
	return errs
}
