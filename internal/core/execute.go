package core

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

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

	cred, err := repo.credentials()
	if err != nil {
		return &Failure{User: err.Error(), Err: err}
	}
	commit, err := c.stepCommit(ctx, j, p, rev, repo, cred)
	if err != nil {
		return err
	}
	if err := c.stepPush(ctx, j, p, repo, commit, cred); err != nil {
		return err
	}
	pr, err := c.stepPR(ctx, j, p, rev, repo, forge, commit)
	if err != nil {
		return err
	}
	merged := c.stepMerge(ctx, j, repo, forge, pr)
	return c.update(func(tx *bolt.Tx, emit func(Event)) error {
		cur, err := getProposal(tx, p.ID)
		if err != nil {
			return err
		}
		verb := "Published"
		if cur.PR != nil && cur.PR.Number == pr.Number {
			verb = "Updated"
		}
		cur.PR = &PRRef{Number: pr.Number, URL: pr.URL}
		cur.Pushed = commit
		if err := c.transition(tx, cur, StatePublished, "patchgit", ""); err != nil {
			return err
		}
		emit(Event{Kind: EventProposal, ID: cur.ID, Repo: cur.Repo, ConversationID: cur.ConversationID})
		emit(Event{Kind: EventPR, ID: strconv.Itoa(pr.Number), Repo: cur.Repo})
		msg := fmt.Sprintf("%s proposal %s revision %d: pull request #%d (%s) from %s into %s.",
			verb, ShortID(cur.ID), j.Revision, pr.Number, pr.URL, cur.Branch, repo.BaseBranch)
		if cd, _ := j.doneStep(stepCommit); cd["reverified_from"] != "" {
			msg += fmt.Sprintf(" %s had moved from %s to %s: the diff was re-verified there and the same hunks were committed at their new line numbers.",
				repo.BaseBranch, shortSHA(cd["reverified_from"]), shortSHA(cd["base"]))
		}
		if merged != "" {
			msg += " " + merged
		} else {
			msg += " Nothing was merged."
		}
		if pr.Warning != "" {
			msg += " Note: " + pr.Warning + "."
		}
		if err := c.say(tx, emit, cur.ConversationID, cur.ID, msg); err != nil {
			return err
		}
		return c.closeJob(tx, emit, j, JobDone, strings.ToLower(verb))
	})
}

// stepCommit builds the commit once; a resumed job reuses the journaled one.
func (c *Core) stepCommit(ctx context.Context, j *Job, p *Proposal, rev *Revision, repo RepoSpec, cred *gitops.Credentials) (string, error) {
	if data, done := j.doneStep(stepCommit); done {
		return data["commit"], nil
	}
	c.progress(j, "checking the base branch")
	if err := c.opt.Git.SyncMirrorAuth(ctx, repo.URL, repo.MirrorDir, cred); err != nil {
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
	data := map[string]string{"commit": commit, "base": base}
	if base != rev.BaseCommit {
		data["reverified_from"] = rev.BaseCommit
	}
	if err := c.journal(j, stepCommit, "done", data); err != nil {
		return "", err
	}
	return commit, nil
}

func commitMessage(p *Proposal, rev *Revision) string {
	return fmt.Sprintf("%s\n\nProposed with PatchGit: proposal %s, revision %d.\n", p.Title, p.ID, rev.N)
}
