package tui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/patchgit/patchgit/internal/core"
)

// handleKey routes a key press: quit first, then a pending confirmation,
// the picker, the keys that work everywhere, then the focused view.
func (m *model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	if pressed(k, m.keys.Quit) {
		m.quitting = true
		m.cancel()
		return tea.Quit
	}
	if m.confirm != nil {
		return m.answer(k)
	}
	if m.picking {
		return m.pickerKey(k)
	}
	switch {
	case pressed(k, m.keys.Go):
		m.askGo()
		return nil
	case pressed(k, m.keys.NewChat):
		if m.repo == "" {
			m.setProblem("choose a repository first (ctrl+r)")
			return nil
		}
		m.setInfo("starting a new conversation…")
		return m.startConversation(m.repo)
	case pressed(k, m.keys.Repos):
		m.picking = true
		m.picker.setRepos(m.repos, m.repo)
		return m.loadRepos()
	case pressed(k, m.keys.Switch):
		m.switchFocus()
		return nil
	case pressed(k, m.keys.WebLink):
		m.setInfo("making a web sign-in link…")
		return m.mintWebLink()
	case k.String() == "f1" || (m.focus == focusPane && pressed(k, m.keys.Help)):
		m.help.ShowAll = !m.help.ShowAll
		m.layout()
		return nil
	}
	if m.focus == focusPane {
		if cmd, ok := m.localKey(k); ok {
			return cmd
		}
		m.paneKey(k)
		return nil
	}
	return m.inputKey(k)
}

func (m *model) inputKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case pressed(k, m.keys.Send):
		return m.sendInput()
	case pressed(k, m.keys.ChatUp):
		m.transcript.scrollBy(max(1, m.transcript.height-1))
		return nil
	case pressed(k, m.keys.ChatDown):
		m.transcript.scrollBy(-max(1, m.transcript.height-1))
		return nil
	}
	if m.sending {
		return nil // the input is read-only until Send answers
	}
	if err := m.input.key(k); err != nil {
		m.setError(err)
	}
	return nil
}

func (m *model) paneKey(k tea.KeyPressMsg) {
	d := &m.pane.diff
	switch {
	case pressed(k, m.keys.Down):
		d.ScrollDown(1)
	case pressed(k, m.keys.Up):
		d.ScrollUp(1)
	case pressed(k, m.keys.PageDown):
		d.ScrollDown(max(1, d.PageSize()-1))
	case pressed(k, m.keys.PageUp):
		d.ScrollUp(max(1, d.PageSize()-1))
	case pressed(k, m.keys.Top):
		d.Top()
	case pressed(k, m.keys.Bottom):
		d.Bottom()
	case pressed(k, m.keys.NextFile):
		d.NextFile()
	case pressed(k, m.keys.PrevFile):
		d.PrevFile()
	case pressed(k, m.keys.Cancel):
		m.askCancel()
	case pressed(k, m.keys.Approve):
		m.askSpend(true)
	case pressed(k, m.keys.Decline):
		m.askSpend(false)
	case pressed(k, m.keys.Back):
		m.switchFocus()
	}
}

func (m *model) pickerKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case pressed(k, m.keys.Down):
		m.picker.move(1)
	case pressed(k, m.keys.Up):
		m.picker.move(-1)
	case pressed(k, m.keys.Open):
		if r, ok := m.picker.selected(); ok {
			if r.Name == m.repo {
				m.picking = false
				return nil
			}
			m.status = status{}
			return m.openRepo(r.Name)
		}
	case pressed(k, m.keys.Close):
		if m.repo == "" {
			m.setProblem("choose a repository to start (enter opens the one marked >)")
			return nil
		}
		m.picking = false
	}
	return nil
}

// switchFocus moves between the input and the proposal pane; in the narrow
// layout the pane takes the chat's place.
func (m *model) switchFocus() {
	if m.focus == focusInput {
		m.focus = focusPane
		m.input.blur()
	} else {
		m.focus = focusInput
	}
	m.showPane = !m.wide() && m.focus == focusPane
	m.pane.focused = m.focus == focusPane
	m.layout()
	if m.focus == focusInput && !m.sending {
		m.input.focus()
	}
}

// handlePaste inserts a bracketed paste into the input, never sending it.
// Like any answer but y, a paste declines a pending confirmation.
func (m *model) handlePaste(p tea.PasteMsg) tea.Cmd {
	if m.confirm != nil {
		m.answer(tea.KeyPressMsg{})
	}
	if m.picking {
		m.setProblem("paste ignored: choose a repository first")
		return nil
	}
	if m.sending {
		m.setProblem("paste ignored: wait until your message is sent")
		return nil
	}
	if m.focus != focusInput {
		m.switchFocus()
	}
	if err := m.input.paste(p.Content); err != nil {
		m.setError(err)
		return nil
	}
	text := normalizeNewlines(p.Content)
	n := strings.Count(text, "\n")
	if !strings.HasSuffix(text, "\n") {
		n++
	}
	m.setInfo(fmt.Sprintf("pasted %d lines (%s): enter sends, alt+enter adds a line", n, formatBytes(len(p.Content))))
	return nil
}

func (m *model) sendInput() tea.Cmd {
	if m.sending {
		return nil
	}
	text := m.input.value()
	if strings.TrimSpace(text) == "" {
		m.setInfo("nothing to send: type a message or paste a change")
		return nil
	}
	if m.conv == nil {
		m.setProblem("no conversation is open yet: wait for it to load, or choose a repository (ctrl+r)")
		return nil
	}
	m.sending = true
	m.input.blur()
	m.setInfo("sending…")
	return m.send(m.conv.ID, text)
}

// askGo opens the GO confirmation on the revision on screen.
func (m *model) askGo() {
	p := m.proposal
	if p == nil {
		m.setProblem("nothing to GO on: this conversation has no proposal yet")
		return
	}
	if p.Waiting == core.WaitingApproval {
		m.setProblem("this draft waits for approval of spend, not for GO: tab to the proposal, then a approves or d declines")
		return
	}
	if p.State != core.StateProposed || m.pane.revision() == 0 {
		m.setError(fmt.Errorf("GO is only possible on a proposed change; this one is %s", p.State))
		return
	}
	rev := m.pane.revision()
	m.confirm = &confirmation{
		isGo:       true,
		proposalID: p.ID,
		rev:        rev,
		prompt:     fmt.Sprintf("GO on revision %d: create branch, commit, push and open a PR? y/n", rev),
	}
	if cur := m.pane.current(); cur != nil && cur.Execution != nil && cur.Execution.Escalation != nil {
		m.confirm.escalation = cur.Execution
		m.confirm.prompt = goPrompt(m.confirm)
	}
	m.status = status{}
}

// goPrompt is the GO question with the "Approve extra spend" toggle: it
// says which of the two plans on screen y runs.
func goPrompt(c *confirmation) string {
	ex := c.escalation
	toggle := "[a] Approve extra spend: OFF"
	var runs string
	switch {
	case c.approve:
		toggle = "[a] Approve extra spend: ON"
		runs = fmt.Sprintf("y runs the full plan, %s, approving up to %s", formatMicros(ex.Escalation.CostMicros), formatMicros(ex.Escalation.ApproveMicros))
	case ex.Cheaper != nil:
		runs = fmt.Sprintf("y runs the cheaper plan, %s, without extra spend", formatMicros(ex.Cheaper.CostMicros))
	default:
		runs = "no cheaper plan: y returns the proposal to Draft"
	}
	return fmt.Sprintf("GO on revision %d (same diff either way)  %s  %s  y/n", c.rev, toggle, runs)
}

// askSpend opens the approve (or decline) question on the revision on
// screen of a draft waiting for approval of spend.
func (m *model) askSpend(approve bool) {
	p := m.proposal
	if p == nil || p.Waiting != core.WaitingApproval || p.Awaiting == nil || m.pane.revision() == 0 {
		m.setProblem("nothing waits for approval of spend: a draft asks when its next step needs money beyond the budget")
		return
	}
	rev, esc := m.pane.revision(), p.Awaiting
	c := &confirmation{spend: true, approveSpend: approve, proposalID: p.ID, rev: rev}
	if approve {
		c.prompt = fmt.Sprintf("Approve spending up to %s on revision %d for %s? It runs at once. y/n", approveText(esc), rev, whatRuns(esc))
	} else {
		c.prompt = fmt.Sprintf("Decline the spend on revision %d? The proposal stays in Draft and nothing is spent. y/n", rev)
		if esc.Redraft != "" {
			keep := "stays in Draft"
			if cur := p.Current(); cur != nil && cur.Verified {
				keep = "becomes Proposed as it is"
			}
			c.prompt = fmt.Sprintf("Decline redrafting on the %s tier? Revision %d %s and nothing is spent. y/n", clean(string(esc.Redraft)), rev, keep)
		}
	}
	m.confirm = c
	m.status = status{}
}

func (m *model) askCancel() {
	p := m.proposal
	if p == nil || !cancellable(p.State) {
		m.setProblem("nothing to cancel: only a proposal that is not yet running can be cancelled")
		return
	}
	m.confirm = &confirmation{
		proposalID: p.ID,
		prompt:     fmt.Sprintf("Cancel proposal %s %q? y/n", shortID(p.ID), clean(p.Title)),
	}
	m.status = status{}
}

// answer resolves the pending confirmation: y goes ahead, anything else
// is a no.
func (m *model) answer(k tea.KeyPressMsg) tea.Cmd {
	c := m.confirm
	if c.escalation != nil && k.String() == "a" {
		c.approve = !c.approve // the toggle, not an answer
		c.prompt = goPrompt(c)
		return nil
	}
	m.confirm = nil
	if c.spend {
		return m.answerSpend(c, k.String() == "y")
	}
	if k.String() != "y" {
		if c.isGo {
			m.setInfo("GO not started")
		} else {
			m.setInfo("proposal not cancelled")
		}
		return nil
	}
	if c.isGo {
		m.setInfo(fmt.Sprintf("GO on revision %d…", c.rev))
		return m.goProposal(c.proposalID, c.rev, c.approve)
	}
	m.setInfo("cancelling…")
	return m.cancelProposal(c.proposalID)
}

func (m *model) answerSpend(c *confirmation, yes bool) tea.Cmd {
	switch {
	case !yes && c.approveSpend:
		m.setInfo("spend not approved: the draft still waits")
		return nil
	case !yes:
		m.setInfo("spend not declined: the draft still waits")
		return nil
	case c.approveSpend:
		m.setInfo(fmt.Sprintf("approving the spend on revision %d…", c.rev))
	default:
		m.setInfo(fmt.Sprintf("declining the spend on revision %d…", c.rev))
	}
	return m.decideSpend(c.proposalID, c.rev, c.approveSpend)
}

func cancellable(s core.ProposalState) bool {
	switch s {
	case core.StateDraft, core.StateProposed, core.StateApproved, core.StateQueued:
		return true
	}
	return false
}

// syncKeys enables only the bindings that do something now, which is also
// what the help line shows.
func (m *model) syncKeys() {
	k := &m.keys
	inPane := m.focus == focusPane && !m.picking
	inChat := m.focus == focusInput && !m.picking
	canGo := m.proposal != nil && m.proposal.State == core.StateProposed && m.pane.revision() > 0
	hasDiff := m.pane.current() != nil

	k.Go.SetEnabled(canGo && !m.picking)
	k.Cancel.SetEnabled(inPane && m.proposal != nil && cancellable(m.proposal.State))
	waits := m.proposal != nil && m.proposal.Waiting == core.WaitingApproval && m.proposal.Awaiting != nil
	k.Approve.SetEnabled(inPane && waits)
	k.Decline.SetEnabled(inPane && waits)
	k.Send.SetEnabled(inChat)
	k.Newline.SetEnabled(inChat)
	k.ChatUp.SetEnabled(inChat)
	k.ChatDown.SetEnabled(inChat)
	for _, b := range []*key.Binding{&k.PageUp, &k.PageDown, &k.Top, &k.Bottom, &k.NextFile, &k.PrevFile} {
		b.SetEnabled(inPane && hasDiff)
	}
	k.Up.SetEnabled((inPane && hasDiff) || m.picking)
	k.Down.SetEnabled((inPane && hasDiff) || m.picking)
	k.Back.SetEnabled(inPane)
	m.syncLocalKeys(inPane, hasDiff)
	k.Open.SetEnabled(m.picking)
	k.Close.SetEnabled(m.picking && m.repo != "")
	k.NewChat.SetEnabled(m.repo != "")
	if m.focus == focusPane {
		k.Switch.SetHelp("tab", "chat")
		k.Help.SetHelp("?", "help")
	} else if waits {
		k.Switch.SetHelp("tab", "approve or decline spend")
	} else {
		k.Switch.SetHelp("tab", "proposal")
		k.Help.SetHelp("f1", "help")
	}
}

// pressed matches k against b's keys even when b is disabled: disabling
// only hides a binding from help, and the handler says why it cannot act.
func pressed(k tea.KeyPressMsg, b key.Binding) bool {
	return slices.Contains(b.Keys(), k.String())
}
