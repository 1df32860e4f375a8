// Package tui is PatchGit's terminal app: a chat about one repository beside
// the conversation's Proposed Execution, with GO behind a confirmation. It
// talks only to core.Service (in-process in the SSH server, or over RPC for
// the remote TUI), always from tea.Cmds, never from Update.
package tui

import (
	"context"
	"fmt"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"

	"github.com/patchgit/patchgit/internal/core"
)

// Options configure one session's app.
type Options struct {
	// Actor is the person's name (the ssh user), passed to every
	// state-changing Service call.
	Actor string
	// Repo preselects a repository; "" opens the only one or shows a picker.
	Repo string
	// MaxPasteBytes caps the message input; 0 means 1 MiB.
	MaxPasteBytes int
	// Context is the session's: when it ends, Service calls and the event
	// subscription end with it. nil means context.Background; the app also
	// ends its subscription when the person quits.
	Context context.Context //nolint:containedctx // the model outlives any one call
	// Notice is shown on the status line at start, e.g. the wrong PINs
	// tried since the previous login.
	Notice string
	// Local, when set, offers the actions that only make sense in the
	// person's own terminal (patchgit tui --connect): inside the daemon's
	// SSH session a pager or a file would be on the server.
	Local *Local
}

// wideLayout is the width from which the proposal pane sits beside the chat.
const wideLayout = 120

type focus int

const (
	focusInput focus = iota
	focusPane
)

// confirmation is a pending y/n question; anything but y says no.
type confirmation struct {
	prompt     string
	proposalID string
	rev        int  // GO: the revision shown when the person asked
	isGo       bool // false: cancel the proposal
	// escalation is GO's "Approve extra spend" panel (nil: no extra spend
	// to approve); approve is its toggle, off until the person turns it on.
	escalation *core.Execution
	approve    bool
	// spend answers a draft waiting for approval of spend: approveSpend
	// approves it, otherwise it is declined.
	spend        bool
	approveSpend bool
}

type status struct {
	text  string
	isErr bool
}

// model is the one root model. Sub-views (transcript, input, proposal pane,
// picker) get SetSize-style calls and render themselves.
type model struct {
	svc      core.Service
	local    *Local
	actor    string
	wantRepo string
	ctx      context.Context //nolint:containedctx // session lifetime, see Options.Context
	cancel   context.CancelFunc

	keys   KeyMap
	st     *Styles
	help   help.Model
	width  int
	height int

	repos    []core.Repo
	repo     string
	conv     *core.Conversation
	messages []core.Message
	proposal *core.Proposal
	job      *core.Job
	// budget is the ledger's windows, read when the shown proposal has
	// costs to weigh against them (nil: not read, or no ledger).
	budget *core.BudgetStatus

	seq     uint64 // last fetch sequence number handed out
	applied struct{ messages, proposal, job uint64 }

	focus      focus
	showPane   bool // narrow layout: the pane replaces the chat
	picking    bool
	picker     picker
	confirm    *confirmation
	sending    bool
	quitting   bool
	status     status
	events     <-chan core.Event
	transcript transcript
	input      input
	pane       proposalPane
}

// New returns the app for one session.
func New(svc core.Service, opts Options) tea.Model {
	parent := opts.Context
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	maxBytes := opts.MaxPasteBytes
	if maxBytes <= 0 {
		maxBytes = defaultMaxPasteBytes
	}
	st := NewStyles(true)
	m := &model{
		svc:      svc,
		local:    opts.Local,
		actor:    opts.Actor,
		wantRepo: opts.Repo,
		ctx:      ctx,
		cancel:   cancel,
		keys:     DefaultKeyMap(),
		st:       &st,
		help:     help.New(),
		input:    newInput(maxBytes, &st),
		pane:     newProposalPane(&st),
	}
	m.help.Styles = st.Help
	m.transcript.st = &st
	m.input.focus()
	m.syncKeys()
	if opts.Notice != "" {
		m.setProblem(opts.Notice)
	}
	return m
}

// Init subscribes to live events and loads the repositories.
func (m *model) Init() tea.Cmd {
	return tea.Batch(m.subscribe(), m.loadRepos(), tea.RequestBackgroundColor)
}

// Update routes one message, then re-syncs the key map (the help line only
// offers what works now) and the layout (status and help rows vary).
func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	m.syncKeys()
	m.layout()
	return m, cmd
}

func (m *model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.setSize(msg.Width, msg.Height)
		return nil
	case tea.BackgroundColorMsg:
		m.setStyles(NewStyles(msg.IsDark()))
		return nil
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	case tea.PasteMsg:
		return m.handlePaste(msg)
	case subscribedMsg:
		if msg.err != nil {
			m.setError(fmt.Errorf("subscribe to live updates (the screen will not refresh by itself): %w", msg.err))
			return nil
		}
		m.events = msg.ch
		return waitEvent(m.events)
	case eventMsg:
		return tea.Batch(m.onEvent(msg.ev), waitEvent(m.events))
	case localMsg:
		return m.onLocal(msg)
	case eventsClosedMsg:
		if !m.quitting && m.ctx.Err() == nil {
			m.setProblem("live updates stopped: the server ended the event stream; reconnect to see new changes")
		}
		return nil
	}
	return m.handleResult(msg)
}

// View renders the whole screen in the alternate screen buffer.
func (m *model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	return v
}

func (m *model) setSize(w, h int) {
	m.width, m.height = w, h
	if m.wide() {
		m.showPane = false
	} else {
		m.showPane = m.focus == focusPane
	}
	m.help.SetWidth(w)
	m.layout()
}

func (m *model) wide() bool { return m.width >= wideLayout }

func (m *model) setStyles(st Styles) {
	*m.st = st
	m.help.Styles = st.Help
	m.pane.setStyles(m.st)
	m.transcript.stale = true
}

// setError, setProblem and setInfo fill the status line: the first two in
// red, for failed calls and for refused actions.
func (m *model) setError(err error)  { m.setProblem(err.Error()) }
func (m *model) setProblem(s string) { m.status = status{text: s, isErr: true} }
func (m *model) setInfo(s string)    { m.status = status{text: s} }

// openRepo switches to repo and opens its newest conversation.
func (m *model) openRepo(name string) tea.Cmd {
	m.repo = name
	m.picking = false
	m.setConversation(nil)
	return m.openNewestConversation(name)
}

// setConversation shows conv (nil: none yet) and forgets the previous one.
func (m *model) setConversation(conv *core.Conversation) {
	m.conv = conv
	m.messages = nil
	m.transcript.setMessages(nil)
	m.transcript.loaded = false // until its messages arrive
	m.setProposal(nil)
	m.job = nil
	m.confirm = nil
}

func (m *model) setProposal(p *core.Proposal) {
	if c := m.confirm; c != nil && c.isGo {
		// GO names the revision the person saw: if it changed under the
		// question, the answer no longer means what it meant.
		if p == nil || p.ID != c.proposalID || p.State != core.StateProposed || p.Current() == nil || p.Current().N != c.rev {
			m.confirm = nil
			m.setProblem("GO not started: the proposal changed while you were deciding; look at it again")
		}
	}
	if c := m.confirm; c != nil && c.spend && !waitingOn(p, c.proposalID, c.rev) {
		m.confirm = nil
		m.setProblem("nothing decided: the proposal changed while you were deciding; look at it again")
	}
	if p != nil && m.job != nil && m.job.ProposalID != p.ID {
		m.job = nil
	}
	m.proposal = p
	m.pane.set(p, m.job)
	m.layout()
}

// reloadAll re-reads everything shown, after events were lost.
func (m *model) reloadAll() tea.Cmd {
	cmds := []tea.Cmd{m.loadRepos()}
	if m.repo != "" {
		cmds = append(cmds, m.loadConversations(m.repo))
	}
	if m.conv != nil {
		cmds = append(cmds, m.loadMessages(m.conv.ID), m.loadLatestProposal(m.repo, m.conv.ID))
	}
	return tea.Batch(cmds...)
}

// onEvent re-fetches what the event touches.
func (m *model) onEvent(ev core.Event) tea.Cmd {
	if ev.Repo != "" && m.repo != "" && ev.Repo != m.repo {
		return nil
	}
	switch ev.Kind {
	case core.EventMessage:
		if m.conv != nil && ev.ConversationID == m.conv.ID {
			return m.loadMessages(m.conv.ID)
		}
	case core.EventConversation:
		if m.repo != "" {
			return m.loadConversations(m.repo)
		}
	case core.EventProposal:
		id := ev.ID
		if id == "" {
			id = ev.ProposalID
		}
		if m.conv != nil && id != "" {
			return m.loadProposal(id)
		}
	case core.EventJob:
		if p := m.proposal; p != nil && ev.ID != "" && (ev.ProposalID == p.ID || ev.ID == p.JobID) {
			return m.loadJob(ev.ID)
		}
	case core.EventResync:
		if ev.Text != "" {
			m.setInfo(ev.Text)
		}
		return m.reloadAll()
	case core.EventNotice:
		m.setProblem(ev.Text)
	}
	return nil
}
