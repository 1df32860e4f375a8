package sandbox

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/patchgit/patchgit/internal/gitops"
	"go.yaml.in/yaml/v3"
)

// Check is one named check command.
type Check struct {
	Name    string        // "format", "lint", "test"; "" becomes "check N"
	Command string        // run with sh -c in the work tree
	Timeout time.Duration // 0: the Request's CheckTimeout
}

// RepoConfigFile is read from the BASE commit, never from the patched
// tree, so a patch cannot rewrite its own checks into `true`.
const RepoConfigFile = ".patchgit.yaml"

// maxRepoConfigBytes bounds .patchgit.yaml.
const maxRepoConfigBytes = 64 << 10

// RepoConfig is what .patchgit.yaml may say:
//
//	checks:
//	  - name: format
//	    run: test -z "$(gofmt -l .)"
//	    timeout: 1m
//	  - go test ./...          # a plain command is fine too
//	prepare:
//	  - go mod download        # runs with network, before the checks
type RepoConfig struct {
	Checks  []Check
	Prepare []string
}

// checkNode accepts a plain string or {name, run, timeout}.
type checkNode struct{ Check }

func (c *checkNode) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		c.Command = n.Value
		return nil
	}
	var m struct {
		Name    string `yaml:"name"`
		Run     string `yaml:"run"`
		Timeout string `yaml:"timeout"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	c.Name, c.Command = m.Name, m.Run
	if m.Timeout != "" {
		d, err := time.ParseDuration(m.Timeout)
		if err != nil || d <= 0 {
			return fmt.Errorf("line %d: timeout %q is not a positive duration like 90s or 5m", n.Line, m.Timeout)
		}
		c.Timeout = d
	}
	return nil
}

// ParseRepoConfig reads a .patchgit.yaml document.
func ParseRepoConfig(raw []byte) (RepoConfig, error) {
	var doc struct {
		Checks  []checkNode `yaml:"checks"`
		Prepare []string    `yaml:"prepare"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && err.Error() != "EOF" {
		return RepoConfig{}, fmt.Errorf("%w: %s: %v (valid keys: checks, prepare)", ErrRepoConfig, RepoConfigFile, err)
	}
	var rc RepoConfig
	for i, c := range doc.Checks {
		if strings.TrimSpace(c.Command) == "" {
			return RepoConfig{}, fmt.Errorf("%w: %s: checks[%d] has no command (give `run:`)", ErrRepoConfig, RepoConfigFile, i)
		}
		rc.Checks = append(rc.Checks, c.Check)
	}
	rc.Prepare = doc.Prepare
	return rc, nil
}

// readRepoConfig reads .patchgit.yaml at base from the mirror; a missing
// file is an empty config.
func readRepoConfig(ctx context.Context, g *gitops.Git, mirror, base string) (RepoConfig, error) {
	out, err := g.Run(ctx, "", gitops.RunOpts{}, "--git-dir="+mirror, "cat-file", "blob", base+":"+RepoConfigFile)
	if err != nil {
		var gerr *gitops.Error
		if ctx.Err() == nil && errors.As(err, &gerr) && gerr.ExitCode > 0 {
			return RepoConfig{}, nil // no such file at base
		}
		return RepoConfig{}, fmt.Errorf("read %s: %w", RepoConfigFile, err)
	}
	if len(out) > maxRepoConfigBytes {
		return RepoConfig{}, fmt.Errorf("%w: %s has %d bytes; the limit is %d", ErrRepoConfig, RepoConfigFile, len(out), maxRepoConfigBytes)
	}
	return ParseRepoConfig(out)
}

// named gives every check a name and a timeout.
func named(checks []Check, timeout time.Duration) []Check {
	out := make([]Check, len(checks))
	for i, c := range checks {
		if c.Name == "" {
			c.Name = fmt.Sprintf("check %d", i+1)
		}
		if c.Timeout <= 0 {
			c.Timeout = timeout
		}
		out[i] = c
	}
	return out
}

// TouchesChecks lists the files of a change that the checks depend on:
// tests, CI config, the check config, build and dependency files. A patch
// that changes them can weaken its own verification, so the risk score
// counts them.
func TouchesChecks(files []string) []string {
	var out []string
	for _, f := range files {
		if checkRelevant(f) {
			out = append(out, f)
		}
	}
	return out
}

func checkRelevant(f string) bool {
	base := path.Base(f)
	lower := strings.ToLower(base)
	switch lower {
	case RepoConfigFile, "makefile", "gnumakefile", "taskfile.yml", "taskfile.yaml", "justfile",
		"go.mod", "go.sum", "package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml",
		"cargo.toml", "cargo.lock", "pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "pytest.ini",
		"conftest.py", "requirements.txt", "dockerfile", ".gitlab-ci.yml", ".travis.yml",
		".golangci.yml", ".golangci.yaml", "jest.config.js", "vitest.config.ts", "build.gradle", "pom.xml":
		return true
	}
	if strings.HasSuffix(lower, "_test.go") || strings.Contains(lower, ".test.") || strings.Contains(lower, ".spec.") ||
		(strings.HasPrefix(lower, "test_") && strings.HasSuffix(lower, ".py")) {
		return true
	}
	for _, dir := range strings.Split(path.Dir(f), "/") {
		switch strings.ToLower(dir) {
		case ".github", ".ci", ".circleci", ".gitlab", "test", "tests", "testdata", "__tests__", "e2e":
			return true
		}
	}
	return false
}
