package assist

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// fence is a fenced code block: lines open..close (close is len(lines) when
// the fence is never closed, as in markdown).
type fence struct {
	open, close int
	lang        string // first word of the info string, lower case
}

func isFence(line string) bool {
	s := strings.TrimLeft(line, " ")
	return strings.HasPrefix(s, "```") || strings.HasPrefix(s, "~~~")
}

// findFences pairs fence lines among the lines no block consumed and marks
// every line of a fence (its own lines too) as fenced.
func (m *message) findFences() []fence {
	var fences []fence
	var cur *fence
	var char byte
	var width int
	for i, line := range m.lines {
		if m.used[i] {
			continue
		}
		s := strings.TrimSpace(line)
		switch {
		case cur == nil && isFence(s):
			char = s[0]
			width = len(s) - len(strings.TrimLeft(s, string(char)))
			info := strings.Fields(s[width:])
			lang := ""
			if len(info) > 0 {
				lang = strings.ToLower(info[0])
			}
			cur = &fence{open: i, lang: lang}
		case cur != nil && strings.Trim(s, string(char)) == "" && len(s) >= width:
			cur.close = i
			fences = append(fences, *cur)
			cur = nil
		}
	}
	if cur != nil {
		cur.close = len(m.lines)
		fences = append(fences, *cur)
	}
	for _, f := range fences {
		for i := f.open; i <= f.close && i < len(m.lines); i++ {
			m.inFence[i] = true
		}
	}
	return fences
}

// parseDiffs collects the diffs in ```diff / ```patch fences, in unlabelled
// fences that hold one, and raw in the text. It returns them joined, and
// the first file they change.
func (m *message) parseDiffs(fences []fence) (diff, firstFile string, err error) {
	var b strings.Builder
	add := func(start, end int, file string) {
		b.WriteString(joinLines(m.lines[start:end]))
		for i := start; i < end; i++ {
			m.used[i] = true
		}
		if firstFile == "" {
			firstFile = file
		}
	}
	for _, f := range fences {
		labelled := f.lang == "diff" || f.lang == "patch"
		start := m.nextDiffStart(f.open+1, f.close)
		if start < 0 {
			if labelled && m.hasFreeText(f.open+1, f.close) {
				return "", "", fmt.Errorf("%w: the ```%s fence at line %d holds no diff (no \"diff --git\" line, nor \"---\", \"+++\" and \"@@\" lines)", ErrMalformedDiff, f.lang, f.open+1)
			}
			continue
		}
		if !labelled && f.lang != "" {
			continue // a diff quoted inside, say, a ```go block is not the change
		}
		end, file, err := m.scanDiff(start, f.close)
		if err != nil {
			return "", "", err
		}
		if end == start+1 {
			if labelled {
				return "", "", fmt.Errorf("%w: the ```%s fence at line %d has a diff header but no changes under it", ErrMalformedDiff, f.lang, f.open+1)
			}
			continue
		}
		for j := end; j < f.close; j++ {
			if !m.used[j] && strings.TrimSpace(m.lines[j]) != "" {
				return "", "", fmt.Errorf("%w: line %d, inside the fence, is not part of the diff that ends at line %d; check the @@ line counts", ErrMalformedDiff, j+1, end)
			}
		}
		add(start, end, file)
	}
	for i := 0; i < len(m.lines); i++ {
		if m.used[i] || m.inFence[i] {
			continue
		}
		limit := i
		for limit < len(m.lines) && !m.used[limit] && !m.inFence[limit] {
			limit++
		}
		if !m.isDiffStart(i, limit) {
			continue
		}
		end, file, err := m.scanDiff(i, limit)
		if err != nil {
			return "", "", err
		}
		if end == i+1 {
			continue // a lone "diff --git ..." line in prose is not a change
		}
		if end < limit && looksLikeHunkLine(m.lines[end]) {
			return "", "", fmt.Errorf("%w: line %d looks like part of the diff, but the diff ended at line %d: the @@ line counts are too small; fix them, or paste the diff unchanged inside a ```diff fence", ErrMalformedDiff, end+1, end)
		}
		add(i, end, file)
		i = end - 1
	}
	return b.String(), firstFile, nil
}

// hasFreeText reports a non-blank line in [from, to) that no block used.
func (m *message) hasFreeText(from, to int) bool {
	for i := from; i < to; i++ {
		if !m.used[i] && strings.TrimSpace(m.lines[i]) != "" {
			return true
		}
	}
	return false
}

func (m *message) nextDiffStart(from, to int) int {
	for i := from; i < to; i++ {
		if !m.used[i] && m.isDiffStart(i, to) {
			return i
		}
	}
	return -1
}

// isDiffStart: a "diff --git" line, or "---", "+++", "@@" lines in a row,
// optionally after a "diff -u a b" line.
func (m *message) isDiffStart(i, limit int) bool {
	l := m.lines
	switch {
	case strings.HasPrefix(l[i], "diff --git "):
		return true
	case strings.HasPrefix(l[i], "--- "):
		return i+2 < limit && strings.HasPrefix(l[i+1], "+++ ") && strings.HasPrefix(l[i+2], "@@ ")
	case strings.HasPrefix(l[i], "diff "):
		return i+1 < limit && strings.HasPrefix(l[i+1], "--- ") && m.isDiffStart(i+1, limit)
	}
	return false
}

var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@`)

// headerPrefixes are the lines git and diff(1) write between hunks.
var headerPrefixes = []string{
	"diff ", "index ", "--- ", "+++ ", "new file mode ", "deleted file mode ", "old mode ", "new mode ",
	"similarity index ", "dissimilarity index ", "rename from ", "rename to ", "copy from ", "copy to ",
	"Binary files ", "\\ ",
}

// scanDiff reads a diff from line start up to limit, counting each hunk's
// lines against its @@ header, so the diff's end is known exactly and
// prose after it is left out. It returns the index after the diff.
func (m *message) scanDiff(start, limit int) (end int, firstFile string, err error) {
	var oldLeft, newLeft, hunk int
	gitFile := ""
	i := start
scan:
	for ; i < limit; i++ {
		l := m.lines[i]
		if oldLeft > 0 || newLeft > 0 {
			switch {
			case strings.HasPrefix(l, "\\"): // "\ No newline at end of file"
			case (l == "" || l[0] == ' ') && oldLeft > 0 && newLeft > 0:
				oldLeft, newLeft = oldLeft-1, newLeft-1 // "" is a context line whose space an editor trimmed
			case l != "" && l[0] == '-' && oldLeft > 0:
				oldLeft--
			case l != "" && l[0] == '+' && newLeft > 0:
				newLeft--
			default:
				return 0, "", hunkMismatch(m.lines[hunk], hunk, i, oldLeft, newLeft)
			}
			continue
		}
		switch {
		case strings.HasPrefix(l, "@@ "):
			mm := hunkHeader.FindStringSubmatch(l)
			if mm == nil {
				return 0, "", fmt.Errorf("%w: line %d, %q, is not a hunk header like @@ -12,7 +12,8 @@", ErrMalformedDiff, i+1, shorten(l, 40))
			}
			oldLeft, newLeft, hunk = count(mm[2]), count(mm[4]), i
		case strings.HasPrefix(l, "GIT binary patch"):
			for i+1 < limit && !strings.HasPrefix(m.lines[i+1], "diff --git ") {
				i++
			}
		case strings.HasPrefix(l, "+++ ") && firstFile == "":
			firstFile = headerPath(l[4:])
			if firstFile == "" && i > start && strings.HasPrefix(m.lines[i-1], "--- ") {
				firstFile = headerPath(m.lines[i-1][4:]) // deleted file
			}
		case strings.HasPrefix(l, "diff --git ") && gitFile == "":
			gitFile = gitHeaderPath(l[len("diff --git "):])
		case hasAnyPrefix(l, headerPrefixes):
		default:
			break scan
		}
	}
	if oldLeft > 0 || newLeft > 0 {
		return 0, "", fmt.Errorf("%w: the diff ends inside the hunk at line %d, %d old and %d new lines short; check the @@ line counts or paste the whole diff", ErrMalformedDiff, hunk+1, oldLeft, newLeft)
	}
	if firstFile == "" {
		firstFile = gitFile
	}
	return i, firstFile, nil
}

func hunkMismatch(header string, hunk, at, oldLeft, newLeft int) error {
	return fmt.Errorf("%w: line %d does not fit the hunk that starts at line %d (%s), which still expects %d old and %d new lines; fix the @@ line counts, or paste the output of git diff unchanged",
		ErrMalformedDiff, at+1, hunk+1, shorten(strings.TrimSpace(header), 40), oldLeft, newLeft)
}

func count(s string) int {
	if s == "" {
		return 1 // "@@ -3 +3 @@" means one line
	}
	n, _ := strconv.Atoi(s)
	return n
}

// looksLikeHunkLine is a line that would have been an added or removed line
// had the hunk been longer ("-- " is format-patch's signature separator).
func looksLikeHunkLine(l string) bool {
	return strings.HasPrefix(l, "+") || (strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "-- "))
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// headerPath reads the path of a "--- " or "+++ " line: quoted or not, a
// tab-separated timestamp dropped, the a/ or b/ prefix removed; "" for
// /dev/null.
func headerPath(s string) string {
	s, _, _ = strings.Cut(s, "\t")
	if strings.HasPrefix(s, `"`) {
		if u, err := strconv.Unquote(s); err == nil {
			s = u
		}
	}
	if s == "/dev/null" {
		return ""
	}
	if rest, ok := strings.CutPrefix(s, "a/"); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(s, "b/"); ok {
		return rest
	}
	return s
}

// gitHeaderPath reads the new path of "diff --git a/x b/x".
func gitHeaderPath(s string) string {
	if i := strings.LastIndex(s, " b/"); i >= 0 && !strings.HasPrefix(s, `"`) {
		return s[i+3:]
	}
	return ""
}
