package forge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/store"
)

// Local is the embedded default forge: a PR is a record in the store
// beside the branch pushed to a bare repository on this machine.
type Local struct {
	db    *store.DB
	git   *gitops.Git
	repos map[string]string // repo name -> bare repository path
	now   func() time.Time
	// webURL is the web mirror's public URL; PR URLs point at its page.
	webURL string
}

// NewLocal serves the named bare repositories (name -> path).
func NewLocal(db *store.DB, git *gitops.Git, repos map[string]string) *Local {
	return &Local{db: db, git: git, repos: repos, now: time.Now}
}

// WebPath is the web mirror's read-only page for local PR n of repo.
func WebPath(repo string, n int) string {
	return fmt.Sprintf("/prs/local/%s/%d", url.PathEscape(repo), n)
}

// SetWebURL makes the URL of PRs opened from now on the web mirror's page
// for them under base (http.public_url); empty keeps "local:REPO#N".
func (l *Local) SetWebURL(base string) { l.webURL = strings.TrimSuffix(base, "/") }

// localURL is how a local PR is named in links: the mirror's page when
// the mirror has a public URL, otherwise a name for the person to read.
func (l *Local) localURL(repo string, n int) string {
	if l.webURL != "" {
		return l.webURL + WebPath(repo, n)
	}
	return fmt.Sprintf("local:%s#%d", repo, n)
}

// Change is a local PR with what it changes: the head and base commits
// and the diff from their merge base to the head (what the PR proposes,
// also after base moved on).
type Change struct {
	PR      PR     `json:"pr"`
	BaseSHA string `json:"base_sha"`
	HeadSHA string `json:"head_sha"`
	Diff    string `json:"diff"`
}

// maxChangeDiff caps the diff a page reads, so one huge branch cannot
// exhaust memory; the page says it was cut.
const maxChangeDiff = 4 << 20

// Change reads PR number of repo and its diff from the bare repository.
func (l *Local) Change(ctx context.Context, repo string, number int) (Change, error) {
	bare, ok := l.repos[repo]
	if !ok {
		return Change{}, fmt.Errorf("read pull request change: %w: %q", ErrUnknownRepo, repo)
	}
	pr, err := l.GetPR(ctx, repo, number)
	if err != nil {
		return Change{}, err
	}
	c := Change{PR: pr}
	if c.BaseSHA, err = l.git.ResolveRef(ctx, bare, "refs/heads/"+pr.Base); err != nil {
		return Change{}, fmt.Errorf("read pull request change: base: %w", err)
	}
	if c.HeadSHA, err = l.git.ResolveRef(ctx, bare, "refs/heads/"+pr.Head); err != nil {
		return Change{}, fmt.Errorf("read pull request change: head: %w", err)
	}
	out, err := l.git.Run(ctx, "", gitops.RunOpts{}, "--git-dir="+bare, "diff", "--no-color", "--no-ext-diff",
		c.BaseSHA+"..."+c.HeadSHA)
	if err != nil {
		return Change{}, fmt.Errorf("read pull request change: diff: %w", err)
	}
	if len(out) > maxChangeDiff {
		out = append(out[:maxChangeDiff:maxChangeDiff], "\n[diff cut at 4 MiB]\n"...)
	}
	c.Diff = string(out)
	return c, nil
}

func (l *Local) bucket(tx *bolt.Tx, repo string) (*bolt.Bucket, error) {
	if tx.Writable() {
		return tx.Bucket(store.BucketPRs).CreateBucketIfNotExists([]byte(repo))
	}
	return tx.Bucket(store.BucketPRs).Bucket([]byte(repo)), nil
}

// OpenPR implements Forge. The head branch must already be pushed.
func (l *Local) OpenPR(ctx context.Context, req OpenRequest) (PR, error) {
	bare, ok := l.repos[req.Repo]
	if !ok {
		return PR{}, fmt.Errorf("open pull request: %w: %q", ErrUnknownRepo, req.Repo)
	}
	if _, ok, err := l.git.RemoteBranch(ctx, bare, req.Head); err != nil {
		return PR{}, fmt.Errorf("open pull request: %w", err)
	} else if !ok {
		return PR{}, fmt.Errorf("open pull request: head branch %q is not in %s: push it first", req.Head, req.Repo)
	}
	var pr PR
	err := l.db.Update(func(tx *bolt.Tx) error {
		b, err := l.bucket(tx, req.Repo)
		if err != nil {
			return err
		}
		// Idempotent: an open PR with this head is the answer.
		if err := b.ForEach(func(_, v []byte) error {
			var p PR
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			if p.Head == req.Head && p.State == StateOpen {
				pr = p
			}
			return nil
		}); err != nil {
			return err
		}
		if pr.Number != 0 {
			return nil
		}
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		now := l.now().UTC()
		pr = PR{Repo: req.Repo, Number: int(n), Title: req.Title, Body: req.Body, Base: req.Base,
			Head: req.Head, State: StateOpen, URL: l.localURL(req.Repo, int(n)), Draft: req.Draft,
			Labels: req.Labels, Created: now, Updated: now}
		return putPR(b, pr)
	})
	if err != nil {
		return PR{}, fmt.Errorf("open pull request: %w", err)
	}
	return pr, nil
}

// FindPR implements Forge.
func (l *Local) FindPR(ctx context.Context, repo, head string) (PR, bool, error) {
	prs, err := l.List(ctx, repo)
	if err != nil {
		return PR{}, false, fmt.Errorf("find pull request: %w", err)
	}
	for _, p := range prs {
		if p.Head == head && p.State == StateOpen {
			return p, true, nil
		}
	}
	return PR{}, false, nil
}

// UpdatePR implements Forge.
func (l *Local) UpdatePR(_ context.Context, repo string, number int, title, body string) (PR, error) {
	return l.update(repo, number, func(p *PR) error {
		p.Title, p.Body = title, body
		return nil
	})
}

// GetPR implements Forge.
func (l *Local) GetPR(_ context.Context, repo string, number int) (PR, error) {
	var pr PR
	err := l.db.View(func(tx *bolt.Tx) error {
		b, _ := l.bucket(tx, repo)
		var v []byte
		if b != nil {
			v = b.Get(store.U64(uint64(number)))
		}
		if v == nil {
			return fmt.Errorf("%w: %s #%d", ErrNoSuchPR, repo, number)
		}
		return json.Unmarshal(v, &pr)
	})
	if err != nil {
		return PR{}, fmt.Errorf("read pull request: %w", err)
	}
	return pr, nil
}

// List implements Forge.
func (l *Local) List(_ context.Context, repo string) ([]PR, error) {
	var out []PR
	err := l.db.View(func(tx *bolt.Tx) error {
		b, _ := l.bucket(tx, repo)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var p PR
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// Close implements Forge.
func (l *Local) Close(_ context.Context, repo string, number int) (PR, error) {
	return l.update(repo, number, func(p *PR) error {
		p.State = StateClosed
		return nil
	})
}

// Merge implements Forge: a merge commit of head into base in the bare
// repository (git merge-tree, no worktree), then the PR is marked merged.
func (l *Local) Merge(ctx context.Context, repo string, number int) (PR, error) {
	bare, ok := l.repos[repo]
	if !ok {
		return PR{}, fmt.Errorf("merge pull request: %w: %q", ErrUnknownRepo, repo)
	}
	return l.update(repo, number, func(p *PR) error {
		base, err := l.git.ResolveRef(ctx, bare, "refs/heads/"+p.Base)
		if err != nil {
			return err
		}
		head, err := l.git.ResolveRef(ctx, bare, "refs/heads/"+p.Head)
		if err != nil {
			return err
		}
		gitDir := "--git-dir=" + bare // bare repos are only opened explicitly (safe.bareRepository)
		out, err := l.git.Run(ctx, "", gitops.RunOpts{}, gitDir, "merge-tree", "--write-tree", base, head)
		var gerr *gitops.Error
		if errors.As(err, &gerr) && gerr.ExitCode == 1 { // merge-tree's "conflicts" status
			return fmt.Errorf("%w: %s into %s; rebase the branch and try again", ErrMergeConflict, p.Head, p.Base)
		}
		if err != nil {
			return err
		}
		tree := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
		msg := fmt.Sprintf("Merge pull request #%d from %s\n\n%s\n", p.Number, p.Head, p.Title)
		commit, err := l.git.Run(ctx, "", gitops.RunOpts{Stdin: strings.NewReader(msg), Env: []string{
			"GIT_AUTHOR_NAME=PatchGit", "GIT_AUTHOR_EMAIL=patchgit@localhost",
			"GIT_COMMITTER_NAME=PatchGit", "GIT_COMMITTER_EMAIL=patchgit@localhost",
		}}, gitDir, "commit-tree", tree, "-p", base, "-p", head)
		if err != nil {
			return err
		}
		// update-ref with the old value: refuses if base moved meanwhile.
		if _, err := l.git.Run(ctx, "", gitops.RunOpts{}, gitDir, "update-ref", "refs/heads/"+p.Base,
			strings.TrimSpace(string(commit)), base); err != nil {
			return err
		}
		p.State = StateMerged
		return nil
	})
}

func (l *Local) update(repo string, number int, fn func(p *PR) error) (PR, error) {
	var pr PR
	err := l.db.Update(func(tx *bolt.Tx) error {
		b, err := l.bucket(tx, repo)
		if err != nil {
			return err
		}
		v := b.Get(store.U64(uint64(number)))
		if v == nil {
			return fmt.Errorf("%w: %s #%d", ErrNoSuchPR, repo, number)
		}
		if err := json.Unmarshal(v, &pr); err != nil {
			return err
		}
		if pr.State != StateOpen {
			return fmt.Errorf("%w: %s #%d is %s", ErrNotOpen, repo, number, pr.State)
		}
		if err := fn(&pr); err != nil {
			return err
		}
		pr.Updated = l.now().UTC()
		return putPR(b, pr)
	})
	if err != nil {
		return PR{}, fmt.Errorf("update pull request: %w", err)
	}
	return pr, nil
}
