package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/patchgit/patchgit/internal/core"
)

// scoreRows show a score and its reasons ("+15 touches CI config: …"),
// wrapped to the pane between reasons and indented under the value, so
// the person can check that they add up without a row running off the
// pane.
func (pp *proposalPane) scoreRows(name string, s *core.Score) []string {
	const indent = 11 // the label column
	label := pp.st.Label.Render(fmt.Sprintf("%-*s", indent, name))
	if s == nil {
		return []string{label + pp.st.NotYet.Render(notComputed)}
	}
	head := fmt.Sprintf("%d/100", s.Value)
	avail := max(pp.width-indent, 16)
	var lines []string
	line := head
	for i, f := range s.Factors {
		f, sep := clean(f), " · "
		if i == 0 {
			sep = "  "
		}
		if ansi.StringWidth(line+sep+f) <= avail {
			line += sep + f
			continue
		}
		lines = append(lines, line)
		pieces := strings.Split(ansi.Wrap(f, avail, " "), "\n")
		for _, piece := range pieces[:len(pieces)-1] {
			lines = append(lines, strings.TrimSpace(piece))
		}
		line = strings.TrimSpace(pieces[len(pieces)-1])
	}
	lines = append(lines, line)
	rows := []string{label + head + pp.st.Label.Render(strings.TrimPrefix(lines[0], head))}
	for _, l := range lines[1:] {
		rows = append(rows, strings.Repeat(" ", indent)+pp.st.Label.Render(l))
	}
	return rows
}
