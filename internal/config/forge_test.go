package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestForgeReposGetDefaultsFromTheirURL(t *testing.T) {
	cfg := validConfig()
	cfg.Repos = []Repo{
		{Name: "gh", URL: "https://github.com/acme/app.git", Forge: "github", TokenEnv: "GITHUB_TOKEN"},
		{Name: "gt", URL: "https://git.example.com/team/tool.git", Forge: "gitea", TokenFile: "tok", Labels: []string{"patchgit"}, Draft: true},
		{Name: "sub", URL: "https://example.com/gitea/team/x.git", Forge: "gitea", APIURL: "https://example.com/gitea", TokenEnv: "T"},
		{Name: "lo", URL: "http://127.0.0.1:3000/o/r.git", Forge: "gitea", TokenEnv: "T", ForgeVersion: "1.26.0"},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	gh, gt, sub, lo := cfg.Repos[0], cfg.Repos[1], cfg.Repos[2], cfg.Repos[3]
	if gh.ForgeRepo != "acme/app" || gh.APIURL != "https://api.github.com/" || gh.Username != DefaultGitUsername {
		t.Errorf("github defaults: %+v", gh)
	}
	if gt.ForgeRepo != "team/tool" || gt.APIURL != "https://git.example.com" || !filepath.IsAbs(gt.TokenFile) {
		t.Errorf("gitea defaults: %+v", gt)
	}
	if sub.ForgeRepo != "team/x" {
		t.Errorf("gitea under a sub-path: forge_repo %q", sub.ForgeRepo)
	}
	if lo.APIURL != "http://127.0.0.1:3000" {
		t.Errorf("loopback gitea: api_url %q", lo.APIURL)
	}
}

func TestForgeRepoMistakesAreExplained(t *testing.T) {
	cases := map[string]struct {
		repo Repo
		want string
	}{
		"no token":      {Repo{URL: "https://github.com/a/b.git", Forge: "github"}, `repos[0].token_env: is empty and so is token_file`},
		"two tokens":    {Repo{URL: "https://github.com/a/b.git", Forge: "github", TokenEnv: "T", TokenFile: "/f"}, `repos[0].token_file: is set beside token_env`},
		"ssh url":       {Repo{URL: "git@github.com:a/b.git", Forge: "github", TokenEnv: "T"}, `repos[0].url: "git@github.com:a/b.git" must be the https clone URL`},
		"plain http":    {Repo{URL: "http://gitea.example.com/a/b.git", Forge: "gitea", TokenEnv: "T"}, `uses plain http: the token would travel in clear`},
		"no owner":      {Repo{URL: "https://github.com/b.git", Forge: "github", TokenEnv: "T"}, `repos[0].forge_repo: "b" is not owner/name`},
		"own prefix":    {Repo{URL: "https://github.com/a/b.git", Forge: "github", TokenEnv: "PATCHGIT_TOKEN"}, `repos[0].token_env: "PATCHGIT_TOKEN" starts with PATCHGIT_`},
		"bad api url":   {Repo{URL: "https://github.com/a/b.git", Forge: "github", TokenEnv: "T", APIURL: "http://api.example.com"}, `repos[0].api_url: "http://api.example.com" must be an https URL`},
		"local options": {Repo{URL: "/srv/x.git", Forge: "local", AutoMerge: true}, `repos[0].forge: local does not support draft, labels or auto_merge`},
		"version":       {Repo{URL: "https://github.com/a/b.git", Forge: "github", TokenEnv: "T", ForgeVersion: "1"}, `repos[0].forge_version: is only for gitea`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := validConfig()
			c.repo.Name = "r"
			cfg.Repos = []Repo{c.repo}
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\n does not contain %q", err, c.want)
			}
		})
	}
}
