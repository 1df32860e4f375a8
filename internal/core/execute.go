package core

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/forge"
	"github.com/patchgit/patchgit/internal/gitops"
)

// Journaled steps of an execute job, in order.
const (
	stepCommit = "commit"
	stepPush   = "push"
	stepPR     = "pr"
)

// doneStep returns the data of a completed step.
func (j *Job) doneStep(name string) (map[string]string, bool) {
	for _, s := range j.Journal {
		if s.Name == name && s.Phase == "done" {
			return s.Data, true
		}
	}
	return nil, false
}

// journal records a step's phase durably before the job goes on.
func (c *Core) journal(j *Job, name, phase string, data map[string]string) error {
	st := Step{Name: name, Phase: phase, Data: data, Time: c.now()}
	err := c.update(func(tx *bolt.Tx, emit func(Event)) error {
		cur, err := getJob(tx, j.ID)
		if err != nil {
			return err
		}
		cur.Journal = append(cur.Journal, st)
		if phase == "done" {
			d := map[string]string{"proposal": j.ProposalID}
			for k, v := range data {
				d[k] = v
			}
			// job.commit, job.push, job.pr: each external step in the log.
			if _, err := c.opt.Audit.Append(tx, "job."+name, "patchgit", j.ID, d); err != nil {
				return err
			}
		}
		return putJob(tx, cur)
	})
	if err != nil {
		return fmt.Errorf("journal %s %s: %w", name, phase, err)
	}
	j.Journal = append(j.Journal, st)
	if phase == "done" && c.opt.Fault != nil {
		return c.opt.Fault(name)
	}
	return nil
}

// runExecute publishes the approved revision: commit on the base (after a
// re-verify if the base moved), push the branch, open the PR. Each step is
// journaled before and after, so a resume never repeats a completed one.
func (c *Core) runExecute(ctx context.Context, j *Job) error {
	var p *Proposal
	if err := c.opt.DB.View(func(tx *bolt.Tx) (err error) { p, err = getProposal(tx, j.ProposalID); return }); err != nil {
		return err
	}
	rev := p.Revision(j.Revision)
	if rev == nil || p.Approved != j.Revision {
		return &Failure{User: fmt.Sprintf("revision %d is not the approved one", j.Revision)}
	}
	repo, err := c.repo(p.Repo)
	if err != nil {
		return &Failure{User: err.Error(), Err: err}
	}
	forge, ok := c.opt.Forges[repo.Forge]
	if !ok {
		return &Failure{User: fmt.Sprintf("forge %q of %s is not available", repo.Forge, repo.Name)}
	}

	commit, err := c.stepCommit(ctx, j, p, rev, repo)
	if err != nil {
		return err
	}
	if _, done := j.doneStep(stepPush); !done {
		c.progress(j, "pushing branch "+p.Branch)
		if err := c.journal(j, stepPush, "started", map[string]string{"commit": commit, "branch": p.Branch}); err != nil {
			return err
		}
		if err := c.opt.Git.Push(ctx, repo.MirrorDir, repo.URL, commit, p.Branch, gitops.PushOpts{}); err != nil {
			return &Failure{User: "push of " + p.Branch + " failed; check the remote and its credentials, then GO again on a new revision", Err: err}
		}
		if err := c.journal(j, stepPush, "done", map[string]string{"commit": commit, "branch": p.Branch}); err != nil {
			return err
		}
	}
	pr, err := c.stepPR(ctx, j, p, rev, repo, forge)
	if err != nil {
		return err
	}
	return c.update(func(tx *bolt.Tx, emit func(Event)) error {
		cur, err := getProposal(tx, p.ID)
		if err != nil {
			return err
		}
		cur.PR = &PRRef{Number: pr.Number, URL: pr.URL}
		if err := c.transition(tx, cur, StatePublished, "patchgit", ""); err != nil {
			return err
		}
		emit(Event{Kind: EventProposal, ID: cur.ID, Repo: cur.Repo, ConversationID: cur.ConversationID})
		emit(Event{Kind: EventPR, ID: strconv.Itoa(pr.Number), Repo: cur.Repo})
		msg := fmt.Sprintf("Published proposal %s: pull request #%d (%s) from %s into %s. Nothing was merged.",
			ShortID(cur.ID), pr.Number, pr.URL, cur.Branch, repo.BaseBranch)
		if err := c.say(tx, emit, cur.ConversationID, cur.ID, msg); err != nil {
			return err
		}
		return c.closeJob(tx, emit, j, JobDone, "published")
	})
}

// stepCommit builds the commit once; a resumed job reuses the journaled one.
func (c *Core) stepCommit(ctx context.Context, j *Job, p *Proposal, rev *Revision, repo RepoSpec) (string, error) {
	if data, done := j.doneStep(stepCommit); done {
		return data["commit"], nil
	}
	c.progress(j, "checking the base branch")
	if err := c.opt.Git.SyncMirror(ctx, repo.URL, repo.MirrorDir); err != nil {
		return "", &Failure{User: "could not fetch " + repo.Name + " before publishing", Err: err}
	}
	head, err := c.opt.Git.ResolveRef(ctx, repo.MirrorDir, "refs/heads/"+repo.BaseBranch)
	if err != nil {
		return "", &Failure{User: "base branch " + repo.BaseBranch + " is gone", Err: err}
	}
	// The budget's plan decides how GO checks the base (internal/core/budget.go).
	base, err := c.reverify(ctx, j, rev, repo, rev.BaseCommit, head)
	if err != nil {
		return "", err
	}
	c.progress(j, "building the commit")
	commit, err := c.opt.Git.CommitPatch(ctx, repo.MirrorDir, base, []byte(rev.Diff), gitops.CommitInfo{
		AuthorName: c.opt.Author.Name, AuthorEmail: c.opt.Author.Email,
		Message: commitMessage(p, rev), When: j.Created, // stable across resumes
	})
	if err != nil {
		return "", &Failure{User: "the approved diff could not be committed", Err: err}
	}
	if err := c.journal(j, stepCommit, "done", map[string]string{"commit": commit, "base": base}); err != nil {
		return "", err
	}
	return commit, nil
}

// stepPR opens the PR once. OpenPR is idempotent on the head branch, so a
// PR step that started but never recorded "done" is safe to repeat.
func (c *Core) stepPR(ctx context.Context, j *Job, p *Proposal, rev *Revision, repo RepoSpec, f forge.Forge) (forge.PR, error) {
	if data, done := j.doneStep(stepPR); done {
		n, _ := strconv.Atoi(data["number"])
		return forge.PR{Number: n, URL: data["url"]}, nil
	}
	c.progress(j, "opening the pull request")
	if err := c.journal(j, stepPR, "started", map[string]string{"head": p.Branch}); err != nil {
		return forge.PR{}, err
	}
	pr, err := f.OpenPR(ctx, forge.OpenRequest{Repo: repo.Name, Title: p.Title, Body: prBody(p, rev),
		Base: repo.BaseBranch, Head: p.Branch})
	if err != nil {
		return forge.PR{}, &Failure{User: "the branch was pushed but the pull request could not be opened", Err: err}
	}
	if err := c.journal(j, stepPR, "done", map[string]string{"number": strconv.Itoa(pr.Number), "url": pr.URL}); err != nil {
		return forge.PR{}, err
	}
	return pr, nil
}

func commitMessage(p *Proposal, rev *Revision) string {
	return fmt.Sprintf("%s\n\nProposed with PatchGit: proposal %s, revision %d.\n", p.Title, p.ID, rev.N)
}

func prBody(p *Proposal, rev *Revision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Opened by PatchGit on GO (proposal %s, revision %d). PatchGit never merges: that is your call.\n\n", p.ID, rev.N)
	b.WriteString("## Plan\n")
	for _, l := range rev.Plan {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	b.WriteString("\n## Checks in the sandbox\n")
	for _, r := range rev.Checks {
		verdict := "passed"
		if !r.Passed {
			verdict = "failed"
		}
		fmt.Fprintf(&b, "- `%s`: %s\n", r.Command, verdict)
	}
	return b.String()
}
