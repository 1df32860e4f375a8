package tui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"

	"github.com/patchgit/patchgit/internal/tui/diffview"
)

// Styles holds every style the app uses, so the look lives in one place.
// Lip Gloss v2 has no global renderer: these render full colors and the
// session's program downsamples them to what the terminal supports.
type Styles struct {
	Header     lipgloss.Style
	HeaderApp  lipgloss.Style
	HeaderDim  lipgloss.Style
	StatusInfo lipgloss.Style
	StatusErr  lipgloss.Style
	Confirm    lipgloss.Style

	UserName      lipgloss.Style
	UserText      lipgloss.Style
	AssistantName lipgloss.Style
	AssistantBar  lipgloss.Style
	AssistantText lipgloss.Style
	SystemName    lipgloss.Style
	SystemText    lipgloss.Style
	Hint          lipgloss.Style // empty states, "… more lines"

	InputRule        lipgloss.Style
	InputPrompt      lipgloss.Style
	InputPlaceholder lipgloss.Style
	Cursor           lipgloss.Style

	PaneTitle   lipgloss.Style
	PaneFocused lipgloss.Style // the pane title when keys go to the pane
	Separator   lipgloss.Style
	Title       lipgloss.Style
	Label       lipgloss.Style
	NotYet      lipgloss.Style // "not computed yet", "not metered yet"
	Pass        lipgloss.Style
	Fail        lipgloss.Style
	StateOpen   lipgloss.Style // draft, proposed
	StateBusy   lipgloss.Style // approved, queued, running
	StateDone   lipgloss.Style // published
	StateBad    lipgloss.Style // failed, cancelled
	Link        lipgloss.Style

	PickerTitle    lipgloss.Style
	PickerItem     lipgloss.Style
	PickerSelected lipgloss.Style

	Help help.Styles
	Diff diffview.Styles
}

// NewStyles returns the app's styles for a dark or a light background.
func NewStyles(isDark bool) Styles {
	ld := lipgloss.LightDark(isDark)
	accent := ld(lipgloss.Color("#5A3FD6"), lipgloss.Color("#9D8CFF"))
	user := ld(lipgloss.Color("#1F6FB2"), lipgloss.Color("#6CB6FF"))
	dim := ld(lipgloss.Color("#6E6E6E"), lipgloss.Color("#8A8A8A"))
	red := ld(lipgloss.Color("#C0262D"), lipgloss.Color("#FF6B6B"))
	green := ld(lipgloss.Color("#1A7F37"), lipgloss.Color("#56D364"))
	yellow := ld(lipgloss.Color("#9A6700"), lipgloss.Color("#E3B341"))
	barBg := ld(lipgloss.Color("#E4E1F5"), lipgloss.Color("#2B2540"))

	s := Styles{
		Header:     lipgloss.NewStyle().Background(barBg),
		HeaderApp:  lipgloss.NewStyle().Background(barBg).Foreground(accent).Bold(true),
		HeaderDim:  lipgloss.NewStyle().Background(barBg).Foreground(dim),
		StatusInfo: lipgloss.NewStyle().Foreground(dim),
		StatusErr:  lipgloss.NewStyle().Foreground(red).Bold(true),
		Confirm:    lipgloss.NewStyle().Foreground(yellow).Bold(true).Reverse(true),

		UserName:      lipgloss.NewStyle().Foreground(user).Bold(true),
		UserText:      lipgloss.NewStyle(),
		AssistantName: lipgloss.NewStyle().Foreground(accent).Bold(true),
		AssistantBar:  lipgloss.NewStyle().Foreground(accent),
		AssistantText: lipgloss.NewStyle(),
		SystemName:    lipgloss.NewStyle().Foreground(dim).Bold(true),
		SystemText:    lipgloss.NewStyle().Foreground(dim),
		Hint:          lipgloss.NewStyle().Foreground(dim).Italic(true),

		InputRule:        lipgloss.NewStyle().Foreground(dim),
		InputPrompt:      lipgloss.NewStyle().Foreground(user),
		InputPlaceholder: lipgloss.NewStyle().Foreground(dim),
		Cursor:           lipgloss.NewStyle().Reverse(true),

		PaneTitle:   lipgloss.NewStyle().Bold(true),
		PaneFocused: lipgloss.NewStyle().Bold(true).Foreground(accent),
		Separator:   lipgloss.NewStyle().Foreground(dim),
		Title:       lipgloss.NewStyle().Bold(true),
		Label:       lipgloss.NewStyle().Foreground(dim),
		NotYet:      lipgloss.NewStyle().Foreground(dim).Italic(true),
		Pass:        lipgloss.NewStyle().Foreground(green).Bold(true),
		Fail:        lipgloss.NewStyle().Foreground(red).Bold(true),
		StateOpen:   lipgloss.NewStyle().Foreground(yellow).Bold(true),
		StateBusy:   lipgloss.NewStyle().Foreground(accent).Bold(true),
		StateDone:   lipgloss.NewStyle().Foreground(green).Bold(true),
		StateBad:    lipgloss.NewStyle().Foreground(red).Bold(true),
		Link:        lipgloss.NewStyle().Foreground(user).Underline(true),

		PickerTitle:    lipgloss.NewStyle().Bold(true),
		PickerItem:     lipgloss.NewStyle(),
		PickerSelected: lipgloss.NewStyle().Foreground(accent).Bold(true),

		Help: help.DefaultStyles(isDark),
		Diff: diffview.DefaultStyles(),
	}
	s.Help.ShortKey = s.Help.ShortKey.Bold(true)
	return s
}
