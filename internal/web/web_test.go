package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/core"
)

var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'",
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "no-referrer",
	"X-Frame-Options":         "DENY",
}

func checkHeaders(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	for h, want := range securityHeaders {
		if got := resp.Header.Get(h); !strings.Contains(got, want) {
			t.Errorf("%s: %s = %q, want %q", what, h, got, want)
		}
	}
}

// Every method but GET and HEAD gets 405 on every path, signed in or not,
// known path or not; POST only passes on /login and /logout.
func TestEveryWritingMethodIsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.propose(howdy(t))
	signedIn := e.client()
	e.signIn(signedIn)
	paths := []string{"/", "/proposals/" + p.ID, "/jobs", "/budget", "/audit", "/prs/local/demo/1", "/events", "/api/proposals",
		"/api/proposals/" + p.ID, "/api/jobs", "/api/budget", "/api/audit", "/static/app.css", "/no/such/path", "/login", "/logout"}
	methods := []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"}
	for _, c := range []*http.Client{e.client(), signedIn} {
		for _, path := range paths {
			for _, m := range methods {
				if m == "POST" && (path == "/login" || path == "/logout") {
					continue
				}
				resp, body := e.do(c, m, path, strings.NewReader("pin="+testPIN))
				if resp.StatusCode != http.StatusMethodNotAllowed {
					t.Errorf("%s %s: %d, want 405", m, path, resp.StatusCode)
				}
				if !strings.HasPrefix(resp.Header.Get("Allow"), "GET, HEAD") || !strings.Contains(body, "read-only") {
					t.Errorf("%s %s: Allow %q, body %q", m, path, resp.Header.Get("Allow"), body)
				}
				checkHeaders(t, m+" "+path, resp)
			}
		}
	}
	// Nothing changed: the proposal is as it was.
	if got, _ := e.core.Proposal(context.Background(), p.ID); got.State != p.State || len(got.Revisions) != 1 {
		t.Fatalf("proposal changed: %s, %d revisions", got.State, len(got.Revisions))
	}
}

func TestSignedOutRequestsGoToLogin(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	for _, path := range []string{"/", "/jobs", "/budget", "/audit?kind=job.", "/proposals/x", "/events", "/nowhere"} {
		resp, _ := e.do(c, "GET", path, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape(path) {
			t.Errorf("GET %s: %d to %q", path, resp.StatusCode, resp.Header.Get("Location"))
		}
		checkHeaders(t, path, resp)
	}
	for _, path := range []string{"/api/proposals", "/api/jobs", "/api/budget", "/api/audit"} {
		resp, body := e.do(c, "GET", path, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
	// A forged cookie is no session.
	u, _ := url.Parse(e.base)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "patchgit_session", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}})
	if resp, _ := e.do(c, "GET", "/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("forged cookie: %d", resp.StatusCode)
	}
	resp, body := e.do(c, "GET", "/login", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="pin"`) {
		t.Fatalf("login page: %d", resp.StatusCode)
	}
	checkHeaders(t, "/login", resp)
}

func TestPINSignInSessionAndLogout(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	resp, body := e.form(c, "/login", "pin=000000&next=%2Fjobs")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "wrong PIN") || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong PIN: %d cookies %v\n%s", resp.StatusCode, resp.Cookies(), body)
	}
	resp, body = e.form(c, "/login", "pin=")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "type the PIN") {
		t.Fatalf("empty PIN: %d", resp.StatusCode)
	}
	resp, _ = e.form(c, "/login", "pin="+testPIN+"&next=%2Fjobs")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/jobs" {
		t.Fatalf("right PIN: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	raw := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"patchgit_session=", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="} {
		if !strings.Contains(raw, want) {
			t.Errorf("cookie %q lacks %s", raw, want)
		}
	}
	if strings.Contains(raw, "Secure") {
		t.Errorf("plain http cookie marked Secure (the browser would drop it): %q", raw)
	}
	if resp, body := e.do(c, "GET", "/jobs", nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "<h1>Jobs") {
		t.Fatalf("jobs after sign-in: %d", resp.StatusCode)
	}
	if e.gate.remotes[0][:10] != "127.0.0.1:" {
		t.Fatalf("the gate got remote %q, want the TCP peer", e.gate.remotes[0])
	}
	resp, _ = e.form(c, "/logout", "")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
	if resp, _ := e.do(c, "GET", "/jobs", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout: %d", resp.StatusCode)
	}
}

// While the gate is locked, even the right PIN is refused with 429.
func TestLockedGateRefusesWith429(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	for i := range 3 {
		if resp, _ := e.form(c, "/login", "pin=11111"+string(rune('0'+i))); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong PIN %d: %d", i, resp.StatusCode)
		}
	}
	resp, body := e.form(c, "/login", "pin="+testPIN)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "locked") {
		t.Fatalf("locked: %d %q\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if len(resp.Cookies()) != 0 {
		t.Fatal("a session while locked")
	}
}

func TestCrossSiteSignInIsRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	resp, _ := e.do(e.client(), "POST", "/login", strings.NewReader("pin="+testPIN),
		"Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Fatalf("cross-site sign-in: %d", resp.StatusCode)
	}
}

// Behind a TLS proxy (https public_url) the cookie is __Host-, Secure.
func TestCookieBehindTLS(t *testing.T) {
	e := newEnv(t, envOptions{publicURL: "https://patchgit.example.com"})
	c := e.client()
	resp, _ := e.form(c, "/login", "pin="+testPIN)
	raw := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-patchgit_session=", "Secure", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(raw, want) {
			t.Errorf("cookie %q lacks %s", raw, want)
		}
	}
	if strings.Contains(raw, "Domain") {
		t.Errorf("__Host- cookie with a Domain: %q", raw)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS behind TLS")
	}
	l, err := e.core.WebLink(context.Background(), "alice")
	if err != nil || !strings.HasPrefix(l.URL, "https://patchgit.example.com/login?link=") {
		t.Fatalf("link %q: %v", l.URL, err)
	}
}

func TestOneTimeLinkWorksOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	l, err := e.core.WebLink(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(l.URL, e.base)
	token := path[strings.Index(path, "=")+1:]
	c := e.client()
	// Opening the link (as a chat preview would) does not use it.
	for range 2 {
		resp, body := e.do(c, "GET", path, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Continue as alice") {
			t.Fatalf("link page: %d\n%s", resp.StatusCode, body)
		}
	}
	resp, _ := e.form(c, "/login", "link="+token)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("use link: %d", resp.StatusCode)
	}
	if resp, _ := e.do(c, "GET", "/", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("after link: %d", resp.StatusCode)
	}
	other := e.client()
	resp, body := e.form(other, "/login", "link="+token)
	if resp.StatusCode != http.StatusGone || !strings.Contains(body, "unknown, used or expired") || len(resp.Cookies()) != 0 {
		t.Fatalf("second use: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := e.do(other, "GET", path, nil); resp.StatusCode != http.StatusGone {
		t.Fatalf("used link page: %d", resp.StatusCode)
	}
}

func TestNextStaysOnSite(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		resp, _ := e.form(e.client(), "/login", "pin="+testPIN+"&next="+url.QueryEscape(next))
		if resp.Header.Get("Location") != "/" {
			t.Errorf("next %q: redirected to %q", next, resp.Header.Get("Location"))
		}
	}
}

func TestProposalPageAndAPI(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.propose(howdy(t))
	if p.State != "proposed" {
		t.Fatalf("proposal %s: %s", p.State, p.Reason)
	}
	c := e.client()
	e.signIn(c)
	resp, body := e.do(c, "GET", "/proposals/"+p.ID, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("proposal page: %d", resp.StatusCode)
	}
	body = html.UnescapeString(body)
	for _, want := range []string{
		`id="state">proposed`,
		`<a href="#file-1-greet.go">greet.go</a>`, `id="file-1-greet.go"`, `id="file-2-greet_test.go"`,
		`<span class="l add">+	return "Howdy, " + name + "!"</span>`,
		`<span class="l del">-	return "Hello, " + name + "!"</span>`,
		`<span class="l hunk">@@`, `id="risk"`, "proposal.created",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("proposal page lacks %s", want)
		}
	}
	// Both scores with every reason the core stored, in order.
	rev := p.Current()
	if rev.Risk == nil || rev.Confidence == nil {
		t.Fatalf("the core stored no scores: %+v %+v", rev.Risk, rev.Confidence)
	}
	for id, s := range map[string]*core.Score{"risk": rev.Risk, "confidence": rev.Confidence} {
		want := fmt.Sprintf(`<b>%d</b><span class="of">/100</span>`, s.Value) + "\n    " + `<ul class="factors">`
		for _, f := range s.Factors {
			want += "<li>" + f + "</li>"
		}
		if section := between(body, `id="`+id+`">`, "</div>"); !strings.Contains(section, want+"</ul>") {
			t.Errorf("%s section\n%s\nlacks\n%s", id, section, want)
		}
	}
	if !strings.Contains(body, "<li>+10 changes files the checks depend on: greet_test.go</li>") {
		t.Error("the risk lacks the test file the change touches")
	}
	if strings.Contains(body, testPIN) {
		t.Fatal("the PIN is on the page")
	}
	resp, body = e.do(c, "GET", "/?state=proposed&repo=demo", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "/proposals/"+p.ID) {
		t.Fatalf("filtered list lacks the proposal: %d", resp.StatusCode)
	}
	if _, body := e.do(c, "GET", "/?state=published", nil); strings.Contains(body, "/proposals/"+p.ID) {
		t.Fatal("the state filter shows a proposed proposal under published")
	}
	_, body = e.do(c, "GET", "/api/proposals/"+p.ID, nil)
	var got struct {
		Proposal struct {
			ID        string
			State     string
			Revisions []struct{ Diff string }
		}
		Audit []struct{ Kind string }
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("api: %v\n%s", err, body)
	}
	if got.Proposal.ID != p.ID || got.Proposal.State != "proposed" || !strings.Contains(got.Proposal.Revisions[0].Diff, "+\treturn \"Howdy, ") || len(got.Audit) == 0 {
		t.Fatalf("api proposal: %+v", got)
	}
	_, body = e.do(c, "GET", "/api/audit?kind=job.", nil)
	if !strings.Contains(body, `"ok": true`) || !strings.Contains(body, `"kind": "job.`) || strings.Contains(body, `"kind": "proposal.`) {
		t.Fatalf("api audit filter:\n%s", body)
	}
	_, body = e.do(c, "GET", "/api/jobs", nil)
	if !strings.Contains(body, `"recent"`) || strings.Contains(body, `"error"`) {
		t.Fatalf("api jobs:\n%s", body)
	}
	resp, _ = e.do(c, "GET", "/proposals/nope", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown proposal: %d", resp.StatusCode)
	}
}

// The event stream tells a signed-in page that something changed, and
// leaves chat traffic out.
func TestEventsStreamChanges(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.client()
	e.signIn(c)
	c.Timeout = 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/events", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// Wait for the stream to be open before changing anything.
	if l := <-lines; l != "retry: 2000" {
		t.Fatalf("first line %q", l)
	}
	conv, err := e.core.StartConversation(context.Background(), "alice", "demo", "Chat")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.core.Send(context.Background(), "alice", conv.ID, "hello there"); err != nil {
		t.Fatal(err)
	}
	p, err := e.core.Propose(context.Background(), "alice", "demo", makeDiff(t, e.bare, howdy(t)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(time.Minute)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream ended")
			}
			if strings.Contains(l, `"kind":"message"`) || strings.Contains(l, `"kind":"conversation"`) {
				t.Fatalf("chat traffic on the stream: %s", l)
			}
			if l == `data: {"kind":"proposal","id":"`+p.ID+`"}` {
				return
			}
		case <-deadline:
			t.Fatal("no proposal event")
		}
	}
}

// between is the text of s after the first start, up to the next end.
func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	before, _, _ := strings.Cut(after, end)
	return before
}

// A repository operation's proposal page shows the command and its output.
func TestProposalPageShowsTheOperation(t *testing.T) {
	e := newEnv(t, envOptions{})
	cv, err := e.core.StartConversation(context.Background(), "alice", "demo", "ops")
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.core.Send(context.Background(), "alice", cv.ID, "/run hey")
	if err != nil || m.ProposalID == "" {
		t.Fatalf("send: %+v %v", m, err)
	}
	var p core.Proposal
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if p, err = e.core.Proposal(context.Background(), m.ProposalID); err != nil {
			t.Fatal(err)
		}
		if p.State == core.StateProposed || p.Reason != "" || time.Now().After(deadline) {
			break
		}
	}
	if p.State != core.StateProposed {
		t.Fatalf("proposal %s: %s", p.State, p.Reason)
	}
	c := e.client()
	e.signIn(c)
	_, body := e.do(c, "GET", "/proposals/"+p.ID, nil)
	body = html.UnescapeString(body)
	section := between(body, `id="operation">`, "</section>")
	for _, want := range []string{"<code>/run hey</code> ran <code>sed -i 's/Hello, /Hey, /' greet.go && echo rewrote greet.go</code>",
		"exit 0", `<pre class="output">rewrote greet.go`} {
		if !strings.Contains(section, want) {
			t.Errorf("operation section lacks %q:\n%s", want, section)
		}
	}
	if !strings.Contains(body, `<span class="l add">+	return "Hey, " + name + "!"</span>`) {
		t.Error("the page lacks the operation's diff")
	}
}
