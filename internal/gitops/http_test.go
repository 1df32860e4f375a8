package gitops

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const (
	httpUser  = "patchgit"
	httpToken = "tok-7c1e3b9f0d2a4e65-SECRET"
)

// smartHTTP serves the bare repositories under root with `git
// http-backend` behind HTTP basic auth, on 127.0.0.1:0, and records every
// request URL (to prove credentials never travel in one).
type smartHTTP struct {
	*httptest.Server
	mu   sync.Mutex
	urls []string
	auth int // requests that carried correct credentials
}

func newSmartHTTP(t *testing.T, g *Git, root string) *smartHTTP {
	t.Helper()
	backend := &cgi.Handler{
		Path: g.Path(),
		Args: []string{"http-backend"},
		Env: []string{
			"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER=" + httpUser, // enables receive-pack (push)
			"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME=" + t.TempDir(),
		},
	}
	s := &smartHTTP{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.urls = append(s.urls, r.URL.String())
		s.mu.Unlock()
		user, pass, ok := r.BasicAuth()
		if !ok || user != httpUser || pass != httpToken {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		s.auth++
		s.mu.Unlock()
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestPushAndSyncWithCredentialsOverSmartHTTP(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // to see that askpass dirs are cleaned up
	ctx := context.Background()
	g := New()
	u := newUpstream(t, g, map[string]string{"greet.txt": "hi\n"})
	srv := newSmartHTTP(t, g, filepath.Dir(u.bare))
	remote := srv.URL + "/" + filepath.Base(u.bare)
	cred := &Credentials{Username: httpUser, Password: httpToken}
	mirror := filepath.Join(t.TempDir(), "m.git")

	var errs []error
	noToken := func(err error) {
		t.Helper()
		if err == nil {
			t.Fatal("expected an error")
		}
		errs = append(errs, err)
	}
	noToken(g.SyncMirror(ctx, remote, mirror))                                               // no credentials
	noToken(g.SyncMirrorAuth(ctx, remote, mirror, &Credentials{httpUser, "wrong-pass-123"})) // wrong ones
	if err := g.SyncMirrorAuth(ctx, remote, mirror, cred); err != nil {
		t.Fatalf("sync with credentials: %v", err)
	}
	if err := g.SyncMirrorAuth(ctx, remote, mirror, cred); err != nil { // the fetch path
		t.Fatalf("second sync: %v", err)
	}
	noToken(g.SyncMirror(ctx, "http://"+httpUser+":"+httpToken+"@"+strings.TrimPrefix(remote, "http://"), mirror))

	base, err := g.ResolveRef(ctx, mirror, "main")
	if err != nil {
		t.Fatal(err)
	}
	diff := []byte("diff --git a/greet.txt b/greet.txt\n--- a/greet.txt\n+++ b/greet.txt\n@@ -1 +1 @@\n-hi\n+hello\n")
	sha, err := g.CommitPatch(ctx, mirror, base, diff, testCommitInfo())
	if err != nil {
		t.Fatal(err)
	}
	noToken(g.Push(ctx, mirror, remote, sha, "patchgit/http", PushOpts{}))
	if err := g.Push(ctx, mirror, remote, sha, "patchgit/http", PushOpts{Credentials: cred}); err != nil {
		t.Fatalf("push with credentials: %v", err)
	}
	got, ok, err := g.RemoteBranchAuth(ctx, remote, "patchgit/http", cred)
	if err != nil || !ok || got != sha {
		t.Fatalf("remote branch = %q %v %v; want %s", got, ok, err, sha)
	}
	if local := git(t, g, "", "--git-dir="+u.bare, "rev-parse", "refs/heads/patchgit/http"); local != sha {
		t.Errorf("server repository has %s, want %s", local, sha)
	}
	_, _, err = g.RemoteBranch(ctx, remote, "main")
	noToken(err)

	for _, err := range errs {
		if strings.Contains(err.Error(), httpToken) || strings.Contains(err.Error(), "wrong-pass-123") {
			t.Errorf("error shows a secret: %v", err)
		}
	}
	assertNoSecretInTree(t, mirror, httpToken)
	if cfg, _ := os.ReadFile(filepath.Join(mirror, "config")); !bytes.Contains(cfg, []byte("url = "+remote+"\n")) {
		t.Errorf("mirror config should name the plain remote:\n%s", cfg)
	}
	for _, url := range srv.urls {
		if strings.Contains(url, httpToken) {
			t.Errorf("credentials travelled in a URL: %s", url)
		}
	}
	if srv.auth == 0 {
		t.Error("no request was authenticated")
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "patchgit-askpass-*")); len(left) != 0 {
		t.Errorf("askpass dirs left behind: %v", left)
	}
}

// assertNoSecretInTree reads every file under dir.
func assertNoSecretInTree(t *testing.T, dir, secret string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("%s contains the secret", path)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}
