package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/demo"
	"github.com/patchgit/patchgit/internal/forge"
	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/pin"
	"github.com/patchgit/patchgit/internal/sandbox"
	"github.com/patchgit/patchgit/internal/store"
	"github.com/patchgit/patchgit/internal/web"
	"github.com/patchgit/patchgit/internal/websession"
)

const testPIN = "480913"

// env is the mirror over a real core: bbolt, the audit log, git, the
// sandbox, the local forge and the seeded demo repository; it listens on a
// real loopback port.
type env struct {
	t        testing.TB
	dir      string
	bare     string
	db       *store.DB
	audit    *audit.Log
	core     *core.Core
	sessions *websession.Store
	gate     *lockingGate
	srv      *web.Server
	base     string
	logs     *syncBuffer
	ledger   *budget.Ledger // nil unless envOptions.caps is set
}

type envOptions struct {
	publicURL string
	caps      *budget.Caps // when set, core keeps a real budget ledger with these caps
	// localHourly prices the local helper (the sandbox), so drafts are
	// metered against caps; 0 leaves it free.
	localHourly budget.Micros
}

func newEnv(t testing.TB, opt envOptions) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), logs: &syncBuffer{}}
	e.bare = filepath.Join(e.dir, "repos", "demo.git")
	ctx := context.Background()
	g := gitops.New()
	if _, err := demo.Seed(ctx, g, e.bare); err != nil {
		t.Fatalf("seed demo: %v", err)
	}
	db, err := store.Open(filepath.Join(e.dir, "patchgit.db"), store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
	e.audit = audit.New(db, filepath.Join(e.dir, "audit.head"))
	hash, err := pin.Hash(testPIN)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return pin.Save(tx, hash) }); err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(filepath.Join(e.dir, "sandbox"), g)
	if err != nil {
		t.Fatal(err)
	}
	e.sessions = websession.New(db, websession.Options{})
	if opt.caps != nil {
		e.ledger = budget.NewLedger(db, *opt.caps, nil, nil)
	}
	prices := budget.DefaultPrices()
	prices.Local = budget.NewHelperPrice(budget.LocalHelperSize, opt.localHourly, 0)
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.core, err = core.New(core.Options{
		DB: db, Audit: e.audit, Git: g, Sandbox: sb,
		Forges: map[string]forge.Forge{"local": forge.NewLocal(db, g, map[string]string{"demo": e.bare})},
		Repos: []core.RepoSpec{{
			Repo: core.Repo{Name: "demo", BaseBranch: "main", Forge: "local", Checks: []string{`test -z "$(gofmt -l .)"`},
				Operations: map[string]string{"hey": "sed -i 's/Hello, /Hey, /' greet.go && echo rewrote greet.go"}},
			URL:       e.bare,
			MirrorDir: filepath.Join(e.dir, "mirrors", "demo.git"),
		}},
		Author:       core.Author{Name: "PatchGit Test", Email: "test@patchgit.local"},
		Limits:       sandbox.Limits{MaxPatchBytes: 1 << 20, MaxFiles: 50, MaxLines: 5000},
		CheckTimeout: time.Minute,
		Logger:       log,
		WebLinks:     e.sessions,
		Budget:       e.ledger,
		Prices:       prices,
		MeterSlice:   time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.core.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.gate = &lockingGate{db: db, limit: 3}
	e.srv, err = web.New(web.Options{Service: e.core, Sessions: e.sessions, PIN: e.gate, Locked: errLocked,
		PublicURL: opt.publicURL, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ln) }()
	for i := 0; ; i++ { // ready once it answers (and knows its base URL)
		if resp, err := http.Get(e.base + "/login"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 500 {
			t.Fatal("the mirror does not answer")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		e.core.Shutdown(sctx)
		db.Close()
		if strings.Contains(e.logs.String(), testPIN) {
			t.Errorf("the PIN reached the log:\n%s", e.logs.String())
		}
	})
	return e
}

// errLocked stands in for gate.ErrLocked.
var errLocked = errors.New("pin gate locked")

// lockingGate is a stand-in for internal/gate (built on another branch,
// merged later): it checks the real argon2id PIN and locks after limit
// consecutive failures, as the gate's contract says, so the mirror's
// handling of a lockout can be tested before the gate lands.
type lockingGate struct {
	db    *store.DB
	limit int

	mu       sync.Mutex
	failures int
	remotes  []string
}

func (g *lockingGate) CheckPIN(_ context.Context, remote net.Addr, guess string) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.remotes = append(g.remotes, remote.String())
	if g.failures >= g.limit {
		return false, fmt.Errorf("check pin: %w", errLocked)
	}
	encoded, _, err := pin.Load(g.db)
	if err != nil {
		return false, err
	}
	ok, err := pin.Verify(encoded, guess)
	if err != nil {
		return false, err
	}
	if ok {
		g.failures = 0
	} else {
		g.failures++
	}
	return ok, nil
}

// client is a browser-like HTTP client: a cookie jar, no redirects
// followed, so tests see each answer.
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *env) do(c *http.Client, method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (e *env) form(c *http.Client, path, body string) (*http.Response, string) {
	return e.do(c, http.MethodPost, path, strings.NewReader(body), "Content-Type", "application/x-www-form-urlencoded")
}

// signIn logs c in with the PIN.
func (e *env) signIn(c *http.Client) {
	e.t.Helper()
	resp, body := e.form(c, "/login", "pin="+testPIN)
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in: %d\n%s", resp.StatusCode, body)
	}
}

// propose makes a real proposal and waits until its draft job settles.
func (e *env) propose(edit func(dir string)) core.Proposal {
	e.t.Helper()
	p, err := e.core.Propose(context.Background(), "alice", "demo", makeDiff(e.t, e.bare, edit))
	if err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, err := e.core.Proposal(context.Background(), p.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		if got.State == core.StateProposed || got.Reason != "" {
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("proposal stuck in %s", got.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// makeDiff clones the repository, lets edit change the clone and returns
// `git diff` of the result: a real patch against main.
func makeDiff(t testing.TB, bare string, edit func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	if out, err := exec.Command("git", "clone", "-q", bare, dir).CombinedOutput(); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	edit(dir)
	if out, err := exec.Command("git", "-C", dir, "add", "-A").CombinedOutput(); err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	out, err := exec.Command("git", "-C", dir, "diff", "--cached").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// howdy changes the greeting in two files.
func howdy(t *testing.T) func(dir string) {
	return func(dir string) {
		for _, f := range []string{"greet.go", "greet_test.go"} {
			p := filepath.Join(dir, f)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "Hello", "Howdy")), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
