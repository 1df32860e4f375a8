package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var repoName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

var logLevels = []string{"debug", "info", "warn", "error"}

// isolationModes are the sandbox's modes (internal/sandbox), strongest
// first; plain runs checks unisolated.
var isolationModes = []string{"auto", "bwrap", "namespaces", "plain"}

// Validate checks every value and reports all bad ones at once, each named
// by its key path. It also normalizes: DataDir and local repository paths
// become absolute ("~/" expanded), the log level lower case, and empty repo
// base_branch and forge get their defaults (main, local).
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if c.DataDir == "" {
		bad("data_dir", "is empty; set data_dir or PATCHGIT_DATA_DIR to a directory for PatchGit's data")
	} else if abs, err := filepath.Abs(expandHome(c.DataDir)); err != nil {
		bad("data_dir", "%q cannot be made absolute: %v", c.DataDir, err)
	} else {
		c.DataDir = abs
	}
	c.LogLevel = strings.ToLower(c.LogLevel)
	if !slices.Contains(logLevels, c.LogLevel) {
		bad("log_level", "%q is not valid (valid: %s)", c.LogLevel, strings.Join(logLevels, ", "))
	}
	if msg := checkAddr(c.SSH.Addr, "127.0.0.1:2222"); msg != "" {
		bad("ssh.addr", "%s", msg)
	}
	if msg := checkAddr(c.HTTP.Addr, "127.0.0.1:8080"); msg != "" {
		bad("http.addr", "%s", msg)
	} else if c.HTTP.Addr == c.SSH.Addr && !strings.HasSuffix(c.HTTP.Addr, ":0") {
		bad("http.addr", "%q is also ssh.addr; give the web mirror its own port", c.HTTP.Addr)
	}
	if msg := checkPublicURL(c.HTTP.PublicURL); msg != "" {
		bad("http.public_url", "%s", msg)
	}
	c.HTTP.PublicURL = strings.TrimRight(c.HTTP.PublicURL, "/")
	if strings.TrimSpace(c.Author.Name) == "" || strings.ContainsAny(c.Author.Name, "<>\n") {
		bad("author.name", "%q is not usable in a commit; give a name without <, > or line breaks", c.Author.Name)
	}
	if at := strings.Index(c.Author.Email, "@"); at < 1 || at == len(c.Author.Email)-1 || strings.ContainsAny(c.Author.Email, "<> \t\n") {
		bad("author.email", "%q is not an email address like patchgit@example.com", c.Author.Email)
	}
	if !slices.Contains(isolationModes, c.Sandbox.Isolation) {
		bad("sandbox.isolation", "%q is not valid (valid: %s)", c.Sandbox.Isolation, strings.Join(isolationModes, ", "))
	}
	if c.Jobs.Concurrency < 1 {
		bad("jobs.concurrency", "%d is too low; at least 1 job must be able to run", c.Jobs.Concurrency)
	}
	positive := []struct {
		key string
		val int64
	}{
		{"jobs.lease_ttl", int64(c.Jobs.LeaseTTL)},
		{"sandbox.check_timeout", int64(c.Sandbox.CheckTimeout)},
		{"sandbox.max_patch_bytes", c.Sandbox.MaxPatchBytes},
		{"sandbox.max_files", int64(c.Sandbox.MaxFiles)},
		{"sandbox.max_lines", int64(c.Sandbox.MaxLines)},
		{"sandbox.max_paste_bytes", c.Sandbox.MaxPasteBytes},
	}
	for _, p := range positive {
		if p.val <= 0 {
			bad(p.key, "must be greater than zero")
		}
	}
	errs = append(errs, c.validateRepos()...)
	errs = append(errs, c.validateGate()...) // gate.go
	errs = append(errs, c.validateBudget()...)
	errs = append(errs, c.validateHelper()...)    // helper.go
	errs = append(errs, c.validateAssistant()...) // assistant.go
	return errors.Join(errs...)
}

func (c *Config) validateRepos() []error {
	var errs []error
	bad := func(i int, field, format string, args ...any) {
		errs = append(errs, &FieldError{Key: fmt.Sprintf("repos[%d].%s", i, field), Msg: fmt.Sprintf(format, args...)})
	}
	firstUse := map[string]int{}
	for i := range c.Repos {
		r := &c.Repos[i]
		if !repoName.MatchString(r.Name) {
			bad(i, "name", "%q is not valid: use 1 to 63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", r.Name)
		} else if j, dup := firstUse[r.Name]; dup {
			bad(i, "name", "%q is already used by repos[%d]; names must be unique", r.Name, j)
		} else {
			firstUse[r.Name] = i
		}
		switch {
		case strings.TrimSpace(r.URL) == "":
			bad(i, "url", "is empty; give a remote URL or the path of a git repository")
		case !isRemoteURL(r.URL):
			if abs, err := filepath.Abs(expandHome(r.URL)); err == nil {
				r.URL = abs
			}
		}
		if r.BaseBranch == "" {
			r.BaseBranch = "main"
		}
		if msg := checkBranch(r.BaseBranch); msg != "" {
			bad(i, "base_branch", "%q %s", r.BaseBranch, msg)
		}
		if r.Forge == "" {
			r.Forge = "local"
		}
		if !slices.Contains(validForges, r.Forge) {
			bad(i, "forge", "%q is not valid (valid: %s)", r.Forge, strings.Join(validForges, ", "))
		} else if r.Forge != "local" {
			for _, fe := range r.validateForge() {
				bad(i, fe.Key, "%s", fe.Msg)
			}
		} else if r.AutoMerge || r.Draft || len(r.Labels) > 0 {
			// The local forge has no drafts, labels or merge queue: say so
			// rather than ignore the setting.
			bad(i, "forge", "local does not support draft, labels or auto_merge; remove them or use github or gitea")
		}
		for j, check := range r.Checks {
			if strings.TrimSpace(check) == "" {
				bad(i, fmt.Sprintf("checks[%d]", j), "is empty; remove it or give a shell command")
			}
		}
		for _, fe := range r.Helper.validate() { // helper.go
			bad(i, fe.Key, "%s", fe.Msg)
		}
		for _, fe := range validateOperations(r.Operations) { // operations.go
			bad(i, fe.Key, "%s", fe.Msg)
		}
	}
	return errs
}

// checkAddr returns "" for a usable host:port, else what is wrong.
func checkAddr(addr, example string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port (for example %s, or :%s for all interfaces)", addr, example, example[strings.LastIndex(example, ":")+1:])
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q has port %q; use a number from 0 to 65535", addr, port)
	}
	return ""
}

// checkPublicURL returns "" for an empty value or an http(s) origin
// (scheme, host, optional port), else what is wrong. A path is refused:
// the mirror serves from "/" and its __Host- cookie needs Path=/.
func checkPublicURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Sprintf("%q is not an http(s) address like https://patchgit.example.com", raw)
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Sprintf("%q has a path, query or user; give only the scheme and host (the proxy must serve the mirror at /)", raw)
	}
	return ""
}

// checkBranch applies the parts of git check-ref-format that matter for a
// branch name typed by hand.
func checkBranch(b string) string {
	switch {
	case strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/"):
		return "is not a valid branch name: it may not start with '-' or '/' or end with '/'"
	case strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock"):
		return "is not a valid branch name: it may not end with '.' or '.lock'"
	case strings.Contains(b, "..") || strings.Contains(b, "@{") || strings.Contains(b, "//"):
		return "is not a valid branch name: it may not contain '..', '@{' or '//'"
	case strings.ContainsFunc(b, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune("~^:?*[\\", r) }):
		return "is not a valid branch name: it may not contain spaces, control characters or any of ~^:?*[\\"
	}
	return ""
}

// isRemoteURL tells a URL ("https://...", "ssh://...") or scp-like address
// ("git@host:owner/repo") from a local path.
func isRemoteURL(u string) bool {
	if strings.Contains(u, "://") {
		return true
	}
	colon := strings.Index(u, ":")
	return colon > 0 && !strings.Contains(u[:colon], "/")
}

// expandHome turns a leading "~/" into the home directory.
func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// validateBudget checks the budget section; caps of $0 are valid (nothing
// may be spent).
func (c *Config) validateBudget() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: "budget." + key, Msg: fmt.Sprintf(format, args...)})
	}
	b := &c.Budget
	if b.DailyCap < b.HourlyCap {
		bad("daily_cap", "%s is below hourly_cap %s; the day must allow at least one hour's spend", b.DailyCap.Micros(), b.HourlyCap.Micros())
	}
	if b.DayWindow != "rolling" && b.DayWindow != "calendar" {
		bad("day_window", "%q is not valid (valid: rolling, calendar)", b.DayWindow)
	}
	if _, err := time.LoadLocation(b.TimeZone); err != nil {
		bad("time_zone", "%q is not a time zone name like UTC or Europe/Berlin", b.TimeZone)
	}
	if b.MarginPercent < 0 || b.MarginPercent > 100 {
		bad("approval_margin_percent", "%d is outside 0..100", b.MarginPercent)
	}
	if b.MeterSlice.Std() < 10*time.Second {
		bad("meter_slice", "%s is too short; use at least 10s (10m is the default)", b.MeterSlice)
	}
	if b.MaxHelperMB < 0 {
		bad("max_helper_mb", "must not be negative")
	}
	for i, h := range b.Helpers {
		if strings.TrimSpace(h.Size) == "" {
			bad(fmt.Sprintf("helpers[%d].size", i), "is empty; give the provider's size slug, e.g. s-2vcpu-4gb")
		}
	}
	for i, m := range b.Models {
		if strings.TrimSpace(m.Model) == "" {
			bad(fmt.Sprintf("models[%d].model", i), "is empty; give the model name the provider uses")
		}
	}
	return errs
}
