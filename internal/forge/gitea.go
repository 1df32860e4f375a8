package forge

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"code.gitea.io/sdk/gitea"
)

// GiteaRepo is one repository on a Gitea or Forgejo server.
type GiteaRepo struct {
	Owner, Name string
	// URL is the server's root, e.g. https://gitea.example.com.
	URL   string
	Token Token
	// Version tells the SDK the server's version; "" asks the server. A
	// Gitea built from source reports "development", which the SDK cannot
	// compare: set the real version then.
	Version string
}

func (r GiteaRepo) slug() string { return r.Owner + "/" + r.Name }

// draftPrefix marks a work-in-progress PR: Gitea's default
// WORK_IN_PROGRESS_PREFIXES has no draft flag in the create API.
const draftPrefix = "WIP: "

// labelColor is the colour of labels PatchGit creates on Gitea.
const labelColor = "#5319e7"

// Gitea opens pull requests through Gitea's API (code.gitea.io/sdk/gitea).
type Gitea struct {
	repos map[string]GiteaRepo
	http  *http.Client
}

// NewGitea serves the named repositories; hc nil means http.DefaultClient.
func NewGitea(repos map[string]GiteaRepo, hc *http.Client) *Gitea {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Gitea{repos: repos, http: hc}
}

// client builds an SDK client bound to ctx, with the token read now. The
// SDK takes its context per client, so each call gets its own (cheap: no
// request is made when the version is known).
func (g *Gitea) client(ctx context.Context, repo string) (*gitea.Client, GiteaRepo, error) {
	r, ok := g.repos[repo]
	if !ok {
		return nil, r, fmt.Errorf("%w: %q", ErrUnknownRepo, repo)
	}
	tok, err := r.Token.Value()
	if err != nil {
		return nil, r, fmt.Errorf("gitea %s: %w", r.slug(), err)
	}
	opts := []gitea.ClientOption{gitea.SetHTTPClient(g.http), gitea.SetToken(tok), gitea.SetContext(ctx)}
	if r.Version != "" {
		opts = append(opts, gitea.SetGiteaVersion(r.Version))
	}
	c, err := gitea.NewClient(r.URL, opts...)
	if err != nil {
		return nil, r, fmt.Errorf("gitea client for %s: %w", r.URL, giteaError(r, nil, err))
	}
	return c, r, nil
}

// OpenPR implements Forge: it asks Gitea first, and a 409 (a PR for these
// branches exists: a race, or a crash after Gitea created it) is answered
// by the existing PR.
func (g *Gitea) OpenPR(ctx context.Context, req OpenRequest) (PR, error) {
	if pr, found, err := g.FindPR(ctx, req.Repo, req.Head); err != nil || found {
		return pr, err
	}
	c, r, err := g.client(ctx, req.Repo)
	if err != nil {
		return PR{}, fmt.Errorf("open pull request: %w", err)
	}
	title := req.Title
	if req.Draft {
		title = draftPrefix + title
	}
	p, resp, err := c.CreatePullRequest(r.Owner, r.Name, gitea.CreatePullRequestOption{
		Head: req.Head, Base: req.Base, Title: title, Body: req.Body})
	if err != nil && status(resp) == http.StatusConflict {
		pr, found, ferr := g.FindPR(ctx, req.Repo, req.Head)
		if ferr != nil || found {
			return pr, ferr
		}
	}
	if err != nil {
		return PR{}, fmt.Errorf("open pull request on %s: %w", r.slug(), giteaError(r, resp, err))
	}
	pr := fromGitea(req.Repo, p)
	if len(req.Labels) > 0 {
		if names, err := g.addLabels(c, r, p.Index, req.Labels); err != nil {
			pr.Warning = fmt.Sprintf("labels %v were not added: %v", req.Labels, err)
		} else {
			pr.Labels = names
		}
	}
	return pr, nil
}

// addLabels adds labels by name, creating the missing ones (Gitea's API
// takes label ids).
func (g *Gitea) addLabels(c *gitea.Client, r GiteaRepo, index int64, names []string) ([]string, error) {
	have := map[string]int64{}
	for page := 1; ; page++ {
		ls, resp, err := c.ListRepoLabels(r.Owner, r.Name, gitea.ListLabelsOptions{ListOptions: gitea.ListOptions{Page: page, PageSize: 50}})
		if err != nil {
			return nil, giteaError(r, resp, err)
		}
		for _, l := range ls {
			have[l.Name] = l.ID
		}
		if len(ls) < 50 {
			break
		}
	}
	var ids []int64
	for _, n := range names {
		id, ok := have[n]
		if !ok {
			l, resp, err := c.CreateLabel(r.Owner, r.Name, gitea.CreateLabelOption{Name: n, Color: labelColor,
				Description: "added by PatchGit"})
			if err != nil {
				return nil, giteaError(r, resp, err)
			}
			id = l.ID
		}
		ids = append(ids, id)
	}
	ls, resp, err := c.AddIssueLabels(r.Owner, r.Name, index, gitea.IssueLabelsOption{Labels: ids})
	if err != nil {
		return nil, giteaError(r, resp, err)
	}
	var out []string
	for _, l := range ls {
		out = append(out, l.Name)
	}
	return out, nil
}

// FindPR implements Forge.
func (g *Gitea) FindPR(ctx context.Context, repo, head string) (PR, bool, error) {
	c, r, err := g.client(ctx, repo)
	if err != nil {
		return PR{}, false, fmt.Errorf("find pull request: %w", err)
	}
	for page := 1; ; page++ {
		ps, resp, err := c.ListRepoPullRequests(r.Owner, r.Name, gitea.ListPullRequestsOptions{
			ListOptions: gitea.ListOptions{Page: page, PageSize: 50}, State: gitea.StateOpen})
		if err != nil {
			return PR{}, false, fmt.Errorf("find pull request for %s on %s: %w", head, r.slug(), giteaError(r, resp, err))
		}
		for _, p := range ps {
			if p.Head != nil && p.Head.Ref == head && p.State == gitea.StateOpen {
				return fromGitea(repo, p), true, nil
			}
		}
		if len(ps) < 50 {
			return PR{}, false, nil
		}
	}
}

// UpdatePR implements Forge. A draft keeps its "WIP: " prefix.
func (g *Gitea) UpdatePR(ctx context.Context, repo string, number int, title, body string) (PR, error) {
	c, r, err := g.client(ctx, repo)
	if err != nil {
		return PR{}, fmt.Errorf("update pull request: %w", err)
	}
	cur, resp, err := c.GetPullRequest(r.Owner, r.Name, int64(number))
	if err != nil {
		return PR{}, fmt.Errorf("update pull request %s#%d: %w", r.slug(), number, giteaError(r, resp, err))
	}
	if strings.HasPrefix(cur.Title, draftPrefix) && !strings.HasPrefix(title, draftPrefix) {
		title = draftPrefix + title
	}
	p, resp, err := c.EditPullRequest(r.Owner, r.Name, int64(number), gitea.EditPullRequestOption{Title: title, Body: &body})
	if err != nil {
		return PR{}, fmt.Errorf("update pull request %s#%d: %w", r.slug(), number, giteaError(r, resp, err))
	}
	return fromGitea(repo, p), nil
}

// GetPR implements Forge.
func (g *Gitea) GetPR(ctx context.Context, repo string, number int) (PR, error) {
	c, r, err := g.client(ctx, repo)
	if err != nil {
		return PR{}, fmt.Errorf("read pull request: %w", err)
	}
	p, resp, err := c.GetPullRequest(r.Owner, r.Name, int64(number))
	if err != nil {
		return PR{}, fmt.Errorf("read pull request %s#%d: %w", r.slug(), number, giteaError(r, resp, err))
	}
	return fromGitea(repo, p), nil
}

// List implements Forge: the newest 50 PRs, open or not.
func (g *Gitea) List(ctx context.Context, repo string) ([]PR, error) {
	c, r, err := g.client(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("list pull requests: %w", err)
	}
	ps, resp, err := c.ListRepoPullRequests(r.Owner, r.Name, gitea.ListPullRequestsOptions{
		ListOptions: gitea.ListOptions{Page: 1, PageSize: 50}, State: gitea.StateAll})
	if err != nil {
		return nil, fmt.Errorf("list pull requests of %s: %w", r.slug(), giteaError(r, resp, err))
	}
	out := make([]PR, 0, len(ps))
	for _, p := range ps {
		out = append(out, fromGitea(repo, p))
	}
	return out, nil
}

// Close implements Forge.
func (g *Gitea) Close(ctx context.Context, repo string, number int) (PR, error) {
	c, r, err := g.client(ctx, repo)
	if err != nil {
		return PR{}, fmt.Errorf("close pull request: %w", err)
	}
	closed := gitea.StateClosed
	p, resp, err := c.EditPullRequest(r.Owner, r.Name, int64(number), gitea.EditPullRequestOption{State: &closed})
	if err != nil {
		return PR{}, fmt.Errorf("close pull request %s#%d: %w", r.slug(), number, giteaError(r, resp, err))
	}
	return fromGitea(repo, p), nil
}

// Merge implements Forge: only the person's explicit act, or a
// repository's documented auto_merge opt-in.
func (g *Gitea) Merge(ctx context.Context, repo string, number int) (PR, error) {
	c, r, err := g.client(ctx, repo)
	if err != nil {
		return PR{}, fmt.Errorf("merge pull request: %w", err)
	}
	ok, resp, err := c.MergePullRequest(r.Owner, r.Name, int64(number), gitea.MergePullRequestOption{Style: gitea.MergeStyleMerge})
	if (err == nil && !ok) || status(resp) == http.StatusMethodNotAllowed || status(resp) == http.StatusConflict {
		return PR{}, fmt.Errorf("merge pull request %s#%d: %w: rebase the branch or merge it on Gitea", r.slug(), number, ErrMergeConflict)
	}
	if err != nil {
		return PR{}, fmt.Errorf("merge pull request %s#%d: %w", r.slug(), number, giteaError(r, resp, err))
	}
	return g.GetPR(ctx, repo, number)
}

func fromGitea(repo string, p *gitea.PullRequest) PR {
	state := string(p.State)
	if p.HasMerged {
		state = StateMerged
	}
	pr := PR{Repo: repo, Number: int(p.Index), Title: p.Title, Body: p.Body, State: state, URL: p.HTMLURL,
		Draft: p.Draft || strings.HasPrefix(p.Title, draftPrefix)}
	if p.Base != nil {
		pr.Base = p.Base.Ref
	}
	if p.Head != nil {
		pr.Head = p.Head.Ref
	}
	if p.Created != nil {
		pr.Created = *p.Created
	}
	if p.Updated != nil {
		pr.Updated = *p.Updated
	}
	for _, l := range p.Labels {
		pr.Labels = append(pr.Labels, l.Name)
	}
	return pr
}

func status(resp *gitea.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}

// giteaError turns an API refusal into a message that says what to do.
func giteaError(r GiteaRepo, resp *gitea.Response, err error) error {
	switch status(resp) {
	case http.StatusUnauthorized:
		return fmt.Errorf("%w: Gitea at %s answered 401 (%v) for the token in %s: it is wrong, expired or deleted; create a new one (docs/forges.md) and put it there",
			ErrTokenRefused, r.URL, err, r.Token)
	case http.StatusForbidden:
		return fmt.Errorf("%w: Gitea answered 403 (%v) on %s: the token in %s needs the write:repository scope (and read:user)",
			ErrTokenScope, err, r.slug(), r.Token)
	case http.StatusNotFound:
		return fmt.Errorf("%w: Gitea answered 404 for %s: the repository does not exist or the token's user in %s cannot see it",
			ErrTokenScope, r.slug(), r.Token)
	case 0:
		return fmt.Errorf("%w: %v", ErrForgeAPI, err)
	}
	return fmt.Errorf("%w: Gitea answered %d: %v", ErrForgeAPI, status(resp), err)
}
