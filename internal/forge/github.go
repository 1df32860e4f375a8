package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v93/github"
)

// GitHubRepo is one repository on GitHub or GitHub Enterprise.
type GitHubRepo struct {
	Owner, Name string
	// APIURL is the REST API root; "" means https://api.github.com/.
	APIURL string
	Token  Token
}

func (r GitHubRepo) slug() string { return r.Owner + "/" + r.Name }

// GitHub opens pull requests through GitHub's REST API (go-github). It
// serves several PatchGit repositories, each with its own token.
type GitHub struct {
	repos map[string]GitHubRepo // PatchGit repo name -> GitHub repository
	http  *http.Client
}

// NewGitHub serves the named repositories; hc nil means http.DefaultClient.
func NewGitHub(repos map[string]GitHubRepo, hc *http.Client) *GitHub {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &GitHub{repos: repos, http: hc}
}

// client builds an API client with the token read now.
func (g *GitHub) client(repo string) (*github.Client, GitHubRepo, error) {
	r, ok := g.repos[repo]
	if !ok {
		return nil, r, fmt.Errorf("%w: %q", ErrUnknownRepo, repo)
	}
	tok, err := r.Token.Value()
	if err != nil {
		return nil, r, fmt.Errorf("github %s: %w", r.slug(), err)
	}
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(g.http), github.WithAuthToken(tok),
		github.WithUserAgent("patchgit")}
	if r.APIURL != "" {
		base := strings.TrimSuffix(r.APIURL, "/") + "/"
		opts = append(opts, github.WithURLs(&base, &base))
	}
	c, err := github.NewClient(opts...)
	if err != nil {
		return nil, r, fmt.Errorf("github client for %s: %w", r.slug(), err)
	}
	return c, r, nil
}

// OpenPR implements Forge: it asks GitHub first, and a 422 "A pull request
// already exists" (a race, or a crash after GitHub created it) is answered
// by the existing PR.
func (g *GitHub) OpenPR(ctx context.Context, req OpenRequest) (PR, error) {
	if pr, found, err := g.FindPR(ctx, req.Repo, req.Head); err != nil || found {
		return pr, err
	}
	c, r, err := g.client(req.Repo)
	if err != nil {
		return PR{}, fmt.Errorf("open pull request: %w", err)
	}
	p, _, err := c.PullRequests.Create(ctx, r.Owner, r.Name, github.CreatePullRequest{
		Title: github.Ptr(req.Title), Head: req.Head, Base: req.Base, Body: github.Ptr(req.Body),
		Draft: github.Ptr(req.Draft), MaintainerCanModify: github.Ptr(true),
	})
	if alreadyExists(err) {
		pr, found, ferr := g.FindPR(ctx, req.Repo, req.Head)
		if ferr != nil || found {
			return pr, ferr
		}
	}
	if err != nil {
		return PR{}, fmt.Errorf("open pull request on %s: %w", r.slug(), githubError(r, err))
	}
	pr := fromGitHub(req.Repo, p)
	if len(req.Labels) > 0 {
		// GitHub creates labels that do not exist yet. A refusal does not
		// undo the PR: it is reported beside it.
		labels, _, err := c.Issues.AddLabelsToIssue(ctx, r.Owner, r.Name, pr.Number, req.Labels)
		if err != nil {
			pr.Warning = fmt.Sprintf("labels %v were not added: %v", req.Labels, githubError(r, err))
		} else {
			pr.Labels = pr.Labels[:0]
			for _, l := range labels {
				pr.Labels = append(pr.Labels, l.GetName())
			}
		}
	}
	return pr, nil
}

// FindPR implements Forge.
func (g *GitHub) FindPR(ctx context.Context, repo, head string) (PR, bool, error) {
	c, r, err := g.client(repo)
	if err != nil {
		return PR{}, false, fmt.Errorf("find pull request: %w", err)
	}
	ps, _, err := c.PullRequests.List(ctx, r.Owner, r.Name, &github.PullRequestListOptions{
		State: "open", Head: r.Owner + ":" + head, ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return PR{}, false, fmt.Errorf("find pull request for %s on %s: %w", head, r.slug(), githubError(r, err))
	}
	for _, p := range ps {
		if p.GetHead().GetRef() == head && p.GetState() == "open" {
			return fromGitHub(repo, p), true, nil
		}
	}
	return PR{}, false, nil
}

// UpdatePR implements Forge.
func (g *GitHub) UpdatePR(ctx context.Context, repo string, number int, title, body string) (PR, error) {
	c, r, err := g.client(repo)
	if err != nil {
		return PR{}, fmt.Errorf("update pull request: %w", err)
	}
	p, _, err := c.PullRequests.Edit(ctx, r.Owner, r.Name, number, &github.PullRequest{
		Title: github.Ptr(title), Body: github.Ptr(body)})
	if err != nil {
		return PR{}, fmt.Errorf("update pull request %s#%d: %w", r.slug(), number, githubError(r, err))
	}
	return fromGitHub(repo, p), nil
}

// GetPR implements Forge.
func (g *GitHub) GetPR(ctx context.Context, repo string, number int) (PR, error) {
	c, r, err := g.client(repo)
	if err != nil {
		return PR{}, fmt.Errorf("read pull request: %w", err)
	}
	p, _, err := c.PullRequests.Get(ctx, r.Owner, r.Name, number)
	if err != nil {
		return PR{}, fmt.Errorf("read pull request %s#%d: %w", r.slug(), number, githubError(r, err))
	}
	return fromGitHub(repo, p), nil
}

// List implements Forge: the newest 100 PRs, open or not.
func (g *GitHub) List(ctx context.Context, repo string) ([]PR, error) {
	c, r, err := g.client(repo)
	if err != nil {
		return nil, fmt.Errorf("list pull requests: %w", err)
	}
	ps, _, err := c.PullRequests.List(ctx, r.Owner, r.Name, &github.PullRequestListOptions{
		State: "all", Sort: "created", Direction: "desc", ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return nil, fmt.Errorf("list pull requests of %s: %w", r.slug(), githubError(r, err))
	}
	out := make([]PR, 0, len(ps))
	for _, p := range ps {
		out = append(out, fromGitHub(repo, p))
	}
	return out, nil
}

// Close implements Forge.
func (g *GitHub) Close(ctx context.Context, repo string, number int) (PR, error) {
	c, r, err := g.client(repo)
	if err != nil {
		return PR{}, fmt.Errorf("close pull request: %w", err)
	}
	p, _, err := c.PullRequests.Edit(ctx, r.Owner, r.Name, number, &github.PullRequest{State: github.Ptr("closed")})
	if err != nil {
		return PR{}, fmt.Errorf("close pull request %s#%d: %w", r.slug(), number, githubError(r, err))
	}
	return fromGitHub(repo, p), nil
}

// Merge implements Forge: only the person's explicit act, or a
// repository's documented auto_merge opt-in.
func (g *GitHub) Merge(ctx context.Context, repo string, number int) (PR, error) {
	c, r, err := g.client(repo)
	if err != nil {
		return PR{}, fmt.Errorf("merge pull request: %w", err)
	}
	_, _, err = c.PullRequests.Merge(ctx, r.Owner, r.Name, number, "", &github.PullRequestOptions{MergeMethod: "merge"})
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && (er.Response.StatusCode == http.StatusMethodNotAllowed || er.Response.StatusCode == http.StatusConflict) {
		return PR{}, fmt.Errorf("merge pull request %s#%d: %w: GitHub says %q", r.slug(), number, ErrMergeConflict, er.Message)
	}
	if err != nil {
		return PR{}, fmt.Errorf("merge pull request %s#%d: %w", r.slug(), number, githubError(r, err))
	}
	return g.GetPR(ctx, repo, number)
}

func fromGitHub(repo string, p *github.PullRequest) PR {
	state := p.GetState()
	if p.GetMerged() || p.MergedAt != nil {
		state = StateMerged
	}
	pr := PR{Repo: repo, Number: p.GetNumber(), Title: p.GetTitle(), Body: p.GetBody(),
		Base: p.GetBase().GetRef(), Head: p.GetHead().GetRef(), State: state, URL: p.GetHTMLURL(),
		Draft: p.GetDraft(), Created: p.GetCreatedAt().Time, Updated: p.GetUpdatedAt().Time}
	for _, l := range p.Labels {
		pr.Labels = append(pr.Labels, l.GetName())
	}
	return pr
}

// alreadyExists recognizes GitHub's 422 for a second PR with the same head.
func alreadyExists(err error) bool {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil || er.Response.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	for _, e := range er.Errors {
		if strings.Contains(e.Message, "A pull request already exists") {
			return true
		}
	}
	return strings.Contains(er.Message, "A pull request already exists")
}

// githubError turns an API refusal into a message that says what to do.
// The token never appears: go-github's errors carry the URL and the body.
func githubError(r GitHubRepo, err error) error {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil {
		var rl *github.RateLimitError
		if errors.As(err, &rl) {
			return fmt.Errorf("%w: GitHub rate limit reached (%s); wait until %s", ErrForgeAPI, rl.Message, rl.Rate.Reset.Time.Format("15:04 MST"))
		}
		return fmt.Errorf("%w: %v", ErrForgeAPI, err)
	}
	status := er.Response.StatusCode
	switch status {
	case http.StatusUnauthorized:
		return fmt.Errorf("%w: GitHub answered 401 %q for the token in %s: it is wrong, expired or revoked; create a new one (docs/forges.md) and put it there",
			ErrTokenRefused, er.Message, r.Token)
	case http.StatusForbidden:
		need := er.Response.Header.Get("X-Accepted-GitHub-Permissions")
		if need == "" {
			need = er.Response.Header.Get("X-Accepted-OAuth-Scopes")
		}
		if need == "" {
			need = "a classic token needs the repo scope; a fine-grained one Contents and Pull requests: read and write"
		}
		return fmt.Errorf("%w: GitHub answered 403 %q on %s: the token in %s needs: %s",
			ErrTokenScope, er.Message, r.slug(), r.Token, need)
	case http.StatusNotFound:
		return fmt.Errorf("%w: GitHub answered 404 for %s: the repository does not exist or the token in %s cannot see it (a fine-grained token must list this repository)",
			ErrTokenScope, r.slug(), r.Token)
	}
	var details []string
	for _, e := range er.Errors {
		if e.Message != "" {
			details = append(details, e.Message)
		} else {
			details = append(details, fmt.Sprintf("%s %s is %s", e.Resource, e.Field, e.Code))
		}
	}
	msg := er.Message
	if len(details) > 0 {
		msg += ": " + strings.Join(details, "; ")
	}
	return fmt.Errorf("%w: GitHub answered %d: %s", ErrForgeAPI, status, msg)
}
