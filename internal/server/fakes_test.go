package server

import (
	"context"
	"crypto/subtle"
	"fmt"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/patchgit/patchgit/internal/core"
)

// fakeService implements the parts of core.Service the server uses; the
// embedded nil interface makes any other call panic, which a test notices.
type fakeService struct {
	core.Service

	// afterPropose runs on its own goroutine after Propose returns, playing
	// the drafting job's part.
	afterPropose func(f *fakeService, id string)

	mu        sync.Mutex
	repos     []core.Repo
	proposals map[string]core.Proposal
	jobs      map[string]core.Job
	calls     []proposeCall
	subs      map[chan core.Event]struct{}
	proposed  chan string // receives each new proposal's id
}

type proposeCall struct{ actor, repo, patch string }

func newFakeService() *fakeService {
	return &fakeService{
		repos:     []core.Repo{{Name: "demo"}, {Name: "tools"}},
		proposals: map[string]core.Proposal{},
		jobs:      map[string]core.Job{},
		subs:      map[chan core.Event]struct{}{},
		proposed:  make(chan string, 16),
	}
}

func (f *fakeService) Repos(context.Context) ([]core.Repo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]core.Repo(nil), f.repos...), nil
}

func (f *fakeService) Propose(_ context.Context, actor, repo, patch string) (core.Proposal, error) {
	f.mu.Lock()
	known := false
	for _, r := range f.repos {
		known = known || r.Name == repo
	}
	if !known {
		f.mu.Unlock()
		return core.Proposal{}, fmt.Errorf("%w %q", core.ErrUnknownRepo, repo)
	}
	f.calls = append(f.calls, proposeCall{actor, repo, patch})
	n := len(f.calls)
	p := core.Proposal{ID: fmt.Sprintf("p%d", n), Repo: repo, State: core.StateDraft, JobID: fmt.Sprintf("j%d", n)}
	f.proposals[p.ID] = p
	f.jobs[p.JobID] = core.Job{ID: p.JobID, Kind: core.JobDraft, ProposalID: p.ID, Repo: repo, State: core.JobQueued}
	f.mu.Unlock()

	f.proposed <- p.ID
	if f.afterPropose != nil {
		go f.afterPropose(f, p.ID)
	}
	return p, nil
}

func (f *fakeService) Proposal(_ context.Context, id string) (core.Proposal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.proposals[id]
	if !ok {
		return core.Proposal{}, fmt.Errorf("proposal %s: %w", id, core.ErrNotFound)
	}
	return p, nil
}

func (f *fakeService) Job(_ context.Context, id string) (core.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return core.Job{}, fmt.Errorf("job %s: %w", id, core.ErrNotFound)
	}
	return j, nil
}

func (f *fakeService) Subscribe(ctx context.Context) (<-chan core.Event, error) {
	ch := make(chan core.Event, 16)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		delete(f.subs, ch)
		close(ch)
		f.mu.Unlock()
	}()
	return ch, nil
}

// update changes a proposal and, when job is non-nil, its job, then
// publishes ev, the way core commits and then notifies.
func (f *fakeService) update(id string, change func(*core.Proposal, *core.Job), evs ...core.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.proposals[id]
	j := f.jobs[p.JobID]
	change(&p, &j)
	f.proposals[id] = p
	f.jobs[p.JobID] = j
	for _, ev := range evs {
		for ch := range f.subs {
			ch <- ev
		}
	}
}

func (f *fakeService) proposeCalls() []proposeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]proposeCall(nil), f.calls...)
}

// fakePIN accepts one PIN and counts evaluations.
type fakePIN struct {
	pin   string
	mu    sync.Mutex
	calls int
}

func (c *fakePIN) CheckPIN(_ context.Context, pin string) (bool, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return subtle.ConstantTimeCompare([]byte(pin), []byte(c.pin)) == 1, nil
}

func (c *fakePIN) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// fakeClock only moves when the gate sleeps; it records each sleep.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// greeter is the stand-in app: it greets the actor and quits on "q".
type greeter struct{ actor string }

func (g greeter) Init() tea.Cmd { return nil }

func (g greeter) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "q" {
		return g, tea.Quit
	}
	return g, nil
}

func (g greeter) View() tea.View {
	v := tea.NewView("hello " + g.actor + " (press q)")
	v.AltScreen = true
	return v
}
