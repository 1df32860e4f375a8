package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/patchgit/patchgit/internal/config"
	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/forge"
	"github.com/patchgit/patchgit/internal/gitops"
)

// forgeAPITimeout bounds one forge API call.
const forgeAPITimeout = 30 * time.Second

// remoteForges builds the GitHub and Gitea forges for the configured
// repositories and fills each spec's credentials and PR options. Tokens
// are read on each use, never here.
func remoteForges(repos []config.Repo, specs []core.RepoSpec) (github, gitea forge.Forge) {
	gh := map[string]forge.GitHubRepo{}
	gt := map[string]forge.GiteaRepo{}
	for i, r := range repos {
		if r.Forge != "github" && r.Forge != "gitea" {
			continue
		}
		token := forge.Token{Env: r.TokenEnv, File: r.TokenFile}
		owner, name, _ := strings.Cut(r.ForgeRepo, "/")
		switch r.Forge {
		case "github":
			gh[r.Name] = forge.GitHubRepo{Owner: owner, Name: name, APIURL: r.APIURL, Token: token}
		case "gitea":
			gt[r.Name] = forge.GiteaRepo{Owner: owner, Name: name, URL: r.APIURL, Token: token, Version: r.ForgeVersion}
		}
		username := r.Username
		specs[i].Auth = func() (*gitops.Credentials, error) {
			tok, err := token.Value()
			if err != nil {
				return nil, err
			}
			return &gitops.Credentials{Username: username, Password: tok}, nil
		}
		specs[i].Draft, specs[i].Labels, specs[i].AutoMerge = r.Draft, r.Labels, r.AutoMerge
	}
	hc := &http.Client{Timeout: forgeAPITimeout}
	return forge.NewGitHub(gh, hc), forge.NewGitea(gt, hc)
}
