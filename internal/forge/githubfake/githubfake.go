// Package githubfake is a local stand-in for GitHub's REST API, for tests
// only: GitHub is a paid, unreachable service from CI. It serves exactly
// the endpoints PatchGit's GitHub forge calls, with the status codes and
// error bodies GitHub documents (https://docs.github.com/rest, API version
// 2022-11-28), and it is driven through the real go-github client. A head
// branch exists when `git ls-remote` finds it in the repository's bare git
// directory, as GitHub would find it in the pushed repository.
package githubfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is the fake. Its fields are guarded by mu; use the methods.
type Server struct {
	*httptest.Server
	mu sync.Mutex
	// tokens: token -> may write (false: read-only, as a fine-grained token
	// with Pull requests: read).
	tokens map[string]bool
	repos  map[string]*repo // "owner/name"
	// lagLists makes the next n list calls miss PRs created in the last
	// minute: GitHub's lists are eventually consistent.
	lagLists int
	requests []string // "METHOD path" of every request
}

type repo struct {
	bare   string
	pulls  []*PR
	labels map[string]bool
}

// PR is a pull request as the fake stores it.
type PR struct {
	Number    int
	Title     string
	Body      string
	Head      string
	Base      string
	State     string // open, closed
	Draft     bool
	Merged    bool
	Labels    []string
	Created   time.Time
	Updated   time.Time
	Mergeable bool
}

// New starts the fake on loopback.
func New() *Server {
	s := &Server{tokens: map[string]bool{}, repos: map[string]*repo{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// AddToken allows a token; write false makes it read-only.
func (s *Server) AddToken(token string, write bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = write
}

// AddRepo serves owner/name backed by a bare git repository.
func (s *Server) AddRepo(slug, bare string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[slug] = &repo{bare: bare, labels: map[string]bool{}}
}

// LagLists makes the next n list calls miss PRs created in the last minute.
func (s *Server) LagLists(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lagLists = n
}

// Pulls returns copies of a repository's PRs.
func (s *Server) Pulls(slug string) []PR {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PR
	for _, p := range s.repos[slug].pulls {
		out = append(out, *p)
	}
	return out
}

// SetMergeable marks whether a PR can be merged.
func (s *Server) SetMergeable(slug string, number int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[slug].pulls[number-1].Mergeable = ok
}

// Requests returns "METHOD path?query" of every request so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

var (
	pullsRE  = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/pulls$`)
	pullRE   = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/pulls/(\d+)$`)
	mergeRE  = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/pulls/(\d+)/merge$`)
	labelsRE = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues/(\d+)/labels$`)
)

const docs = "https://docs.github.com/rest"

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// errBody is GitHub's error document.
func errBody(status int, msg, doc string, errs ...map[string]string) map[string]any {
	b := map[string]any{"message": msg, "documentation_url": doc, "status": strconv.Itoa(status)}
	if len(errs) > 0 {
		b["errors"] = errs
	}
	return b
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(auth, "token ")
	}
	write, known := s.tokens[tok]
	if !ok || !known {
		writeJSON(w, http.StatusUnauthorized, errBody(401, "Bad credentials", docs))
		return
	}
	path := r.URL.Path
	var m []string
	for _, re := range []*regexp.Regexp{mergeRE, pullRE, pullsRE, labelsRE} {
		if m = re.FindStringSubmatch(path); m != nil {
			break
		}
	}
	if m == nil {
		writeJSON(w, http.StatusNotFound, errBody(404, "Not Found", docs))
		return
	}
	rp, found := s.repos[m[1]+"/"+m[2]]
	if !found {
		// GitHub answers 404, not 403, for a repository the token cannot see.
		writeJSON(w, http.StatusNotFound, errBody(404, "Not Found", docs))
		return
	}
	if r.Method != http.MethodGet && !write {
		w.Header().Set("X-Accepted-GitHub-Permissions", "pull_requests=write")
		writeJSON(w, http.StatusForbidden, errBody(403, "Resource not accessible by personal access token", docs+"/pulls/pulls"))
		return
	}
	owner := m[1]
	var pr *PR
	if len(m) > 3 {
		n, _ := strconv.Atoi(m[3])
		if n < 1 || n > len(rp.pulls) {
			writeJSON(w, http.StatusNotFound, errBody(404, "Not Found", docs))
			return
		}
		pr = rp.pulls[n-1]
	}
	switch {
	case pullsRE.MatchString(path) && r.Method == http.MethodGet:
		s.list(w, r, owner, m[2], rp)
	case pullsRE.MatchString(path) && r.Method == http.MethodPost:
		s.create(w, r, owner, m[2], rp)
	case pullRE.MatchString(path) && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, pullJSON(s.URL, owner, m[2], pr))
	case pullRE.MatchString(path) && r.Method == http.MethodPatch:
		s.edit(w, r, owner, m[2], pr)
	case mergeRE.MatchString(path) && r.Method == http.MethodPut:
		s.merge(w, pr)
	case labelsRE.MatchString(path) && r.Method == http.MethodPost:
		s.addLabels(w, r, rp, pr)
	default:
		writeJSON(w, http.StatusNotFound, errBody(404, "Not Found", docs))
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, owner, name string, rp *repo) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	lag := s.lagLists > 0
	if lag {
		s.lagLists--
	}
	var out []map[string]any
	for _, p := range rp.pulls {
		if state != "all" && p.State != state {
			continue
		}
		if h := q.Get("head"); h != "" && h != owner+":"+p.Head {
			continue
		}
		if lag && time.Since(p.Created) < time.Minute {
			continue
		}
		out = append(out, pullJSON(s.URL, owner, name, p))
	}
	if q.Get("direction") == "desc" {
		slices.Reverse(out)
	}
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, owner, name string, rp *repo) {
	var in struct {
		Title *string `json:"title"`
		Head  string  `json:"head"`
		Base  string  `json:"base"`
		Body  *string `json:"body"`
		Draft *bool   `json:"draft"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody(400, "Problems parsing JSON", docs))
		return
	}
	invalid := func(field, code string) {
		writeJSON(w, http.StatusUnprocessableEntity, errBody(422, "Validation Failed", docs+"/pulls/pulls#create-a-pull-request",
			map[string]string{"resource": "PullRequest", "field": field, "code": code}))
	}
	head := strings.TrimPrefix(in.Head, owner+":")
	switch {
	case in.Title == nil || *in.Title == "":
		invalid("title", "missing_field")
		return
	case !s.branchExists(rp.bare, head):
		invalid("head", "invalid")
		return
	case !s.branchExists(rp.bare, in.Base):
		invalid("base", "invalid")
		return
	}
	for _, p := range rp.pulls {
		if p.State == "open" && p.Head == head && p.Base == in.Base {
			writeJSON(w, http.StatusUnprocessableEntity, errBody(422, "Validation Failed", docs+"/pulls/pulls#create-a-pull-request",
				map[string]string{"resource": "PullRequest", "code": "custom",
					"message": fmt.Sprintf("A pull request already exists for %s:%s.", owner, head)}))
			return
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	p := &PR{Number: len(rp.pulls) + 1, Title: *in.Title, Head: head, Base: in.Base, State: "open",
		Created: now, Updated: now, Mergeable: true}
	if in.Body != nil {
		p.Body = *in.Body
	}
	if in.Draft != nil {
		p.Draft = *in.Draft
	}
	rp.pulls = append(rp.pulls, p)
	w.Header().Set("Location", fmt.Sprintf("%s/repos/%s/%s/pulls/%d", s.URL, owner, name, p.Number))
	writeJSON(w, http.StatusCreated, pullJSON(s.URL, owner, name, p))
}

func (s *Server) edit(w http.ResponseWriter, r *http.Request, owner, name string, p *PR) {
	var in struct {
		Title *string `json:"title"`
		Body  *string `json:"body"`
		State *string `json:"state"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody(400, "Problems parsing JSON", docs))
		return
	}
	if in.State != nil && *in.State != "open" && *in.State != "closed" {
		writeJSON(w, http.StatusUnprocessableEntity, errBody(422, "Validation Failed", docs,
			map[string]string{"resource": "PullRequest", "field": "state", "code": "invalid"}))
		return
	}
	if in.Title != nil {
		p.Title = *in.Title
	}
	if in.Body != nil {
		p.Body = *in.Body
	}
	if in.State != nil && !p.Merged {
		p.State = *in.State
	}
	p.Updated = time.Now().UTC().Truncate(time.Second)
	writeJSON(w, http.StatusOK, pullJSON(s.URL, owner, name, p))
}

func (s *Server) merge(w http.ResponseWriter, p *PR) {
	if p.State != "open" || !p.Mergeable || p.Draft {
		writeJSON(w, http.StatusMethodNotAllowed, errBody(405, "Pull Request is not mergeable", docs+"/pulls/pulls#merge-a-pull-request"))
		return
	}
	p.Merged, p.State = true, "closed"
	writeJSON(w, http.StatusOK, map[string]any{"sha": strings.Repeat("ab", 20), "merged": true, "message": "Pull Request successfully merged"})
}

func (s *Server) addLabels(w http.ResponseWriter, r *http.Request, rp *repo, p *PR) {
	// The body is a JSON array of names or {"labels": [...]}.
	var names []string
	var raw json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody(400, "Problems parsing JSON", docs))
		return
	}
	if err := json.Unmarshal(raw, &names); err != nil {
		var obj struct{ Labels []string }
		if err := json.Unmarshal(raw, &obj); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, errBody(422, "Invalid request.", docs))
			return
		}
		names = obj.Labels
	}
	for _, n := range names {
		rp.labels[n] = true // GitHub creates a missing label
		if !slices.Contains(p.Labels, n) {
			p.Labels = append(p.Labels, n)
		}
	}
	writeJSON(w, http.StatusOK, labelsJSON(p.Labels))
}

func labelsJSON(names []string) []map[string]any {
	out := []map[string]any{}
	for i, n := range names {
		out = append(out, map[string]any{"id": i + 1, "name": n, "color": "ededed", "default": false})
	}
	return out
}

func (s *Server) branchExists(bare, branch string) bool {
	if branch == "" || strings.HasPrefix(branch, "-") {
		return false
	}
	out, err := exec.Command("git", "--git-dir", bare, "ls-remote", "--heads", bare, "refs/heads/"+branch).Output()
	return err == nil && strings.Contains(string(out), "refs/heads/"+branch)
}

func pullJSON(api, owner, name string, p *PR) map[string]any {
	html := fmt.Sprintf("%s/%s/%s/pull/%d", strings.Replace(api, "127.0.0.1", "localhost", 1), owner, name, p.Number)
	m := map[string]any{
		"id": 1000 + p.Number, "number": p.Number, "state": p.State, "title": p.Title, "body": p.Body,
		"draft": p.Draft, "merged": p.Merged, "html_url": html,
		"url":        fmt.Sprintf("%s/repos/%s/%s/pulls/%d", api, owner, name, p.Number),
		"created_at": p.Created.Format(time.RFC3339), "updated_at": p.Updated.Format(time.RFC3339),
		"head":   map[string]any{"ref": p.Head, "label": owner + ":" + p.Head},
		"base":   map[string]any{"ref": p.Base, "label": owner + ":" + p.Base},
		"labels": labelsJSON(p.Labels),
	}
	if p.Merged {
		m["merged_at"] = p.Updated.Format(time.RFC3339)
	}
	return m
}
