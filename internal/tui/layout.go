package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// fit cuts or pads s to exactly w cells by h rows, so blocks can be joined
// side by side without one pane's long line pushing the other.
func fit(s string, w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	rows := strings.Split(s, "\n")
	if len(rows) > h {
		rows = rows[:h]
	}
	var b strings.Builder
	for i := range h {
		if i > 0 {
			b.WriteByte('\n')
		}
		var row string
		if i < len(rows) {
			row = ansi.Truncate(rows[i], w, "…")
		}
		b.WriteString(row)
		b.WriteString(strings.Repeat(" ", max(0, w-ansi.StringWidth(row))))
	}
	return b.String()
}

// joinColumns places blocks of equal height side by side.
func joinColumns(blocks ...string) string {
	split := make([][]string, len(blocks))
	h := 0
	for i, b := range blocks {
		split[i] = strings.Split(b, "\n")
		h = max(h, len(split[i]))
	}
	var b strings.Builder
	for r := range h {
		if r > 0 {
			b.WriteByte('\n')
		}
		for _, rows := range split {
			if r < len(rows) {
				b.WriteString(rows[r])
			}
		}
	}
	return b.String()
}

// formatBytes says a size the way people read it.
func formatBytes(n int) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1024*1024))
}

// shortID is the first 8 characters of an id, enough to tell them apart.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
