package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSweepRemovesOnlyDeadWorkDirs(t *testing.T) {
	f := newGreetFixture(t)
	work := filepath.Join(f.root, "work")
	stale := filepath.Join(work, "run-stale")
	locked := filepath.Join(work, "run-live")
	for _, d := range []string{filepath.Join(stale, "repo", "ro"), locked} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(stale, "repo", "ro", "f"), []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(stale, "repo", "ro"), 0o555); err != nil { // as a check might leave it
		t.Fatal(err)
	}
	// A live Verify holds an flock on its work dir; imitate one.
	live, err := os.Open(locked)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if err := unix.Flock(int(live.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}

	if err := f.sb.Sweep(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale work dir survived: %v", err)
	}
	if _, err := os.Stat(locked); err != nil {
		t.Errorf("a live work dir was removed: %v", err)
	}
	live.Close()
	if err := f.sb.Sweep(); err != nil {
		t.Fatal(err)
	}
	f.assertNoWorkDirs(t)
}

// TestSweepRemovesCgroupsOfDeadProcesses: a check cgroup named after a
// pid that is gone is removed; one of a live pid stays.
func TestSweepRemovesCgroupsOfDeadProcesses(t *testing.T) {
	if !cgroupsHere() {
		t.Skip("no cgroup v1 pids and memory controllers here")
	}
	dead := exec.Command("/bin/true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("check-%d-1", dead.Process.Pid)
	live := fmt.Sprintf("check-%d-2", os.Getppid())
	var dirs []string
	for _, ctl := range []string{"pids", "memory"} {
		for _, name := range []string{stale, live} {
			d := filepath.Join(cgroupRoot, ctl, "patchgit", name)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, d)
		}
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			os.Remove(d)
		}
	})
	f := newGreetFixture(t)
	if err := f.sb.Sweep(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		_, err := os.Stat(d)
		if strings.Contains(d, stale) && err == nil {
			t.Errorf("stale cgroup %s left", d)
		}
		if strings.Contains(d, live) && err != nil {
			t.Errorf("a live process's cgroup %s was removed", d)
		}
	}
}
