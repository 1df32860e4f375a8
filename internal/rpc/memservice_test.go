package rpc

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/core"
)

// memService is a small, deterministic in-memory core.Service and
// core.Admin for protocol tests: two fresh instances given the same calls
// give the same answers (ids and times come from counters).
type memService struct {
	mu        sync.Mutex
	tick      int
	repos     []core.Repo
	convs     []core.Conversation
	messages  map[string][]core.Message
	proposals []core.Proposal
	jobs      []core.Job
	prs       []core.PR
	audit     []core.AuditEntry
	pin       string
	down      bool // every call answers ErrServiceShutdown
	calls     []string

	subs         map[int]chan core.Event
	nextSub      int
	unsubscribed chan struct{} // one value per ended subscription

	// Job("block") waits for release or its ctx; entered and cancelled
	// report what happened, so tests wait on facts, not time.
	release   chan struct{}
	entered   chan struct{}
	cancelled chan struct{}
}

const memPatchLimit = 1 << 20

// memOverBudget starts a patch whose proposal waits for approval of spend.
const memOverBudget = "over budget"

var memEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newMemService() *memService {
	s := &memService{
		repos: []core.Repo{
			{Name: "demo", BaseBranch: "main", Forge: "local", Checks: []string{"go test ./..."}},
			{Name: "tools", BaseBranch: "trunk", Forge: "local"},
		},
		messages:     map[string][]core.Message{},
		subs:         map[int]chan core.Event{},
		unsubscribed: make(chan struct{}, 64),
		release:      make(chan struct{}),
		entered:      make(chan struct{}, 64),
		cancelled:    make(chan struct{}, 64),
	}
	s.prs = []core.PR{
		{Repo: "demo", Number: 1, Title: "Fix typo", Body: "body", Base: "main", Head: "patchgit/p1", State: "open", URL: "local://demo/1", Created: memEpoch},
		{Repo: "demo", Number: 2, Title: "Old", Base: "main", Head: "patchgit/p0", State: "merged", URL: "local://demo/2", Created: memEpoch},
		{Repo: "demo", Number: 3, Title: "Docs", Base: "main", Head: "patchgit/p2", State: "open", URL: "local://demo/3", Created: memEpoch},
	}
	return s
}

// now and id must be called with mu held.
func (s *memService) now() time.Time {
	s.tick++
	return memEpoch.Add(time.Duration(s.tick) * time.Second)
}

func (s *memService) id(prefix string) string {
	s.tick++
	return prefix + "-" + strconv.Itoa(s.tick)
}

// enter records the call and checks shutdown; mu must be held.
func (s *memService) enter(method string, args ...any) error {
	s.calls = append(s.calls, fmt.Sprint(append([]any{method}, args...)...))
	if s.down {
		return fmt.Errorf("%s: %w", strings.ToLower(method), core.ErrServiceShutdown)
	}
	return nil
}

func (s *memService) callLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *memService) record(kind, actor, subject string, data map[string]string) {
	prev := ""
	if n := len(s.audit); n > 0 {
		prev = s.audit[n-1].Hash
	}
	seq := uint64(len(s.audit) + 1)
	s.audit = append(s.audit, core.AuditEntry{Seq: seq, Time: s.now(), Kind: kind, Actor: actor, Subject: subject,
		Data: data, Prev: prev, Hash: fmt.Sprintf("h%d", seq)})
	s.publish(core.Event{Kind: core.EventAudit, ID: strconv.FormatUint(seq, 10)})
}

// publish never blocks: a full subscriber loses the event (as in core).
func (s *memService) publish(ev core.Event) {
	for _, ch := range s.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

func (s *memService) knownRepo(name string) bool {
	for _, r := range s.repos {
		if r.Name == name {
			return true
		}
	}
	return false
}

func (s *memService) Repos(ctx context.Context) ([]core.Repo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Repos"); err != nil {
		return nil, err
	}
	return append([]core.Repo(nil), s.repos...), nil
}

func (s *memService) Conversations(ctx context.Context, repo string) ([]core.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Conversations", repo); err != nil {
		return nil, err
	}
	if repo != "" && !s.knownRepo(repo) {
		return nil, fmt.Errorf("list conversations of %q: %w", repo, core.ErrUnknownRepo)
	}
	var out []core.Conversation
	for i := len(s.convs) - 1; i >= 0; i-- {
		if repo == "" || s.convs[i].Repo == repo {
			out = append(out, s.convs[i])
		}
	}
	return out, nil
}

func (s *memService) StartConversation(ctx context.Context, actor, repo, title string) (core.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("StartConversation", actor, repo, title); err != nil {
		return core.Conversation{}, err
	}
	if !s.knownRepo(repo) {
		return core.Conversation{}, fmt.Errorf("start conversation about %q: %w", repo, core.ErrUnknownRepo)
	}
	if strings.TrimSpace(title) == "" {
		return core.Conversation{}, fmt.Errorf("start conversation: the title is blank: %w", core.ErrEmptyInput)
	}
	now := s.now()
	c := core.Conversation{ID: s.id("c"), Repo: repo, Title: title, Created: now, Updated: now}
	s.convs = append(s.convs, c)
	s.record("conversation.start", actor, c.ID, nil)
	s.publish(core.Event{Kind: core.EventConversation, ID: c.ID, Repo: repo})
	return c, nil
}

func (s *memService) Messages(ctx context.Context, conversationID string) ([]core.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Messages", conversationID); err != nil {
		return nil, err
	}
	msgs, ok := s.messages[conversationID]
	if !ok && !s.hasConv(conversationID) {
		return nil, fmt.Errorf("read conversation %q: %w", conversationID, core.ErrNotFound)
	}
	return append([]core.Message(nil), msgs...), nil
}

func (s *memService) hasConv(id string) bool {
	for _, c := range s.convs {
		if c.ID == id {
			return true
		}
	}
	return false
}

func (s *memService) Send(ctx context.Context, actor, conversationID, text string) (core.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Send", actor, conversationID, text); err != nil {
		return core.Message{}, err
	}
	if !s.hasConv(conversationID) {
		return core.Message{}, fmt.Errorf("send to conversation %q: %w", conversationID, core.ErrNotFound)
	}
	if strings.TrimSpace(text) == "" {
		return core.Message{}, fmt.Errorf("send: the message is blank: %w", core.ErrEmptyInput)
	}
	m := core.Message{ID: s.id("m"), ConversationID: conversationID, Seq: len(s.messages[conversationID]) + 1,
		Role: core.RoleUser, Text: text, Time: s.now()}
	s.messages[conversationID] = append(s.messages[conversationID], m)
	s.publish(core.Event{Kind: core.EventMessage, ID: m.ID, ConversationID: conversationID})
	return m, nil
}

func (s *memService) Propose(ctx context.Context, actor, repo, patch string) (core.Proposal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Propose", actor, repo, len(patch)); err != nil {
		return core.Proposal{}, err
	}
	switch {
	case !s.knownRepo(repo):
		return core.Proposal{}, fmt.Errorf("propose to %q: %w", repo, core.ErrUnknownRepo)
	case strings.TrimSpace(patch) == "":
		return core.Proposal{}, fmt.Errorf("propose: the patch is blank: %w", core.ErrEmptyInput)
	case len(patch) > memPatchLimit:
		return core.Proposal{}, fmt.Errorf("propose: the patch is %d bytes, the limit is %d: %w", len(patch), memPatchLimit, core.ErrInputTooLarge)
	}
	now := s.now()
	cost := int64(1234)
	p := core.Proposal{ID: s.id("p"), Repo: repo, Title: "Apply pasted patch", State: core.StateProposed,
		Revisions: []core.Revision{{N: 1, Source: "pasted-diff", Request: "apply", Plan: []string{"apply the diff"},
			Targets: []string{"main.go"}, Diff: patch, BaseCommit: "abc123", Verified: true,
			Checks:     []core.CheckResult{{Command: "go test ./...", Passed: true, Output: "ok", Duration: 1500 * time.Millisecond, Mode: "bwrap"}},
			Risk:       &core.Score{Value: 12, Factors: []string{"1 file"}},
			Confidence: &core.Score{Value: 90, Factors: []string{"checks pass"}},
			CostMicros: &cost, Created: now}},
		Created: now, Updated: now}
	if strings.HasPrefix(patch, memOverBudget) { // drafts that wait for approval of spend
		p.State, p.Waiting = core.StateDraft, core.WaitingApproval
		p.Awaiting = &core.Escalation{What: "the sandbox verify", Why: []string{"over the hourly cap"}, CostMicros: 10_000, ApproveMicros: 11_000}
	}
	s.proposals = append(s.proposals, p)
	s.record("proposal.create", actor, p.ID, map[string]string{"repo": repo})
	s.publish(core.Event{Kind: core.EventProposal, ID: p.ID, Repo: repo})
	return p, nil
}

func (s *memService) Proposals(ctx context.Context, repo string, state core.ProposalState) ([]core.Proposal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Proposals", repo, state); err != nil {
		return nil, err
	}
	var out []core.Proposal
	for i := len(s.proposals) - 1; i >= 0; i-- {
		p := s.proposals[i]
		if (repo == "" || p.Repo == repo) && (state == "" || p.State == state) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *memService) findProposal(id string) (*core.Proposal, error) {
	for i := range s.proposals {
		if s.proposals[i].ID == id {
			return &s.proposals[i], nil
		}
	}
	return nil, fmt.Errorf("find proposal %q: %w", id, core.ErrNotFound)
}

// hugeProposal's answer does not fit in one frame.
const hugeProposal = "huge"

func (s *memService) Proposal(ctx context.Context, id string) (core.Proposal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Proposal", id); err != nil {
		return core.Proposal{}, err
	}
	if id == hugeProposal {
		return core.Proposal{ID: id, Revisions: []core.Revision{{N: 1, Diff: strings.Repeat("x", MaxFrameSize)}}}, nil
	}
	p, err := s.findProposal(id)
	if err != nil {
		return core.Proposal{}, err
	}
	return *p, nil
}

func (s *memService) Go(ctx context.Context, actor, proposalID string, rev int) (core.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Go", actor, proposalID, rev); err != nil {
		return core.Job{}, err
	}
	return s.goLocked(actor, proposalID, rev)
}

func (s *memService) GoWith(ctx context.Context, actor, proposalID string, rev int, approveExtra bool) (core.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("GoWith", actor, proposalID, rev, approveExtra); err != nil {
		return core.Job{}, err
	}
	return s.goLocked(actor, proposalID, rev)
}

func (s *memService) Budget(ctx context.Context) (core.BudgetStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Budget"); err != nil {
		return core.BudgetStatus{}, err
	}
	return core.BudgetStatus{
		Hour:   budget.WindowStatus{Name: "hour", Cap: 1_000_000, Spent: 250_000, Reserved: 100_000, Remaining: 650_000},
		Day:    budget.WindowStatus{Name: "day", Cap: 5_000_000, Spent: 250_000, Reserved: 100_000, Remaining: 4_650_000},
		Recent: []budget.Spend{{Seq: 2, Reservation: "r1", Purpose: "verify", Category: budget.CategoryHelper, Amount: 250_000, From: s.now(), To: s.now()}},
		Open:   []budget.Reservation{{ID: "r3", Purpose: "verify", Amount: 100_000, Created: s.now(), From: s.now()}},
	}, nil
}

// goLocked is Go's body; mu must be held.
func (s *memService) goLocked(actor, proposalID string, rev int) (core.Job, error) {
	p, err := s.findProposal(proposalID)
	if err != nil {
		return core.Job{}, err
	}
	if p.State == core.StateApproved && p.Approved == rev {
		return s.findJob(p.JobID) // a second GO is a no-op
	}
	if p.State != core.StateProposed {
		return core.Job{}, fmt.Errorf("go on %s: it is %s, not proposed: %w", p.ID, p.State, core.ErrIllegalState)
	}
	if rev != len(p.Revisions) {
		return core.Job{}, fmt.Errorf("go on %s revision %d: %w", p.ID, rev, core.ErrStaleRevision)
	}
	j := core.Job{ID: s.id("j"), Seq: uint64(len(s.jobs) + 1), Kind: core.JobExecute, ProposalID: p.ID, Revision: rev,
		Repo: p.Repo, State: core.JobQueued, Created: s.now()}
	s.jobs = append(s.jobs, j)
	p.State, p.Approved, p.JobID = core.StateApproved, rev, j.ID
	s.record("proposal.go", actor, p.ID, map[string]string{"rev": strconv.Itoa(rev)})
	s.publish(core.Event{Kind: core.EventJob, ID: j.ID, ProposalID: p.ID})
	return j, nil
}

func (s *memService) Cancel(ctx context.Context, actor, proposalID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Cancel", actor, proposalID); err != nil {
		return err
	}
	p, err := s.findProposal(proposalID)
	if err != nil {
		return err
	}
	switch p.State {
	case core.StateRunning, core.StatePublished, core.StateFailed, core.StateCancelled:
		return fmt.Errorf("cancel %s: it is %s: %w", p.ID, p.State, core.ErrIllegalState)
	}
	p.State, p.Reason = core.StateCancelled, "cancelled by "+actor
	s.record("proposal.cancel", actor, p.ID, nil)
	return nil
}

func (s *memService) Jobs(ctx context.Context) ([]core.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Jobs"); err != nil {
		return nil, err
	}
	return append([]core.Job(nil), s.jobs...), nil
}

func (s *memService) findJob(id string) (core.Job, error) {
	for _, j := range s.jobs {
		if j.ID == id {
			return j, nil
		}
	}
	return core.Job{}, fmt.Errorf("find job %q: %w", id, core.ErrNotFound)
}

// blockingJob is the job id whose lookup waits (see memService.release).
const blockingJob = "block"

func (s *memService) Job(ctx context.Context, id string) (core.Job, error) {
	s.mu.Lock()
	if err := s.enter("Job", id); err != nil {
		s.mu.Unlock()
		return core.Job{}, err
	}
	if id == blockingJob {
		s.mu.Unlock()
		s.entered <- struct{}{}
		select {
		case <-s.release:
			return core.Job{ID: id, State: core.JobDone}, nil
		case <-ctx.Done():
			s.cancelled <- struct{}{}
			return core.Job{}, fmt.Errorf("read job %q: %w", id, ctx.Err())
		}
	}
	defer s.mu.Unlock()
	return s.findJob(id)
}

func (s *memService) PRs(ctx context.Context, repo string) ([]core.PR, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("PRs", repo); err != nil {
		return nil, err
	}
	var out []core.PR
	for _, pr := range s.prs {
		if repo == "" || pr.Repo == repo {
			out = append(out, pr)
		}
	}
	return out, nil
}

func (s *memService) setPRState(method, actor, repo string, number int, state string) (core.PR, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(method, actor, repo, number); err != nil {
		return core.PR{}, err
	}
	for i := range s.prs {
		pr := &s.prs[i]
		if pr.Repo != repo || pr.Number != number {
			continue
		}
		if pr.State != "open" {
			return core.PR{}, fmt.Errorf("%s %s#%d: it is %s: %w", strings.ToLower(method), repo, number, pr.State, core.ErrIllegalState)
		}
		pr.State = state
		s.record("pr."+state, actor, fmt.Sprintf("%s#%d", repo, number), nil)
		s.publish(core.Event{Kind: core.EventPR, ID: strconv.Itoa(number), Repo: repo})
		return *pr, nil
	}
	return core.PR{}, fmt.Errorf("find pull request %s#%d: %w", repo, number, core.ErrNotFound)
}

func (s *memService) ClosePR(ctx context.Context, actor, repo string, number int) (core.PR, error) {
	return s.setPRState("ClosePR", actor, repo, number, "closed")
}

func (s *memService) MergePR(ctx context.Context, actor, repo string, number int) (core.PR, error) {
	return s.setPRState("MergePR", actor, repo, number, "merged")
}

func (s *memService) Audit(ctx context.Context, from uint64, limit int) ([]core.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Audit", from, limit); err != nil {
		return nil, err
	}
	var out []core.AuditEntry
	for _, e := range s.audit {
		if e.Seq >= from && (limit == 0 || len(out) < limit) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *memService) VerifyAudit(ctx context.Context) (core.AuditReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("VerifyAudit"); err != nil {
		return core.AuditReport{}, err
	}
	r := core.AuditReport{OK: true, Entries: uint64(len(s.audit))}
	if n := len(s.audit); n > 0 {
		r.HeadSeq, r.HeadHash = s.audit[n-1].Seq, s.audit[n-1].Hash
	}
	return r, nil
}

func (s *memService) AuditPage(ctx context.Context, q core.AuditQuery) (core.AuditPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("AuditPage", q); err != nil {
		return core.AuditPage{}, err
	}
	page := core.AuditPage{Report: core.AuditReport{OK: true, Entries: uint64(len(s.audit))}}
	page.Entries = []core.AuditEntry{}
	limit := q.Limit
	if limit <= 0 {
		limit = core.DefaultAuditPage
	}
	for i := len(s.audit) - 1; i >= 0; i-- {
		e := s.audit[i]
		if (q.Before == 0 || e.Seq < q.Before) && q.Keep(e) {
			if len(page.Entries) == limit {
				page.Older = page.Entries[limit-1].Seq
				break
			}
			page.Entries = append(page.Entries, e)
		}
	}
	return page, nil
}

func (s *memService) AuditTrail(ctx context.Context, proposalID string) ([]core.AuditEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("AuditTrail", proposalID); err != nil {
		return nil, err
	}
	var out []core.AuditEntry
	for _, e := range s.audit {
		if e.Subject == proposalID {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *memService) LocalPR(ctx context.Context, repo string, number int) (core.LocalChange, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("LocalPR", repo, number); err != nil {
		return core.LocalChange{}, err
	}
	for _, p := range s.prs {
		if p.Repo == repo && p.Number == number {
			return core.LocalChange{PR: p, BaseSHA: "b", HeadSHA: "h", Diff: "--- a/x\n+++ b/x\n"}, nil
		}
	}
	return core.LocalChange{}, fmt.Errorf("local pr %s#%d: %w", repo, number, core.ErrNotFound)
}

func (s *memService) Subscribe(ctx context.Context) (<-chan core.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("Subscribe"); err != nil {
		return nil, err
	}
	ch := make(chan core.Event, 16)
	s.nextSub++
	n := s.nextSub
	s.subs[n] = ch
	context.AfterFunc(ctx, func() { s.unsubscribe(n) })
	return ch, nil
}

func (s *memService) unsubscribe(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.subs[n]; ok {
		delete(s.subs, n)
		close(ch)
		s.unsubscribed <- struct{}{}
	}
}

// endSubscriptions closes every subscriber's channel, as core does when
// it stops.
func (s *memService) endSubscriptions() {
	s.mu.Lock()
	ids := make([]int, 0, len(s.subs))
	for n := range s.subs {
		ids = append(ids, n)
	}
	s.mu.Unlock()
	for _, n := range ids {
		s.unsubscribe(n)
	}
}

func (s *memService) subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// SetPIN never records the PIN itself, only that it was set.
func (s *memService) SetPIN(ctx context.Context, actor, pin string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("SetPIN", actor, "<pin>"); err != nil {
		return err
	}
	if pin == "" {
		return fmt.Errorf("set PIN: %w", core.ErrEmptyInput)
	}
	s.pin = pin
	s.record("pin.set", actor, "pin", nil)
	return nil
}

func (s *memService) UnlockPIN(ctx context.Context, actor string) (core.PINUnlock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("UnlockPIN", actor); err != nil {
		return core.PINUnlock{}, err
	}
	s.record("gate.unlocked", actor, "pin", nil)
	return core.PINUnlock{}, nil
}

func (s *memService) currentPIN() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pin
}

func (m *memService) WebLink(_ context.Context, actor string) (core.WebLink, error) {
	return core.WebLink{URL: "http://mirror.test/login?link=for-" + actor, Expires: time.Unix(1700000300, 0).UTC()}, nil
}

func (s *memService) DecideSpend(ctx context.Context, actor, proposalID string, rev int, approve bool) (core.Proposal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter("DecideSpend", actor, proposalID, rev, approve); err != nil {
		return core.Proposal{}, err
	}
	p, err := s.findProposal(proposalID)
	if err != nil {
		return core.Proposal{}, err
	}
	if p.JobID != "" && p.Waiting == core.WaitingNone && approve {
		return *p, nil // a second approve is a no-op
	}
	if p.Waiting != core.WaitingApproval {
		return core.Proposal{}, fmt.Errorf("decide spend on %s: nothing waits: %w", p.ID, core.ErrIllegalState)
	}
	if rev != len(p.Revisions) {
		return core.Proposal{}, fmt.Errorf("decide spend on %s revision %d: %w", p.ID, rev, core.ErrStaleRevision)
	}
	p.Waiting, p.Awaiting = core.WaitingNone, nil
	if approve {
		j := core.Job{ID: s.id("j"), Seq: uint64(len(s.jobs) + 1), Kind: core.JobDraft, ProposalID: p.ID, Revision: rev,
			Repo: p.Repo, State: core.JobQueued, SpendApproved: true, Created: s.now()}
		s.jobs = append(s.jobs, j)
		p.JobID = j.ID
		s.record("proposal.spend_approved", actor, p.ID, nil)
	} else {
		p.Declined, p.Reason = rev, "declined by "+actor
		s.record("proposal.spend_declined", actor, p.ID, nil)
	}
	return *p, nil
}
