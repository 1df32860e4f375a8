package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/patchgit/patchgit/internal/websession"
)

// contentSecurityPolicy allows only this origin's own scripts and styles
// (no inline code), no frames, and forms that post only here.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// headers sets the security headers on every response, errors included.
func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if s.secure(r) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// writePaths are the only paths that take a POST; nothing takes any
// other writing method.
var writePaths = map[string]bool{"/login": true, "/logout": true}

// readOnly refuses every method but GET and HEAD with 405, on every path,
// known or not, before any session is looked at; only POST /login and
// POST /logout get through.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
		case r.Method == http.MethodPost && writePaths[r.URL.Path]:
		default:
			allow := "GET, HEAD"
			if writePaths[r.URL.Path] {
				allow += ", POST"
			}
			w.Header().Set("Allow", allow)
			http.Error(w, "405 method not allowed: the web mirror is read-only; act in the terminal app (ssh)", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

// viewer is who is looking, from the session.
type viewer struct {
	Actor string
	Via   string
}

func viewerOf(ctx context.Context) viewer {
	v, _ := ctx.Value(ctxKey{}).(viewer)
	return v
}

// authed sends a request without a live session to the login page,
// remembering where it was going.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.session(w, r)
		if !ok {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, v)))
	}
}

// authedAPI answers 401 in JSON instead of redirecting: scripts, not
// people, call /api/.
func (s *Server) authedAPI(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, ok := s.session(w, r)
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not signed in: POST the PIN to /login, keep the session cookie"})
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, v)))
	}
}

// session returns the viewer for the request's cookie; an expired or
// unknown cookie is cleared.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (viewer, bool) {
	c, err := r.Cookie(s.cookieName(r))
	if err != nil {
		return viewer{}, false
	}
	sess, err := s.opt.Sessions.Lookup(c.Value)
	if err != nil {
		if !errors.Is(err, websession.ErrNoSession) && !errors.Is(err, websession.ErrExpired) {
			s.log.Error("web session lookup", "err", err)
		}
		s.clearCookie(w, r)
		return viewer{}, false
	}
	return viewer{Actor: sess.Actor, Via: sess.Via}, true
}

// secure says whether the browser reached us over TLS: directly, or
// through a proxy named by an https public_url.
func (s *Server) secure(r *http.Request) bool { return s.tls || r.TLS != nil }

// cookieName uses the __Host- prefix under TLS: the browser then insists
// on Secure, Path=/ and no Domain, so no sibling host can plant it.
func (s *Server) cookieName(r *http.Request) string {
	if s.secure(r) {
		return "__Host-patchgit_session"
	}
	return "patchgit_session"
}

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(r), Value: token, Path: "/",
		MaxAge:   int(s.opt.Sessions.Absolute().Seconds()),
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

func (s *Server) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

// localPath keeps a post-login redirect on this site: a path, not a URL
// ("//evil.example" and "/\evil" are URLs to a browser).
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}
