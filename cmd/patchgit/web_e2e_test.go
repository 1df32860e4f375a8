package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var webListenRE = regexp.MustCompile(`web mirror listening"? addr=\S+ url=(\S+)`)

// webURL waits for the daemon's web mirror to log its address.
func (d *daemon) webURL() string {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := webListenRE.FindStringSubmatch(d.logs.String()); m != nil {
			return strings.Trim(m[1], `"`)
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("the web mirror did not listen:\n%s", d.logs.String())
	return ""
}

// The web mirror in a real chromium against the real daemon: the proposal
// comes from the SSH app in tmux, GO is pressed there, the page follows
// live; a one-time link from ctrl+o works once; writing methods get 405.
func TestE2EWebMirrorInBrowser(t *testing.T) {
	requireTools(t, "tmux", "ssh", "git", "chromium")
	data := t.TempDir()
	// Helper time is priced, so the run after GO is metered and the budget
	// page has a real spend to show.
	d := startDaemon(t, data, "PATCHGIT_PIN="+testPIN, "PATCHGIT_BUDGET_LOCAL_HELPER_HOURLY=$0.50")
	base := d.webURL()
	bare := filepath.Join(data, "repos", "demo.git")
	b := browser(t)

	// Signed out: sent to the login page, which remembers the way back.
	within(t, b, 30*time.Second, chromedp.Navigate(base+"/jobs"), chromedp.WaitVisible(chromedp.ID("pin")))
	if loc := eval[string](t, b, "location.pathname + location.search"); loc != "/login?next=%2Fjobs" {
		t.Fatalf("signed out /jobs went to %s", loc)
	}
	shots(t, b, "login")

	// A wrong PIN is refused.
	within(t, b, 30*time.Second, chromedp.SendKeys(chromedp.ID("pin"), "000000"), chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("problem")))
	if got := eval[string](t, b, `document.getElementById("problem").textContent`); !strings.Contains(got, "wrong PIN") {
		t.Fatalf("wrong PIN says %q", got)
	}
	// The right one signs in and goes where the person was going.
	within(t, b, 30*time.Second, chromedp.SendKeys(chromedp.ID("pin"), testPIN), chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.CSS(".tabs a[aria-current=page][href='/jobs']")))

	// A proposal made in the SSH app.
	x := newTmux(t, "web", 220, 50, sshCommand(d.port, "alice", "-t")...)
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	x.waitFor(`Proposed Execution`, 30*time.Second)
	x.paste(demoDiff(t, bare, howdy(t)))
	x.waitFor(`Howdy`, 10*time.Second)
	x.keys("Enter")
	x.waitFor(`proposed\s+revision 1`, 3*time.Minute)

	within(t, b, 30*time.Second, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("td.title a")))
	shots(t, b, "proposals")
	within(t, b, 30*time.Second, chromedp.Click(chromedp.CSS("td.title a")), chromedp.WaitVisible(chromedp.ID("state")))
	if st := eval[string](t, b, `document.getElementById("state").textContent`); st != "proposed" {
		t.Fatalf("state %q", st)
	}
	for sel, want := range map[string]string{
		".l.add":         `+	return "Howdy, " + name + "!"`,
		".l.del":         `-	return "Hello, " + name + "!"`,
		"#risk h2":       "Risk",
		"#risk li":       "+10 changes files the checks depend on: greet_test.go",
		"#confidence li": "+25 a person wrote the change (pasted-diff): it is its own plan",
	} {
		got := eval[[]string](t, b, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.textContent)`, sel))
		if !strings.Contains(strings.Join(got, "\n"), want) {
			t.Errorf("%s shows %q, want %q", sel, got, want)
		}
	}
	shots(t, b, "proposal")

	// Follow a file anchor: the file's block comes into view.
	within(t, b, 30*time.Second, chromedp.Click(chromedp.CSS(`#files a[href="#file-2-greet_test.go"]`)))
	if top := eval[float64](t, b, `document.getElementById("file-2-greet_test.go").getBoundingClientRect().top`); top < 0 || top > 200 {
		t.Fatalf("after the anchor the file is at %.0fpx from the top", top)
	}
	if hash := eval[string](t, b, "location.hash"); hash != "#file-2-greet_test.go" {
		t.Fatalf("hash %q", hash)
	}
	shots(t, b, "proposal-diff")

	// GO in the terminal; the open page follows without reloading and
	// keeps its scroll position.
	eval[bool](t, b, `window.__sameDocument = true`)
	scrollY := eval[float64](t, b, "window.scrollY")
	x.keys("C-g")
	x.waitFor(`y/n`, 10*time.Second)
	x.keys("y")
	within(t, b, 3*time.Minute+10*time.Second, chromedp.Poll[chromedp.Void](
		`document.getElementById("state") && document.getElementById("state").textContent === "published"`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(3*time.Minute)))
	if same := eval[bool](t, b, `window.__sameDocument === true`); !same {
		t.Fatal("the page reloaded")
	}
	if y := eval[float64](t, b, "window.scrollY"); y != scrollY {
		t.Errorf("scroll moved from %.0f to %.0f", scrollY, y)
	}
	if pr := eval[string](t, b, `document.getElementById("pr").textContent`); !strings.Contains(pr, "Pull request #1") {
		t.Fatalf("PR line %q", pr)
	}
	// The local forge's PR is a page on the mirror: click through to it.
	within(t, b, 30*time.Second, chromedp.Click(chromedp.ID("pr-link")), chromedp.WaitVisible(chromedp.ID("pr-sha")))
	if path := eval[string](t, b, "location.pathname"); path != "/prs/local/demo/1" {
		t.Fatalf("PR link went to %q", path)
	}
	if diff := eval[string](t, b, `document.querySelector(".diff-card").textContent`); !strings.Contains(diff, "greet.go") {
		t.Fatalf("PR page diff: %q", diff)
	}
	if st := eval[string](t, b, `document.getElementById("pr-state").textContent`); st != "open" {
		t.Fatalf("PR state %q", st)
	}
	within(t, b, 30*time.Second, chromedp.Navigate(base+"/jobs"), chromedp.WaitVisible(chromedp.CSS(".j-done")))
	shots(t, b, "jobs")
	within(t, b, 30*time.Second, chromedp.Navigate(base+"/audit"), chromedp.WaitVisible(chromedp.ID("chain")))
	if chain := eval[string](t, b, `document.getElementById("chain").textContent`); !strings.Contains(chain, "Hash chain verified") {
		t.Fatalf("audit chain: %q", chain)
	}
	shots(t, b, "audit")
	within(t, b, 30*time.Second, chromedp.Navigate(base+"/budget"), chromedp.WaitVisible(chromedp.ID("hour")))
	if recent := eval[string](t, b, `document.getElementById("recent").textContent`); !strings.Contains(recent, "helper") {
		t.Fatalf("the budget page shows no metered helper spend: %q", recent)
	}
	shots(t, b, "budget")

	// Writing methods are refused on every path, signed in.
	codes := eval[[]int](t, b, `Promise.all([].concat(...["/", "/jobs", "/api/proposals", "/audit", "/nowhere", "/login", "/logout"].map(p =>
		["POST", "PUT", "DELETE"].filter(m => !(m === "POST" && (p === "/login" || p === "/logout")))
		.map(m => fetch(p, {method: m, redirect: "manual"}).then(r => r.status)))))`)
	for i, c := range codes {
		if c != 405 {
			t.Errorf("request %d got %d, want 405 (all: %v)", i, c, codes)
		}
	}
	if len(codes) != 19 {
		t.Fatalf("%d requests answered, want 19", len(codes))
	}

	// Sign out, then in with a one-time link from ctrl+o in the app.
	within(t, b, 30*time.Second, chromedp.Click(chromedp.CSS("form[action='/logout'] button")), chromedp.WaitVisible(chromedp.ID("pin")))
	x.keys("C-o")
	screen := x.waitFor(`login\?link=[A-Za-z0-9_-]{43}`, 30*time.Second)
	link := regexp.MustCompile(`https?://\S+/login\?link=[A-Za-z0-9_-]{43}`).FindString(screen)
	if !strings.HasPrefix(link, base) {
		t.Fatalf("link %q is not on %s:\n%s", link, base, screen)
	}
	within(t, b, 30*time.Second, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("use-link")))
	shots(t, b, "login-link")
	within(t, b, 30*time.Second, chromedp.Click(chromedp.ID("use-link")), chromedp.WaitVisible(chromedp.CSS(".tabs")))
	if loc := eval[string](t, b, "location.pathname"); loc != "/" {
		t.Fatalf("after the link: %s", loc)
	}
	within(t, b, 30*time.Second, chromedp.Click(chromedp.CSS("form[action='/logout'] button")), chromedp.WaitVisible(chromedp.ID("pin")))
	within(t, b, 30*time.Second, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("problem")))
	if got := eval[string](t, b, `document.getElementById("problem").textContent`); !strings.Contains(got, "unknown, used or expired") {
		t.Fatalf("second use of the link says %q", got)
	}
	if eval[bool](t, b, `!!document.getElementById("use-link")`) {
		t.Fatal("a used link still offers to sign in")
	}

	if logs := d.logs.String(); strings.Contains(logs, testPIN) || strings.Contains(logs, link[strings.Index(link, "=")+1:]) {
		t.Fatalf("a PIN or a link token reached the daemon's log:\n%s", logs)
	}
}
