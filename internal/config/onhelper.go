package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// OnHelperConfig says that the helper tier's model server runs on the
// helper machine: a stage on the tier acquires the helper (the one slot,
// metered by the helper manager), reaches
// 127.0.0.1:Port there through SSH channels, and sends its requests there; the
// provider's base_url keeps only its path. docs/helper.md "Local
// inference".
type OnHelperConfig struct {
	Port     int `yaml:"port"`      // the server's port on the helper's 127.0.0.1; default 11434
	MemoryMB int `yaml:"memory_mb"` // the helper size must have at least this (the model's needs)
	// Install is what cloud-init sets up on a new droplet: ollama (the
	// official install script, then the tier's model pulled), runcmd
	// (Packages and RunCmd as given) or none (the image or host brings the
	// server). Default ollama.
	Install  string   `yaml:"install"`
	Packages []string `yaml:"packages,omitempty"` // install: runcmd
	RunCmd   []string `yaml:"runcmd,omitempty"`   // install: runcmd; run once at first boot, as root
	// ReadyTimeout bounds the wait for the server to list the model after
	// the helper is reachable (installing and pulling take minutes).
	ReadyTimeout Duration `yaml:"ready_timeout"`
}

// Install values.
const (
	InstallOllama = "ollama"
	InstallRunCmd = "runcmd"
	InstallNone   = "none"
)

// debPackage is a Debian package name (Debian policy 5.6.7), optionally
// with =version.
var debPackage = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$`)

var installValues = []string{InstallOllama, InstallRunCmd, InstallNone}

// validateOnHelper checks assistant.tiers.<tier>.on_helper and fills its
// defaults.
func (c *Config) validateOnHelper(tier string, t TierConfig) []error {
	var errs []error
	key := "assistant.tiers." + tier + ".on_helper"
	bad := func(k, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key + k, Msg: fmt.Sprintf(format, args...)})
	}
	o := t.OnHelper
	if tier != TierHelper {
		bad("", "is only valid on the helper tier (assistant.tiers.helper.on_helper)")
		return errs
	}
	if o.Port == 0 {
		o.Port = 11434
	}
	if o.Port < 1 || o.Port > 65535 {
		bad(".port", "%d is not a port (1-65535); Ollama's is 11434", o.Port)
	}
	if o.MemoryMB < 0 {
		bad(".memory_mb", "%d is negative", o.MemoryMB)
	}
	if o.Install == "" {
		o.Install = InstallOllama
	}
	o.Install = strings.ToLower(o.Install)
	switch {
	case !slices.Contains(installValues, o.Install):
		bad(".install", "%q is not valid (valid: %s)", o.Install, strings.Join(installValues, ", "))
	case o.Install == InstallRunCmd && len(o.RunCmd) == 0:
		bad(".runcmd", "is empty; install: runcmd needs the commands that install and start the model server on 127.0.0.1:%d", o.Port)
	case o.Install != InstallRunCmd && (len(o.RunCmd) > 0 || len(o.Packages) > 0):
		bad(".install", "is %q but packages or runcmd are set; set install: runcmd to use them", o.Install)
	}
	for i, cmd := range o.RunCmd {
		if strings.TrimSpace(cmd) == "" {
			bad(fmt.Sprintf(".runcmd[%d]", i), "is empty")
		}
	}
	for i, p := range o.Packages {
		if !debPackage.MatchString(p) {
			bad(fmt.Sprintf(".packages[%d]", i), "%q is not a package name", p)
		}
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = Duration(15 * time.Minute)
	}
	if o.ReadyTimeout < 0 {
		bad(".ready_timeout", "must be greater than zero, e.g. 15m")
	}
	return errs
}
