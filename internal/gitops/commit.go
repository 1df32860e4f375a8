package gitops

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CommitInfo names who made a commit and when. Equal CommitInfo, base and
// diff always give the same commit sha, so a retried job makes no second
// commit.
type CommitInfo struct {
	AuthorName, AuthorEmail, Message string
	When                             time.Time
}

// ResolveRef returns the full sha of the commit ref names in gitDir.
// A ref that does not exist (or is not a commit) wraps ErrRefNotFound.
func (g *Git) ResolveRef(ctx context.Context, gitDir, ref string) (string, error) {
	if ref == "" || strings.HasPrefix(ref, "-") || strings.ContainsAny(ref, "\x00\n") {
		return "", fmt.Errorf("resolve ref: %w: %q", ErrBadArgument, ref)
	}
	out, err := g.runGitDir(ctx, gitDir, RunOpts{}, "rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}")
	if err != nil {
		if exitCode(err) == 1 { // --verify --quiet: "not found", nothing else went wrong
			return "", fmt.Errorf("resolve ref %q in %s: %w: sync the mirror or check the name", ref, gitDir, ErrRefNotFound)
		}
		return "", fmt.Errorf("resolve ref %q in %s: %w", ref, gitDir, err)
	}
	sha := strings.TrimSpace(string(out))
	if !isObjectID(sha) {
		return "", fmt.Errorf("resolve ref %q: %w: git printed %q", ref, ErrBadObjectID, sha)
	}
	return sha, nil
}

// CommitPatch applies diff to base and writes the commit into gitDir
// without a worktree: a private index, `read-tree`, `apply --cached`
// (exact context, no fuzz, no 3-way), `write-tree`, `commit-tree`. The
// commit is not on any branch; Push publishes it. A diff that does not
// apply wraps ErrPatchDoesNotApply; one that changes nothing, ErrEmptyPatch.
func (g *Git) CommitPatch(ctx context.Context, gitDir, base string, diff []byte, c CommitInfo) (string, error) {
	if err := c.validate(); err != nil {
		return "", fmt.Errorf("commit patch: %w", err)
	}
	if len(bytes.TrimSpace(diff)) == 0 {
		return "", fmt.Errorf("commit patch: %w: the diff is empty", ErrEmptyPatch)
	}
	gitDir, err := filepath.Abs(gitDir)
	if err != nil {
		return "", fmt.Errorf("commit patch: %w", err)
	}
	baseSHA, err := g.ResolveRef(ctx, gitDir, base)
	if err != nil {
		return "", fmt.Errorf("commit patch: %w", err)
	}
	tmp, err := os.MkdirTemp("", "patchgit-index-")
	if err != nil {
		return "", fmt.Errorf("commit patch: %w", err)
	}
	defer os.RemoveAll(tmp)
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}
	idx := RunOpts{Env: env}
	if _, err := g.runGitDir(ctx, gitDir, idx, "read-tree", baseSHA); err != nil {
		return "", fmt.Errorf("commit patch: read base tree: %w", err)
	}
	apply := RunOpts{Env: env, Stdin: bytes.NewReader(diff)}
	if _, err := g.runGitDir(ctx, gitDir, apply, "apply", "--cached", "-p1", "--whitespace=nowarn", "-"); err != nil {
		return "", fmt.Errorf("commit patch onto %s: %w: %w", shortSHA(baseSHA), ErrPatchDoesNotApply, err)
	}
	tree, err := g.runGitDir(ctx, gitDir, idx, "write-tree")
	if err != nil {
		return "", fmt.Errorf("commit patch: write tree: %w", err)
	}
	baseTree, err := g.runGitDir(ctx, gitDir, RunOpts{}, "rev-parse", "--verify", baseSHA+"^{tree}")
	if err != nil {
		return "", fmt.Errorf("commit patch: read base tree: %w", err)
	}
	if bytes.Equal(tree, baseTree) {
		return "", fmt.Errorf("commit patch onto %s: %w", shortSHA(baseSHA), ErrEmptyPatch)
	}
	commit := RunOpts{Env: c.env(), Stdin: strings.NewReader(c.message())}
	out, err := g.runGitDir(ctx, gitDir, commit, "commit-tree", "--no-gpg-sign", "-p", baseSHA, strings.TrimSpace(string(tree)))
	if err != nil {
		return "", fmt.Errorf("commit patch: commit tree: %w", err)
	}
	sha := strings.TrimSpace(string(out))
	if !isObjectID(sha) {
		return "", fmt.Errorf("commit patch: %w: git printed %q", ErrBadObjectID, sha)
	}
	return sha, nil
}

func (c CommitInfo) validate() error {
	for name, v := range map[string]string{"author name": c.AuthorName, "author email": c.AuthorEmail} {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%w: %s is empty", ErrBadCommitInfo, name)
		}
		if strings.ContainsAny(v, "<>\n\r\x00") {
			return fmt.Errorf("%w: %s contains '<', '>' or a control character", ErrBadCommitInfo, name)
		}
	}
	if strings.TrimSpace(c.Message) == "" {
		return fmt.Errorf("%w: the commit message is empty", ErrBadCommitInfo)
	}
	if strings.ContainsRune(c.Message, 0) {
		return fmt.Errorf("%w: the commit message contains a NUL byte", ErrBadCommitInfo)
	}
	if c.When.IsZero() {
		return fmt.Errorf("%w: the commit time is not set", ErrBadCommitInfo)
	}
	return nil
}

// env fixes author, committer and both dates, so the sha depends only on
// the inputs. Git's raw date format "<unix> <+hhmm>" keeps the zone.
func (c CommitInfo) env() []string {
	date := strconv.FormatInt(c.When.Unix(), 10) + " " + c.When.Format("-0700")
	return []string{
		"GIT_AUTHOR_NAME=" + c.AuthorName, "GIT_AUTHOR_EMAIL=" + c.AuthorEmail, "GIT_AUTHOR_DATE=" + date,
		"GIT_COMMITTER_NAME=" + c.AuthorName, "GIT_COMMITTER_EMAIL=" + c.AuthorEmail, "GIT_COMMITTER_DATE=" + date,
	}
}

// message ends in exactly one newline, as `git commit` would store it.
func (c CommitInfo) message() string {
	return strings.TrimRight(c.Message, "\n") + "\n"
}

// InitBare creates a bare repository at dir whose HEAD names
// defaultBranch. Running it on an existing repository changes nothing.
func (g *Git) InitBare(ctx context.Context, dir, defaultBranch string) error {
	if err := ValidBranchName(defaultBranch); err != nil {
		return fmt.Errorf("init bare repository: %w", err)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("init bare repository: %w", err)
	}
	if _, err := g.run(ctx, "", RunOpts{}, nil, "init", "--bare", "--quiet", "--initial-branch="+defaultBranch, "--", dir); err != nil {
		return fmt.Errorf("init bare repository %s: %w", dir, err)
	}
	return nil
}
