package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/forge"
)

//go:embed templates/*.html static/*
var assets embed.FS

// page is what every template gets: the layout's parts plus the page's
// own data.
type page struct {
	Title  string
	Nav    string // which tab is current
	Viewer viewer
	Data   any
}

// pageNames are the templates besides the layout.
var pageNames = []string{"login", "proposals", "proposal", "jobs", "budget", "audit", "notfound", "pr"}

func parsePages() (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout template: %w", err)
	}
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(assets, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse %s template: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// renderStatus renders into a buffer first, so a template error becomes a
// clean 500 rather than half a page.
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Viewer = viewerOf(r.Context())
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout.html", p); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "500 the page could not be drawn; the server log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	s.renderStatus(w, r, http.StatusOK, name, p)
}

// fail shows a page-level problem in the layout.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, what string, err error) {
	s.log.Error("web page", "what", what, "err", err)
	s.renderStatus(w, r, status, "notfound", page{Title: "Problem", Data: what})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.renderStatus(w, r, http.StatusNotFound, "notfound", page{Title: "Not found",
		Data: "There is nothing at " + r.URL.Path + "."})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// staticHandler serves the embedded assets; they change only with the
// binary, so browsers may keep them for an hour.
func staticHandler(root fs.FS) http.Handler {
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

var funcs = template.FuncMap{
	"ago":     ago,
	"money":   money,
	"usd":     func(micros int64) string { return budget.Micros(micros).String() },
	"stamp":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"short":   func(s string) string { return shortID(s) },
	"dur":     func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() },
	"plus1":   func(i int) int { return i + 1 },
	"httpURL": func(u string) bool { return strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") },
	// A local-forge PR's page is the mirror's own, whatever URL it was
	// opened with (before http.public_url was set it is "local:REPO#N").
	"localPR":     func(u string) bool { return strings.HasPrefix(u, "local:") || strings.Contains(u, "/prs/local/") },
	"localPRPath": forge.WebPath,
}

// ago is a short age: "12s", "5m", "3h", "2d".
func ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// money shows micro-dollars as dollars the way the CLI and the terminal
// app do (budget.Micros: $1.50, $0.001234); nil means not computed.
func money(micros *int64) string {
	if micros == nil {
		return "not metered"
	}
	return budget.Micros(*micros).String()
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
