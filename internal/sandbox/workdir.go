package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/patchgit/patchgit/internal/gitops"
	"golang.org/x/sys/unix"
)

// workDir is one Verify's private area under root/work:
//
//	run-XXXX/repo   the checkout of Base (its .git borrows the mirror's objects)
//	run-XXXX/home   HOME for checks
//	run-XXXX/tmp    TMPDIR for checks
//
// It holds an flock on run-XXXX while alive, so Sweep (even in another
// process) removes only directories whose owner died.
type workDir struct {
	dir, repo, home, tmp string
	upper                string // layered: the overlay's upper dir (what the change wrote)
	lock                 *os.File
}

// newRunDir makes run-XXXX with home and tmp, locked.
func newRunDir(workRoot string) (*workDir, error) {
	dir, err := os.MkdirTemp(workRoot, "run-")
	if err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	lock, err := os.Open(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lock work dir: %w", err)
	}
	w := &workDir{dir: dir, repo: filepath.Join(dir, "repo"), home: filepath.Join(dir, "home"), tmp: filepath.Join(dir, "tmp"), lock: lock}
	for _, d := range []string{w.home, w.tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			w.remove()
			return nil, fmt.Errorf("create work dir: %w", err)
		}
	}
	return w, nil
}

// newWorkDir makes a fresh checkout of base. Instead of `git clone
// --shared` it runs `git init` and points objects/info/alternates at the
// mirror: the same borrowing of objects, but no refs are copied (a GitHub
// mirror holds thousands of refs/pull/*) and there is no origin remote to
// scrub. See BenchmarkNewWorkDir.
func newWorkDir(ctx context.Context, g *gitops.Git, workRoot, mirror, base string) (w *workDir, err error) {
	w, err = newRunDir(workRoot)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			w.remove()
		}
	}()
	objects, err := objectsDir(mirror)
	if err != nil {
		return nil, err
	}
	if _, err := g.Run(ctx, w.dir, gitops.RunOpts{}, "init", "--quiet", "--template=", "--", w.repo); err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	info := filepath.Join(w.repo, ".git", "objects", "info")
	if err := os.MkdirAll(info, 0o755); err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(info, "alternates"), []byte(objects+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	if _, err := g.Run(ctx, w.repo, gitops.RunOpts{}, "read-tree", "-u", "--reset", base); err != nil {
		return nil, fmt.Errorf("check out %s: %w", base, err)
	}
	if _, err := g.Run(ctx, w.repo, gitops.RunOpts{}, "update-ref", "--no-deref", "HEAD", base); err != nil {
		return nil, fmt.Errorf("check out %s: %w", base, err)
	}
	return w, nil
}

// objectsDir finds the object store of a bare mirror (or of a work tree's
// .git, for tests and local use).
func objectsDir(mirror string) (string, error) {
	abs, err := filepath.Abs(mirror)
	if err != nil {
		return "", fmt.Errorf("find mirror objects: %w", err)
	}
	for _, cand := range []string{filepath.Join(abs, "objects"), filepath.Join(abs, ".git", "objects")} {
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand, nil
		}
	}
	return "", fmt.Errorf("find mirror objects: %w: %s is not a git repository", ErrBadRequest, mirror)
}

// remove deletes the work dir, then drops its lock.
func (w *workDir) remove() error {
	err := removeAll(w.dir)
	w.lock.Close()
	return err
}

// removeAll is os.RemoveAll that also gets through directories a check
// made read-only (Go's module cache does that, for one).
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove work dir: %w", err)
	}
	return nil
}

// Sweep removes work dirs that no live Verify holds (left by a crash).
// It is safe to call at any time, also while other Verify calls run.
func (s *Sandbox) Sweep() error {
	if os.Geteuid() == 0 {
		sweepCgroups()
	}
	var runs []string
	entries, err := os.ReadDir(s.workRoot)
	if err != nil {
		return fmt.Errorf("sweep work dirs: %w", err)
	}
	for _, e := range entries {
		runs = append(runs, filepath.Join(s.workRoot, e.Name()))
	}
	if s.pristineRoot != "" { // a pristine tree being made when we crashed
		entries, _ := os.ReadDir(s.pristineRoot)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "run-") {
				runs = append(runs, filepath.Join(s.pristineRoot, e.Name()))
			}
		}
	}
	var errs []error
	for _, p := range runs {
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close() // a live Verify owns it
			continue
		}
		if err := removeAll(p); err != nil {
			errs = append(errs, err)
		}
		f.Close()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sweep work dirs: %w", err)
	}
	return nil
}

// FreshWorkDir makes the same fresh checkout of base that Verify uses
// (for benchmarks and a remote runner's preparation). remove deletes it.
func (s *Sandbox) FreshWorkDir(ctx context.Context, mirror, base string) (tree string, remove func() error, err error) {
	w, err := newWorkDir(ctx, s.git, s.workRoot, mirror, base)
	if err != nil {
		return "", nil, err
	}
	return w.repo, w.remove, nil
}
