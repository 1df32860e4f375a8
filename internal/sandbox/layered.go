package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/patchgit/patchgit/internal/gitops"
	"golang.org/x/sys/unix"
)

// Layered work dirs: the first Verify of a base commit checks it out once
// into root/pristine (a "pristine tree", owned by the check uid, in a 0700
// dir no check can reach); every Verify then mounts an overlay of that tree
// under a size-capped tmpfs upper layer, in a private mount namespace
// that only its own goroutine's thread (and the processes it starts) see.
// Making a work dir costs two mounts whatever the repository's size, and
// a check cannot fill the disk through the work tree either. It needs
// root (mounts); otherwise Verify falls back to a full checkout.

// maxPristine bounds the cached pristine trees (oldest used go first).
const maxPristine = 8

// layeredUsable: root, and overlayfs in a private mount namespace works.
func layeredUsable() bool {
	if os.Geteuid() != 0 {
		return false
	}
	dir, err := os.MkdirTemp("", "patchgit-overlay-probe-")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	err = inPrivateMounts(func() error {
		return mountLayer(filepath.Join(dir, "lower"), filepath.Join(dir, "layer"), filepath.Join(dir, "merged"), 1<<20)
	}, filepath.Join(dir, "lower"), filepath.Join(dir, "layer"), filepath.Join(dir, "merged"))
	return err == nil
}

// inPrivateMounts runs fn on a goroutine locked to a thread that has its
// own mount namespace (propagation private: nothing reaches the host).
// The thread is never unlocked, so it exits with the goroutine and the
// mounts vanish with it. Processes fn starts inherit the namespace. dirs
// are created first.
func inPrivateMounts(fn func() error, dirs ...string) error {
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("unshare mount namespace: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("make mounts private: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// mountLayer mounts a tmpfs of size bytes at layer and an overlay of
// lower with its upper dir in that tmpfs at merged.
func mountLayer(lower, layer, merged string, size int64) error {
	if err := unix.Mount("tmpfs", layer, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700,size="+strconv.FormatInt(size, 10)); err != nil {
		return fmt.Errorf("mount work layer: %w", err)
	}
	upper, work := filepath.Join(layer, "upper"), filepath.Join(layer, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("mount work layer: %w", err)
		}
	}
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", merged, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount work overlay: %w", err)
	}
	return nil
}

// pristineTree returns the pristine checkout of base, making it once.
func (s *Sandbox) pristineTree(ctx context.Context, mirror, base string) (string, error) {
	abs, _ := filepath.Abs(mirror)
	sum := sha256.Sum256([]byte(abs))
	dir := filepath.Join(s.pristineRoot, hex.EncodeToString(sum[:8])+"-"+base)
	tree := filepath.Join(dir, "repo")
	lock, err := os.OpenFile(filepath.Join(s.pristineRoot, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("lock pristine trees: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock pristine trees: %w", err)
	}
	if _, err := os.Stat(tree); err == nil {
		now := time.Now()
		_ = os.Chtimes(dir, now, now) // most recently used
		return tree, nil
	}
	w, err := newWorkDir(ctx, s.git, s.pristineRoot, mirror, base)
	if err != nil {
		return "", err
	}
	defer w.remove()
	// Refresh the index's stat data now, so `git add` in each overlay
	// finds every file clean without reading it.
	if _, err := s.git.Run(ctx, w.repo, gitops.RunOpts{}, "update-index", "--refresh", "-q"); err != nil {
		return "", fmt.Errorf("refresh pristine index: %w", err)
	}
	if c := s.opts.cred(); c != nil {
		// Copies up keep the owner: the check uid may then change its copy
		// of a file. The tree's root and .git stay ours, so our own git
		// commands trust the repository (safe.directory); handOver gives
		// the root to the check uid after them.
		err := filepath.WalkDir(w.repo, func(p string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case p == w.repo:
				return nil
			case p == filepath.Join(w.repo, ".git"):
				return filepath.SkipDir
			}
			return os.Lchown(p, int(c.Uid), int(c.Gid))
		})
		if err != nil {
			return "", fmt.Errorf("hand over pristine tree: %w", err)
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("store pristine tree: %w", err)
	}
	if err := os.Rename(w.repo, tree); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("store pristine tree: %w", err)
	}
	s.evictPristine()
	return tree, nil
}

// evictPristine keeps the maxPristine most recently used trees.
func (s *Sandbox) evictPristine() {
	entries, err := os.ReadDir(s.pristineRoot)
	if err != nil {
		return
	}
	type used struct {
		name string
		at   time.Time
	}
	var trees []used
	for _, e := range entries {
		if info, err := e.Info(); err == nil && e.IsDir() && filepath.Ext(e.Name()) == "" && len(e.Name()) > 17 {
			trees = append(trees, used{e.Name(), info.ModTime()})
		}
	}
	slices.SortFunc(trees, func(a, b used) int { return b.at.Compare(a.at) })
	for _, t := range trees[min(len(trees), maxPristine):] {
		_ = removeAll(filepath.Join(s.pristineRoot, t.name))
	}
}

func chownTree(dir string, uid, gid int) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("hand over work dir: %w", err)
	}
	return nil
}

// newLayeredWorkDir makes run-XXXX with home and tmp, and mounts the
// overlay of the pristine tree at run-XXXX/repo. Call it inside
// inPrivateMounts.
func (s *Sandbox) newLayeredWorkDir(pristine string, size int64) (w *workDir, err error) {
	w, err = newRunDir(s.workRoot)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			w.remove()
		}
	}()
	layer := filepath.Join(w.dir, "layer")
	for _, d := range []string{layer, w.repo} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, fmt.Errorf("create work dir: %w", err)
		}
	}
	if err := mountLayer(pristine, layer, w.repo, size); err != nil {
		return nil, err
	}
	w.upper = filepath.Join(layer, "upper")
	return w, nil
}

// FreshLayeredWorkDir makes the layered work dir Verify uses (the
// pristine tree is made on first use) and calls fn with its tree inside
// the private mount namespace; for benchmarks. ErrSetup when layered work
// dirs are off.
func (s *Sandbox) FreshLayeredWorkDir(ctx context.Context, mirror, base string, fn func(tree string) error) error {
	if s.pristineRoot == "" {
		return fmt.Errorf("%w: layered work dirs need root and overlayfs", ErrSetup)
	}
	pristine, err := s.pristineTree(ctx, mirror, base)
	if err != nil {
		return err
	}
	var w *workDir
	err = inPrivateMounts(func() error {
		var err error
		if w, err = s.newLayeredWorkDir(pristine, DefaultResources().WorkBytes); err != nil {
			return err
		}
		return fn(w.repo)
	})
	if w != nil {
		w.remove()
	}
	return err
}
