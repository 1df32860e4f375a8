package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"charm.land/ssh"

	"github.com/patchgit/patchgit/internal/core"
)

// proposeWaitLimit bounds how long `propose` waits for drafting to finish.
const proposeWaitLimit = 10 * time.Minute

const proposeUsage = "usage: propose --repo NAME [--no-wait] < fix.diff"

// propose creates a proposal from the patch on stdin and, unless --no-wait,
// waits until it leaves drafting. It returns the exit status.
func (s *Server) propose(sess ssh.Session, args []string) int {
	flags := flag.NewFlagSet("propose", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	repo := flags.String("repo", "", "repository name")
	noWait := flags.Bool("no-wait", false, "print the new proposal and return without waiting")
	if err := flags.Parse(args); err != nil {
		return fail(sess, fmt.Errorf("%w: %v: %s", ErrUsage, err, proposeUsage))
	}
	if *repo == "" {
		return fail(sess, fmt.Errorf("%w: --repo is required: %s", ErrUsage, proposeUsage))
	}
	if flags.NArg() > 0 {
		return fail(sess, fmt.Errorf("%w: unexpected argument %q: %s", ErrUsage, flags.Arg(0), proposeUsage))
	}

	patch, err := s.readPatch(sess)
	if err != nil {
		return fail(sess, err)
	}

	svc := s.opts.Service
	ctx := sess.Context()
	var events <-chan core.Event
	waitCtx, cancel := context.WithTimeout(ctx, proposeWaitLimit)
	defer cancel()
	stopOnQuit := context.AfterFunc(s.quit, cancel)
	defer stopOnQuit()
	if !*noWait {
		// Subscribe before proposing so no event about the new proposal is missed.
		if events, err = svc.Subscribe(waitCtx); err != nil {
			return fail(sess, fmt.Errorf("subscribe to events: %w", err))
		}
	}

	p, err := svc.Propose(ctx, sess.User(), *repo, patch)
	if err != nil {
		return fail(sess, s.explainProposeError(ctx, *repo, err))
	}
	if *noWait {
		printProposal(sess, p)
		return exitOK
	}

	p, err = s.waitDrafted(waitCtx, events, p)
	if err != nil {
		printProposal(sess, p)
		return fail(sess, s.explainWaitError(err, p))
	}
	printProposal(sess, p)
	if p.State == core.StateDraft || p.State == core.StateFailed || p.State == core.StateCancelled {
		return exitDraft
	}
	return exitOK
}

// readPatch reads stdin up to the cap; more than the cap is refused whole
// rather than cut, since a cut patch would not apply.
func (s *Server) readPatch(sess ssh.Session) (string, error) {
	data, err := io.ReadAll(io.LimitReader(sess, s.maxStdin+1))
	if err != nil {
		return "", fmt.Errorf("read patch from stdin: %w", err)
	}
	if int64(len(data)) > s.maxStdin {
		return "", fmt.Errorf("read patch from stdin: %w: the limit is %s: split the change into smaller patches",
			core.ErrInputTooLarge, byteSize(s.maxStdin))
	}
	if strings.TrimSpace(string(data)) == "" {
		return "", fmt.Errorf("read patch from stdin: %w: pipe a unified diff or search/replace blocks, e.g. %s",
			core.ErrEmptyInput, "`ssh HOST propose --repo NAME < fix.diff`")
	}
	return string(data), nil
}

func (s *Server) explainProposeError(ctx context.Context, repo string, err error) error {
	if !errors.Is(err, core.ErrUnknownRepo) {
		return fmt.Errorf("propose: %w", err)
	}
	repos, lerr := s.opts.Service.Repos(ctx)
	if lerr != nil || len(repos) == 0 {
		return fmt.Errorf("propose to %q: %w", repo, err)
	}
	names := make([]string, len(repos))
	for i, r := range repos {
		names[i] = r.Name
	}
	return fmt.Errorf("propose to %q: %w: known repositories: %s", repo, err, strings.Join(names, ", "))
}

func (s *Server) explainWaitError(err error, p core.Proposal) error {
	hint := fmt.Sprintf("proposal %s is still %s: follow it in the app (ssh -t HOST)", p.ID, p.State)
	switch {
	case s.quit.Err() != nil:
		return fmt.Errorf("%w: %s: %s", ErrStillDrafting, core.ErrServiceShutdown, hint)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w after %s: %s", ErrStillDrafting, proposeWaitLimit, hint)
	default:
		return fmt.Errorf("%w: %w: %s", ErrStillDrafting, err, hint)
	}
}

// waitDrafted follows events until the proposal leaves drafting: it became
// Proposed (or anything but Draft), it stayed Draft with a reason, or its
// draft job finished. It returns the latest proposal it read.
func (s *Server) waitDrafted(ctx context.Context, events <-chan core.Event, p core.Proposal) (core.Proposal, error) {
	svc := s.opts.Service
	for {
		// Read the job before the proposal: a finished job seen here means
		// the proposal read after it carries whatever the job decided.
		jobDone := false
		if p.JobID != "" {
			job, err := svc.Job(ctx, p.JobID)
			if err != nil {
				return p, fmt.Errorf("read job %s: %w", p.JobID, err)
			}
			jobDone = job.Kind == core.JobDraft && jobFinished(job.State)
		}
		latest, err := svc.Proposal(ctx, p.ID)
		if err != nil {
			return p, fmt.Errorf("read proposal %s: %w", p.ID, err)
		}
		p = latest
		if p.State != core.StateDraft || p.Reason != "" || jobDone {
			return p, nil
		}
		if err := nextRelevantEvent(ctx, events, p); err != nil {
			return p, err
		}
	}
}

// nextRelevantEvent blocks until an event that may concern p arrives.
func nextRelevantEvent(ctx context.Context, events <-chan core.Event, p core.Proposal) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return errors.New("event stream ended")
			}
			switch ev.Kind {
			case core.EventResync:
				return nil
			case core.EventProposal:
				if ev.ID == p.ID {
					return nil
				}
			case core.EventJob:
				if ev.ProposalID == p.ID || (p.JobID != "" && ev.ID == p.JobID) {
					return nil
				}
			}
		}
	}
}

func jobFinished(st core.JobState) bool {
	return st == core.JobDone || st == core.JobFailed || st == core.JobCancelled
}

// printProposal writes `proposal <id> <state>` and what explains the state.
func printProposal(w io.Writer, p core.Proposal) {
	fmt.Fprintf(w, "proposal %s %s\n", p.ID, p.State)
	if p.Waiting != core.WaitingNone {
		fmt.Fprintf(w, "waiting: %s\n", p.Waiting)
	}
	if p.Reason != "" {
		fmt.Fprintf(w, "reason: %s\n", p.Reason)
	}
	rev := p.Current()
	if rev == nil || len(rev.Checks) == 0 {
		return
	}
	passed := 0
	for _, c := range rev.Checks {
		if c.Passed {
			passed++
		}
	}
	fmt.Fprintf(w, "checks: %d of %d passed\n", passed, len(rev.Checks))
	for _, c := range rev.Checks {
		switch {
		case c.Passed:
			fmt.Fprintf(w, "  ok    %s\n", c.Command)
		case c.TimedOut:
			fmt.Fprintf(w, "  FAIL  %s (timed out)\n", c.Command)
		default:
			fmt.Fprintf(w, "  FAIL  %s (exit %d)\n", c.Command, c.ExitCode)
		}
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
