package gitops

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// Tree is the list of regular files at one commit of a bare repository,
// read without a work tree, so a model stage can look at the base commit
// while nothing is checked out.
type Tree struct {
	g      *Git
	gitDir string
	blobs  map[string]treeBlob
	Paths  []string // regular files, in git's order
}

type treeBlob struct {
	id   string
	size int64
}

// ListTree reads the files of commit in gitDir (`git ls-tree -r -l`).
// Symbolic links and submodules are left out: they hold no text to show.
func (g *Git) ListTree(ctx context.Context, gitDir, commit string) (*Tree, error) {
	if !isObjectID(commit) {
		return nil, fmt.Errorf("list tree: %w: %q is not a commit id", ErrBadObjectID, commit)
	}
	out, err := g.runGitDir(ctx, gitDir, RunOpts{}, "ls-tree", "-r", "-l", "-z", "--full-tree", commit)
	if err != nil {
		return nil, fmt.Errorf("list tree of %s: %w", shortSHA(commit), err)
	}
	t := &Tree{g: g, gitDir: gitDir, blobs: map[string]treeBlob{}}
	for _, rec := range bytes.Split(out, []byte{0}) {
		// "<mode> SP <type> SP <object> SP+ <size> TAB <path>"
		meta, path, ok := strings.Cut(string(rec), "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 || f[1] != "blob" || (f[0] != "100644" && f[0] != "100755") {
			continue
		}
		size, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil || !isObjectID(f[2]) {
			return nil, fmt.Errorf("list tree of %s: %w: cannot read %q", shortSHA(commit), ErrBadObjectID, rec)
		}
		t.blobs[path] = treeBlob{id: f[2], size: size}
		t.Paths = append(t.Paths, path)
	}
	return t, nil
}

// ReadFile returns a file's content at the tree's commit; a path that is
// not a regular file there wraps fs.ErrNotExist, and a file over max
// bytes is refused unread.
func (t *Tree) ReadFile(ctx context.Context, path string, max int64) ([]byte, error) {
	b, ok := t.blobs[path]
	if !ok {
		return nil, fmt.Errorf("read %s: %w", path, fs.ErrNotExist)
	}
	if b.size > max {
		return nil, fmt.Errorf("read %s: %w: %d bytes, over the %d-byte limit", path, ErrBadArgument, b.size, max)
	}
	out, err := t.g.runGitDir(ctx, t.gitDir, RunOpts{}, "cat-file", "blob", b.id)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}
