// Package web is PatchGit's read-only web mirror: HTML pages and a JSON
// API over core.Service (the same data the terminal app sees), kept live
// with server-sent events. It has no power: every method but GET and HEAD
// is refused, except signing in and out. Decisions (GO, spend) stay in the
// PIN-gated SSH app.
package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/websession"
)

// PINChecker is the PIN gate shared with the SSH server: the same
// throttle and lockout count a wrong PIN typed here and one typed over
// SSH. While locked, CheckPIN returns an error wrapping Options.Locked.
type PINChecker interface {
	CheckPIN(ctx context.Context, remote net.Addr, pin string) (bool, error)
}

// Options wires the mirror.
type Options struct {
	Service  core.Service
	Sessions *websession.Store
	PIN      PINChecker
	// Locked is the sentinel the gate wraps while it refuses PINs
	// (gate.ErrLocked); such a refusal is shown as "locked, wait".
	Locked error
	// PublicURL is the address people use (behind a proxy, e.g.
	// https://patchgit.example.com); empty means http://<listen address>.
	// An https URL turns on Secure, __Host- cookies and HSTS.
	PublicURL string
	Logger    *slog.Logger
}

// Server is the web mirror.
type Server struct {
	opt   Options
	log   *slog.Logger
	pages map[string]*template.Template
	mux   *http.ServeMux
	http  *http.Server
	tls   bool // served over TLS as far as the browser is concerned

	stop     context.Context // ends live streams at shutdown
	stopLive context.CancelFunc
}

// New builds the mirror; it does not listen yet.
func New(opt Options) (*Server, error) {
	switch {
	case opt.Service == nil:
		return nil, ErrNoService
	case opt.Sessions == nil:
		return nil, ErrNoSessions
	case opt.PIN == nil:
		return nil, ErrNoPIN
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{opt: opt, log: opt.Logger, pages: pages, tls: strings.HasPrefix(opt.PublicURL, "https://")}
	s.stop, s.stopLive = context.WithCancel(context.Background())
	s.routes()
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return s.stop },
	}
	return s, nil
}

func (s *Server) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(static)))
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /logout", s.logout)

	m.HandleFunc("GET /{$}", s.authed(s.proposalsPage))
	m.HandleFunc("GET /proposals/{id}", s.authed(s.proposalPage))
	m.HandleFunc("GET /jobs", s.authed(s.jobsPage))
	m.HandleFunc("GET /budget", s.authed(s.budgetPage))
	m.HandleFunc("GET /audit", s.authed(s.auditPage))
	m.HandleFunc("GET /prs/local/{repo}/{n}", s.authed(s.localPRPage))
	m.HandleFunc("GET /events", s.authed(s.events))

	m.HandleFunc("GET /api/proposals", s.authedAPI(s.apiProposals))
	m.HandleFunc("GET /api/proposals/{id}", s.authedAPI(s.apiProposal))
	m.HandleFunc("GET /api/jobs", s.authedAPI(s.apiJobs))
	m.HandleFunc("GET /api/budget", s.authedAPI(s.apiBudget))
	m.HandleFunc("GET /api/audit", s.authedAPI(s.apiAudit))
	m.HandleFunc("/", s.authed(s.notFound))
	s.mux = m
}

// Handler is the whole mirror with its guards, in the order they run:
// security headers on every response, then the read-only method guard,
// then the routes (which check the session).
func (s *Server) Handler() http.Handler {
	return s.headers(readOnly(s.mux))
}

// Serve answers on ln until Shutdown. It records the base URL one-time
// links are minted against.
func (s *Server) Serve(ln net.Listener) error {
	base := s.opt.PublicURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}
	s.opt.Sessions.SetBaseURL(base)
	s.log.Info("web mirror listening", "addr", ln.Addr().String(), "url", base)
	if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve web mirror: %w", err)
	}
	return nil
}

// Shutdown ends live streams, then waits for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopLive()
	if err := s.http.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down web mirror: %w", err)
	}
	return nil
}
