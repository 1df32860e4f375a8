package tui

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/patchgit/patchgit/internal/core"
)

// callTimeout bounds one Service call, so a stuck remote service shows an
// error instead of a frozen app.
const callTimeout = 30 * time.Second

// newConversationTitle names conversations the app starts.
const newConversationTitle = "Conversation"

// Messages that carry Service results back into Update. Each fetch of state
// that can change under us carries a sequence number, so an older answer
// that arrives late never overwrites a newer one.
type (
	reposMsg struct {
		repos []core.Repo
		err   error
	}
	convOpenedMsg struct {
		repo string
		conv core.Conversation
		err  error
	}
	convsMsg struct {
		repo  string
		convs []core.Conversation
		err   error
	}
	messagesMsg struct {
		seq    uint64
		convID string
		msgs   []core.Message
		err    error
	}
	proposalMsg struct {
		seq    uint64
		convID string
		p      *core.Proposal // nil: the conversation has no proposal
		err    error
	}
	jobMsg struct {
		seq uint64
		job core.Job
		err error
	}
	sentMsg struct {
		convID string
		err    error
	}
	goMsg struct {
		rev int
		job core.Job
		err error
	}
	cancelMsg struct{ err error }
	spendMsg  struct {
		rev     int
		approve bool
		p       core.Proposal
		err     error
	}
	budgetMsg struct {
		st  core.BudgetStatus
		err error
	}

	subscribedMsg struct {
		ch  <-chan core.Event
		err error
	}
	eventMsg        struct{ ev core.Event }
	eventsClosedMsg struct{}
)

// call runs f with a bounded context derived from the session's.
func (m *model) call(f func(ctx context.Context) tea.Msg) tea.Cmd {
	parent := m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(parent, callTimeout)
		defer cancel()
		return f(ctx)
	}
}

func (m *model) nextSeq() uint64 {
	m.seq++
	return m.seq
}

func (m *model) loadRepos() tea.Cmd {
	svc := m.svc
	return m.call(func(ctx context.Context) tea.Msg {
		repos, err := svc.Repos(ctx)
		return reposMsg{repos: repos, err: err}
	})
}

// openNewestConversation opens the repository's newest conversation, or
// starts one when it has none.
func (m *model) openNewestConversation(repo string) tea.Cmd {
	svc, actor := m.svc, m.actor
	return m.call(func(ctx context.Context) tea.Msg {
		convs, err := svc.Conversations(ctx, repo)
		if err != nil {
			return convOpenedMsg{repo: repo, err: err}
		}
		if len(convs) > 0 {
			return convOpenedMsg{repo: repo, conv: convs[0]}
		}
		conv, err := svc.StartConversation(ctx, actor, repo, newConversationTitle)
		return convOpenedMsg{repo: repo, conv: conv, err: err}
	})
}

func (m *model) startConversation(repo string) tea.Cmd {
	svc, actor := m.svc, m.actor
	return m.call(func(ctx context.Context) tea.Msg {
		conv, err := svc.StartConversation(ctx, actor, repo, newConversationTitle)
		return convOpenedMsg{repo: repo, conv: conv, err: err}
	})
}

func (m *model) loadConversations(repo string) tea.Cmd {
	svc := m.svc
	return m.call(func(ctx context.Context) tea.Msg {
		convs, err := svc.Conversations(ctx, repo)
		return convsMsg{repo: repo, convs: convs, err: err}
	})
}

func (m *model) loadMessages(convID string) tea.Cmd {
	svc, seq := m.svc, m.nextSeq()
	return m.call(func(ctx context.Context) tea.Msg {
		msgs, err := svc.Messages(ctx, convID)
		return messagesMsg{seq: seq, convID: convID, msgs: msgs, err: err}
	})
}

// loadLatestProposal finds the conversation's newest proposal: Proposals
// lists newest first.
func (m *model) loadLatestProposal(repo, convID string) tea.Cmd {
	svc, seq := m.svc, m.nextSeq()
	return m.call(func(ctx context.Context) tea.Msg {
		ps, err := svc.Proposals(ctx, repo, "")
		if err != nil {
			return proposalMsg{seq: seq, convID: convID, err: err}
		}
		for i := range ps {
			if ps[i].ConversationID == convID {
				return proposalMsg{seq: seq, convID: convID, p: &ps[i]}
			}
		}
		return proposalMsg{seq: seq, convID: convID}
	})
}

func (m *model) loadProposal(id string) tea.Cmd {
	svc, seq := m.svc, m.nextSeq()
	return m.call(func(ctx context.Context) tea.Msg {
		p, err := svc.Proposal(ctx, id)
		if err != nil {
			return proposalMsg{seq: seq, err: err}
		}
		return proposalMsg{seq: seq, convID: p.ConversationID, p: &p}
	})
}

func (m *model) loadJob(id string) tea.Cmd {
	svc, seq := m.svc, m.nextSeq()
	return m.call(func(ctx context.Context) tea.Msg {
		job, err := svc.Job(ctx, id)
		return jobMsg{seq: seq, job: job, err: err}
	})
}

func (m *model) send(convID, text string) tea.Cmd {
	svc, actor := m.svc, m.actor
	return m.call(func(ctx context.Context) tea.Msg {
		_, err := svc.Send(ctx, actor, convID, text)
		return sentMsg{convID: convID, err: err}
	})
}

func (m *model) goProposal(id string, rev int, approveExtra bool) tea.Cmd {
	svc, actor := m.svc, m.actor
	return m.call(func(ctx context.Context) tea.Msg {
		job, err := svc.GoWith(ctx, actor, id, rev, approveExtra)
		return goMsg{rev: rev, job: job, err: err}
	})
}

func (m *model) decideSpend(id string, rev int, approve bool) tea.Cmd {
	svc, actor := m.svc, m.actor
	return m.call(func(ctx context.Context) tea.Msg {
		p, err := svc.DecideSpend(ctx, actor, id, rev, approve)
		return spendMsg{rev: rev, approve: approve, p: p, err: err}
	})
}

// loadBudget reads the budget windows the proposal's costs are weighed
// against.
func (m *model) loadBudget() tea.Cmd {
	svc := m.svc
	return m.call(func(ctx context.Context) tea.Msg {
		st, err := svc.Budget(ctx)
		return budgetMsg{st: st, err: err}
	})
}

func (m *model) cancelProposal(id string) tea.Cmd {
	svc, actor := m.svc, m.actor
	return m.call(func(ctx context.Context) tea.Msg {
		return cancelMsg{err: svc.Cancel(ctx, actor, id)}
	})
}

// subscribe starts the event stream for the whole session: its context is
// the session's, not a call's.
func (m *model) subscribe() tea.Cmd {
	svc, ctx := m.svc, m.ctx
	return func() tea.Msg {
		ch, err := svc.Subscribe(ctx)
		return subscribedMsg{ch: ch, err: err}
	}
}

// waitEvent blocks for the next event; Update re-arms it after each one.
func waitEvent(ch <-chan core.Event) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsClosedMsg{}
		}
		return eventMsg{ev: ev}
	}
}
