package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/sandbox"
)

// HelperPool is the one helper slot (helper.Manager in the daemon).
type HelperPool interface {
	// Provider is the helper provider's name: local, digitalocean or ssh.
	Provider() string
	// Acquire returns a helper for job once it is reachable, waiting for
	// the slot while another job's helper holds it (unless the job's
	// spend is approved); a size outside the allow-list is a
	// *helper.ApprovalError.
	Acquire(ctx context.Context, job string, need helper.Need) (*helper.Helper, error)
}

// HelperNeed is what a repository's checks need from a helper machine
// (config: repos[].helper).
type HelperNeed struct {
	MemoryMB int
	VCPUs    int
	// Required: run this repository's checks on a helper even when the
	// provider is local (a separate work directory and process).
	Required bool
}

// onHelperMachine says whether repo's verifies run on a helper machine:
// when the repository requires one, or whenever the provider is not local.
// Otherwise they run in the local sandbox as before.
func (c *Core) onHelperMachine(repo RepoSpec) bool {
	return c.opt.Helpers != nil && c.opt.HelperRunner != nil &&
		(repo.Helper.Required || c.opt.Helpers.Provider() != "local")
}

// verify runs req for job j: on a helper machine or in the local sandbox.
// A remote machine (digitalocean, ssh) is metered by the helper manager
// from create to confirmed destroy; work on this machine (the local
// sandbox, or the local provider) is metered as local helper time.
func (c *Core) verify(ctx context.Context, j *Job, repo RepoSpec, purpose string, req sandbox.Request) (sandbox.Result, error) {
	var res sandbox.Result
	onMachine := c.onHelperMachine(repo)
	run := func(ctx context.Context) (err error) {
		if onMachine {
			res, err = c.verifyOnHelper(ctx, j, repo, req)
		} else {
			res, err = c.opt.Sandbox.Verify(ctx, req)
		}
		return err
	}
	if onMachine && c.opt.Helpers.Provider() != "local" {
		return res, run(ctx)
	}
	err := c.onHelper(ctx, j, purpose, j.SpendApproved, run)
	return res, err
}

// verifyOnHelper bundles the base from the mirror (under the mirror lock,
// released before the helper slot is taken: lease -> mirror lock -> helper
// slot), acquires a helper, runs the verify there and releases the helper
// whatever happened.
func (c *Core) verifyOnHelper(ctx context.Context, j *Job, repo RepoSpec, req sandbox.Request) (sandbox.Result, error) {
	prep, err := c.opt.HelperRunner.Prepare(ctx, repo.Name, repo.MirrorDir, req)
	if err != nil {
		return sandbox.Result{}, err
	}
	defer prep.Close()
	if h := c.jobHelper(j.ID); h != nil { // the model stages' helper, kept for this verify; released with the job
		c.progress(j, "running the checks on helper "+h.Record().Name)
		return prep.Run(ctx, h)
	}
	c.progress(j, "starting a helper machine ("+c.opt.Helpers.Provider()+")")
	// With jobs.concurrency above 1, a job whose helper slot is taken
	// waits for it (bounded by ctx) and says so.
	actx := helper.WithWaitNotice(ctx, func(holder helper.Record) {
		c.progress(j, fmt.Sprintf("waiting for the helper slot (helper %s runs for job %s)", holder.Name, holder.Job))
	})
	h, err := c.opt.Helpers.Acquire(actx, j.ID, helper.Need{MemoryMB: repo.Helper.MemoryMB, VCPUs: repo.Helper.VCPUs})
	if err != nil {
		return sandbox.Result{}, err
	}
	defer func() {
		// A job cancelled by shutdown still destroys its helper; if this
		// fails, the record stays open and the reconcile loop retries.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		if err := h.Release(rctx); err != nil {
			c.log.Error("release helper; the reconcile loop will destroy it", "job", j.ID, "helper", h.Record().Name, "err", err)
			return
		}
		c.recordHelperSpent(j, h.Record().Name)
	}()
	c.progress(j, "running the checks on helper "+h.Record().Name)
	return prep.Run(ctx, h)
}

// recordHelperSpent puts what a priced helper machine cost on the draft's
// revision once it is destroyed (the manager metered it in the budget), so
// the person sees it beside the other costs, also when the budget stopped it.
func (c *Core) recordHelperSpent(j *Job, name string) {
	if j.Kind != JobDraft {
		return
	}
	recs, err := helper.Records(c.opt.DB, true)
	if err != nil {
		c.log.Error("read helper records", "job", j.ID, "err", err)
		return
	}
	for _, r := range recs {
		if r.Name != name || r.Cost() == 0 {
			continue
		}
		what := fmt.Sprintf("the checks on helper %s (%s at %s/h, %s)", r.Name, r.Size, r.PriceHourly,
			r.DestroyedAt.Sub(r.StartedAt).Round(time.Second))
		if strings.HasPrefix(r.Reason, "budget stop: ") {
			what += ", stopped by the budget"
		}
		c.recordSpent(j, CostLine{Stage: "verify", What: what, Category: CostHelper, CostMicros: int64(r.Cost())})
	}
}

// helperStopped finds the budget's stop of a helper machine in err: its
// words say which cap, that nothing was pushed, and what to do.
func helperStopped(err error) (*helper.StoppedError, bool) {
	var se *helper.StoppedError
	ok := errors.As(err, &se)
	return se, ok
}

// helperStopEscalation is the approval a draft whose helper the budget
// stopped waits for: the stop's own words as the reason (not the error
// chain around them), the refused slice as the cost.
func (c *Core) helperStopEscalation(what string, st *helper.StoppedError) Escalation {
	esc := c.helperRefusal(what, st.Err)
	esc.Why = []string{st.Msg}
	return esc
}

// helperEscalation is what to ask when the helper policy needs approval
// (a size above the allow-list): the most the helper
// can cost is its price for the TTL, approved with the policy's margin.
func (c *Core) helperEscalation(what string, ae *helper.ApprovalError) Escalation {
	esc := Escalation{What: what + " on a helper machine", Why: []string{ae.Reason}, CostMicros: int64(ae.Cost)}
	if ae.Size != "" {
		esc.What = fmt.Sprintf("%s on a helper machine of size %s at %s/h", what, ae.Size, ae.PriceHourly)
	}
	if ae.Cost > 0 {
		esc.ApproveMicros = int64(c.opt.Policy.ApprovalAmount(ae.Cost))
	}
	return esc
}

// JobSpend says which proposal job spends for and whether the person
// approved its spend: the helper manager's question before it creates a
// size above the allow-list or a second helper.
func (c *Core) JobSpend(job string) (proposal string, approved bool) {
	var j *Job
	if err := c.opt.DB.View(func(tx *bolt.Tx) (err error) { j, err = getJob(tx, job); return }); err != nil {
		return "", false
	}
	return j.ProposalID, j.SpendApproved
}

// asApproval finds a helper approval decision in err.
func asApproval(err error) (*helper.ApprovalError, bool) {
	var ae *helper.ApprovalError
	ok := errors.As(err, &ae)
	return ae, ok
}

// helperFailure is the person's side of a failure to verify on a helper.
// The helper packages' errors never carry a credential.
func helperFailure(err error) *Failure {
	return &Failure{User: "the checks could not run on the helper machine (" + err.Error() + "); nothing was pushed", Err: err}
}
