package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// validateForge checks a github or gitea repository's forge settings and
// fills in defaults (forge_repo from the url, api_url, username). Keys in
// the returned errors are relative to the repository.
func (r *Repo) validateForge() []FieldError {
	var errs []FieldError
	bad := func(key, format string, args ...any) {
		errs = append(errs, FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("url", "%q must be the https clone URL of the %s repository (like https://host/owner/name.git): PatchGit pushes over https with the token", r.URL, r.Forge)
		return errs
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		bad("url", "%q uses plain http: the token would travel in clear; use https", r.URL)
	}
	if r.ForgeRepo == "" {
		r.ForgeRepo = strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
		if r.Forge == "gitea" && r.APIURL != "" {
			// A Gitea under a sub-path: the repository is the last two parts.
			parts := strings.Split(r.ForgeRepo, "/")
			if len(parts) > 2 {
				r.ForgeRepo = strings.Join(parts[len(parts)-2:], "/")
			}
		}
	}
	if owner, name, ok := strings.Cut(r.ForgeRepo, "/"); !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		bad("forge_repo", "%q is not owner/name; set forge_repo (the url's path could not be used)", r.ForgeRepo)
	}
	if r.APIURL == "" {
		if r.Forge == "github" {
			r.APIURL = "https://api.github.com/"
		} else {
			r.APIURL = u.Scheme + "://" + u.Host
		}
	} else if a, err := url.Parse(r.APIURL); err != nil || a.Host == "" || (a.Scheme != "https" && !(a.Scheme == "http" && isLoopbackHost(a.Hostname()))) {
		bad("api_url", "%q must be an https URL (plain http only on loopback)", r.APIURL)
	}
	switch {
	case r.TokenEnv == "" && r.TokenFile == "":
		bad("token_env", "is empty and so is token_file: a %s repository needs a token; name the environment variable (token_env: GITHUB_TOKEN) or a file (token_file)", r.Forge)
	case r.TokenEnv != "" && r.TokenFile != "":
		bad("token_file", "is set beside token_env; keep one of them")
	case r.TokenFile != "":
		if abs, err := filepath.Abs(expandHome(r.TokenFile)); err == nil {
			r.TokenFile = abs
		}
	}
	if strings.HasPrefix(r.TokenEnv, EnvPrefix) {
		bad("token_env", "%q starts with %s, which PatchGit reads as settings; use another name such as GITHUB_TOKEN", r.TokenEnv, EnvPrefix)
	}
	if r.Username == "" {
		r.Username = DefaultGitUsername
	}
	if r.ForgeVersion != "" && r.Forge != "gitea" {
		bad("forge_version", "is only for gitea")
	}
	for j, l := range r.Labels {
		if strings.TrimSpace(l) == "" || strings.ContainsAny(l, "\n\r") {
			bad(fmt.Sprintf("labels[%d]", j), "%q is not a label name", l)
		}
	}
	return errs
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1" || strings.HasPrefix(h, "127.")
}
