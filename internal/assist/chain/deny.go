// Package chain runs the model stages of a change: Plan (read the tree and
// the relevant files, say what to do, or ask) and Patch (ask for
// search/replace edits, try them, send an error back once). It knows
// prompts and formats; providers live in internal/assist/provider and
// orchestration, budget and sandbox in internal/core.
package chain

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// DefaultDeny is the file patterns never sent to a model. A pattern
// without "/" matches a file's base name in any directory; one with "/"
// matches the whole path. docs/assistant.md lists them.
var DefaultDeny = []string{
	".env", ".env.*", "*.env", ".envrc",
	"*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore",
	"id_*", "*.ppk", "known_hosts", "authorized_keys",
	".netrc", ".git-credentials", ".npmrc", ".pypirc",
	"*.kdbx", "*.tfstate", "*.tfstate.*", "secrets.*", "*secret*", "credentials*",
}

// secretContent finds secrets inside a file whose name looks harmless.
var secretContent = []struct {
	name string
	re   *regexp.Regexp
}{
	{"a private key", regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`)},
	{"an AWS access key", regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"a GitHub token", regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b`)},
	{"an OpenAI or Anthropic key", regexp.MustCompile(`\bsk-(ant-|proj-)?[A-Za-z0-9_-]{20,}`)},
	{"a Slack token", regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9-]{10,}`)},
	{"a Google API key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`)},
}

// Deny decides which files may leave the machine.
type Deny struct{ patterns []string }

// NewDeny is DefaultDeny plus extra patterns (from config); a pattern
// path.Match cannot read is an error naming it.
func NewDeny(extra []string) (*Deny, error) {
	all := append(append([]string(nil), DefaultDeny...), extra...)
	for _, p := range all {
		if _, err := path.Match(p, ""); err != nil || strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("%w: %q is not a glob like *.pem or config/*.yaml", ErrBadPattern, p)
		}
	}
	return &Deny{patterns: all}, nil
}

// Path reports whether the file at p (slash-separated, relative to the
// repository) is denied, and by which pattern.
func (d *Deny) Path(p string) (pattern string, denied bool) {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	base := path.Base(p)
	for _, pat := range d.patterns {
		target := base
		if strings.Contains(pat, "/") {
			target = p
		}
		if ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(target)); ok {
			return pat, true
		}
	}
	return "", false
}

// Content reports whether a file's content holds a secret, and which kind.
func (d *Deny) Content(b []byte) (what string, denied bool) {
	for _, s := range secretContent {
		if s.re.Match(b) {
			return s.name, true
		}
	}
	return "", false
}
