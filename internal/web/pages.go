package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/forge"
)

// states lists the proposal states for the filter, in flow order.
var states = []core.ProposalState{core.StateDraft, core.StateProposed, core.StateApproved, core.StateQueued,
	core.StateRunning, core.StatePublished, core.StateFailed, core.StateCancelled}

type proposalsView struct {
	Proposals []core.Proposal
	Repos     []core.Repo
	States    []core.ProposalState
	Repo      string
	State     string
}

func (s *Server) proposalsPage(w http.ResponseWriter, r *http.Request) {
	v := proposalsView{States: states, Repo: r.URL.Query().Get("repo"), State: r.URL.Query().Get("state")}
	var err error
	if v.Proposals, err = s.opt.Service.Proposals(r.Context(), v.Repo, core.ProposalState(v.State)); err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The proposals could not be read.", err)
		return
	}
	if v.Repos, err = s.opt.Service.Repos(r.Context()); err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The repositories could not be read.", err)
		return
	}
	s.render(w, r, "proposals", page{Title: "Proposals", Nav: "proposals", Data: v})
}

type proposalView struct {
	P       core.Proposal
	Rev     *core.Revision
	Files   []diffFile
	Jobs    []core.Job
	Trail   []core.AuditEntry
	Waiting bool
	// Spent is what drafting the shown revision cost; Projected what its
	// stages still to run are projected to cost while a model drafts, and
	// Total both; Budget the windows now, read when the proposal waits for
	// approval of spend or has stages projected (nil: no ledger, or not
	// read).
	Spent, Projected, Total int64
	Budget                  *core.BudgetStatus
}

func (s *Server) proposalView(r *http.Request, id string) (proposalView, error) {
	ctx := r.Context()
	p, err := s.opt.Service.Proposal(ctx, id)
	if err != nil {
		return proposalView{}, err
	}
	v := proposalView{P: p, Rev: p.Current(), Waiting: p.Waiting != core.WaitingNone}
	if v.Rev != nil {
		v.Files = splitDiff(v.Rev.Diff)
		for _, l := range v.Rev.Spent {
			v.Spent += l.CostMicros
		}
		for _, l := range v.Rev.Remaining {
			v.Projected += l.CostMicros
		}
		v.Total = v.Spent + v.Projected
	}
	if p.Awaiting != nil || (v.Rev != nil && len(v.Rev.Remaining) > 0) {
		if st, err := s.opt.Service.Budget(ctx); err == nil {
			v.Budget = &st
		}
	}
	jobs, err := s.opt.Service.Jobs(ctx)
	if err != nil {
		return proposalView{}, err
	}
	subjects := map[string]bool{p.ID: true}
	for _, j := range jobs {
		if j.ProposalID == p.ID {
			v.Jobs = append(v.Jobs, publicJob(j))
			subjects[j.ID] = true
		}
	}
	if v.Trail, err = s.opt.Service.AuditTrail(ctx, p.ID); err != nil {
		return proposalView{}, err
	}
	return v, nil
}

func (s *Server) proposalPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.proposalView(r, r.PathValue("id"))
	if errors.Is(err, core.ErrNotFound) {
		s.renderStatus(w, r, http.StatusNotFound, "notfound", page{Title: "Not found",
			Data: "There is no proposal " + r.PathValue("id") + "."})
		return
	}
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The proposal could not be read.", err)
		return
	}
	s.render(w, r, "proposal", page{Title: v.P.Title, Nav: "proposals", Data: v})
}

// publicJob drops the internal error text: people see Failure, which is
// written for them; the server log has the rest.
func publicJob(j core.Job) core.Job {
	j.Error = ""
	return j
}

type jobRow struct {
	core.Job
	Position int    `json:"position,omitempty"` // 1-based place in the queue; 0 when not queued
	Title    string `json:"title,omitempty"`
}

type jobsView struct {
	Queued, Running, Recent []jobRow
}

func (s *Server) jobsView(r *http.Request) (jobsView, error) {
	jobs, err := s.opt.Service.Jobs(r.Context())
	if err != nil {
		return jobsView{}, err
	}
	titles := map[string]string{}
	if ps, err := s.opt.Service.Proposals(r.Context(), "", ""); err == nil {
		for _, p := range ps {
			titles[p.ID] = p.Title
		}
	}
	var v jobsView
	for _, j := range jobs {
		row := jobRow{Job: publicJob(j), Title: titles[j.ProposalID]}
		switch j.State {
		case core.JobQueued:
			row.Position = len(v.Queued) + 1
			v.Queued = append(v.Queued, row)
		case core.JobRunning:
			v.Running = append(v.Running, row)
		default:
			if len(v.Recent) < recentJobs {
				v.Recent = append(v.Recent, row)
			}
		}
	}
	return v, nil
}

// recentJobs is how many finished jobs the jobs page lists.
const recentJobs = 25

func (s *Server) jobsPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.jobsView(r)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The job queue could not be read.", err)
		return
	}
	s.render(w, r, "jobs", page{Title: "Jobs", Nav: "jobs", Data: v})
}

// budgetView is the budget ledger's status (both windows, recent spends,
// open reservations; amounts in micro-dollars) and, beside it, the
// projected cost of the proposals not finished yet.
type budgetView struct {
	core.BudgetStatus
	Proposals []budgetLine `json:"open_proposals"`
	Projected int64        `json:"projected_micros"`
	Unpriced  int          `json:"unpriced_proposals"`
}

type budgetLine struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	State      string `json:"state"`
	CostMicros *int64 `json:"cost_micros"`
}

func (s *Server) budgetView(r *http.Request) (budgetView, error) {
	st, err := s.opt.Service.Budget(r.Context())
	if err != nil {
		return budgetView{}, err
	}
	ps, err := s.opt.Service.Proposals(r.Context(), "", "")
	if err != nil {
		return budgetView{}, err
	}
	st.Recent, st.Open = nonNil(st.Recent), nonNil(st.Open)
	v := budgetView{BudgetStatus: st, Proposals: []budgetLine{}}
	for _, p := range ps {
		if slices.Contains([]core.ProposalState{core.StatePublished, core.StateFailed, core.StateCancelled}, p.State) {
			continue
		}
		line := budgetLine{ID: p.ID, Title: p.Title, State: string(p.State)}
		if rev := p.Current(); rev != nil && rev.CostMicros != nil {
			line.CostMicros = rev.CostMicros
			v.Projected += *rev.CostMicros
		} else {
			v.Unpriced++
		}
		v.Proposals = append(v.Proposals, line)
	}
	return v, nil
}

func (s *Server) budgetPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.budgetView(r)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The budget could not be read.", err)
		return
	}
	s.render(w, r, "budget", page{Title: "Budget", Nav: "budget", Data: v})
}

type auditView struct {
	core.AuditPage
	Kind  string `json:"-"`
	Query string `json:"-"`
}

// auditView reads one page of the log, newest first: before=SEQ shows
// entries older than SEQ, filtered by kind prefix and a word (q=) found in
// the actor, subject, kind or data. The log is read from the page's place
// backwards, not whole.
func (s *Server) auditView(r *http.Request) (auditView, error) {
	q := r.URL.Query()
	v := auditView{Kind: q.Get("kind"), Query: q.Get("q")}
	before, _ := strconv.ParseUint(q.Get("before"), 10, 64)
	var err error
	v.AuditPage, err = s.opt.Service.AuditPage(r.Context(), core.AuditQuery{Before: before, Limit: core.DefaultAuditPage,
		AuditFilter: core.AuditFilter{Kind: v.Kind, Text: v.Query}})
	return v, err
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.auditView(r)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The audit log could not be read.", err)
		return
	}
	s.render(w, r, "audit", page{Title: "Audit log", Nav: "audit", Data: v})
}

// ProjectedPtr lets the template use money on the total.
func (v budgetView) ProjectedPtr() *int64 { return &v.Projected }

type prView struct {
	C     core.LocalChange
	Files []diffFile
}

// localPRPage shows a local-forge pull request: there is no forge website
// for it, so the mirror is its page.
func (s *Server) localPRPage(w http.ResponseWriter, r *http.Request) {
	repo := r.PathValue("repo")
	n, err := strconv.Atoi(r.PathValue("n"))
	notFound := func() {
		s.renderStatus(w, r, http.StatusNotFound, "notfound", page{Title: "Not found",
			Data: "There is no local pull request " + repo + "#" + r.PathValue("n") + "."})
	}
	if err != nil || n <= 0 {
		notFound()
		return
	}
	c, err := s.opt.Service.LocalPR(r.Context(), repo, n)
	if errors.Is(err, core.ErrNotFound) || errors.Is(err, core.ErrUnknownRepo) || errors.Is(err, forge.ErrNoSuchPR) || errors.Is(err, forge.ErrUnknownRepo) {
		notFound()
		return
	}
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, "The pull request could not be read.", err)
		return
	}
	s.render(w, r, "pr", page{Title: fmt.Sprintf("#%d %s", c.PR.Number, c.PR.Title), Nav: "proposals",
		Data: prView{C: c, Files: splitDiff(c.Diff)}})
}
