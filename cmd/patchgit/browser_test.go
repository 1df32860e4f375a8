package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts Debian's chromium, headless, with a fresh profile, and
// returns a tab's context. Under CI=true a missing chromium fails the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	requireTools(t, "chromium")
	path, _ := exec.LookPath("chromium")
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser now, without a timeout
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// within runs steps with a deadline that only guards against a hang.
func within(t *testing.T, ctx context.Context, d time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// Screen sizes for the screenshots.
var (
	desktop = [2]int64{1280, 860}
	phone   = [2]int64{390, 844}
)

// screenshot saves the viewport as a PNG in $PATCHGIT_SCREENSHOTS (the
// docs' screenshots are made with PATCHGIT_SCREENSHOTS=$PWD/docs/screenshots),
// or in a temporary directory.
func screenshot(t *testing.T, ctx context.Context, name string, size [2]int64) {
	t.Helper()
	dir := os.Getenv("PATCHGIT_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "patchgit-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var opts []chromedp.EmulateViewportOption
	if size == phone {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateScale(2))
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.EmulateViewport(size[0], size[1], opts...), chromedp.Sleep(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(tctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// shots saves name-desktop.png and name-phone.png of the current page,
// then goes back to the desktop size.
func shots(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	screenshot(t, ctx, name+"-desktop", desktop)
	screenshot(t, ctx, name+"-phone", phone)
	within(t, ctx, 30*time.Second, chromedp.EmulateViewport(desktop[0], desktop[1]))
}
