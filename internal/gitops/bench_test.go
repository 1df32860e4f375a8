package gitops

// Benchmarks of the git CLI against go-git for the same operations, on a
// generated repository with a few thousand files:
//
//	go test -run '^$' -bench . -benchtime 5x ./internal/gitops/

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

const benchFiles = 3000

// benchFixture is a mirror of a generated repository and a diff that
// changes three files and adds one.
type benchFixture struct {
	mirror, base string
	diff         []byte
}

func newBenchFixture(tb testing.TB, g *Git, nfiles int) benchFixture {
	tb.Helper()
	files := map[string]string{}
	for i := range nfiles {
		var body strings.Builder
		fmt.Fprintf(&body, "package p%02d\n\n", i/50)
		for l := range 30 {
			fmt.Fprintf(&body, "// file %d line %d: some text to give the blob a realistic size\n", i, l)
		}
		files[fmt.Sprintf("pkg%02d/file%04d.go", i/50, i)] = body.String()
	}
	u := newUpstream(tb, g, files)
	mirror := filepath.Join(tb.TempDir(), "m.git")
	if err := g.SyncMirror(context.Background(), u.bare, mirror); err != nil {
		tb.Fatal(err)
	}
	changed := map[string]string{"pkg00/new.go": "package p00\n\nvar X = 1\n"}
	for _, i := range []int{0, nfiles / 2, nfiles - 1} {
		p := fmt.Sprintf("pkg%02d/file%04d.go", i/50, i)
		changed[p] = strings.Replace(files[p], "line 7:", "line seven:", 1)
	}
	writeFiles(tb, u.work, changed)
	git(tb, g, u.work, "add", "-A")
	diff := git(tb, g, u.work, "diff", "--cached", "--no-color") + "\n"
	git(tb, g, u.work, "reset", "--quiet", "--hard")
	return benchFixture{mirror: mirror, base: git(tb, g, u.work, "rev-parse", "HEAD"), diff: []byte(diff)}
}

func BenchmarkCommitPatch(b *testing.B) {
	g := New()
	fx := newBenchFixture(b, g, benchFiles)
	info := testCommitInfo()
	b.Run("git-cli", func(b *testing.B) {
		for i := range b.N {
			info.When = testWhen.Add(time.Duration(i) * time.Second)
			if _, err := g.CommitPatch(context.Background(), fx.mirror, fx.base, fx.diff, info); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-git", func(b *testing.B) {
		for i := range b.N {
			info.When = testWhen.Add(time.Duration(i) * time.Second)
			if _, err := goGitCommitPatch(fx.mirror, fx.base, fx.diff, info); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPush(b *testing.B) {
	ctx := context.Background()
	g := New()
	fx := newBenchFixture(b, g, benchFiles)
	target := filepath.Join(b.TempDir(), "target.git")
	if err := g.InitBare(ctx, target, "main"); err != nil {
		b.Fatal(err)
	}
	if err := g.Push(ctx, fx.mirror, target, fx.base, "main", PushOpts{}); err != nil {
		b.Fatal(err)
	}
	n := 0
	newCommit := func(b *testing.B) string { // one fresh commit per push
		b.StopTimer()
		defer b.StartTimer()
		n++
		info := testCommitInfo()
		info.When = testWhen.Add(time.Duration(n) * time.Hour)
		sha, err := g.CommitPatch(ctx, fx.mirror, fx.base, fx.diff, info)
		if err != nil {
			b.Fatal(err)
		}
		return sha
	}
	b.Run("git-cli", func(b *testing.B) {
		for range b.N {
			sha := newCommit(b)
			if err := g.Push(ctx, fx.mirror, target, sha, fmt.Sprintf("cli/%d", n), PushOpts{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-git", func(b *testing.B) {
		for range b.N {
			sha := newCommit(b)
			repo, err := gogit.PlainOpen(fx.mirror)
			if err != nil {
				b.Fatal(err)
			}
			spec := config.RefSpec(fmt.Sprintf("%s:refs/heads/gogit/%d", sha, n))
			if err := repo.Push(&gogit.PushOptions{RemoteURL: target, RefSpecs: []config.RefSpec{spec}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestGoGitCommitMatchesCLI keeps the benchmark honest: both ways must
// write the same commit.
func TestGoGitCommitMatchesCLI(t *testing.T) {
	g := New()
	fx := newBenchFixture(t, g, 120)
	want, err := g.CommitPatch(context.Background(), fx.mirror, fx.base, fx.diff, testCommitInfo())
	if err != nil {
		t.Fatal(err)
	}
	got, err := goGitCommitPatch(fx.mirror, fx.base, fx.diff, testCommitInfo())
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("go-git commit %s, git CLI commit %s", got, want)
	}
}

// goGitCommitPatch is CommitPatch done with go-git and go-gitdiff: apply
// each file's hunks to its blob, write blobs, rebuild the changed trees,
// write the commit. (Regular files only: enough for the benchmark.)
func goGitCommitPatch(gitDir, base string, diff []byte, c CommitInfo) (string, error) {
	repo, err := gogit.PlainOpen(gitDir)
	if err != nil {
		return "", err
	}
	files, _, err := gitdiff.Parse(bytes.NewReader(diff))
	if err != nil {
		return "", err
	}
	parent, err := repo.CommitObject(plumbing.NewHash(base))
	if err != nil {
		return "", err
	}
	tree, err := parent.Tree()
	if err != nil {
		return "", err
	}
	changes := map[string]*plumbing.Hash{}
	for _, f := range files {
		var old []byte
		if !f.IsNew {
			file, err := tree.File(f.OldName)
			if err != nil {
				return "", fmt.Errorf("%s: %w", f.OldName, err)
			}
			s, err := file.Contents()
			if err != nil {
				return "", err
			}
			old = []byte(s)
		}
		if f.IsDelete {
			changes[f.OldName] = nil
			continue
		}
		var out bytes.Buffer
		if err := gitdiff.Apply(&out, bytes.NewReader(old), f); err != nil {
			return "", fmt.Errorf("%s: %w", f.NewName, err)
		}
		h, err := writeObject(repo.Storer, plumbing.BlobObject, out.Bytes())
		if err != nil {
			return "", err
		}
		changes[f.NewName] = &h
	}
	treeHash, _, err := rebuildTree(repo.Storer, tree, changes)
	if err != nil {
		return "", err
	}
	sig := object.Signature{Name: c.AuthorName, Email: c.AuthorEmail, When: c.When}
	commit := &object.Commit{Author: sig, Committer: sig, Message: c.message(),
		TreeHash: treeHash, ParentHashes: []plumbing.Hash{parent.Hash}}
	obj := repo.Storer.NewEncodedObject()
	if err := commit.Encode(obj); err != nil {
		return "", err
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	return h.String(), err
}

// rebuildTree applies changes (path -> new blob, nil = delete) to t and
// writes the new trees; n is the new tree's entry count.
func rebuildTree(s storer.EncodedObjectStorer, t *object.Tree, changes map[string]*plumbing.Hash) (h plumbing.Hash, n int, err error) {
	entries := map[string]object.TreeEntry{}
	if t != nil {
		for _, e := range t.Entries {
			entries[e.Name] = e
		}
	}
	sub := map[string]map[string]*plumbing.Hash{}
	for p, blob := range changes {
		if dir, rest, nested := strings.Cut(p, "/"); nested {
			if sub[dir] == nil {
				sub[dir] = map[string]*plumbing.Hash{}
			}
			sub[dir][rest] = blob
			continue
		}
		if blob == nil {
			delete(entries, p)
			continue
		}
		mode := filemode.Regular
		if e, ok := entries[p]; ok {
			mode = e.Mode
		}
		entries[p] = object.TreeEntry{Name: p, Mode: mode, Hash: *blob}
	}
	for dir, ch := range sub {
		var st *object.Tree
		if e, ok := entries[dir]; ok {
			if st, err = object.GetTree(s, e.Hash); err != nil {
				return h, 0, err
			}
		}
		sh, sn, err := rebuildTree(s, st, ch)
		if err != nil {
			return h, 0, err
		}
		if sn == 0 {
			delete(entries, dir)
		} else {
			entries[dir] = object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: sh}
		}
	}
	nt := &object.Tree{}
	for _, e := range entries {
		nt.Entries = append(nt.Entries, e)
	}
	sort.Sort(object.TreeEntrySorter(nt.Entries))
	obj := s.NewEncodedObject()
	if err := nt.Encode(obj); err != nil {
		return h, 0, err
	}
	h, err = s.SetEncodedObject(obj)
	return h, len(nt.Entries), err
}

func writeObject(s storer.EncodedObjectStorer, typ plumbing.ObjectType, data []byte) (plumbing.Hash, error) {
	obj := s.NewEncodedObject()
	obj.SetType(typ)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}
