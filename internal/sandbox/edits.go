package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Edit is one search/replace change. Search "" creates a new file whose
// content is Replace.
type Edit struct {
	Path, Search, Replace string
}

// admitEdits applies the patch rules to edits before anything touches
// disk.
func admitEdits(edits []Edit, lim Limits) error {
	lim = lim.withDefaults()
	var size int64
	paths := map[string]bool{}
	for _, e := range edits {
		if r := checkPath(e.Path); r != nil {
			return r
		}
		if !lim.AllowBinary && strings.ContainsRune(e.Replace, 0) {
			return &Rejection{Rule: "binary", Path: e.Path, Detail: "binary content is not allowed"}
		}
		size += int64(len(e.Search) + len(e.Replace))
		paths[e.Path] = true
	}
	if size > lim.MaxPatchBytes {
		return &Rejection{Rule: "size", Detail: fmt.Sprintf("the edits have %d bytes; the limit is %d", size, lim.MaxPatchBytes)}
	}
	if len(paths) > lim.MaxFiles {
		return &Rejection{Rule: "files", Detail: fmt.Sprintf("the edits change %d files; the limit is %d", len(paths), lim.MaxFiles)}
	}
	return nil
}

// editFailure is a user-facing reason an edit could not be applied.
type editFailure struct{ msg string }

func (e *editFailure) Error() string { return e.msg }

// applyEdits applies edits in order inside repo through an os.Root, so no
// name can reach outside it; symlinks on the way are refused outright.
func applyEdits(repo string, edits []Edit, lim Limits) error {
	root, err := os.OpenRoot(repo)
	if err != nil {
		return fmt.Errorf("open work tree: %w", err)
	}
	defer root.Close()
	for i, e := range edits {
		if err := checkNoSymlinks(root, e.Path, lim.AllowSymlinks); err != nil {
			return err
		}
		if err := applyEdit(root, i+1, e); err != nil {
			return err
		}
	}
	return nil
}

func applyEdit(root *os.Root, n int, e Edit) error {
	fail := func(format string, args ...any) error {
		return &editFailure{msg: fmt.Sprintf("edit %d (%s): ", n, e.Path) + fmt.Sprintf(format, args...)}
	}
	old, err := root.ReadFile(e.Path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail("cannot read the file: %v", err)
	}
	if e.Search == "" {
		if exists {
			return fail("the file already exists; give a search block to change it")
		}
		if dir := path.Dir(e.Path); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return fail("cannot create its directory: %v", err)
			}
		}
		if err := root.WriteFile(e.Path, []byte(e.Replace), 0o644); err != nil {
			return fail("cannot create the file: %v", err)
		}
		return nil
	}
	if !exists {
		return fail("the file does not exist; to create it, leave the search block empty")
	}
	content := string(old)
	switch count := countOverlapping(content, e.Search); count {
	case 1:
	case 0:
		return fail("the search text matches 0 times; it must match the file exactly once (check spaces and indentation)")
	default:
		return fail("the search text matches %d times; add surrounding lines so it matches exactly once", count)
	}
	st, err := root.Stat(e.Path)
	if err != nil {
		return fail("cannot stat the file: %v", err)
	}
	updated := strings.Replace(content, e.Search, e.Replace, 1)
	if err := root.WriteFile(e.Path, []byte(updated), st.Mode().Perm()); err != nil {
		return fail("cannot write the file: %v", err)
	}
	return nil
}

// countOverlapping counts every position where sub occurs in s.
func countOverlapping(s, sub string) int {
	n := 0
	for i := strings.Index(s, sub); i >= 0; {
		n++
		next := strings.Index(s[i+1:], sub)
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return n
}

// checkNoSymlinks refuses a path that goes through a symlink in the work
// tree (CVE-2023-23946 style), or is one unless symlinks are allowed.
func checkNoSymlinks(root *os.Root, name string, allowLeaf bool) error {
	parts := strings.Split(name, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		st, err := root.Lstat(prefix)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // nothing further down exists yet
		}
		if err != nil {
			return &Rejection{Rule: "path", Path: name, Detail: fmt.Sprintf("cannot inspect %s: %v", prefix, err)}
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if i < len(parts)-1 {
			return &Rejection{Rule: "symlink-traversal", Path: name, Detail: fmt.Sprintf("%s is a symbolic link in the repository; patches cannot write through it", prefix)}
		}
		if !allowLeaf {
			return &Rejection{Rule: "symlink", Path: name, Detail: "the file is a symbolic link in the repository"}
		}
	}
	return nil
}
