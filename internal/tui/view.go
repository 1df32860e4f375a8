package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

const (
	// maxStatusRows lets a long error wrap instead of losing its advice.
	maxStatusRows = 3
	// chatMinWidth keeps the chat usable beside the pane in the wide layout.
	chatMinWidth = 40
)

// layout hands every sub-view its size; called after anything that can
// change the rows the header, status and help take.
func (m *model) layout() {
	if m.width <= 0 || m.height <= 0 {
		return
	}
	bodyH := m.bodyHeight()
	chatW, paneW := m.width, m.width
	if m.wide() {
		chatW = max(chatMinWidth, m.width*2/5)
		paneW = m.width - chatW - 1
	}
	inputH := min(max(bodyH/4, 3), 8)
	if bodyH < 6 {
		inputH = max(1, bodyH/2)
	}
	m.input.setSize(chatW, inputH)
	m.transcript.setSize(chatW, max(0, bodyH-inputH-1))
	m.pane.setSize(paneW, bodyH)
}

func (m *model) bodyHeight() int {
	return max(0, m.height-1-len(m.statusRows())-len(m.helpRows()))
}

func (m *model) render() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	bodyH := m.bodyHeight()
	rows := []string{m.headerView(), m.bodyView(bodyH)}
	rows = append(rows, m.statusRows()...)
	rows = append(rows, m.helpRows()...)
	return fit(strings.Join(rows, "\n"), m.width, m.height)
}

func (m *model) headerView() string {
	st := m.st
	repo := st.HeaderDim.Render("(choose one)")
	if m.repo != "" {
		repo = st.Header.Render(clean(m.repo))
	}
	conv := st.HeaderDim.Render("(opening…)")
	if m.conv != nil {
		conv = st.Header.Render(clean(m.conv.Title)) + st.HeaderDim.Render(" · "+shortID(m.conv.ID))
	}
	s := st.HeaderApp.Render(" PatchGit ") + st.HeaderDim.Render(" repo ") + repo +
		st.HeaderDim.Render("  conversation ") + conv
	s = ansi.Truncate(s, m.width, "…")
	return s + st.Header.Render(strings.Repeat(" ", max(0, m.width-ansi.StringWidth(s))))
}

func (m *model) bodyView(h int) string {
	if h <= 0 {
		return ""
	}
	if m.picking {
		return m.picker.view(m.st, m.width, h)
	}
	if m.wide() {
		sep := strings.TrimSuffix(strings.Repeat(m.st.Separator.Render("│")+"\n", h), "\n")
		return joinColumns(m.chatView(m.input.width, h), sep, m.pane.view())
	}
	if m.showPane {
		return m.pane.view()
	}
	return m.chatView(m.width, h)
}

func (m *model) chatView(w, h int) string {
	label := " message "
	if m.sending {
		label = " sending… "
	}
	rule := m.st.InputRule.Render("──" + label + strings.Repeat("─", max(0, w-2-len(label))))
	inputH := m.input.height()
	return strings.Join([]string{
		fit(m.transcript.view(), w, max(0, h-inputH-1)),
		fit(rule, w, 1),
		fit(m.input.view(), w, inputH),
	}, "\n")
}

// statusRows is the confirmation question, or the last error or notice,
// wrapped to at most maxStatusRows rows; always at least one row.
func (m *model) statusRows() []string {
	st := m.st
	switch {
	case m.confirm != nil:
		rows := strings.Split(ansi.Wrap(m.confirm.prompt, max(1, m.width-2), " "), "\n")
		for i := range rows {
			rows[i] = st.Confirm.Render(" " + rows[i] + " ")
		}
		return rows
	case m.status.text == "":
		return []string{""}
	}
	text, style := m.status.text, st.StatusInfo
	if m.status.isErr {
		text, style = "✗ "+text, st.StatusErr
	}
	rows := strings.Split(ansi.Wrap(clean(text), max(1, m.width), " "), "\n")
	if len(rows) > maxStatusRows {
		rows = rows[:maxStatusRows]
		rows[maxStatusRows-1] = ansi.Truncate(rows[maxStatusRows-1], m.width-1, "") + "…"
	}
	for i := range rows {
		rows[i] = style.Render(rows[i])
	}
	return rows
}

func (m *model) helpRows() []string {
	scr := screenChat
	switch {
	case m.picking:
		scr = screenPicker
	case m.focus == focusPane:
		scr = screenPane
	}
	return strings.Split(m.help.View(helpView{k: &m.keys, screen: scr}), "\n")
}
