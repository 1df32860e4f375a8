package helper

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/store"
)

// Options tune the Manager.
type Options struct {
	// Instance is this install's id: its tag patchgit-instance-<id> keeps
	// two installs on one account from touching each other's helpers.
	Instance string
	Audit    *audit.Log // every create and destroy is audited; required
	Meter    Meter      // default NopMeter
	Logger   *slog.Logger
	// AllowedSizes: default DefaultAllowedSizes for digitalocean, every
	// size the provider offers otherwise.
	AllowedSizes []string
	TTL          time.Duration // a helper older than this is destroyed; default 2 h
	ReadyTimeout time.Duration // bound on "active and reachable over SSH"; default 10 min
	Poll         time.Duration // between status polls; default 5 s
	ConfirmFor   time.Duration // bound on confirming a deletion; default 2 min
	Interval     time.Duration // Loop's reconcile period; default 1 min
	Now          func() time.Time
	// OnStep is called once each lifecycle step is durable in the store
	// (logs, and the crash tests' kill points).
	OnStep func(step State, r Record)
	// ExtendEvery is how often a running helper's meter is extended;
	// default: what the meter asks for (BudgetMeter: half its slice), else
	// Interval.
	ExtendEvery time.Duration
	// JobSpend says which proposal a job spends for and whether the person
	// approved extra spend for it (then a size above the allow-list or a
	// second helper is allowed, and metered against the approval). nil:
	// nothing is approved.
	JobSpend func(job string) (proposal string, approved bool)
	// ModelServer is what cloud-init installs on a helper acquired with
	// Need.ModelServer (the helper model tier: docs/helper.md "Local
	// inference"); nil: nothing (the image brings its server, or the
	// provider is not digitalocean).
	ModelServer *ModelServer
}

// Manager owns the one helper slot.
type Manager struct {
	db   *store.DB
	prov Provider
	opt  Options
	log  *slog.Logger

	mu   sync.Mutex
	live map[string]*Helper // helpers held by a job of this process, by name
	// slotFreed is closed (and replaced) whenever a helper's deletion is
	// confirmed: jobs waiting for the slot look again.
	slotFreed chan struct{}
}

// Tag names.
const TagHelper = "patchgit-helper"

var tagUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// tagPart makes s usable in a tag and a droplet name (lower-case letters,
// digits, dashes).
func tagPart(s string) string {
	return strings.Trim(tagUnsafe.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// NewManager checks opt and returns the manager. Call Reconcile before the
// first Acquire (Loop does it at once).
func NewManager(db *store.DB, prov Provider, opt Options) (*Manager, error) {
	if db == nil || prov == nil || opt.Audit == nil {
		return nil, fmt.Errorf("new helper manager: %w: store, provider and audit log are required", ErrBadConfig)
	}
	if opt.Instance = tagPart(opt.Instance); opt.Instance == "" {
		return nil, fmt.Errorf("new helper manager: %w: instance id is empty", ErrBadConfig)
	}
	if opt.Meter == nil {
		opt.Meter = NopMeter{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.AllowedSizes == nil && prov.Name() == "digitalocean" {
		opt.AllowedSizes = DefaultAllowedSizes
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opt.TTL, 2*time.Hour)
	def(&opt.ReadyTimeout, 10*time.Minute)
	def(&opt.Poll, 5*time.Second)
	def(&opt.ConfirmFor, 2*time.Minute)
	def(&opt.Interval, time.Minute)
	if e, ok := opt.Meter.(interface{ ExtendEvery() time.Duration }); ok {
		def(&opt.ExtendEvery, e.ExtendEvery())
	}
	def(&opt.ExtendEvery, opt.Interval)
	if opt.JobSpend == nil {
		opt.JobSpend = func(string) (string, bool) { return "", false }
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.OnStep == nil {
		opt.OnStep = func(State, Record) {}
	}
	return &Manager{db: db, prov: prov, opt: opt, log: opt.Logger, live: map[string]*Helper{}, slotFreed: make(chan struct{})}, nil
}

// InstanceTag is the tag every helper of this install carries.
func (m *Manager) InstanceTag() string { return "patchgit-instance-" + m.opt.Instance }

// Helper is a helper acquired for one job. Release it when the job is done.
type Helper struct {
	m      *Manager
	mu     sync.Mutex
	rec    Record
	conn   Conn
	gone   bool
	expiry *time.Timer
	// ctx ends when the helper is destroyed; its cause says why (a
	// *StoppedError when the budget stopped it).
	ctx    context.Context
	cancel context.CancelCauseFunc
	// destroying is held by one destroy until it is confirmed, so that a
	// Release racing the budget's stop returns once the machine is gone.
	destroying sync.Mutex
}

// Context ends when the helper is destroyed (released, TTL, reconcile, or
// stopped by the budget); context.Cause says why. A job derives its
// context from it so that its running work stops with the helper; Run and
// Upload do that themselves.
func (h *Helper) Context() context.Context { return h.ctx }

// Record is the helper's intent record as acquired.
func (h *Helper) Record() Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rec
}

// Acquire creates a helper for job sized for need and returns it once it is
// active and reachable over SSH with its pinned host key. While another
// helper holds the slot, it waits for it (bounded by ctx; WithWaitNotice
// tells the job once) unless Options.JobSpend says the job's spend is
// approved: then a second helper runs beside the first. A size outside the
// allow-list is an *ApprovalError (with its price and cost) unless the
// job's spend is approved. The meter's Start comes before Create: a
// refusal creates nothing. On any failure after the intent record, the
// machine is destroyed.
func (m *Manager) Acquire(ctx context.Context, job string, need Need) (*Helper, error) {
	jobTag := tagPart(job)
	if jobTag == "" {
		return nil, fmt.Errorf("acquire helper: %w: job id %q has no usable characters", ErrBadConfig, job)
	}
	catalog, err := m.prov.Sizes(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire helper: %w", err)
	}
	proposal, approved := m.opt.JobSpend(job)
	size, err := ChooseSize(catalog, m.opt.AllowedSizes, need)
	var ae *ApprovalError
	if errors.As(err, &ae) {
		ae.Cost = cost(size.Slug, size.PriceHourly, time.Unix(0, 0), time.Unix(0, 0).Add(m.opt.TTL))
		if approved { // the person approved this size for the job
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("acquire helper: %w", err)
	}
	hk, err := NewHostKey()
	if err != nil {
		return nil, fmt.Errorf("acquire helper: %w", err)
	}
	var rec Record
	for {
		if !approved {
			if err := m.waitSlot(ctx); err != nil {
				return nil, fmt.Errorf("acquire helper: %w", err)
			}
		}
		rec, err = m.intent(job, jobTag, proposal, approved, size, hk)
		if !errors.Is(err, errSlotTaken) { // taken between the wait and the intent: wait again
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("acquire helper: %w", err)
	}
	return m.create(ctx, rec, hk, need)
}

// errSlotTaken: another job took the slot between waitSlot and intent.
var errSlotTaken = errors.New("helper slot taken")

// intent writes the helper's intent record and takes the slot, unless
// another helper holds it and the job's spend is not approved.
func (m *Manager) intent(job, jobTag, proposal string, approved bool, size Size, hk HostKey) (Record, error) {
	now := m.opt.Now().UTC()
	rec := Record{
		Name:     fmt.Sprintf("patchgit-%s-%s-%s", m.opt.Instance, shorten(jobTag, 20), randomHex(3)),
		Job:      job,
		Provider: m.prov.Name(), Size: size.Slug, PriceHourly: size.PriceHourly,
		Proposal: proposal, Approved: approved,
		Tags:      []string{TagHelper, m.InstanceTag(), "patchgit-job-" + shorten(jobTag, 200)},
		HostKey:   hk.PublicLine(),
		State:     StateIntent,
		CreatedAt: now, ExpiresAt: now.Add(m.opt.TTL),
	}
	err := m.db.Update(func(tx *bolt.Tx) error {
		// Any helper not confirmed destroyed holds the slot (an approved
		// second one too, once the first is gone).
		_, busy, err := firstOpenRecord(tx)
		if err != nil {
			return err
		}
		if busy && !approved {
			return errSlotTaken
		}
		if err := putRecord(tx, rec); err != nil {
			return err
		}
		if !busy { // an approved second helper leaves the slot to the first
			if err := tx.Bucket(store.BucketHelpers).Put(keySlot, []byte(rec.Name)); err != nil {
				return err
			}
		}
		data := map[string]string{"job": job, "provider": rec.Provider, "size": rec.Size,
			"price_hourly": rec.PriceHourly.String(), "expires_at": rec.ExpiresAt.Format(time.RFC3339)}
		if approved {
			data["approved"] = "true"
		}
		_, err = m.opt.Audit.Append(tx, "helper.intent", "patchgit", rec.Name, data)
		return err
	})
	return rec, err
}

// create runs the lifecycle from the intent record to a reachable helper;
// on any failure the machine is destroyed.
func (m *Manager) create(ctx context.Context, rec Record, hk HostKey, need Need) (*Helper, error) {
	m.opt.OnStep(StateIntent, rec)
	h := &Helper{m: m, rec: rec}
	h.ctx, h.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	m.mu.Lock()
	m.live[rec.Name] = h
	m.mu.Unlock()

	fail := func(err error) (*Helper, error) {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opt.ConfirmFor+time.Minute)
		defer cancel()
		if derr := h.destroy(dctx, "failed: "+err.Error()); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, fmt.Errorf("acquire helper: %w", err)
	}
	if err := m.opt.Meter.Start(ctx, h.charge(time.Time{})); err != nil {
		return fail(fmt.Errorf("start metering: %w", err))
	}
	var ms *ModelServer // a model server only for a helper that serves inference
	if need.ModelServer {
		ms = m.opt.ModelServer
	}
	userData, err := UserDataWith(hk, ms)
	if err != nil {
		return fail(err)
	}
	machine, err := m.prov.Create(ctx, CreateRequest{Name: rec.Name, Size: rec.Size, Tags: rec.Tags, UserData: userData})
	if err != nil {
		return fail(err)
	}
	if err := h.update(func(r *Record) (string, map[string]string) {
		r.MachineID, r.Address, r.State, r.StartedAt = machine.ID, machine.Address, StateCreated, m.opt.Now().UTC()
		return "helper.created", map[string]string{"job": r.Job, "machine": r.MachineID, "size": r.Size,
			"price_hourly": r.PriceHourly.String()}
	}); err != nil {
		return fail(err)
	}
	m.opt.OnStep(StateCreated, h.Record())
	conn, machine, err := m.waitReady(ctx, machine, hk)
	if err != nil {
		return fail(err)
	}
	h.mu.Lock()
	h.conn = conn
	h.mu.Unlock()
	if err := h.update(func(r *Record) (string, map[string]string) {
		r.Address, r.State = machine.Address, StateActive
		return "", nil
	}); err != nil {
		return fail(err)
	}
	h.mu.Lock()
	h.expiry = time.AfterFunc(rec.ExpiresAt.Sub(m.opt.Now()), func() { h.expire() }) // on the manager's clock
	h.mu.Unlock()
	go h.meterLoop()
	m.opt.OnStep(StateActive, h.Record())
	m.log.Info("helper ready", "helper", rec.Name, "job", rec.Job, "size", rec.Size, "address", machine.Address)
	return h, nil
}

type waitNoticeKey struct{}

// WithWaitNotice returns a context with which Acquire calls notice once
// when the job has to wait for the helper slot; holder is the helper
// holding it. (core shows it as the job's progress.)
func WithWaitNotice(ctx context.Context, notice func(holder Record)) context.Context {
	return context.WithValue(ctx, waitNoticeKey{}, notice)
}

// waitSlot returns once no helper holds the slot, or with ctx's error
// naming the helper it waited for.
func (m *Manager) waitSlot(ctx context.Context) error {
	told := false
	for {
		m.mu.Lock()
		freed := m.slotFreed
		m.mu.Unlock()
		var holder Record
		var busy bool
		err := m.db.View(func(tx *bolt.Tx) (err error) {
			holder, busy, err = firstOpenRecord(tx)
			return err
		})
		if err != nil || !busy {
			return err
		}
		if !told {
			told = true
			m.log.Info("waiting for the helper slot", "helper", holder.Name, "holder_job", holder.Job)
			if notice, ok := ctx.Value(waitNoticeKey{}).(func(Record)); ok {
				notice(holder)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the helper slot (helper %s runs for job %s until %s at the latest): %w",
				holder.Name, holder.Job, holder.ExpiresAt.Format(time.RFC3339), context.Cause(ctx))
		case <-freed:
		case <-time.After(m.opt.Poll): // a record settled another way (a restart's reconcile)
		}
	}
}

// waitReady polls until the machine is active and an SSH session with the
// pinned host key opens, within ReadyTimeout.
func (m *Manager) waitReady(ctx context.Context, machine Machine, hk HostKey) (Conn, Machine, error) {
	ctx, cancel := context.WithTimeout(ctx, m.opt.ReadyTimeout)
	defer cancel()
	var last, mismatch error
	for {
		if !machine.Active() {
			got, err := m.prov.Get(ctx, machine.ID)
			if err != nil {
				last = err
			} else {
				machine = got
			}
		}
		if machine.Active() {
			cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
			conn, err := m.prov.Connect(cctx, machine, hk.Public)
			ccancel()
			if err == nil {
				return conn, machine, nil
			}
			m.log.Debug("helper not reachable yet", "helper", machine.Name, "err", err)
			last = err
			if strings.Contains(err.Error(), "host key mismatch") {
				mismatch = err // what the person must hear, even if a later try timed out
			}
		}
		if err := sleep(ctx, m.opt.Poll); err != nil {
			if mismatch != nil {
				last = fmt.Errorf("%w (the helper does not hold the host key PatchGit generated for it)", mismatch)
			}
			if last == nil {
				last = fmt.Errorf("status %q", machine.Status)
			}
			return nil, machine, fmt.Errorf("%w within %s: %w", ErrNotReady, m.opt.ReadyTimeout, last)
		}
	}
}

// Upload writes r to name in the helper's work directory.
func (h *Helper) Upload(ctx context.Context, r io.Reader, name string, mode uint32) error {
	return h.use(ctx, func(ctx context.Context, conn Conn) error { return conn.Upload(ctx, r, name, mode) })
}

// Run runs command in the helper's work directory. When the helper is
// destroyed meanwhile (the budget stopped it, or its TTL), the command is
// stopped and the error says why.
func (h *Helper) Run(ctx context.Context, command string, stdout, stderr io.Writer) error {
	return h.use(ctx, func(ctx context.Context, conn Conn) error { return conn.Run(ctx, command, stdout, stderr) })
}

// use runs fn with a context that also ends when the helper does.
func (h *Helper) use(ctx context.Context, fn func(context.Context, Conn) error) error {
	conn, err := h.usable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(h.ctx, func() { cancel(context.Cause(h.ctx)) })
	defer stop()
	err = fn(ctx, conn)
	if err != nil && h.ctx.Err() != nil {
		return fmt.Errorf("use helper %s: %w", h.Record().Name, context.Cause(h.ctx))
	}
	return err
}

func (h *Helper) usable() (Conn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cause := context.Cause(h.ctx); h.gone && cause != nil && !errors.Is(cause, ErrReleased) {
		return nil, fmt.Errorf("use helper %s: %w: %w", h.rec.Name, ErrReleased, cause)
	}
	if h.gone || h.conn == nil {
		return nil, fmt.Errorf("use helper %s: %w (%s)", h.rec.Name, ErrReleased, h.rec.Reason)
	}
	return h.conn, nil
}

// meterLoop extends the meter every ExtendEvery while the helper lives.
func (h *Helper) meterLoop() {
	t := time.NewTicker(h.m.opt.ExtendEvery)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
			if err := h.extend(h.ctx, h.m.opt.Now()); err != nil && h.ctx.Err() == nil {
				h.m.log.Error("extend helper metering", "helper", h.Record().Name, "err", err)
			}
		}
	}
}

// extend rolls the helper's meter on. When the budget refuses, the job's
// use is stopped first (its context is cancelled with a *StoppedError that
// says why), then the helper is destroyed while the time already reserved
// still covers it: before the cap is crossed.
func (h *Helper) extend(ctx context.Context, now time.Time) error {
	h.mu.Lock()
	c := h.charge(now)
	h.mu.Unlock()
	err := h.m.opt.Meter.Extend(ctx, c)
	if err == nil {
		return nil
	}
	stopped := newStoppedError(err)
	h.cancel(stopped)
	h.m.log.Warn("helper stopped by the budget", "helper", c.Helper, "job", c.Job, "reason", stopped.Error())
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.m.opt.ConfirmFor+time.Minute)
	defer cancel()
	return h.destroy(dctx, "budget stop: "+stopped.Error())
}

// Release destroys the helper and confirms the deletion.
func (h *Helper) Release(ctx context.Context) error { return h.destroy(ctx, "released: job done") }

func (h *Helper) expire() {
	ctx, cancel := context.WithTimeout(context.Background(), h.m.opt.ConfirmFor+time.Minute)
	defer cancel()
	if err := h.destroy(ctx, "past its TTL"); err != nil {
		h.m.log.Error("destroy expired helper", "helper", h.rec.Name, "err", err)
	}
}

// destroy stops a live helper: no more use, then the record's destroy.
func (h *Helper) destroy(ctx context.Context, reason string) error {
	h.cancel(fmt.Errorf("%w: %s", ErrReleased, reason)) // a cause set before (the budget's) wins
	if se, ok := errors.AsType[*StoppedError](context.Cause(h.ctx)); ok {
		// The budget stopped it: say so whoever destroys it first (the
		// job's Release may get here before extend does).
		reason = "budget stop: " + se.Error()
	}
	h.destroying.Lock()
	defer h.destroying.Unlock()
	h.mu.Lock()
	h.gone = true
	if h.rec.Reason == "" {
		h.rec.Reason = reason
	}
	if h.expiry != nil {
		h.expiry.Stop()
	}
	conn := h.conn
	h.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	// No longer owned even if the destroy fails: the record stays open and
	// the next reconcile retries it.
	h.m.mu.Lock()
	delete(h.m.live, h.rec.Name)
	h.m.mu.Unlock()
	return h.m.destroyRecord(ctx, h.rec.Name, reason)
}

// update changes the helper's record in one transaction with its audit
// entry (kind "" writes none).
func (h *Helper) update(fn func(r *Record) (kind string, data map[string]string)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m.db.Update(func(tx *bolt.Tx) error {
		r, ok, err := getRecord(tx, h.rec.Name)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("update helper %s: record missing", h.rec.Name)
		}
		if r.State == StateDestroying || r.State == StateDestroyed { // stopped meanwhile (budget, reconcile)
			return fmt.Errorf("update helper %s: %w (%s)", r.Name, ErrReleased, r.Reason)
		}
		kind, data := fn(&r)
		if err := putRecord(tx, r); err != nil {
			return err
		}
		h.rec = r
		if kind == "" {
			return nil
		}
		_, err = h.m.opt.Audit.Append(tx, kind, "patchgit", r.Name, data)
		return err
	})
}

func (h *Helper) charge(at time.Time) Charge { return h.rec.charge(h.rec.StartedAt, at) }

func (r Record) charge(since, at time.Time) Charge {
	return Charge{Helper: r.Name, Job: r.Job, Proposal: r.Proposal, Approved: r.Approved, Size: r.Size,
		PriceHourly: r.PriceHourly, Since: since, At: at}
}

// destroyRecord destroys the record's machine (found by tag and name when
// the crash came before its ID was stored), confirms the deletion, and
// frees the slot. Safe to call again after any failure.
func (m *Manager) destroyRecord(ctx context.Context, name, reason string) error {
	var rec Record
	err := m.db.Update(func(tx *bolt.Tx) error {
		rec = Record{}
		r, ok, err := getRecord(tx, name)
		if err != nil || !ok {
			return err
		}
		rec = r
		if r.State == StateDestroyed || r.State == StateDestroying {
			return nil
		}
		r.State = StateDestroying
		r.Reason = reason
		rec = r
		if err := putRecord(tx, r); err != nil {
			return err
		}
		_, err = m.opt.Audit.Append(tx, "helper.destroy", "patchgit", r.Name, map[string]string{
			"job": r.Job, "machine": r.MachineID, "reason": reason})
		return err
	})
	if err != nil {
		return fmt.Errorf("destroy helper %s: %w", name, err)
	}
	if rec.Name == "" || rec.State == StateDestroyed {
		return nil
	}
	m.opt.OnStep(StateDestroying, rec)
	id := rec.MachineID
	if id == "" { // crashed between Create and storing its answer?
		ms, err := m.prov.ListByTag(ctx, m.InstanceTag())
		if err != nil {
			return fmt.Errorf("destroy helper %s: %w", name, err)
		}
		for _, mc := range ms {
			if mc.Name == rec.Name {
				id = mc.ID
			}
		}
	}
	if id != "" {
		if err := m.destroyMachine(ctx, id); err != nil {
			return fmt.Errorf("destroy helper %s: %w", name, err)
		}
	}
	end := m.opt.Now().UTC()
	// Billed from the create: if its answer never arrived (a crash) but
	// the machine was found, from the intent, which came just before.
	since := rec.StartedAt
	if since.IsZero() && id != "" {
		since = rec.CreatedAt
	}
	c := cost(rec.Size, rec.PriceHourly, since, end)
	confirmedHere := false // a concurrent destroy (TTL timer and reconcile) stops the meter once
	err = m.db.Update(func(tx *bolt.Tx) error {
		confirmedHere = false
		r, ok, err := getRecord(tx, name)
		if err != nil || !ok || r.State == StateDestroyed {
			return err
		}
		confirmedHere = true
		r.State, r.DestroyedAt = StateDestroyed, end
		if err := putRecord(tx, r); err != nil {
			return err
		}
		if slotHolder(tx) == r.Name {
			if err := tx.Bucket(store.BucketHelpers).Delete(keySlot); err != nil {
				return err
			}
		}
		data := map[string]string{"job": r.Job, "machine": id, "size": r.Size, "reason": r.Reason,
			"cost": c.String()}
		if !r.StartedAt.IsZero() {
			data["seconds"] = strconv.FormatInt(int64(end.Sub(r.StartedAt).Seconds()), 10)
		}
		_, err = m.opt.Audit.Append(tx, "helper.destroyed", "patchgit", r.Name, data)
		return err
	})
	if err != nil {
		return fmt.Errorf("destroy helper %s: %w", name, err)
	}
	if !confirmedHere {
		return nil
	}
	m.mu.Lock()
	close(m.slotFreed) // wake the jobs waiting for the slot
	m.slotFreed = make(chan struct{})
	m.mu.Unlock()
	if err := m.opt.Meter.Stop(ctx, rec.charge(since, end)); err != nil {
		m.log.Error("stop helper metering", "helper", name, "err", err)
	}
	m.log.Info("helper destroyed", "helper", name, "reason", rec.Reason, "cost", c.String())
	return nil
}

// destroyMachine sends the delete and polls until the provider no longer
// knows the machine, within ConfirmFor.
func (m *Manager) destroyMachine(ctx context.Context, id string) error {
	if err := m.prov.Destroy(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.opt.ConfirmFor)
	defer cancel()
	for {
		_, err := m.prov.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if serr := sleep(ctx, m.opt.Poll); serr != nil {
			return fmt.Errorf("%w: machine %s still listed after %s (last: %v)", ErrNotConfirmed, id, m.opt.ConfirmFor, err)
		}
	}
}

// Reconcile destroys every helper of this install that no live job of this
// process owns or that is past its TTL: first the records, then whatever
// the provider still lists under the instance tag. It extends the meter
// of the helpers that stay.
func (m *Manager) Reconcile(ctx context.Context) error {
	now := m.opt.Now()
	recs, err := Records(m.db, false)
	if err != nil {
		return fmt.Errorf("reconcile helpers: %w", err)
	}
	var errs []error
	for _, r := range recs {
		m.mu.Lock()
		h := m.live[r.Name]
		m.mu.Unlock()
		switch {
		case h != nil && now.Before(r.ExpiresAt):
			errs = append(errs, h.extend(ctx, now))
		case h != nil:
			errs = append(errs, h.destroy(ctx, "past its TTL"))
		default:
			errs = append(errs, m.destroyRecord(ctx, r.Name, "orphaned: no live job owns it"))
		}
	}
	ms, err := m.prov.ListByTag(ctx, m.InstanceTag())
	if err != nil {
		errs = append(errs, err)
	}
	for _, mc := range ms {
		m.mu.Lock()
		h := m.live[mc.Name]
		m.mu.Unlock()
		if h != nil {
			continue
		}
		err := m.destroyMachine(ctx, mc.ID)
		if err == nil {
			err = m.db.Update(func(tx *bolt.Tx) error {
				_, err := m.opt.Audit.Append(tx, "helper.destroyed", "patchgit", mc.Name, map[string]string{
					"machine": mc.ID, "reason": "orphaned machine without a live record"})
				return err
			})
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reconcile helpers: %w", err)
	}
	return nil
}

// Loop reconciles now and every Interval until ctx ends.
func (m *Manager) Loop(ctx context.Context) {
	for {
		if err := m.Reconcile(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("reconcile helpers", "err", err)
		}
		if sleep(ctx, m.opt.Interval) != nil {
			return
		}
	}
}

func shorten(s string, n int) string {
	if len(s) > n {
		return strings.Trim(s[:n], "-")
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Provider is the provider's config name (local, digitalocean, ssh).
func (m *Manager) Provider() string { return m.prov.Name() }
