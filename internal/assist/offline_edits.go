package assist

import (
	"fmt"
	"regexp"
	"strings"
)

// The aider markers; like aider, accept 5 to 9 marker characters.
var (
	searchMarker  = regexp.MustCompile(`^<{5,9} SEARCH\s*$`)
	dividerMarker = regexp.MustCompile(`^={5,9}\s*$`)
	replaceMarker = regexp.MustCompile(`^>{5,9} REPLACE\s*$`)
)

// parseEdits reads every search/replace block:
//
//	path/to/file.go          (optionally `in backticks`, or followed by a fence line)
//	<<<<<<< SEARCH
//	lines to find
//	=======
//	lines to put instead
//	>>>>>>> REPLACE
//
// Blocks are found first because their markers cannot occur inside a diff
// (diff lines carry a prefix), while their content may contain anything,
// fences and diffs included.
func (m *message) parseEdits() ([]Edit, error) {
	var edits []Edit
	for i := 0; i < len(m.lines); i++ {
		line := m.lines[i]
		if line == "" || (line[0] != '<' && line[0] != '>') {
			continue // cheap filter before the regexps: most lines are neither marker
		}
		if replaceMarker.MatchString(line) {
			return nil, fmt.Errorf("%w: line %d has >>>>>>> REPLACE with no <<<<<<< SEARCH before it", ErrMalformedBlock, i+1)
		}
		if !searchMarker.MatchString(line) {
			continue
		}
		n := len(edits) + 1
		path, pathLine, err := m.blockPath(i, edits)
		if err != nil {
			return nil, fmt.Errorf("%w: block %d (line %d) %v", ErrMalformedBlock, n, i+1, err)
		}
		name := fmt.Sprintf("block %d (%s, line %d)", n, path, i+1)
		div, end, err := m.blockEnds(i)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %v", ErrMalformedBlock, name, err)
		}
		edits = append(edits, Edit{
			Path:    path,
			Search:  joinLines(m.lines[i+1 : div]),
			Replace: joinLines(m.lines[div+1 : end]),
		})
		if pathLine >= 0 {
			m.used[pathLine] = true
		}
		for j := i; j <= end; j++ {
			m.used[j] = true
		}
		i = end
	}
	return edits, nil
}

// blockEnds finds the divider and the end marker of the block whose SEARCH
// marker is at line start.
func (m *message) blockEnds(start int) (div, end int, err error) {
	div = -1
	for j := start + 1; j < len(m.lines); j++ {
		line := m.lines[j]
		switch {
		case searchMarker.MatchString(line) && div < 0:
			return 0, 0, fmt.Errorf("is missing its ======= divider: another <<<<<<< SEARCH starts at line %d", j+1)
		case searchMarker.MatchString(line):
			return 0, 0, fmt.Errorf("is missing its >>>>>>> REPLACE end: another <<<<<<< SEARCH starts at line %d", j+1)
		case replaceMarker.MatchString(line) && div < 0:
			return 0, 0, fmt.Errorf("is missing its ======= divider before >>>>>>> REPLACE at line %d", j+1)
		case replaceMarker.MatchString(line):
			return div, j, nil
		case dividerMarker.MatchString(line) && div < 0:
			div = j // a later ======= belongs to the replacement text
		}
	}
	if div < 0 {
		return 0, 0, fmt.Errorf("is missing its ======= divider and its >>>>>>> REPLACE end")
	}
	return 0, 0, fmt.Errorf("is missing its >>>>>>> REPLACE end after the ======= at line %d", div+1)
}

// blockPath finds the path for the block at line start: the line before
// it, or before a fence line just before it. A block that directly follows
// another block reuses its path, as aider does. pathLine is -1 then.
func (m *message) blockPath(start int, prev []Edit) (path string, pathLine int, err error) {
	i := start - 1
	if i >= 0 && isFence(m.lines[i]) {
		i--
	}
	if i < 0 || strings.TrimSpace(m.lines[i]) == "" {
		return "", -1, fmt.Errorf("has no file path: put the file's path alone on the line before <<<<<<< SEARCH")
	}
	if replaceMarker.MatchString(m.lines[i]) && len(prev) > 0 {
		return prev[len(prev)-1].Path, -1, nil
	}
	path, ok := cleanPath(m.lines[i])
	if !ok {
		return "", -1, fmt.Errorf("has no file path: line %d (%q) is not a path; put the file's path alone on the line before <<<<<<< SEARCH, in `backticks` if it has spaces", i+1, shorten(strings.TrimSpace(m.lines[i]), 40))
	}
	return path, i, nil
}

// cleanPath strips the decoration models put around a path line: markdown
// heading marks, bold, a trailing colon, backticks. A path with spaces
// must be in backticks, so that a line of prose is not taken for one.
func cleanPath(line string) (string, bool) {
	s := strings.TrimSpace(line)
	s = strings.TrimSpace(strings.TrimLeft(s, "#"))
	s = strings.TrimSuffix(s, ":")
	s = strings.TrimSuffix(strings.TrimPrefix(s, "**"), "**")
	s = strings.TrimSuffix(s, ":")
	if len(s) >= 2 && strings.HasPrefix(s, "`") && strings.HasSuffix(s, "`") {
		s = strings.TrimSpace(strings.Trim(s, "`"))
		return s, s != ""
	}
	if s == "" || strings.ContainsAny(s, " \t`") || isFence(s) {
		return "", false
	}
	return s, true
}
