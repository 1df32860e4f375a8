package tui

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/patchgit/patchgit/internal/core"
)

// fakeService is an in-memory core.Service: the TUI is the unit under test
// here. It records the state-changing calls on channels a test can wait on
// and publishes events the way the real service does.
type fakeService struct {
	mu        sync.Mutex
	repos     []core.Repo
	convs     []core.Conversation // newest first
	msgs      map[string][]core.Message
	proposals []core.Proposal // newest first
	jobs      map[string]core.Job
	subs      []chan core.Event
	ids       int
	clock     time.Time

	sends   chan sendCall
	gos     chan goCall
	cancels chan string
	spends  chan spendCall
	subbed  chan struct{} // one value per Subscribe
	budget  *core.BudgetStatus
}

type sendCall struct{ actor, convID, text string }

type goCall struct {
	actor, id string
	rev       int
	approve   bool
}

type spendCall struct {
	actor, id string
	rev       int
	approve   bool
}

var errFakeUnsupported = errors.New("not supported by the fake service")

func newFakeService(repos ...string) *fakeService {
	f := &fakeService{
		msgs:    map[string][]core.Message{},
		jobs:    map[string]core.Job{},
		clock:   time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		sends:   make(chan sendCall, 16),
		gos:     make(chan goCall, 16),
		cancels: make(chan string, 16),
		spends:  make(chan spendCall, 16),
		subbed:  make(chan struct{}, 16),
	}
	for _, r := range repos {
		f.repos = append(f.repos, core.Repo{Name: r, BaseBranch: "main", Forge: "local"})
	}
	return f
}

func (f *fakeService) now() time.Time {
	f.clock = f.clock.Add(time.Second)
	return f.clock
}

func (f *fakeService) id(prefix string) string {
	f.ids++
	return fmt.Sprintf("%s%07d-0000-4000-8000-000000000000", prefix, f.ids)
}

// addConversation stores a conversation as the newest of its repo.
func (f *fakeService) addConversation(repo, title string) core.Conversation {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := core.Conversation{ID: f.id("c"), Repo: repo, Title: title, Created: f.now()}
	c.Updated = c.Created
	f.convs = append([]core.Conversation{c}, f.convs...)
	return c
}

func (f *fakeService) addMessage(convID string, role core.Role, text, proposalID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appendMessage(convID, role, text, proposalID)
}

func (f *fakeService) appendMessage(convID string, role core.Role, text, proposalID string) core.Message {
	m := core.Message{
		ID: f.id("m"), ConversationID: convID, Seq: len(f.msgs[convID]) + 1,
		Role: role, Text: text, ProposalID: proposalID, Time: f.now(),
	}
	f.msgs[convID] = append(f.msgs[convID], m)
	return m
}

// putProposal inserts or replaces a proposal (kept newest first by Created).
func (f *fakeService) putProposal(p core.Proposal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.proposals {
		if f.proposals[i].ID == p.ID {
			f.proposals[i] = p
			return
		}
	}
	f.proposals = append([]core.Proposal{p}, f.proposals...)
}

func (f *fakeService) putJob(j core.Job) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs[j.ID] = j
}

// emit publishes an event to every subscriber.
func (f *fakeService) emit(ev core.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

func (f *fakeService) Repos(context.Context) ([]core.Repo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]core.Repo(nil), f.repos...), nil
}

func (f *fakeService) Conversations(_ context.Context, repo string) ([]core.Conversation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []core.Conversation
	for _, c := range f.convs {
		if repo == "" || c.Repo == repo {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeService) StartConversation(_ context.Context, _, repo, title string) (core.Conversation, error) {
	f.mu.Lock()
	known := false
	for _, r := range f.repos {
		known = known || r.Name == repo
	}
	f.mu.Unlock()
	if !known {
		return core.Conversation{}, core.ErrUnknownRepo
	}
	return f.addConversation(repo, title), nil
}

func (f *fakeService) Messages(_ context.Context, convID string) ([]core.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]core.Message(nil), f.msgs[convID]...), nil
}

func (f *fakeService) Send(_ context.Context, actor, convID, text string) (core.Message, error) {
	f.mu.Lock()
	m := f.appendMessage(convID, core.RoleUser, text, "")
	f.mu.Unlock()
	f.sends <- sendCall{actor: actor, convID: convID, text: text}
	f.emit(core.Event{Kind: core.EventMessage, ConversationID: convID, ID: m.ID})
	return m, nil
}

func (f *fakeService) Propose(context.Context, string, string, string) (core.Proposal, error) {
	return core.Proposal{}, errFakeUnsupported
}

func (f *fakeService) Proposals(_ context.Context, repo string, state core.ProposalState) ([]core.Proposal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []core.Proposal
	for _, p := range f.proposals {
		if (repo == "" || p.Repo == repo) && (state == "" || p.State == state) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (f *fakeService) Proposal(_ context.Context, id string) (core.Proposal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.proposals {
		if p.ID == id {
			return p, nil
		}
	}
	return core.Proposal{}, fmt.Errorf("proposal %s: %w", id, core.ErrNotFound)
}

// Go behaves like the real service's guard: only a Proposed proposal, only
// the revision it currently shows.
func (f *fakeService) Go(ctx context.Context, actor, id string, rev int) (core.Job, error) {
	return f.GoWith(ctx, actor, id, rev, false)
}

// GoWith records the "Approve extra spend" toggle with the call.
func (f *fakeService) GoWith(_ context.Context, actor, id string, rev int, approveExtra bool) (core.Job, error) {
	f.gos <- goCall{actor: actor, id: id, rev: rev, approve: approveExtra}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.proposals {
		p := &f.proposals[i]
		if p.ID != id {
			continue
		}
		if p.State != core.StateProposed {
			return core.Job{}, core.ErrIllegalState
		}
		if cur := p.Current(); cur == nil || cur.N != rev {
			return core.Job{}, core.ErrStaleRevision
		}
		j := core.Job{ID: f.id("j"), Kind: core.JobExecute, ProposalID: id, Revision: rev, Repo: p.Repo, State: core.JobQueued}
		f.jobs[j.ID] = j
		p.State, p.Approved, p.JobID = core.StateQueued, rev, j.ID
		return j, nil
	}
	return core.Job{}, core.ErrNotFound
}

func (f *fakeService) Cancel(_ context.Context, _, id string) error {
	f.cancels <- id
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.proposals {
		if f.proposals[i].ID == id {
			f.proposals[i].State = core.StateCancelled
			f.proposals[i].Reason = "cancelled by the person"
			return nil
		}
	}
	return core.ErrNotFound
}

func (f *fakeService) Jobs(context.Context) ([]core.Job, error) { return nil, errFakeUnsupported }

func (f *fakeService) Job(_ context.Context, id string) (core.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return core.Job{}, core.ErrNotFound
	}
	return j, nil
}

func (f *fakeService) PRs(context.Context, string) ([]core.PR, error) { return nil, errFakeUnsupported }

func (f *fakeService) ClosePR(context.Context, string, string, int) (core.PR, error) {
	return core.PR{}, errFakeUnsupported
}

func (f *fakeService) MergePR(context.Context, string, string, int) (core.PR, error) {
	return core.PR{}, errFakeUnsupported
}

func (f *fakeService) Audit(context.Context, uint64, int) ([]core.AuditEntry, error) {
	return nil, errFakeUnsupported
}

func (f *fakeService) AuditPage(context.Context, core.AuditQuery) (core.AuditPage, error) {
	return core.AuditPage{}, errFakeUnsupported
}

func (f *fakeService) AuditTrail(context.Context, string) ([]core.AuditEntry, error) {
	return nil, errFakeUnsupported
}

func (f *fakeService) LocalPR(context.Context, string, int) (core.LocalChange, error) {
	return core.LocalChange{}, errFakeUnsupported
}

func (f *fakeService) VerifyAudit(context.Context) (core.AuditReport, error) {
	return core.AuditReport{}, errFakeUnsupported
}

// Subscribe hands out a buffered channel closed when ctx ends, like the
// real broker.
func (f *fakeService) Subscribe(ctx context.Context) (<-chan core.Event, error) {
	ch := make(chan core.Event, 64)
	f.mu.Lock()
	f.subs = append(f.subs, ch)
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, c := range f.subs {
			if c == ch {
				f.subs = append(f.subs[:i], f.subs[i+1:]...)
				close(ch)
				return
			}
		}
	}()
	f.subbed <- struct{}{}
	return ch, nil
}

var _ core.Service = (*fakeService)(nil)

func (f *fakeService) WebLink(_ context.Context, actor string) (core.WebLink, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return core.WebLink{URL: "http://127.0.0.1:8080/login?link=for-" + actor, Expires: f.clock.Add(5 * time.Minute)}, nil
}

// Budget reports the windows a test set (budget), or none.
func (f *fakeService) Budget(context.Context) (core.BudgetStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.budget == nil {
		return core.BudgetStatus{}, errFakeUnsupported
	}
	return *f.budget, nil
}

// DecideSpend records the answer and behaves like the real guard: only a
// draft waiting for approval, only its latest revision.
func (f *fakeService) DecideSpend(_ context.Context, actor, id string, rev int, approve bool) (core.Proposal, error) {
	f.spends <- spendCall{actor: actor, id: id, rev: rev, approve: approve}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.proposals {
		p := &f.proposals[i]
		if p.ID != id {
			continue
		}
		if p.Waiting != core.WaitingApproval {
			return core.Proposal{}, core.ErrIllegalState
		}
		if cur := p.Current(); cur == nil || cur.N != rev {
			return core.Proposal{}, core.ErrStaleRevision
		}
		p.Waiting, p.Awaiting = core.WaitingNone, nil
		if !approve {
			p.Reason = "declined by " + actor
		}
		return *p, nil
	}
	return core.Proposal{}, core.ErrNotFound
}
