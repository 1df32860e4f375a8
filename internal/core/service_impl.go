package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/assist"
	"github.com/patchgit/patchgit/internal/forge"
	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/pin"
	"github.com/patchgit/patchgit/internal/store"
)

// Repos implements Service.
func (c *Core) Repos(context.Context) ([]Repo, error) {
	out := make([]Repo, 0, len(c.order))
	for _, n := range c.order {
		out = append(out, c.repos[n].Repo)
	}
	return out, nil
}

// Conversations implements Service.
func (c *Core) Conversations(_ context.Context, repo string) ([]Conversation, error) {
	var out []Conversation
	err := c.opt.DB.View(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketConversations).ForEach(func(_, v []byte) error {
			var cv Conversation
			if err := json.Unmarshal(v, &cv); err != nil {
				return err
			}
			if repo == "" || cv.Repo == repo {
				out = append(out, cv)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Conversation) int { return b.Updated.Compare(a.Updated) })
	return out, err
}

// StartConversation implements Service.
func (c *Core) StartConversation(_ context.Context, actor, repo, title string) (Conversation, error) {
	if _, err := c.repo(repo); err != nil {
		return Conversation{}, err
	}
	if strings.TrimSpace(title) == "" {
		title = "Conversation"
	}
	now := c.now()
	cv := Conversation{ID: newID(), Repo: repo, Title: title, Created: now, Updated: now}
	err := c.update(func(tx *bolt.Tx, emit func(Event)) error {
		if _, err := c.opt.Audit.Append(tx, "conversation.started", actor, cv.ID, map[string]string{"repo": repo}); err != nil {
			return err
		}
		emit(Event{Kind: EventConversation, ID: cv.ID, Repo: repo})
		return putConversation(tx, &cv)
	})
	return cv, err
}

// Messages implements Service.
func (c *Core) Messages(_ context.Context, conversationID string) ([]Message, error) {
	var out []Message
	err := c.opt.DB.View(func(tx *bolt.Tx) error {
		if _, err := getConversation(tx, conversationID); err != nil {
			return err
		}
		var err error
		out, err = listMessages(tx, conversationID)
		return err
	})
	return out, err
}

func (c *Core) checkInput(text string) error {
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("%w: type a request or paste a diff", ErrEmptyInput)
	}
	if int64(len(text)) > c.opt.MaxInputBytes {
		return fmt.Errorf("%w: %d bytes, the limit is %d (sandbox.max_paste_bytes); for big patches use `ssh HOST propose --repo NAME < fix.diff` or raise the limit",
			ErrInputTooLarge, len(text), c.opt.MaxInputBytes)
	}
	return nil
}

// Send implements Service.
func (c *Core) Send(_ context.Context, actor, conversationID, text string) (Message, error) {
	text = assist.Normalize(text)
	if err := c.checkInput(text); err != nil {
		return Message{}, err
	}
	runArgs, isRun := parseRun(text) // `/run NAME`: a repository operation (operation.go)
	change, parseErr := assist.Parse(text)
	if isRun {
		change, parseErr = assist.Change{}, nil
	}
	user := Message{ConversationID: conversationID, Role: RoleUser, Text: text}
	err := c.update(func(tx *bolt.Tx, emit func(Event)) error {
		cv, err := getConversation(tx, conversationID)
		if err != nil {
			return err
		}
		if err := c.appendMessage(tx, &user); err != nil {
			return err
		}
		emit(Event{Kind: EventMessage, ID: user.ID, ConversationID: cv.ID})
		switch {
		case isRun:
			p, err := c.sendRun(tx, emit, actor, cv, text, runArgs)
			if p != nil {
				user.ProposalID = p.ID
			}
			return err
		case parseErr != nil:
			if _, err := c.opt.Audit.Append(tx, "message.rejected", actor, cv.ID, map[string]string{"reason": parseErr.Error()}); err != nil {
				return err
			}
			return c.say(tx, emit, cv.ID, "", "I could not read that change: "+parseErr.Error()+"\nNothing was proposed or pushed.")
		case change.Kind == assist.KindNone && c.opt.Assistant == nil:
			return c.say(tx, emit, cv.ID, "", assist.OfflineReply(text))
		case change.Kind == assist.KindNone:
			change.Title = requestTitle(text)
		}
		p, err := c.reviseOrCreate(tx, emit, actor, cv, text, change)
		if err != nil {
			return err
		}
		user.ProposalID = p.ID
		what := "applying it in the sandbox and running the checks"
		if change.Kind == assist.KindNone {
			what = "the model plans and writes the change, then the sandbox applies it and runs the checks"
		}
		return c.say(tx, emit, cv.ID, p.ID, fmt.Sprintf("Drafting proposal %s revision %d: %s…", ShortID(p.ID), len(p.Revisions), what))
	})
	if err != nil {
		return Message{}, err
	}
	c.poke()
	return user, nil
}

// reviseOrCreate adds a revision to the conversation's open proposal
// (Draft or Proposed; a Proposed one goes back to Draft) or creates a new
// proposal, and queues its drafting job.
func (c *Core) reviseOrCreate(tx *bolt.Tx, emit func(Event), actor string, cv *Conversation, text string, change assist.Change) (*Proposal, error) {
	var open, latest *Proposal
	if err := tx.Bucket(store.BucketProposals).ForEach(func(_, v []byte) error {
		var p Proposal
		if err := json.Unmarshal(v, &p); err != nil {
			return err
		}
		if p.ConversationID != cv.ID {
			return nil
		}
		if latest == nil || p.Created.After(latest.Created) {
			latest = &p
		}
		if (p.State == StateDraft || p.State == StateProposed) && (open == nil || p.Created.After(open.Created)) {
			open = &p
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if open == nil && latest != nil && revisablePublished(latest) {
		open = latest
	}
	if open == nil {
		return c.createProposal(tx, emit, actor, cv.Repo, cv.ID, text, change)
	}
	if open.State == StateProposed || open.State == StatePublished {
		if err := c.transition(tx, open, StateDraft, actor, reviseReason(open)); err != nil {
			return nil, err
		}
	}
	if cur := open.Current(); change.Kind == assist.KindNone && cur != nil && len(cur.Questions) > 0 {
		text = answeredRequest(cur, text) // the answers go with the request they answer
	} else {
		open.Title = change.Title
	}
	open.Waiting, open.Awaiting = WaitingNone, nil // a new revision is priced afresh
	open.Revisions = append(open.Revisions, c.newRevision(len(open.Revisions)+1, text, change))
	open.Updated = c.now()
	if _, err := c.opt.Audit.Append(tx, "proposal.revised", actor, open.ID, map[string]string{"revision": fmt.Sprint(len(open.Revisions))}); err != nil {
		return nil, err
	}
	if err := putProposal(tx, open); err != nil {
		return nil, err
	}
	return open, c.queueDraft(tx, emit, actor, open)
}

func (c *Core) newRevision(n int, text string, change assist.Change) Revision {
	src := "pasted-diff"
	switch change.Kind {
	case assist.KindEdits:
		src = "search-replace"
	case assist.KindNone:
		src = SourceModel
	case kindOperation:
		src = SourceOperation
	}
	return Revision{N: n, Source: src, Request: text, Created: c.now()}
}

func (c *Core) createProposal(tx *bolt.Tx, emit func(Event), actor, repo, conversationID, text string, change assist.Change) (*Proposal, error) {
	now := c.now()
	p := &Proposal{ID: newID(), ConversationID: conversationID, Repo: repo, Title: change.Title,
		State: StateDraft, Created: now, Updated: now}
	p.Branch = gitops.BranchName(ShortID(p.ID), p.Title)
	p.Revisions = []Revision{c.newRevision(1, text, change)}
	if _, err := c.opt.Audit.Append(tx, "proposal.created", actor, p.ID, map[string]string{
		"repo": repo, "title": p.Title, "source": p.Revisions[0].Source}); err != nil {
		return nil, err
	}
	if err := putProposal(tx, p); err != nil {
		return nil, err
	}
	return p, c.queueDraft(tx, emit, actor, p)
}

func (c *Core) queueDraft(tx *bolt.Tx, emit func(Event), actor string, p *Proposal) error {
	j := &Job{Kind: JobDraft, ProposalID: p.ID, Revision: len(p.Revisions), Repo: p.Repo}
	if err := c.enqueue(tx, j, actor); err != nil {
		return err
	}
	p.JobID = j.ID
	emit(Event{Kind: EventProposal, ID: p.ID, Repo: p.Repo, ConversationID: p.ConversationID})
	emit(Event{Kind: EventJob, ID: j.ID, ProposalID: p.ID, Repo: p.Repo})
	return putProposal(tx, p)
}

// Propose implements Service.
func (c *Core) Propose(_ context.Context, actor, repo, patch string) (Proposal, error) {
	patch = assist.Normalize(patch)
	if err := c.checkInput(patch); err != nil {
		return Proposal{}, err
	}
	if _, err := c.repo(repo); err != nil {
		return Proposal{}, err
	}
	change, err := assist.Parse(patch)
	if err != nil {
		return Proposal{}, fmt.Errorf("read patch: %w", err)
	}
	if change.Kind == assist.KindNone {
		return Proposal{}, fmt.Errorf("read patch: %w: stdin holds no unified diff or search/replace blocks", ErrEmptyInput)
	}
	var p *Proposal
	err = c.update(func(tx *bolt.Tx, emit func(Event)) (err error) {
		p, err = c.createProposal(tx, emit, actor, repo, "", patch, change)
		return err
	})
	if err != nil {
		return Proposal{}, err
	}
	c.poke()
	return *p, nil
}

// Proposals implements Service.
func (c *Core) Proposals(_ context.Context, repo string, state ProposalState) ([]Proposal, error) {
	var out []Proposal
	err := c.opt.DB.View(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketProposals).ForEach(func(_, v []byte) error {
			var p Proposal
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			if (repo == "" || p.Repo == repo) && (state == "" || p.State == state) {
				out = append(out, p)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Proposal) int { return b.Created.Compare(a.Created) })
	return out, err
}

// Proposal implements Service.
func (c *Core) Proposal(_ context.Context, id string) (Proposal, error) {
	var p *Proposal
	err := c.opt.DB.View(func(tx *bolt.Tx) (err error) { p, err = getProposal(tx, id); return })
	if err != nil {
		return Proposal{}, err
	}
	return *p, nil
}

// Go implements Service: Proposed -> Approved -> Queued with the execute
// job, in one transaction. A GO repeated on the same revision returns the
// job of the first GO and changes nothing.
func (c *Core) Go(ctx context.Context, actor, proposalID string, rev int) (Job, error) {
	return c.GoWith(ctx, actor, proposalID, rev, false)
}

// GoWith implements Service: Go with the "Approve extra spend" toggle.
func (c *Core) GoWith(_ context.Context, actor, proposalID string, rev int, approveExtra bool) (Job, error) {
	var job *Job
	var refused error // GO refused, but the transaction commits (back to Draft)
	err := c.update(func(tx *bolt.Tx, emit func(Event)) error {
		p, err := getProposal(tx, proposalID)
		if err != nil {
			return err
		}
		if p.Approved != 0 && p.Approved == rev && p.State != StateProposed && p.JobID != "" {
			job, err = getJob(tx, p.JobID) // a second GO
			return err
		}
		if p.State != StateProposed {
			return fmt.Errorf("%w: GO needs a Proposed proposal; %s is %s", ErrIllegalState, ShortID(p.ID), p.State)
		}
		if rev != len(p.Revisions) {
			return fmt.Errorf("%w: you saw revision %d but the latest is %d; review it and press GO again", ErrStaleRevision, rev, len(p.Revisions))
		}
		if !p.Current().Verified {
			return fmt.Errorf("%w: revision %d did not pass the sandbox", ErrIllegalState, rev)
		}
		plan, approved, toDraft, err := c.chooseExecution(tx, actor, p, approveExtra)
		if errors.Is(err, ErrBudgetChanged) {
			refused = err // the re-priced revision is stored for the person to review
			emit(Event{Kind: EventProposal, ID: p.ID, Repo: p.Repo, ConversationID: p.ConversationID})
			return putProposal(tx, p)
		}
		if err != nil {
			return err
		}
		if toDraft != "" {
			refused = fmt.Errorf("%w: %s", ErrNeedsApproval, toDraft)
			emit(Event{Kind: EventProposal, ID: p.ID, Repo: p.Repo, ConversationID: p.ConversationID})
			if err := c.transition(tx, p, StateDraft, actor, toDraft); err != nil {
				return err
			}
			return c.say(tx, emit, p.ConversationID, p.ID, fmt.Sprintf("GO on proposal %s refused: %s Nothing was spent or pushed.", ShortID(p.ID), toDraft))
		}
		p.Approved = rev
		if err := c.transition(tx, p, StateApproved, actor, ""); err != nil {
			return err
		}
		job = &Job{Kind: JobExecute, ProposalID: p.ID, Revision: rev, Repo: p.Repo, Plan: plan, SpendApproved: approved}
		if err := c.enqueue(tx, job, actor); err != nil {
			return err
		}
		p.JobID = job.ID
		if err := c.transition(tx, p, StateQueued, actor, ""); err != nil {
			return err
		}
		emit(Event{Kind: EventProposal, ID: p.ID, Repo: p.Repo, ConversationID: p.ConversationID})
		emit(Event{Kind: EventJob, ID: job.ID, ProposalID: p.ID, Repo: p.Repo})
		return c.say(tx, emit, p.ConversationID, p.ID, fmt.Sprintf("GO by %s on revision %d: queued to commit, push %s and open a pull request.%s", actor, rev, p.Branch, planNote(p.Current(), plan, approved)))
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return Job{}, err
	}
	c.poke()
	return *job, nil
}

// Cancel implements Service.
func (c *Core) Cancel(_ context.Context, actor, proposalID string) error {
	return c.update(func(tx *bolt.Tx, emit func(Event)) error {
		p, err := getProposal(tx, proposalID)
		if err != nil {
			return err
		}
		if err := c.transition(tx, p, StateCancelled, actor, "cancelled by "+actor); err != nil {
			return err
		}
		if p.JobID != "" {
			j, err := getJob(tx, p.JobID)
			if err != nil {
				return err
			}
			if j.State == JobQueued {
				if err := dequeue(tx, j); err != nil {
					return err
				}
				j.State, j.Finished, j.Progress = JobCancelled, c.now(), "cancelled"
				if _, err := c.opt.Audit.Append(tx, "job.cancelled", actor, j.ID, nil); err != nil {
					return err
				}
				if err := putJob(tx, j); err != nil {
					return err
				}
				emit(Event{Kind: EventJob, ID: j.ID, ProposalID: p.ID, Repo: p.Repo})
			}
		}
		emit(Event{Kind: EventProposal, ID: p.ID, Repo: p.Repo, ConversationID: p.ConversationID})
		return c.say(tx, emit, p.ConversationID, p.ID, fmt.Sprintf("Proposal %s cancelled by %s. Nothing was pushed.", ShortID(p.ID), actor))
	})
}

// Jobs implements Service: queued jobs in queue order, then the rest, newest first.
func (c *Core) Jobs(context.Context) ([]Job, error) {
	var out []Job
	err := c.opt.DB.View(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketJobs).ForEach(func(_, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			out = append(out, j)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Job) int {
		aq, bq := a.State == JobQueued, b.State == JobQueued
		switch {
		case aq && bq:
			return int(a.Seq) - int(b.Seq)
		case aq:
			return -1
		case bq:
			return 1
		}
		return b.Created.Compare(a.Created)
	})
	return out, err
}

// Job implements Service.
func (c *Core) Job(_ context.Context, id string) (Job, error) {
	var j *Job
	err := c.opt.DB.View(func(tx *bolt.Tx) (err error) { j, err = getJob(tx, id); return })
	if err != nil {
		return Job{}, err
	}
	return *j, nil
}

func (c *Core) forgeOf(repo string) (forge.Forge, error) {
	r, err := c.repo(repo)
	if err != nil {
		return nil, err
	}
	f, ok := c.opt.Forges[r.Forge]
	if !ok {
		return nil, fmt.Errorf("forge %q of %s is not available", r.Forge, repo)
	}
	return f, nil
}

// PRs implements Service.
func (c *Core) PRs(ctx context.Context, repo string) ([]PR, error) {
	names := []string{repo}
	if repo == "" {
		names = c.order
	}
	var out []PR
	for _, n := range names {
		f, err := c.forgeOf(n)
		if err != nil {
			return nil, err
		}
		prs, err := f.List(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, prs...)
	}
	return out, nil
}

// ClosePR implements Service.
func (c *Core) ClosePR(ctx context.Context, actor, repo string, number int) (PR, error) {
	return c.actOnPR(ctx, actor, repo, number, "pr.closed", forge.Forge.Close)
}

// MergePR implements Service: the person's explicit act, never PatchGit's.
func (c *Core) MergePR(ctx context.Context, actor, repo string, number int) (PR, error) {
	return c.actOnPR(ctx, actor, repo, number, "pr.merged", forge.Forge.Merge)
}

func (c *Core) actOnPR(ctx context.Context, actor, repo string, number int, kind string,
	act func(forge.Forge, context.Context, string, int) (forge.PR, error)) (PR, error) {
	f, err := c.forgeOf(repo)
	if err != nil {
		return PR{}, err
	}
	pr, err := act(f, ctx, repo, number)
	if err != nil {
		return PR{}, err
	}
	err = c.update(func(tx *bolt.Tx, emit func(Event)) error {
		emit(Event{Kind: EventPR, ID: fmt.Sprint(number), Repo: repo})
		_, err := c.opt.Audit.Append(tx, kind, actor, fmt.Sprintf("%s#%d", repo, number), map[string]string{"head": pr.Head, "base": pr.Base})
		return err
	})
	return pr, err
}

// Audit implements Service.
func (c *Core) Audit(_ context.Context, from uint64, limit int) ([]AuditEntry, error) {
	return c.opt.Audit.List(from, limit)
}

// AuditPage implements Service.
func (c *Core) AuditPage(_ context.Context, q AuditQuery) (AuditPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultAuditPage
	}
	page, err := c.opt.Audit.Page(q.Before, min(limit, MaxAuditPage), q.AuditFilter)
	if err != nil {
		return AuditPage{}, err
	}
	r, err := c.opt.Audit.VerifyCached()
	if err != nil {
		return AuditPage{}, err
	}
	return AuditPage{Page: page, Report: r}, nil
}

// AuditTrail implements Service. Every entry about a proposal or its jobs
// comes after its "proposal.created" entry (appended in the transaction
// that stores the proposal), so the walk back stops there.
func (c *Core) AuditTrail(ctx context.Context, proposalID string) ([]AuditEntry, error) {
	if _, err := c.Proposal(ctx, proposalID); err != nil {
		return nil, err
	}
	jobs, err := c.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	subjects := map[string]bool{proposalID: true}
	for _, j := range jobs {
		if j.ProposalID == proposalID {
			subjects[j.ID] = true
		}
	}
	return c.opt.Audit.Back(
		func(e AuditEntry) bool { return e.Kind == "proposal.created" && e.Subject == proposalID },
		func(e AuditEntry) bool { return subjects[e.Subject] })
}

// LocalPR implements Service.
func (c *Core) LocalPR(ctx context.Context, repo string, number int) (LocalChange, error) {
	f, err := c.forgeOf(repo)
	if err != nil {
		return LocalChange{}, err
	}
	local, ok := f.(*forge.Local)
	if !ok {
		return LocalChange{}, fmt.Errorf("read pull request: %w: %s is not on the local forge", ErrNotFound, repo)
	}
	return local.Change(ctx, repo, number)
}

// VerifyAudit implements Service.
func (c *Core) VerifyAudit(context.Context) (AuditReport, error) {
	r, err := c.opt.Audit.Verify()
	if err != nil {
		return AuditReport{}, err
	}
	return r, nil
}

// Subscribe implements Service.
func (c *Core) Subscribe(ctx context.Context) (<-chan Event, error) { return c.broker.subscribe(ctx) }

// SetPIN implements Admin.
func (c *Core) SetPIN(_ context.Context, actor, newPIN string) error {
	if err := pin.Validate(newPIN); err != nil {
		return err
	}
	hash, err := pin.Hash(newPIN)
	if err != nil {
		return err
	}
	return c.update(func(tx *bolt.Tx, _ func(Event)) error {
		if err := pin.Save(tx, hash); err != nil {
			return err
		}
		_, err := c.opt.Audit.Append(tx, "pin.set", actor, "pin", nil)
		return err
	})
}

// WebLink implements Service.
func (c *Core) WebLink(ctx context.Context, actor string) (WebLink, error) {
	if c.opt.WebLinks == nil {
		return WebLink{}, ErrNoWebMirror
	}
	l, err := c.opt.WebLinks.MintLink(ctx, actor)
	if err != nil {
		return WebLink{}, fmt.Errorf("mint web link: %w", err)
	}
	return l, nil
}
