package chain

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/patchgit/patchgit/internal/assist"
)

// ReadFile returns a file's content; an error wrapping fs.ErrNotExist
// means there is no such file.
type ReadFile func(path string) ([]byte, error)

// ApplyEdits applies search/replace edits in memory, in order, and returns
// every changed file's new content. Each SEARCH must occur exactly once in
// its file as it stands after the earlier edits; an empty SEARCH creates a
// file that must not exist yet. The errors are written to be sent back to
// a model verbatim. The sandbox applies the same edits to a real tree.
func ApplyEdits(read ReadFile, deny *Deny, edits []assist.Edit) (map[string]string, error) {
	files := map[string]string{}
	for i, e := range edits {
		name := fmt.Sprintf("block %d (%s)", i+1, e.Path)
		if pat, denied := deny.Path(e.Path); denied {
			return nil, fmt.Errorf("%s: %w (pattern %q); leave that file alone", name, ErrDenied, pat)
		}
		cur, seen := files[e.Path]
		exists := seen
		if !seen {
			b, err := read(e.Path)
			switch {
			case errors.Is(err, fs.ErrNotExist):
			case err != nil:
				return nil, fmt.Errorf("read %s: %w", e.Path, err)
			default:
				cur, exists = string(b), true
			}
		}
		if e.Search == "" {
			if exists {
				return nil, fmt.Errorf("%s has an empty SEARCH, which creates a new file, but %s exists; quote the lines to replace in SEARCH", name, e.Path)
			}
			files[e.Path] = e.Replace
			continue
		}
		if !exists {
			return nil, fmt.Errorf("%s: %s does not exist; to create it leave SEARCH empty", name, e.Path)
		}
		switch n := strings.Count(cur, e.Search); {
		case n == 0:
			return nil, fmt.Errorf("%s: %w in %s; SEARCH must repeat the file's current lines exactly, whitespace included:\n%s", name, ErrNoMatch, e.Path, e.Search)
		case n > 1:
			return nil, fmt.Errorf("%s: %w (%d times) in %s; add surrounding lines to SEARCH until it is unique", name, ErrAmbiguous, n, e.Path)
		}
		files[e.Path] = strings.Replace(cur, e.Search, e.Replace, 1)
	}
	return files, nil
}
