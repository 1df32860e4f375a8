// Package forge opens pull requests. GO publishes only by opening a PR,
// never by merging; OpenPR is idempotent on (repo, head branch) so a job
// resumed after a crash never opens a second PR.
package forge

import (
	"context"
	"errors"
	"time"
)

// PR is a pull request as a forge reports it.
type PR struct {
	Repo    string    `json:"repo"`
	Number  int       `json:"number"`
	Title   string    `json:"title"`
	Body    string    `json:"body"`
	Base    string    `json:"base"`
	Head    string    `json:"head"`
	State   string    `json:"state"` // StateOpen, StateClosed, StateMerged
	URL     string    `json:"url"`
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
}

// Forge is what the GO job and `patchgit prs` need from a forge.
type Forge interface {
	// OpenPR opens a PR, or returns the open PR that already has this head.
	OpenPR(ctx context.Context, req OpenRequest) (PR, error)
	// List returns the repository's PRs, newest first.
	List(ctx context.Context, repo string) ([]PR, error)
	// Close closes an open PR.
	Close(ctx context.Context, repo string, number int) (PR, error)
	// Merge merges an open PR into its base: only ever the person's explicit act.
	Merge(ctx context.Context, repo string, number int) (PR, error)
}

// Sentinel errors.
var (
	ErrNoSuchPR      = errors.New("no such pull request")
	ErrNotOpen       = errors.New("pull request is not open")
	ErrMergeConflict = errors.New("pull request does not merge cleanly")
	ErrUnknownRepo   = errors.New("repository not served by this forge")
)
