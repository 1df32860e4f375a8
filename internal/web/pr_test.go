package web_test

import (
	"context"
	"html"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/core"
)

// publish presses GO on p's first revision and waits for the PR.
func (e *env) publish(p core.Proposal) core.Proposal {
	e.t.Helper()
	if _, err := e.core.Go(context.Background(), "alice", p.ID, 1); err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, err := e.core.Proposal(context.Background(), p.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		if got.State == core.StatePublished && got.PR != nil {
			return got
		}
		if got.State == core.StateFailed || time.Now().After(deadline) {
			e.t.Fatalf("proposal not published: %s %s", got.State, got.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A local-forge PR has a read-only page on the mirror: title, body,
// branch, head sha, state and the diff read from the bare repository; the
// proposal page links it.
func TestLocalPRPage(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.publish(e.propose(howdy(t)))
	c := e.client()
	e.signIn(c)

	_, body := e.do(c, "GET", "/proposals/"+p.ID, nil)
	body = html.UnescapeString(body)
	path := "/prs/local/demo/1"
	if p.PR.Number != 1 || !strings.Contains(body, `href="`+path+`" id="pr-link"`) {
		t.Fatalf("proposal page lacks the PR link %s (PR %+v):\n%s", path, p.PR, between(body, `id="pr"`, "</p>"))
	}
	resp, body := e.do(c, "GET", path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PR page: %d\n%s", resp.StatusCode, body)
	}
	body = html.UnescapeString(body)
	head, err := e.core.PRs(context.Background(), "demo")
	if err != nil || len(head) != 1 {
		t.Fatalf("prs: %v %v", head, err)
	}
	pr := head[0]
	sha := gitOut(t, e.bare, "rev-parse", "refs/heads/"+pr.Head)
	for _, want := range []string{pr.Title, `id="pr-state">open<`, `id="pr-head">` + pr.Head + "<", `id="pr-sha">` + sha + "<",
		"+\treturn \"Howdy, ", "greet.go", "greet_test.go"} {
		if !strings.Contains(body, want) {
			t.Errorf("PR page lacks %q", want)
		}
	}
	if firstLine := strings.SplitN(pr.Body, "\n", 2)[0]; pr.Body == "" || !strings.Contains(body, firstLine) {
		t.Errorf("PR page lacks the body's first line %q", firstLine)
	}
	for _, bad := range []string{"/prs/local/demo/2", "/prs/local/demo/x", "/prs/local/nope/1"} {
		if resp, _ := e.do(c, "GET", bad, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", bad, resp.StatusCode)
		}
	}
	// Signed out, the page is behind the sign-in like every other.
	if resp, _ := e.do(e.client(), "GET", path, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("signed out: %d", resp.StatusCode)
	}
}

func gitOut(t *testing.T, gitDir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"--git-dir=" + gitDir}, args...)...).Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}
