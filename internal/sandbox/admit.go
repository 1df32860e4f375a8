package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// Limits bound what a patch may do. A zero field takes its default
// (DefaultLimits).
type Limits struct {
	MaxPatchBytes int64
	MaxFiles      int
	MaxLines      int // added plus deleted lines
	AllowSymlinks bool
	AllowBinary   bool
}

// DefaultLimits are generous for a human-sized change and refuse a
// generated or hostile giant.
func DefaultLimits() Limits {
	return Limits{MaxPatchBytes: 1 << 20, MaxFiles: 100, MaxLines: 10000}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxPatchBytes <= 0 {
		l.MaxPatchBytes = d.MaxPatchBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = d.MaxFiles
	}
	if l.MaxLines <= 0 {
		l.MaxLines = d.MaxLines
	}
	return l
}

// Rejection says which rule refused a patch and where.
type Rejection struct {
	Rule   string // e.g. "dot-git", "absolute-path", "symlink", "size"
	Path   string // "" when the rule is about the whole patch
	Detail string
}

func (r *Rejection) Error() string {
	if r.Path == "" {
		return fmt.Sprintf("patch refused (%s): %s", r.Rule, r.Detail)
	}
	return fmt.Sprintf("patch refused (%s): %s: %s", r.Rule, r.Path, r.Detail)
}

// Git file modes that matter here.
const (
	modeTypeMask = 0o170000
	modeRegular  = 0o100000
	modeSymlink  = 0o120000
	modeGitlink  = 0o160000
)

// summary is what admission learns about a patch.
type summary struct {
	files          []string
	added, deleted int
}

// Admit parses diff and refuses it, before anything touches disk, when it
// is empty or malformed (ErrEmptyPatch, ErrMalformedPatch) or breaks a
// rule (*Rejection): absolute paths, "." or ".." components, anything
// inside .git (in any case, with trailing dots or spaces, or its NTFS
// short name), control characters in names, symlink modes (unless
// allowed), gitlinks (always), binary hunks (unless allowed), and the size
// limits. It returns the paths the patch touches, sorted.
func Admit(diff []byte, lim Limits) (files []string, err error) {
	s, err := admit(diff, lim)
	return s.files, err
}

func admit(diff []byte, lim Limits) (summary, error) {
	lim = lim.withDefaults()
	if len(bytes.TrimSpace(diff)) == 0 {
		return summary{}, fmt.Errorf("%w: paste a unified diff (\"--- a/file\", \"+++ b/file\" and \"@@\" lines)", ErrEmptyPatch)
	}
	if int64(len(diff)) > lim.MaxPatchBytes {
		return summary{}, &Rejection{Rule: "size", Detail: fmt.Sprintf("the patch has %d bytes; the limit is %d", len(diff), lim.MaxPatchBytes)}
	}
	parsed, _, err := gitdiff.Parse(bytes.NewReader(diff))
	if err != nil {
		return summary{}, fmt.Errorf("%w: %v", ErrMalformedPatch, err)
	}
	if len(parsed) == 0 {
		return summary{}, fmt.Errorf("%w: no file changes found: a unified diff needs \"--- a/file\", \"+++ b/file\" and \"@@\" hunk lines", ErrMalformedPatch)
	}
	if len(parsed) > lim.MaxFiles {
		return summary{}, &Rejection{Rule: "files", Detail: fmt.Sprintf("the patch changes %d files; the limit is %d", len(parsed), lim.MaxFiles)}
	}
	// `git apply -p1` strips one leading directory from traditional
	// ("--- a/x") headers; go-gitdiff keeps it. Rules are checked on the
	// full name (a superset), the list shows what git will touch.
	traditional := !bytes.HasPrefix(diff, []byte("diff --git ")) && !bytes.Contains(diff, []byte("\ndiff --git "))
	var s summary
	for _, f := range parsed {
		if err := admitFile(f, lim); err != nil {
			return summary{}, err
		}
		for _, name := range []string{f.OldName, f.NewName} {
			if name == "" {
				continue
			}
			if traditional {
				if _, rest, ok := strings.Cut(name, "/"); ok {
					name = rest
				}
			}
			s.files = append(s.files, name)
		}
		for _, frag := range f.TextFragments {
			s.added += int(frag.LinesAdded)
			s.deleted += int(frag.LinesDeleted)
		}
	}
	if s.added+s.deleted > lim.MaxLines {
		return summary{}, &Rejection{Rule: "lines", Detail: fmt.Sprintf("the patch adds and deletes %d lines; the limit is %d", s.added+s.deleted, lim.MaxLines)}
	}
	slices.Sort(s.files)
	s.files = slices.Compact(s.files)
	return s, nil
}

func admitFile(f *gitdiff.File, lim Limits) error {
	for _, name := range []string{f.OldName, f.NewName} {
		if name == "" {
			continue
		}
		if strings.HasSuffix(name, "\r") { // a diff pasted with CRLF line ends
			return fmt.Errorf("%w: its header lines end in CRLF (Windows line endings): convert the patch to LF and paste it again", ErrMalformedPatch)
		}
		if r := checkPath(name); r != nil {
			return r
		}
	}
	name := f.NewName
	if name == "" {
		name = f.OldName
	}
	for _, mode := range []os.FileMode{f.OldMode, f.NewMode} {
		if r := checkMode(name, uint32(mode), lim); r != nil {
			return r
		}
	}
	if f.IsBinary && !lim.AllowBinary {
		return &Rejection{Rule: "binary", Path: name, Detail: "binary changes are not allowed"}
	}
	return nil
}

func checkMode(name string, mode uint32, lim Limits) *Rejection {
	switch mode & modeTypeMask {
	case 0, modeRegular: // 0: the patch does not say
		return nil
	case modeSymlink:
		if lim.AllowSymlinks {
			return nil
		}
		return &Rejection{Rule: "symlink", Path: name, Detail: "symbolic links are not allowed"}
	case modeGitlink:
		return &Rejection{Rule: "gitlink", Path: name, Detail: "submodule (gitlink) changes are not allowed"}
	}
	return &Rejection{Rule: "mode", Path: name, Detail: fmt.Sprintf("file mode %o is not a file git stores", mode)}
}

// maxPathBytes is PATH_MAX on Linux.
const maxPathBytes = 4096

// checkPath applies the path rules to one repository-relative name.
func checkPath(p string) *Rejection {
	switch {
	case p == "":
		return &Rejection{Rule: "path", Detail: "a file name is empty"}
	case len(p) > maxPathBytes:
		return &Rejection{Rule: "path", Path: p[:64] + "…", Detail: "the path is too long"}
	case strings.HasPrefix(p, "/"):
		return &Rejection{Rule: "absolute-path", Path: p, Detail: "paths must be relative to the repository"}
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return &Rejection{Rule: "path", Path: fmt.Sprintf("%q", p), Detail: "the path contains a control character"}
		}
	}
	for comp := range strings.SplitSeq(p, "/") {
		switch {
		case comp == "":
			return &Rejection{Rule: "path", Path: p, Detail: `the path has an empty component ("//" or a trailing "/")`}
		case comp == "..":
			return &Rejection{Rule: "dot-dot", Path: p, Detail: `".." would leave the repository`}
		case comp == ".":
			return &Rejection{Rule: "path", Path: p, Detail: `"." components are not allowed`}
		case isDotGit(comp):
			return &Rejection{Rule: "dot-git", Path: p, Detail: "files inside .git cannot be changed"}
		}
	}
	return nil
}

// isDotGit reports whether a path component names the .git directory on
// any filesystem git protects: case-insensitive (".GIT"), NTFS trailing
// dots and spaces (".git. "), NTFS streams (".git::$INDEX_ALLOCATION"),
// the 8.3 short name ("GIT~1") and HFS+ ignorable code points.
func isDotGit(comp string) bool {
	c := strings.Map(func(r rune) rune {
		if hfsIgnorable(r) {
			return -1
		}
		return r
	}, comp)
	c, _, _ = strings.Cut(c, ":")
	c = strings.ToLower(strings.TrimRight(c, ". "))
	return c == ".git" || c == "git~1"
}

// hfsIgnorable lists the code points HFS+ drops from names (git's
// utf8.c next_hfs_char).
func hfsIgnorable(r rune) bool {
	return (r >= 0x200c && r <= 0x200f) || (r >= 0x202a && r <= 0x202e) ||
		(r >= 0x206a && r <= 0x206f) || r == 0xfeff
}

// failure turns an admission error into a user-facing reason, or returns
// ok=false for errors that are not the user's.
func failure(err error) (string, bool) {
	var rej *Rejection
	if errors.As(err, &rej) || errors.Is(err, ErrEmptyPatch) || errors.Is(err, ErrMalformedPatch) {
		return err.Error(), true
	}
	return "", false
}
