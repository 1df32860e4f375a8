package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// startChromium runs Debian's chromium headless with a fresh profile.
// Under CI=true a missing chromium is a failure: .ci/run installs it.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed: .ci/run must install it")
		}
		t.Skip("chromium is not installed")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 860))
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// In a real browser: wrong PINs are refused, then the gate's lockout is
// shown, and even the right PIN does not get in while it lasts.
func TestBrowserWrongPINsThenLocked(t *testing.T) {
	e := newEnv(t, envOptions{})
	b := startChromium(t)
	ctx, cancel := context.WithTimeout(b, 2*time.Minute)
	defer cancel()
	problem := func(pin string) string {
		t.Helper()
		// A fresh login page has no problem line, so the wait below sees
		// the answer to this attempt, not the one before.
		if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/login?next=%2Faudit"), chromedp.WaitVisible(chromedp.ID("pin")),
			chromedp.SendKeys(chromedp.ID("pin"), pin), chromedp.Click(chromedp.ID("sign-in")),
			chromedp.WaitVisible(chromedp.ID("problem"))); err != nil {
			t.Fatal(err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("problem")))
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/audit"), chromedp.WaitVisible(chromedp.ID("pin"))); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if got := problem("99999" + string(rune('0'+i))); !strings.Contains(got, "wrong PIN") {
			t.Fatalf("wrong PIN %d says %q", i, got)
		}
	}
	if got := problem(testPIN); !strings.Contains(got, "locked") {
		t.Fatalf("while locked the right PIN says %q", got)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/login") {
		t.Fatalf("got in while locked: %s", loc)
	}
	if dir := os.Getenv("PATCHGIT_SCREENSHOTS"); dir != "" {
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "login-locked-desktop.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// In a real browser: the proposal page shows both scores with every reason
// the core stored, each score's card two columns wide so its reason lines
// stay readable, and no reason overflows its card.
func TestBrowserScoreReasons(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.propose(howdy(t))
	rev := p.Current()
	if rev.Risk == nil || rev.Confidence == nil {
		t.Fatalf("the core stored no scores: %+v", rev)
	}
	b := startChromium(t)
	ctx, cancel := context.WithTimeout(b, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/login?next=%2Fproposals%2F"+p.ID), chromedp.WaitVisible(chromedp.ID("pin")),
		chromedp.SendKeys(chromedp.ID("pin"), testPIN), chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("risk"))); err != nil {
		t.Fatal(err)
	}
	for id, s := range map[string][]string{"risk": rev.Risk.Factors, "confidence": rev.Confidence.Factors} {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#`+id+` li")].map(e => e.textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "\n") != strings.Join(s, "\n") {
			t.Errorf("#%s shows %q, want %q", id, got, s)
		}
		// Wider than a one-column card (the projected cost's), and nothing
		// sticks out.
		ratio, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById("`+id+`").offsetWidth / document.querySelectorAll(".fact")[2].offsetWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if ratio < 1.8 {
			t.Errorf("#%s is %.2f times a one-column card, want two columns", id, ratio)
		}
		over, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(e => e.scrollWidth > e.clientWidth)(document.getElementById("`+id+`"))`))
		if err != nil {
			t.Fatal(err)
		}
		if over {
			t.Errorf("#%s overflows its card", id)
		}
	}
	if dir := os.Getenv("PATCHGIT_SCREENSHOTS"); dir != "" {
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "proposal-scores-desktop.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
