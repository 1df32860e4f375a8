package tui

import (
	"fmt"

	tea "charm.land/bubbletea/v2"

	"github.com/patchgit/patchgit/internal/core"
)

// handleResult applies a Service answer. Answers about a repository or
// conversation that is no longer open, and answers older than one already
// applied, are dropped.
func (m *model) handleResult(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case reposMsg:
		return m.onRepos(msg)
	case convOpenedMsg:
		return m.onConversationOpened(msg)
	case convsMsg:
		m.onConversations(msg)
	case messagesMsg:
		m.onMessages(msg)
	case proposalMsg:
		return m.onProposal(msg)
	case jobMsg:
		m.onJob(msg)
	case sentMsg:
		return m.onSent(msg)
	case goMsg:
		return m.onGo(msg)
	case cancelMsg:
		return m.onCancel(msg)
	case spendMsg:
		return m.onSpend(msg)
	case budgetMsg:
		m.onBudget(msg)
	case webLinkMsg:
		m.onWebLink(msg)
	}
	return nil
}

func (m *model) onRepos(msg reposMsg) tea.Cmd {
	if msg.err != nil {
		m.setError(fmt.Errorf("list repositories: %w", msg.err))
		return nil
	}
	m.repos = msg.repos
	m.picker.setRepos(msg.repos, m.repo)
	if m.repo != "" || m.picking {
		return nil
	}
	switch {
	case m.wantRepo != "":
		for _, r := range msg.repos {
			if r.Name == m.wantRepo {
				return m.openRepo(r.Name)
			}
		}
		m.setError(fmt.Errorf("%w %q: choose one of the repositories below", core.ErrUnknownRepo, m.wantRepo))
		m.picking = true
	case len(msg.repos) == 0:
		m.setError(ErrNoRepos)
	case len(msg.repos) == 1:
		return m.openRepo(msg.repos[0].Name)
	default:
		m.picking = true
	}
	return nil
}

func (m *model) onConversationOpened(msg convOpenedMsg) tea.Cmd {
	if msg.repo != m.repo {
		return nil
	}
	if msg.err != nil {
		m.setError(fmt.Errorf("open a conversation about %s: %w", m.repo, msg.err))
		return nil
	}
	conv := msg.conv
	m.setConversation(&conv)
	return tea.Batch(m.loadMessages(conv.ID), m.loadLatestProposal(m.repo, conv.ID))
}

// onConversations refreshes the open conversation's title.
func (m *model) onConversations(msg convsMsg) {
	if msg.err != nil {
		m.setError(fmt.Errorf("list conversations: %w", msg.err))
		return
	}
	if msg.repo != m.repo || m.conv == nil {
		return
	}
	for _, c := range msg.convs {
		if c.ID == m.conv.ID {
			conv := c
			m.conv = &conv
		}
	}
}

func (m *model) onMessages(msg messagesMsg) {
	if m.conv == nil || msg.convID != m.conv.ID || msg.seq < m.applied.messages {
		return
	}
	if msg.err != nil {
		m.setError(fmt.Errorf("load messages: %w", msg.err))
		return
	}
	m.applied.messages = msg.seq
	m.messages = msg.msgs
	m.transcript.setMessages(msg.msgs)
	m.transcript.loaded = true
}

func (m *model) onProposal(msg proposalMsg) tea.Cmd {
	if msg.err != nil {
		m.setError(fmt.Errorf("load the proposal: %w", msg.err))
		return nil
	}
	if m.conv == nil || msg.convID != m.conv.ID || msg.seq < m.applied.proposal {
		return nil
	}
	p := msg.p
	if p == nil && m.proposal != nil {
		// The listing may lag behind an event about this very proposal; a
		// proposal never leaves its conversation, so keep showing it.
		return nil
	}
	if p != nil && m.proposal != nil && p.ID != m.proposal.ID && p.Created.Before(m.proposal.Created) {
		return nil // an older proposal of this conversation changed; keep the newest
	}
	m.applied.proposal = msg.seq
	m.setProposal(p)
	var cmds []tea.Cmd
	if p != nil && p.JobID != "" {
		cmds = append(cmds, m.loadJob(p.JobID))
	}
	if weighsCost(p) {
		cmds = append(cmds, m.loadBudget())
	}
	return tea.Batch(cmds...)
}

// weighsCost says whether p shows costs against the budget left: a spend
// waiting for approval, or a revision that spent, has stages projected to
// run, or was priced.
func weighsCost(p *core.Proposal) bool {
	if p == nil {
		return false
	}
	if p.Waiting == core.WaitingApproval {
		return true
	}
	rev := p.Current()
	return rev != nil && (len(rev.Spent) > 0 || len(rev.Remaining) > 0 || rev.Execution != nil)
}

// onBudget keeps the windows for the panes; without a ledger (or from a
// daemon that predates it) the panes say the budget is unknown.
func (m *model) onBudget(msg budgetMsg) {
	if msg.err != nil {
		m.budget = nil
	} else {
		st := msg.st
		m.budget = &st
	}
	m.pane.budget = m.budget
	m.layout()
}

func (m *model) onSpend(msg spendMsg) tea.Cmd {
	verb := "decline"
	if msg.approve {
		verb = "approve"
	}
	if msg.err != nil {
		m.setError(fmt.Errorf("%s the spend on revision %d: %w", verb, msg.rev, msg.err))
		return nil
	}
	if msg.approve {
		m.setInfo(fmt.Sprintf("spend approved on revision %d: drafting again under the approval (job %s)", msg.rev, shortID(msg.p.JobID)))
	} else {
		m.setInfo(fmt.Sprintf("spend declined on revision %d: the proposal stays in Draft, nothing was spent", msg.rev))
	}
	if m.proposal != nil {
		return m.loadProposal(m.proposal.ID)
	}
	return nil
}

func (m *model) onJob(msg jobMsg) {
	if msg.err != nil {
		m.setError(fmt.Errorf("load the job: %w", msg.err))
		return
	}
	if m.proposal == nil || msg.job.ProposalID != m.proposal.ID || msg.seq < m.applied.job {
		return
	}
	m.applied.job = msg.seq
	job := msg.job
	m.job = &job
	m.pane.set(m.proposal, m.job)
	m.layout()
}

func (m *model) onSent(msg sentMsg) tea.Cmd {
	m.sending = false
	if m.focus == focusInput {
		m.input.focus()
	}
	if msg.err != nil {
		m.setError(fmt.Errorf("send: %w (your message is still in the input)", msg.err))
		return nil
	}
	m.input.reset()
	m.setInfo("sent")
	if m.conv == nil || msg.convID != m.conv.ID {
		return nil
	}
	return tea.Batch(m.loadMessages(m.conv.ID), m.loadLatestProposal(m.repo, m.conv.ID))
}

func (m *model) onGo(msg goMsg) tea.Cmd {
	if msg.err != nil {
		m.setError(fmt.Errorf("GO on revision %d: %w", msg.rev, msg.err))
		return nil
	}
	m.setInfo(fmt.Sprintf("GO on revision %d: job %s %s", msg.rev, shortID(msg.job.ID), msg.job.State))
	var cmds []tea.Cmd
	if m.proposal != nil {
		cmds = append(cmds, m.loadProposal(m.proposal.ID))
	}
	if msg.job.ID != "" {
		cmds = append(cmds, m.loadJob(msg.job.ID))
	}
	return tea.Batch(cmds...)
}

func (m *model) onCancel(msg cancelMsg) tea.Cmd {
	if msg.err != nil {
		m.setError(fmt.Errorf("cancel the proposal: %w", msg.err))
		return nil
	}
	m.setInfo("proposal cancelled")
	if m.proposal != nil {
		return m.loadProposal(m.proposal.ID)
	}
	return nil
}
