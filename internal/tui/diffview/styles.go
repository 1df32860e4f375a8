package diffview

import "charm.land/lipgloss/v2"

// Styles color each kind of diff line and the position indicator.
type Styles struct {
	File     lipgloss.Style // "diff --git" lines: must stand out
	Meta     lipgloss.Style
	Hunk     lipgloss.Style
	Add      lipgloss.Style
	Del      lipgloss.Style
	Context  lipgloss.Style
	NoEOL    lipgloss.Style
	Other    lipgloss.Style
	Position lipgloss.Style
	Empty    lipgloss.Style
}

// DefaultStyles are readable on dark and light terminals: + green, - red,
// @@ cyan, file headers bold on a band.
func DefaultStyles() Styles {
	return Styles{
		File:     lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("15")).Background(lipgloss.Color("24")),
		Meta:     lipgloss.NewStyle().Bold(true),
		Hunk:     lipgloss.NewStyle().Foreground(lipgloss.Color("6")),
		Add:      lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
		Del:      lipgloss.NewStyle().Foreground(lipgloss.Color("1")),
		Context:  lipgloss.NewStyle(),
		NoEOL:    lipgloss.NewStyle().Faint(true),
		Other:    lipgloss.NewStyle().Faint(true),
		Position: lipgloss.NewStyle().Faint(true),
		Empty:    lipgloss.NewStyle().Faint(true).Italic(true),
	}
}

func (s *Styles) forKind(k kind) lipgloss.Style {
	switch k {
	case kindFile:
		return s.File
	case kindMeta:
		return s.Meta
	case kindHunk:
		return s.Hunk
	case kindAdd:
		return s.Add
	case kindDel:
		return s.Del
	case kindContext:
		return s.Context
	case kindNoEOL:
		return s.NoEOL
	}
	return s.Other
}
