package gitops

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// PushOpts shape one push.
type PushOpts struct {
	// ForceWithLease is the sha the remote branch must still point at for
	// the push to replace it; "" pushes only a fast-forward.
	ForceWithLease string
	// Credentials for an https remote; nil for none.
	Credentials *Credentials
}

// Push makes refs/heads/<branch> on remote point at commit, which must be
// in gitDir. Pushing a commit the branch already points at succeeds and
// changes nothing, so a retried push is safe. A push the remote refuses
// (not a fast-forward, a stale lease, a protected branch) wraps
// ErrPushRejected.
func (g *Git) Push(ctx context.Context, gitDir, remote, commit, branch string, opt PushOpts) error {
	if err := checkRemote(remote); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	if err := ValidBranchName(branch); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	if !isObjectID(commit) {
		return fmt.Errorf("push: %w: commit %q is not a full sha", ErrBadObjectID, commit)
	}
	if opt.ForceWithLease != "" && !isObjectID(opt.ForceWithLease) {
		return fmt.Errorf("push: %w: lease %q is not a full sha", ErrBadObjectID, opt.ForceWithLease)
	}
	gitDir, err := filepath.Abs(gitDir)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	auth, err := newAskpass(remote, opt.Credentials)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	defer auth.cleanup()

	ref := "refs/heads/" + branch
	args := []string{"push", "--porcelain", "--no-recurse-submodules", "--no-follow-tags"}
	if opt.ForceWithLease != "" {
		args = append(args, "--force-with-lease="+ref+":"+opt.ForceWithLease)
	}
	args = append(args, "--", remote, commit+":"+ref)
	env := append(gitDirEnv(gitDir), auth.env...)
	out, err := g.run(ctx, "", RunOpts{Env: env}, auth.secrets, args...)
	if reason := rejection(string(out)); reason != "" {
		return fmt.Errorf("push %s to %s: %w: %s", shortSHA(commit), branch, ErrPushRejected, redact(reason, auth.secrets))
	}
	if err != nil {
		return fmt.Errorf("push %s to %s: %w", shortSHA(commit), branch, err)
	}
	return nil
}

// rejection finds a refused ref in `git push --porcelain` output:
// "!\t<src>:<dst>\t[rejected] (fetch first)".
func rejection(porcelain string) string {
	for line := range strings.SplitSeq(porcelain, "\n") {
		if strings.HasPrefix(line, "!\t") {
			fields := strings.SplitN(line, "\t", 3)
			return fields[len(fields)-1]
		}
	}
	return ""
}

// RemoteBranch asks remote where refs/heads/<branch> points (ls-remote).
// ok is false when the branch does not exist.
func (g *Git) RemoteBranch(ctx context.Context, remote, branch string) (sha string, ok bool, err error) {
	return g.RemoteBranchAuth(ctx, remote, branch, nil)
}

// RemoteBranchAuth is RemoteBranch with credentials for an https remote.
func (g *Git) RemoteBranchAuth(ctx context.Context, remote, branch string, cred *Credentials) (sha string, ok bool, err error) {
	if err := checkRemote(remote); err != nil {
		return "", false, fmt.Errorf("read remote branch: %w", err)
	}
	if err := ValidBranchName(branch); err != nil {
		return "", false, fmt.Errorf("read remote branch: %w", err)
	}
	auth, err := newAskpass(remote, cred)
	if err != nil {
		return "", false, fmt.Errorf("read remote branch: %w", err)
	}
	defer auth.cleanup()
	ref := "refs/heads/" + branch
	out, err := g.run(ctx, "", RunOpts{Env: auth.env}, auth.secrets, "ls-remote", "--refs", "--", remote, ref)
	if err != nil {
		return "", false, fmt.Errorf("read remote branch %s: %w", branch, err)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		id, name, found := strings.Cut(line, "\t")
		if found && name == ref { // ls-remote patterns also match tails: want the exact ref
			if !isObjectID(id) {
				return "", false, fmt.Errorf("read remote branch %s: %w: remote sent %q", branch, ErrBadObjectID, id)
			}
			return id, true, nil
		}
	}
	return "", false, nil
}

// isObjectID reports whether s is a full lowercase SHA-1 or SHA-256 id.
func isObjectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// exitCode of a git failure, or -1.
func exitCode(err error) int {
	var gerr *Error
	if errors.As(err, &gerr) {
		return gerr.ExitCode
	}
	return -1
}
