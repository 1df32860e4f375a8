package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// LockMirror takes the exclusive lock of mirrorDir (an flock on
// mirrorDir+".lock"), waiting until it is free or ctx ends. The lock dies
// with the process, so a crash never leaves it held.
func LockMirror(ctx context.Context, mirrorDir string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(mirrorDir), 0o700); err != nil {
		return nil, fmt.Errorf("lock mirror: %w", err)
	}
	f, err := os.OpenFile(mirrorDir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock mirror: %w", err)
	}
	wait := 10 * time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock mirror %s: %w", mirrorDir, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock mirror %s: another job holds it: %w", mirrorDir, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
	return func() { f.Close() }, nil // closing the fd drops the flock
}

// SyncMirror brings the bare mirror at mirrorDir up to date with remote:
// a `git clone --mirror` the first time, `git fetch --prune origin` later.
// Two syncs of one mirror never run at once (LockMirror). remote must not
// carry credentials; use SyncMirrorAuth for a private remote.
func (g *Git) SyncMirror(ctx context.Context, remote, mirrorDir string) error {
	return g.SyncMirrorAuth(ctx, remote, mirrorDir, nil)
}

// SyncMirrorAuth is SyncMirror with credentials for an https remote. They
// reach git only through GIT_ASKPASS and never land in the mirror's config.
func (g *Git) SyncMirrorAuth(ctx context.Context, remote, mirrorDir string, cred *Credentials) error {
	if err := checkRemote(remote); err != nil {
		return fmt.Errorf("sync mirror: %w", err)
	}
	mirrorDir, err := filepath.Abs(mirrorDir)
	if err != nil {
		return fmt.Errorf("sync mirror: %w", err)
	}
	auth, err := newAskpass(remote, cred)
	if err != nil {
		return fmt.Errorf("sync mirror: %w", err)
	}
	defer auth.cleanup()
	unlock, err := LockMirror(ctx, mirrorDir)
	if err != nil {
		return fmt.Errorf("sync mirror: %w", err)
	}
	defer unlock()

	empty, err := isMissingOrEmpty(mirrorDir)
	if err != nil {
		return fmt.Errorf("sync mirror: %w", err)
	}
	if empty {
		return g.cloneMirror(ctx, remote, mirrorDir, auth)
	}
	return g.fetchMirror(ctx, remote, mirrorDir, auth)
}

// cloneMirror clones into a temporary sibling and renames it into place,
// so a crash mid-clone never leaves a half mirror behind.
func (g *Git) cloneMirror(ctx context.Context, remote, mirrorDir string, auth *askpass) error {
	parent, base := filepath.Split(mirrorDir)
	leftovers, _ := filepath.Glob(filepath.Join(parent, base+".clone-*"))
	for _, old := range leftovers { // from a crash; we hold the lock
		os.RemoveAll(old)
	}
	tmp, err := os.MkdirTemp(parent, base+".clone-")
	if err != nil {
		return fmt.Errorf("clone mirror: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	if _, err := g.run(ctx, "", RunOpts{Env: auth.env}, auth.secrets,
		"clone", "--mirror", "--quiet", "--", remote, tmp); err != nil {
		return fmt.Errorf("clone mirror of %s: %w", redact(remote, nil), err)
	}
	if err := os.Rename(tmp, mirrorDir); err != nil {
		return fmt.Errorf("clone mirror: %w", err)
	}
	return nil
}

func (g *Git) fetchMirror(ctx context.Context, remote, mirrorDir string, auth *askpass) error {
	out, err := g.runGitDir(ctx, mirrorDir, RunOpts{}, "config", "--get", "remote.origin.mirror")
	if err != nil || strings.TrimSpace(string(out)) != "true" {
		return fmt.Errorf("sync mirror: %s: %w: move it away and sync again", mirrorDir, ErrNotMirror)
	}
	out, err = g.runGitDir(ctx, mirrorDir, RunOpts{}, "config", "--get", "remote.origin.url")
	if err != nil {
		return fmt.Errorf("sync mirror: read origin of %s: %w", mirrorDir, err)
	}
	if strings.TrimSpace(string(out)) != remote { // the repository's URL was reconfigured
		if _, err := g.runGitDir(ctx, mirrorDir, RunOpts{}, "config", "remote.origin.url", remote); err != nil {
			return fmt.Errorf("sync mirror: update origin of %s: %w", mirrorDir, err)
		}
	}
	opt := RunOpts{Env: append(gitDirEnv(mirrorDir), auth.env...)}
	if _, err := g.run(ctx, "", opt, auth.secrets, "fetch", "--prune", "--quiet", "origin"); err != nil {
		return fmt.Errorf("fetch mirror %s: %w", mirrorDir, err)
	}
	return nil
}

func isMissingOrEmpty(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return len(entries) == 0, nil
}
