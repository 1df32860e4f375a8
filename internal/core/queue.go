package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

// Lease is the persisted serialization lock of one repository, held by a
// job for its whole run.
type Lease struct {
	Repo    string    `json:"repo"`
	Holder  string    `json:"holder"` // process instance
	JobID   string    `json:"job_id"`
	Expires time.Time `json:"expires"`
}

// maxAttempts bounds how often a job is resumed after crashes.
const maxAttempts = 3

// update runs fn in one write transaction and publishes the events it
// emitted only after the commit succeeded.
func (c *Core) update(fn func(tx *bolt.Tx, emit func(Event)) error) error {
	var events []Event
	err := c.opt.DB.Update(func(tx *bolt.Tx) error {
		events = events[:0]
		return fn(tx, func(e Event) { events = append(events, e) })
	})
	if err != nil {
		return err
	}
	for _, e := range events {
		c.broker.publish(e)
	}
	return nil
}

// enqueue stores a new queued job; the caller's tx commits it.
func (c *Core) enqueue(tx *bolt.Tx, j *Job, actor string) error {
	seq, err := store.NextSeq(tx, store.BucketQueue)
	if err != nil {
		return err
	}
	j.Seq, j.State, j.Created = seq, JobQueued, c.now()
	if j.ID == "" {
		j.ID = newID()
	}
	if err := tx.Bucket(store.BucketQueue).Put(store.U64(seq), []byte(j.ID)); err != nil {
		return err
	}
	data := map[string]string{"kind": string(j.Kind), "proposal": j.ProposalID, "revision": fmt.Sprint(j.Revision), "repo": j.Repo}
	if j.Plan != "" {
		data["plan"] = j.Plan
	}
	if j.Plan != "" || j.SpendApproved {
		data["spend_approved"] = fmt.Sprint(j.SpendApproved)
	}
	if _, err := c.opt.Audit.Append(tx, "job.queued", actor, j.ID, data); err != nil {
		return err
	}
	return putJob(tx, j)
}

// dequeue removes a job from the queue bucket (it stays in the jobs bucket).
func dequeue(tx *bolt.Tx, j *Job) error {
	return tx.Bucket(store.BucketQueue).Delete(store.U64(j.Seq))
}

// claim takes the first queued job whose repository lease is free, takes
// that lease and marks the job running, all in one transaction.
func (c *Core) claim() (*Job, error) {
	var claimed *Job
	err := c.update(func(tx *bolt.Tx, emit func(Event)) error {
		cur := tx.Bucket(store.BucketQueue).Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			j, err := getJob(tx, string(v))
			if err != nil {
				return err
			}
			free, err := c.leaseFree(tx, j.Repo)
			if err != nil {
				return err
			}
			if !free {
				continue
			}
			lease := Lease{Repo: j.Repo, Holder: c.instance, JobID: j.ID, Expires: c.now().Add(c.opt.LeaseTTL)}
			if err := store.PutJSON(tx, store.BucketLeases, []byte(j.Repo), lease); err != nil {
				return err
			}
			if err := dequeue(tx, j); err != nil {
				return err
			}
			j.State, j.Started, j.Progress = JobRunning, c.now(), "started"
			j.Attempts++
			if j.Kind == JobExecute {
				p, err := getProposal(tx, j.ProposalID)
				if err != nil {
					return err
				}
				if err := c.transition(tx, p, StateRunning, "patchgit", ""); err != nil {
					return err
				}
				emit(Event{Kind: EventProposal, ID: p.ID, Repo: p.Repo, ConversationID: p.ConversationID})
			}
			if _, err := c.opt.Audit.Append(tx, "job.running", "patchgit", j.ID, map[string]string{
				"attempt": fmt.Sprint(j.Attempts), "lease": c.instance}); err != nil {
				return err
			}
			if err := putJob(tx, j); err != nil {
				return err
			}
			emit(Event{Kind: EventJob, ID: j.ID, ProposalID: j.ProposalID, Repo: j.Repo, Text: j.Progress})
			claimed = j
			return nil
		}
		return nil
	})
	return claimed, err
}

func (c *Core) leaseFree(tx *bolt.Tx, repo string) (bool, error) {
	var l Lease
	ok, err := store.GetJSON(tx, store.BucketLeases, []byte(repo), &l)
	if err != nil || !ok {
		return err == nil, err
	}
	return l.Holder != c.instance && c.now().After(l.Expires), nil
}

// renewLease extends the lease while the job runs; it stops when ctx ends.
func (c *Core) renewLease(ctx context.Context, j *Job) {
	t := time.NewTicker(c.opt.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := c.opt.DB.Update(func(tx *bolt.Tx) error {
				l := Lease{Repo: j.Repo, Holder: c.instance, JobID: j.ID, Expires: c.now().Add(c.opt.LeaseTTL)}
				return store.PutJSON(tx, store.BucketLeases, []byte(j.Repo), l)
			})
			if err != nil {
				c.log.Error("renew lease", "repo", j.Repo, "job", j.ID, "err", err)
			}
		}
	}
}

func releaseLease(tx *bolt.Tx, j *Job) error {
	return tx.Bucket(store.BucketLeases).Delete([]byte(j.Repo))
}

// worker runs jobs until loop ends. Jobs get their own context (jobs) so a
// shutdown lets the current job finish.
func (c *Core) worker(loop, jobs context.Context) {
	for {
		if loop.Err() != nil {
			return
		}
		j, err := c.claim()
		if err != nil {
			c.log.Error("claim job", "err", err)
		}
		if j == nil {
			select {
			case <-loop.Done():
				return
			case <-c.wake:
			case <-time.After(time.Minute): // leases of other holders may expire
			}
			continue
		}
		c.poke() // another worker may take a job of another repository
		c.runJob(jobs, j)
		c.poke()
	}
}

// runJob runs one claimed job and records its outcome.
func (c *Core) runJob(ctx context.Context, j *Job) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go c.renewLease(rctx, j)
	log := c.log.With("job", j.ID, "kind", j.Kind, "proposal", j.ProposalID, "repo", j.Repo)
	log.Info("job started", "attempt", j.Attempts)
	var err error
	switch j.Kind {
	case JobDraft:
		err = c.runDraft(rctx, j)
	case JobExecute:
		err = c.runExecute(rctx, j)
	default:
		err = fmt.Errorf("unknown job kind %q", j.Kind)
	}
	if err != nil && (ctx.Err() != nil || errors.Is(err, ErrAbandonJob)) {
		// Interrupted: leave it Running, as a dead process would; the next
		// start resumes it from its journal.
		log.Warn("job interrupted; it resumes at the next start", "err", err)
		return
	}
	if err != nil {
		log.Error("job failed", "err", err)
		c.failJob(j.ID, err)
		return
	}
	log.Info("job finished")
}

// Failure is an error with a message for the person, apart from the
// internal detail.
type Failure struct {
	User string // what happened and what to do
	Err  error  // internal detail, logged and stored, not shown raw
	// ToDraft sends the proposal back to Draft instead of Failed.
	ToDraft bool
}

func (f *Failure) Error() string {
	if f.Err != nil {
		return f.User + ": " + f.Err.Error()
	}
	return f.User
}

func (f *Failure) Unwrap() error { return f.Err }

// failJob records a failed job: the job Failed, the proposal Failed (or
// back to Draft), an assistant message with the user-facing reason, the
// lease released.
func (c *Core) failJob(jobID string, jobErr error) {
	user := "internal error: see the daemon log"
	toDraft := false
	var f *Failure
	if errors.As(jobErr, &f) {
		user, toDraft = f.User, f.ToDraft
	}
	err := c.update(func(tx *bolt.Tx, emit func(Event)) error {
		j, err := getJob(tx, jobID)
		if err != nil {
			return err
		}
		j.State, j.Failure, j.Error, j.Finished, j.Progress = JobFailed, user, jobErr.Error(), c.now(), "failed"
		if _, err := c.opt.Audit.Append(tx, "job.failed", "patchgit", j.ID, map[string]string{"reason": user}); err != nil {
			return err
		}
		if err := putJob(tx, j); err != nil {
			return err
		}
		if err := releaseLease(tx, j); err != nil {
			return err
		}
		emit(Event{Kind: EventJob, ID: j.ID, ProposalID: j.ProposalID, Repo: j.Repo, Text: user})
		p, err := getProposal(tx, j.ProposalID)
		if err != nil {
			return err
		}
		switch {
		case p.State == StateRunning && toDraft:
			err = c.transition(tx, p, StateDraft, "patchgit", user)
		case p.State == StateRunning:
			err = c.transition(tx, p, StateFailed, "patchgit", user)
		case p.State == StateDraft:
			p.Reason = user
			clearRemaining(p.Revision(j.Revision))
			err = putProposal(tx, p)
		}
		if err != nil {
			return err
		}
		emit(Event{Kind: EventProposal, ID: p.ID, Repo: p.Repo, ConversationID: p.ConversationID})
		return c.say(tx, emit, p.ConversationID, p.ID, fmt.Sprintf("Proposal %s: %s", ShortID(p.ID), user))
	})
	if err != nil {
		c.log.Error("record job failure", "job", jobID, "err", err)
	}
}

// say appends an assistant message to a conversation.
func (c *Core) say(tx *bolt.Tx, emit func(Event), conversationID, proposalID, text string) error {
	if conversationID == "" {
		return nil // proposals made by `propose` have no conversation
	}
	m := &Message{ConversationID: conversationID, Role: RoleAssistant, Text: text, ProposalID: proposalID}
	if err := c.appendMessage(tx, m); err != nil {
		return err
	}
	emit(Event{Kind: EventMessage, ID: m.ID, ConversationID: conversationID, ProposalID: proposalID})
	return nil
}

// progress records a running job's current step for the people watching.
func (c *Core) progress(j *Job, text string) {
	err := c.update(func(tx *bolt.Tx, emit func(Event)) error {
		cur, err := getJob(tx, j.ID)
		if err != nil {
			return err
		}
		cur.Progress = text
		emit(Event{Kind: EventJob, ID: j.ID, ProposalID: j.ProposalID, Repo: j.Repo, Text: text})
		return putJob(tx, cur)
	})
	if err != nil {
		c.log.Error("record progress", "job", j.ID, "err", err)
	}
	j.Progress = text
}

// recover runs at start, before the workers: leases of a dead process are
// released, and jobs it left Running are queued again (their journal makes
// the resume skip completed steps) or failed after maxAttempts.
func (c *Core) recover() error {
	return c.update(func(tx *bolt.Tx, emit func(Event)) error {
		// Only one process can hold the store, so every lease is stale.
		var stale [][]byte
		if err := tx.Bucket(store.BucketLeases).ForEach(func(k, _ []byte) error {
			stale = append(stale, append([]byte{}, k...))
			return nil
		}); err != nil {
			return err
		}
		for _, k := range stale {
			if err := tx.Bucket(store.BucketLeases).Delete(k); err != nil {
				return err
			}
		}
		var running []*Job
		if err := tx.Bucket(store.BucketJobs).ForEach(func(_, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				return err
			}
			if j.State == JobRunning {
				running = append(running, &j)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, j := range running {
			if err := c.resume(tx, emit, j); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *Core) resume(tx *bolt.Tx, emit func(Event), j *Job) error {
	p, err := getProposal(tx, j.ProposalID)
	if err != nil {
		return err
	}
	if j.Attempts >= maxAttempts {
		reason := fmt.Sprintf("the job was interrupted %d times (the daemon stopped while it ran); press GO again on a new revision or see the daemon log", j.Attempts)
		j.State, j.Failure, j.Finished = JobFailed, reason, c.now()
		if _, err := c.opt.Audit.Append(tx, "job.failed", "patchgit", j.ID, map[string]string{"reason": reason}); err != nil {
			return err
		}
		if p.State == StateRunning {
			if err := c.transition(tx, p, StateFailed, "patchgit", reason); err != nil {
				return err
			}
		}
		return putJob(tx, j)
	}
	seq, err := store.NextSeq(tx, store.BucketQueue)
	if err != nil {
		return err
	}
	j.Seq, j.State, j.Progress = seq, JobQueued, "resuming after restart"
	if err := tx.Bucket(store.BucketQueue).Put(store.U64(seq), []byte(j.ID)); err != nil {
		return err
	}
	if _, err := c.opt.Audit.Append(tx, "job.resumed", "patchgit", j.ID, map[string]string{
		"attempts": fmt.Sprint(j.Attempts), "journal_steps": fmt.Sprint(len(j.Journal))}); err != nil {
		return err
	}
	if p.State == StateRunning {
		if err := c.transition(tx, p, StateQueued, "patchgit", ""); err != nil {
			return err
		}
	}
	emit(Event{Kind: EventJob, ID: j.ID, ProposalID: j.ProposalID, Repo: j.Repo})
	return putJob(tx, j)
}
