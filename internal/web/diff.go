package web

import (
	"fmt"
	"regexp"
	"strings"
)

// diffFile is one file of a unified diff, ready to draw: its lines carry
// a class for the colour, and Anchor is the id the file list links to.
type diffFile struct {
	Name    string
	Anchor  string
	Added   int
	Removed int
	Lines   []diffLine
}

type diffLine struct {
	Class string // "add", "del", "hunk", "meta", "ctx"
	Text  string
}

var unsafeAnchor = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// splitDiff cuts a git unified diff into files. Text before the first
// "diff --git" (there is none in a canonical diff) goes into a file named
// "(preamble)" rather than being dropped.
func splitDiff(diff string) []diffFile {
	var files []diffFile
	var cur *diffFile
	inHeader := false
	for _, line := range strings.Split(strings.TrimSuffix(diff, "\n"), "\n") {
		if strings.HasPrefix(line, "diff --git ") {
			files = append(files, diffFile{Name: diffName(line)})
			cur = &files[len(files)-1]
			cur.Anchor = fmt.Sprintf("file-%d-%s", len(files), unsafeAnchor.ReplaceAllString(cur.Name, "-"))
			inHeader = true
			cur.Lines = append(cur.Lines, diffLine{Class: "meta", Text: line})
			continue
		}
		if cur == nil {
			if line == "" {
				continue
			}
			files = append(files, diffFile{Name: "(preamble)", Anchor: "file-0-preamble"})
			cur = &files[0]
		}
		class := "ctx"
		switch {
		case strings.HasPrefix(line, "@@"):
			class, inHeader = "hunk", false
		case inHeader:
			class = "meta"
		case strings.HasPrefix(line, "+"):
			class = "add"
			cur.Added++
		case strings.HasPrefix(line, "-"):
			class = "del"
			cur.Removed++
		case strings.HasPrefix(line, `\`):
			class = "meta"
		}
		cur.Lines = append(cur.Lines, diffLine{Class: class, Text: line})
	}
	return files
}

// diffName takes the b/ side of a "diff --git a/X b/Y" line.
func diffName(line string) string {
	rest := strings.TrimPrefix(line, "diff --git ")
	if i := strings.LastIndex(rest, " b/"); i >= 0 {
		return rest[i+3:]
	}
	return strings.TrimPrefix(rest, "a/")
}
