package web

import (
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/patchgit/patchgit/internal/websession"
)

// loginView is the sign-in page's data. It never carries the PIN back.
type loginView struct {
	Next      string
	Link      string // a one-time link token being offered
	LinkActor string
	Problem   string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.session(w, r); ok && r.URL.Query().Get("link") == "" {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	v := loginView{Next: localPath(r.URL.Query().Get("next"))}
	// A link is not used by opening it (chat apps fetch links to preview
	// them): the page asks, and the button posts it.
	if token := r.URL.Query().Get("link"); token != "" {
		actor, err := s.opt.Sessions.LinkActor(token)
		if err != nil {
			v.Problem = err.Error()
		} else {
			v.Link, v.LinkActor = token, actor
		}
	}
	status := http.StatusOK
	if v.Problem != "" {
		status = http.StatusGone
	}
	s.renderStatus(w, r, status, "login", page{Title: "Sign in", Data: v})
}

// maxLoginBody bounds the sign-in form.
const maxLoginBody = 4 << 10

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	// SameSite=Strict guards the session; this guards the sign-in itself
	// from another site posting to it.
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		http.Error(w, "403 sign in from this site's own login page", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		s.loginFailed(w, r, http.StatusBadRequest, loginView{Problem: "the sign-in form could not be read; reload the page and try again"})
		return
	}
	next := localPath(r.PostForm.Get("next"))
	remote := remoteAddr(r)
	if token := r.PostForm.Get("link"); token != "" {
		actor, err := s.opt.Sessions.RedeemLink(token)
		if err != nil {
			s.log.Warn("web sign-in link refused", "remote", remote.String(), "err", err)
			problem := websession.ErrLinkInvalid.Error()
			if !errors.Is(err, websession.ErrLinkInvalid) {
				problem = "the link could not be checked just now; try again (the server log says why)"
			}
			s.loginFailed(w, r, http.StatusGone, loginView{Next: next, Problem: problem})
			return
		}
		s.startSession(w, r, actor, "link", next)
		return
	}
	pin := strings.TrimSpace(r.PostForm.Get("pin"))
	if pin == "" {
		s.loginFailed(w, r, http.StatusBadRequest, loginView{Next: next, Problem: "type the PIN"})
		return
	}
	ok, err := s.opt.PIN.CheckPIN(r.Context(), remote, pin)
	switch {
	case err != nil && s.opt.Locked != nil && errors.Is(err, s.opt.Locked):
		s.log.Warn("web pin refused: gate locked", "remote", remote.String())
		w.Header().Set("Retry-After", "60")
		s.loginFailed(w, r, http.StatusTooManyRequests, loginView{Next: next,
			Problem: "too many wrong PINs: sign-in is locked for a while (over SSH too); wait, then try again"})
	case err != nil:
		s.log.Error("web pin not evaluated", "remote", remote.String(), "err", err)
		s.loginFailed(w, r, http.StatusServiceUnavailable, loginView{Next: next,
			Problem: "the PIN could not be checked just now; try again in a moment (the server log says why)"})
	case !ok:
		s.log.Warn("web wrong pin", "remote", remote.String())
		s.loginFailed(w, r, http.StatusUnauthorized, loginView{Next: next, Problem: "wrong PIN; wrong guesses slow down further tries"})
	default:
		s.startSession(w, r, "web", "pin", next)
	}
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, actor, via, next string) {
	token, err := s.opt.Sessions.Create(actor, via)
	if err != nil {
		s.log.Error("web session not created", "err", err)
		s.loginFailed(w, r, http.StatusServiceUnavailable, loginView{Next: next, Problem: "could not start a session; try again (the server log says why)"})
		return
	}
	s.log.Info("web sign-in", "actor", actor, "via", via, "remote", remoteAddr(r).String())
	s.setCookie(w, r, token)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) loginFailed(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	if v.Next == "" {
		v.Next = "/"
	}
	s.renderStatus(w, r, status, "login", page{Title: "Sign in", Data: v})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.cookieName(r)); err == nil {
		if err := s.opt.Sessions.Delete(c.Value); err != nil {
			s.log.Error("web session not deleted", "err", err)
		}
	}
	s.clearCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// remoteAddr is the TCP peer. X-Forwarded-For is not trusted: behind a
// proxy every guess shares the proxy's address, which only makes the gate
// stricter.
func remoteAddr(r *http.Request) net.Addr {
	if ap, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
		return ap
	}
	return &net.TCPAddr{}
}
