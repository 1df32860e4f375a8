package assess

import (
	"path"
	"strconv"
	"strings"
	"unicode"
)

// isCI: files that decide what CI (or the sandbox) runs, usually with
// secrets at hand.
func isCI(p string) bool {
	lower := strings.ToLower(p)
	for _, dir := range []string{".github/workflows/", ".github/actions/", ".circleci/", ".gitlab/ci/", ".buildkite/", ".woodpecker/", ".ci/"} {
		if strings.HasPrefix(lower, dir) || strings.Contains(lower, "/"+dir) {
			return true
		}
	}
	switch path.Base(lower) {
	case ".gitlab-ci.yml", ".travis.yml", "jenkinsfile", "azure-pipelines.yml", "bitbucket-pipelines.yml",
		".drone.yml", ".woodpecker.yml", "cloudbuild.yaml", "cloudbuild.yml", ".patchgit.yaml":
		return true
	}
	return false
}

// authWords are path words that mark auth or security code. Whole words
// only, so "spinner" or "author" do not count.
var authWords = map[string]bool{
	"auth": true, "authn": true, "authz": true, "authorize": true, "authorization": true, "authenticate": true,
	"authentication": true, "oauth": true, "oidc": true, "login": true, "logout": true, "password": true,
	"passwd": true, "credential": true, "credentials": true, "secret": true, "secrets": true, "security": true,
	"crypto": true, "cert": true, "certs": true, "tls": true, "token": true, "tokens": true, "session": true,
	"sessions": true, "permission": true, "permissions": true, "acl": true, "rbac": true, "sso": true,
	"saml": true, "jwt": true, "sudo": true, "pin": true, "csrf": true, "cors": true, "totp": true, "mfa": true,
}

func isAuth(p string) bool {
	for _, w := range pathWords(p) {
		if authWords[w] {
			return true
		}
	}
	return false
}

// pathWords splits a path into lower-case words at separators, digits and
// camelCase humps: "internal/oauth2/passwordReset.go" -> internal, oauth,
// password, reset, go.
func pathWords(p string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	var prev rune
	for _, r := range p {
		switch {
		case !unicode.IsLetter(r):
			flush()
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	flush()
	return words
}

func isMigration(p string) bool {
	lower := strings.ToLower(p)
	if strings.HasSuffix(lower, ".sql") {
		return true
	}
	for _, dir := range strings.Split(path.Dir(lower), "/") {
		switch dir {
		case "migrations", "migration", "migrate", "alembic", "flyway", "liquibase":
			return true
		}
	}
	return false
}

// isDependency: manifests and lock files; a change here changes code that
// nobody reviews in this diff.
func isDependency(p string) bool {
	base := strings.ToLower(path.Base(p))
	switch base {
	case "go.mod", "go.sum", "go.work", "go.work.sum",
		"package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "bun.lock",
		"pipfile", "pipfile.lock", "poetry.lock", "pyproject.toml", "setup.py", "setup.cfg", "uv.lock",
		"cargo.toml", "cargo.lock", "gemfile", "gemfile.lock", "composer.json", "composer.lock",
		"pom.xml", "build.gradle", "build.gradle.kts", "gradle.lockfile", "mix.exs", "mix.lock",
		"package.swift", "package.resolved", "packages.lock.json", "vcpkg.json", "conanfile.txt", "flake.lock":
		return true
	}
	return strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt") ||
		strings.HasSuffix(base, ".gemspec") || strings.HasSuffix(base, ".csproj")
}

// listFiles names up to three files, then how many more.
func listFiles(files []string) string {
	const shown = 3
	if len(files) <= shown {
		return strings.Join(files, ", ")
	}
	return strings.Join(files[:shown], ", ") + " and " + plural(len(files)-shown, "more", "more")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
