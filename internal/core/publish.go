package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/patchgit/patchgit/internal/forge"
	"github.com/patchgit/patchgit/internal/gitops"
)

// Journaled step of an execute job when the repository opted in to
// auto_merge (after stepPR).
const stepMerge = "merge"

// credentials reads the repository's https credentials now, or nil.
func (r RepoSpec) credentials() (*gitops.Credentials, error) {
	if r.Auth == nil {
		return nil, nil
	}
	cred, err := r.Auth()
	if err != nil {
		return nil, fmt.Errorf("read credentials of %s: %w", r.Name, err)
	}
	return cred, nil
}

// stepPush makes the remote branch point at commit, once. It asks the
// remote first: a push that landed before a crash is not repeated, and a
// branch PatchGit pushed before (an earlier revision) is replaced only
// with a lease on the commit PatchGit left there, so someone else's push
// to it is never overwritten.
func (c *Core) stepPush(ctx context.Context, j *Job, p *Proposal, repo RepoSpec, commit string, cred *gitops.Credentials) error {
	if _, done := j.doneStep(stepPush); done {
		return nil
	}
	c.progress(j, "pushing branch "+p.Branch)
	data := map[string]string{"commit": commit, "branch": p.Branch}
	if p.Pushed != "" {
		data["lease"] = p.Pushed
	}
	if err := c.journal(j, stepPush, "started", data); err != nil {
		return err
	}
	remote, exists, err := c.opt.Git.RemoteBranchAuth(ctx, repo.URL, p.Branch, cred)
	if err != nil {
		return &Failure{User: "could not read branch " + p.Branch + " on the remote; check the url and token of " + repo.Name + ", then GO again on a new revision", Err: err}
	}
	if !exists || remote != commit {
		opt := gitops.PushOpts{Credentials: cred}
		if exists {
			opt.ForceWithLease = p.Pushed // "" when PatchGit never pushed it: fast-forward only
		}
		if err := c.opt.Git.Push(ctx, repo.MirrorDir, repo.URL, commit, p.Branch, opt); err != nil {
			if errors.Is(err, gitops.ErrPushRejected) {
				return &Failure{User: fmt.Sprintf("the remote refused to update %s: it is at %s, not at %s where PatchGit left it, so someone else pushed to it. Nothing was overwritten; delete or rename that branch, or start a new conversation for a new proposal",
					p.Branch, shortSHA(remote), orNone(shortSHA(p.Pushed))), Err: err}
			}
			return &Failure{User: "push of " + p.Branch + " failed; check the remote and its credentials, then GO again on a new revision", Err: err}
		}
	}
	return c.journal(j, stepPush, "done", data)
}

func orNone(s string) string {
	if s == "" {
		return "nowhere (PatchGit never pushed it)"
	}
	return s
}

// stepPR opens the PR, or updates the open PR of this branch, once. The
// forge is asked first, so a PR step that started but never recorded
// "done" (a crash after the forge created the PR) finds that PR instead
// of opening a second.
func (c *Core) stepPR(ctx context.Context, j *Job, p *Proposal, rev *Revision, repo RepoSpec, f forge.Forge, commit string) (forge.PR, error) {
	if data, done := j.doneStep(stepPR); done {
		n, _ := strconv.Atoi(data["number"])
		return forge.PR{Number: n, URL: data["url"], Warning: data["warning"]}, nil
	}
	c.progress(j, "opening the pull request")
	if err := c.journal(j, stepPR, "started", map[string]string{"head": p.Branch}); err != nil {
		return forge.PR{}, err
	}
	commitData, _ := j.doneStep(stepCommit)
	body := c.prBody(p, rev, repo, commit, commitData["base"])
	pr, found, err := f.FindPR(ctx, repo.Name, p.Branch)
	verb := "updated"
	switch {
	case err != nil:
	case found:
		pr, err = f.UpdatePR(ctx, repo.Name, pr.Number, p.Title, body)
	default:
		verb = "opened"
		pr, err = f.OpenPR(ctx, forge.OpenRequest{Repo: repo.Name, Title: p.Title, Body: body,
			Base: repo.BaseBranch, Head: p.Branch, Draft: repo.Draft, Labels: repo.Labels})
	}
	if err != nil {
		return forge.PR{}, &Failure{User: "the branch was pushed but the pull request could not be opened or updated: " + err.Error(), Err: err}
	}
	data := map[string]string{"number": strconv.Itoa(pr.Number), "url": pr.URL, "action": verb}
	if pr.Warning != "" {
		data["warning"] = pr.Warning
	}
	if err := c.journal(j, stepPR, "done", data); err != nil {
		return forge.PR{}, err
	}
	return pr, nil
}

// stepMerge merges the PR only for a repository that opted in to
// auto_merge. A refusal (conflict, required checks, protection) leaves
// the PR open and is reported; it does not fail the publish.
func (c *Core) stepMerge(ctx context.Context, j *Job, repo RepoSpec, f forge.Forge, pr forge.PR) string {
	if !repo.AutoMerge {
		return ""
	}
	if data, done := j.doneStep(stepMerge); done {
		return data["result"]
	}
	c.progress(j, "auto_merge is on for "+repo.Name+": merging the pull request")
	result := fmt.Sprintf("Merged #%d (auto_merge is on for %s).", pr.Number, repo.Name)
	if _, err := f.Merge(ctx, repo.Name, pr.Number); err != nil {
		c.log.Warn("auto-merge refused", "repo", repo.Name, "pr", pr.Number, "err", err)
		result = fmt.Sprintf("auto_merge is on but the forge refused to merge #%d: %v. It stays open.", pr.Number, err)
	}
	if err := c.journal(j, stepMerge, "done", map[string]string{"number": strconv.Itoa(pr.Number), "result": result}); err != nil {
		c.log.Error("journal merge", "err", err)
	}
	return result
}
