// Package forge opens pull requests. GO publishes only by opening a PR,
// never by merging; OpenPR is idempotent on (repo, head branch) so a job
// resumed after a crash never opens a second PR.
package forge

import (
	"context"
	"time"
)

// PR is a pull request as a forge reports it.
type PR struct {
	Repo   string   `json:"repo"`
	Number int      `json:"number"`
	Title  string   `json:"title"`
	Body   string   `json:"body"`
	Base   string   `json:"base"`
	Head   string   `json:"head"`
	State  string   `json:"state"` // StateOpen, StateClosed, StateMerged
	URL    string   `json:"url"`
	Draft  bool     `json:"draft,omitempty"`
	Labels []string `json:"labels,omitempty"`
	// Warning is a side step that failed without undoing the PR (labels).
	Warning string    `json:"warning,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// PR states.
const (
	StateOpen   = "open"
	StateClosed = "closed"
	StateMerged = "merged"
)

// OpenRequest asks for a PR from Head into Base.
type OpenRequest struct {
	Repo  string
	Title string
	Body  string
	Base  string
	Head  string
	// Draft opens the PR as a draft (Gitea: a "WIP: " title prefix).
	Draft bool
	// Labels are added to a newly opened PR (created on the forge when missing).
	Labels []string
}

// Forge is what the GO job and `patchgit prs` need from a forge.
type Forge interface {
	// OpenPR opens a PR, or returns the open PR that already has this head.
	OpenPR(ctx context.Context, req OpenRequest) (PR, error)
	// FindPR asks the forge for the open PR whose head is this branch.
	FindPR(ctx context.Context, repo, head string) (pr PR, found bool, err error)
	// UpdatePR replaces an open PR's title and body.
	UpdatePR(ctx context.Context, repo string, number int, title, body string) (PR, error)
	// GetPR reads one PR, whatever its state.
	GetPR(ctx context.Context, repo string, number int) (PR, error)
	// List returns the repository's PRs, newest first.
	List(ctx context.Context, repo string) ([]PR, error)
	// Close closes an open PR.
	Close(ctx context.Context, repo string, number int) (PR, error)
	// Merge merges an open PR into its base: only ever the person's explicit act.
	Merge(ctx context.Context, repo string, number int) (PR, error)
}
