package web

import (
	"errors"
	"net/http"

	"github.com/patchgit/patchgit/internal/core"
)

// The JSON API serves the same data as the pages, for scripts.

func (s *Server) apiError(w http.ResponseWriter, status int, msg string, err error) {
	if err != nil {
		s.log.Error("web api", "what", msg, "err", err)
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

func (s *Server) apiProposals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ps, err := s.opt.Service.Proposals(r.Context(), q.Get("repo"), core.ProposalState(q.Get("state")))
	if err != nil {
		s.apiError(w, http.StatusInternalServerError, "the proposals could not be read", err)
		return
	}
	if ps == nil {
		ps = []core.Proposal{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"proposals": ps})
}

func (s *Server) apiProposal(w http.ResponseWriter, r *http.Request) {
	v, err := s.proposalView(r, r.PathValue("id"))
	if errors.Is(err, core.ErrNotFound) {
		s.apiError(w, http.StatusNotFound, "no proposal "+r.PathValue("id"), nil)
		return
	}
	if err != nil {
		s.apiError(w, http.StatusInternalServerError, "the proposal could not be read", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"proposal": v.P, "jobs": v.Jobs, "audit": v.Trail})
}

func (s *Server) apiJobs(w http.ResponseWriter, r *http.Request) {
	v, err := s.jobsView(r)
	if err != nil {
		s.apiError(w, http.StatusInternalServerError, "the job queue could not be read", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"queued": nonNil(v.Queued), "running": nonNil(v.Running), "recent": nonNil(v.Recent)})
}

func (s *Server) apiBudget(w http.ResponseWriter, r *http.Request) {
	v, err := s.budgetView(r)
	if err != nil {
		s.apiError(w, http.StatusInternalServerError, "the budget could not be read", err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request) {
	v, err := s.auditView(r)
	if err != nil {
		s.apiError(w, http.StatusInternalServerError, "the audit log could not be read", err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
