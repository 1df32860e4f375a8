package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/core"
)

func TestWriteDiffNeverOverwrites(t *testing.T) {
	svc, _ := proposedFixture(core.StateProposed)
	dir := t.TempDir()
	first := filepath.Join(dir, "patchgit-p1a2b3c4-r2.diff")
	if err := os.WriteFile(first, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tm := startApp(t, svc, Options{Local: &Local{Dir: dir}}, 140, 40)
	waitScreen(t, tm, "Friendlier greeting")
	tm.Send(press("tab"))
	waitScreen(t, tm, "w write diff")
	tm.Send(press("w"))
	second := filepath.Join(dir, "patchgit-p1a2b3c4-r2-1.diff")
	waitScreen(t, tm, "diff written to")
	if got, err := os.ReadFile(second); err != nil || string(got) != sampleDiff {
		t.Fatalf("%s: %v\n%s", second, err, got)
	}
	if got, _ := os.ReadFile(first); string(got) != "mine\n" {
		t.Fatalf("an existing file was overwritten: %q", got)
	}
	finalScreen(t, tm)
}

func TestLocalKeysOnlyWhenLocal(t *testing.T) {
	svc, _ := proposedFixture(core.StateProposed)
	dir := t.TempDir()
	tm := startApp(t, svc, Options{}, 140, 40) // as served over SSH
	waitScreen(t, tm, "Friendlier greeting")
	tm.Send(press("tab"))
	tm.Send(press("w"))
	tm.Send(press("c"))
	screen := finalScreen(t, tm)
	if strings.Contains(screen, "write diff") || strings.Contains(screen, "copy id") || strings.Contains(screen, "copied") {
		t.Fatalf("local actions offered inside the daemon's session:\n%s", screen)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files written: %v", entries)
	}
}

// The OSC 52 sequence itself is checked by the E2E test, through tmux.
func TestCopyIDSaysWhatWasCopied(t *testing.T) {
	svc, p := proposedFixture(core.StateProposed)
	tm := startApp(t, svc, Options{Local: &Local{Copy: true}}, 140, 40)
	waitScreen(t, tm, "Friendlier greeting")
	tm.Send(press("tab"))
	tm.Send(press("c"))
	waitScreen(t, tm, "copied proposal id "+p.ID)
	finalScreen(t, tm)
}

func TestConnectionNoticesShow(t *testing.T) {
	svc, _ := proposedFixture(core.StateProposed)
	tm := startApp(t, svc, Options{}, 140, 40)
	recv(t, svc.subbed, "Subscribe")
	waitScreen(t, tm, "Friendlier greeting")
	svc.emit(core.Event{Kind: core.EventNotice, Text: "connection to ada@droplet:2222 lost: reconnecting…"})
	waitScreen(t, tm, "lost: reconnecting")
	svc.emit(core.Event{Kind: core.EventResync, Text: "reconnected to ada@droplet:2222"})
	waitScreen(t, tm, "reconnected to ada@droplet:2222")
	finalScreen(t, tm)
}
