package diffview

import (
	"strconv"
	"strings"
)

// kind is what a diff line is, decided once per SetContent so styling a
// visible line later is a table lookup.
type kind uint8

const (
	kindOther   kind = iota // text outside any file: commit message, commentary
	kindFile                // the line that starts a file: "diff --git a/x b/x"
	kindMeta                // index, modes, renames, ---/+++ names, "Binary files"
	kindHunk                // "@@ -1,3 +1,4 @@"
	kindAdd                 // "+..."
	kindDel                 // "-..."
	kindContext             // " ..."
	kindNoEOL               // "\ No newline at end of file"
)

// classify labels every line and returns the indexes where files start.
// Inside a hunk it trusts the hunk header's line counts, so a removed line
// "--- x" is not mistaken for a file header; when the counts run out (pasted
// diffs often have wrong ones) it keeps coloring +/-/space lines until a line
// that can only be a header.
func classify(lines []string) (kinds []kind, fileStarts []int) {
	kinds = make([]kind, len(lines))
	var (
		inHeader         bool // after a file start, before its first hunk
		inHunk           bool
		oldLeft, newLeft int
	)
	startFile := func(i int) {
		kinds[i] = kindFile
		fileStarts = append(fileStarts, i)
		inHeader, inHunk = true, false
	}
	for i, l := range lines {
		if inHunk && (oldLeft > 0 || newLeft > 0) {
			if k, ok := hunkLineKind(l); ok {
				kinds[i] = k
				switch k {
				case kindAdd:
					newLeft--
				case kindDel:
					oldLeft--
				case kindContext:
					oldLeft--
					newLeft--
				}
				continue
			}
			inHunk = false // the counts lied; fall through to header rules
		}
		plainPair := strings.HasPrefix(l, "--- ") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "+++ ")
		switch {
		case isDiffCommand(l):
			startFile(i)
		case strings.HasPrefix(l, "@@"):
			kinds[i] = kindHunk
			inHeader, inHunk = false, true
			oldLeft, newLeft = hunkCounts(l)
		case plainPair && inHeader:
			kinds[i] = kindMeta
		case plainPair:
			startFile(i) // a plain unified diff without a "diff" line
		case inHeader:
			kinds[i] = kindMeta
		case inHunk:
			if k, ok := hunkLineKind(l); ok && l != "" {
				kinds[i] = k
			} else {
				inHunk = false
			}
		}
	}
	return kinds, fileStarts
}

// hunkLineKind classifies a line by its first byte. An empty line counts as
// context: some editors strip the lone space of an empty context line.
func hunkLineKind(l string) (kind, bool) {
	if l == "" {
		return kindContext, true
	}
	switch l[0] {
	case '+':
		return kindAdd, true
	case '-':
		return kindDel, true
	case ' ':
		return kindContext, true
	case '\\':
		return kindNoEOL, true
	}
	return kindOther, false
}

// hunkCounts reads the old and new line counts of "@@ -a[,b] +c[,d] @@";
// a missing count means 1. A malformed header yields 0, 0.
func hunkCounts(l string) (oldN, newN int) {
	fields := strings.Fields(l)
	if len(fields) < 3 || fields[0] != "@@" {
		return 0, 0
	}
	return rangeCount(fields[1], '-'), rangeCount(fields[2], '+')
}

func rangeCount(f string, sign byte) int {
	if len(f) < 2 || f[0] != sign {
		return 0
	}
	_, count, found := strings.Cut(f[1:], ",")
	if !found {
		return 1
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// isDiffCommand matches "diff --git a/x b/x", "diff --cc x" and the command
// line of plain "diff -u a b" output, not prose that starts with "diff".
func isDiffCommand(l string) bool {
	return strings.HasPrefix(l, "diff -")
}
