package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the app answers to, with its help text. Bindings that
// do not apply right now are disabled, which also hides them from help.
type KeyMap struct {
	Send    key.Binding
	Newline key.Binding
	Go      key.Binding
	Cancel  key.Binding
	// Approve and Decline answer a draft waiting for approval of spend.
	Approve key.Binding
	Decline key.Binding
	Switch  key.Binding
	NewChat key.Binding
	Repos   key.Binding
	WebLink key.Binding
	Help    key.Binding
	Quit    key.Binding

	// Chat transcript, while typing.
	ChatUp   key.Binding
	ChatDown key.Binding

	// Proposal pane and diff.
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Top      key.Binding
	Bottom   key.Binding
	NextFile key.Binding
	PrevFile key.Binding
	Back     key.Binding

	// Local actions (patchgit tui --connect only).
	Pager     key.Binding
	WriteDiff key.Binding
	CopyID    key.Binding

	// Repository picker.
	Open  key.Binding
	Close key.Binding

	// Run is not a key but a chat command (`/run NAME`: a repository
	// operation); it is here so help lists it. No keystroke matches it.
	Run key.Binding
}

// DefaultKeyMap returns the app's keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Send:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "send")),
		Newline: key.NewBinding(key.WithKeys("alt+enter", "ctrl+j"), key.WithHelp("alt+enter", "newline")),
		Go:      key.NewBinding(key.WithKeys("ctrl+g"), key.WithHelp("ctrl+g", "GO")),
		Cancel:  key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "cancel proposal")),
		Approve: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "approve spend")),
		Decline: key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "decline spend")),
		Switch:  key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "proposal")),
		NewChat: key.NewBinding(key.WithKeys("ctrl+n"), key.WithHelp("ctrl+n", "new chat")),
		Repos:   key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "repos")),
		WebLink: key.NewBinding(key.WithKeys("ctrl+o"), key.WithHelp("ctrl+o", "web link")),
		Help:    key.NewBinding(key.WithKeys("?", "f1"), key.WithHelp("?", "help")),
		Quit:    key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),

		ChatUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "older messages")),
		ChatDown: key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "newer messages")),

		Up:       key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("g"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("G"), key.WithHelp("G", "bottom")),
		NextFile: key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next file")),
		PrevFile: key.NewBinding(key.WithKeys("["), key.WithHelp("[", "previous file")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back to chat")),

		Pager:     key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "diff in $PAGER")),
		WriteDiff: key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "write diff")),
		CopyID:    key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "copy id")),

		Open:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Close: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close")),

		Run: key.NewBinding(key.WithKeys("/run"), key.WithHelp("/run NAME", "propose what an operation changes (/run lists them)")),
	}
}

// helpView adapts the key map to bubbles/help for the current screen.
type helpView struct {
	k      *KeyMap
	screen screen
}

type screen int

const (
	screenChat screen = iota
	screenPane
	screenPicker
)

func (h helpView) ShortHelp() []key.Binding {
	k := h.k
	switch h.screen {
	case screenPane:
		return []key.Binding{k.Approve, k.Decline, k.Go, k.Down, k.Up, k.NextFile, k.Cancel, k.Switch, k.Help, k.Quit, k.Pager, k.WriteDiff, k.CopyID}
	case screenPicker:
		return []key.Binding{k.Open, k.Down, k.Up, k.Close, k.Quit}
	}
	return []key.Binding{k.Send, k.Go, k.Switch, k.Help, k.Quit, k.Newline, k.NewChat, k.Repos}
}

func (h helpView) FullHelp() [][]key.Binding {
	k := h.k
	switch h.screen {
	case screenPane:
		return [][]key.Binding{
			{k.Down, k.Up, k.PageDown, k.PageUp, k.Top, k.Bottom},
			{k.NextFile, k.PrevFile, k.Go, k.Approve, k.Decline, k.Cancel},
			{k.Switch, k.Back, k.NewChat, k.Repos, k.WebLink, k.Help, k.Quit},
			{k.Pager, k.WriteDiff, k.CopyID},
		}
	case screenPicker:
		return [][]key.Binding{{k.Open, k.Down, k.Up, k.Close, k.Quit}}
	}
	return [][]key.Binding{
		{k.Send, k.Newline, k.ChatUp, k.ChatDown},
		{k.Go, k.Switch, k.NewChat, k.Repos, k.WebLink},
		{k.Help, k.Quit, k.Run},
	}
}
