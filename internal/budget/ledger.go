package budget

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

// Category is what a spend paid for.
type Category string

const (
	CategoryHelper Category = "helper" // helper runtime, billed per second
	CategoryAPI    Category = "api"    // external model API tokens
	CategoryOther  Category = "other"  // anything else metered
)

// Reservation is money set aside before it is spent. While open it counts
// in full in every window, however old it is: a reservation left open by a
// crash keeps counting until reconciliation settles it.
type Reservation struct {
	ID       string    `json:"id"`
	Proposal string    `json:"proposal,omitempty"`
	Purpose  string    `json:"purpose"`
	Category Category  `json:"category"`
	Amount   Micros    `json:"amount"`             // still reserved
	Accrued  Micros    `json:"accrued,omitempty"`  // already settled by Roll
	Approved bool      `json:"approved,omitempty"` // counts against the proposal's approval
	Created  time.Time `json:"created"`
	From     time.Time `json:"from"` // start of the part not settled yet
}

// Spend is settled money. Its cost is spread evenly over [From, To], so a
// long run's cost falls into the windows second by second.
type Spend struct {
	Seq         uint64    `json:"seq"`
	Reservation string    `json:"reservation"`
	Proposal    string    `json:"proposal,omitempty"`
	Purpose     string    `json:"purpose"`
	Category    Category  `json:"category"`
	Amount      Micros    `json:"amount"`
	Approved    bool      `json:"approved,omitempty"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Note        string    `json:"note,omitempty"`
}

// Approval is the person's explicit consent to spend up to Amount on one
// proposal beyond the caps.
type Approval struct {
	Proposal string    `json:"proposal"`
	Revision int       `json:"revision"`
	Amount   Micros    `json:"amount"`
	Actor    string    `json:"actor"`
	Reason   string    `json:"reason"` // the rule that asked for it
	Time     time.Time `json:"time"`
}

// Request asks for a reservation.
type Request struct {
	Proposal string
	Purpose  string // e.g. "sandbox verify on the local helper"
	Category Category
	Amount   Micros // the worst case
	// Approved spends against the proposal's recorded approval instead of
	// within the caps alone.
	Approved bool
}

// Journal records ledger changes inside the ledger's own transaction (core
// writes them to the audit log), so a change and its record commit
// together. kind is "budget.reserved", "budget.spent", "budget.released",
// "budget.refused" or "budget.approved".
type Journal func(tx *bolt.Tx, kind, subject string, data map[string]string) error

// Caps are the hard limits of the two windows.
type Caps struct {
	Hour Micros
	Day  Micros
	// CalendarDay makes the day window the calendar day in Location
	// instead of the rolling 24 hours.
	CalendarDay bool
	Location    *time.Location
}

// Ledger is the budget's book in store.BucketLedger. Every check and the
// write it guards happen in one bbolt transaction, and bbolt runs one
// writer at a time, so concurrent reservations cannot race past a cap.
type Ledger struct {
	db      *store.DB
	caps    Caps
	now     func() time.Time
	journal Journal
}

// NewLedger returns the ledger over db. now may be nil (time.Now); journal
// may be nil.
func NewLedger(db *store.DB, caps Caps, now func() time.Time, journal Journal) *Ledger {
	if now == nil {
		now = time.Now
	}
	if caps.Location == nil {
		caps.Location = time.UTC
	}
	return &Ledger{db: db, caps: caps, now: now, journal: journal}
}

// Caps returns the configured caps.
func (l *Ledger) Caps() Caps { return l.caps }

// Key layout: r/<seq> open reservations; s/<to ns><seq> spends, ordered by
// the end of their interval so a window is one range scan; a/<proposal>
// approvals.
var (
	prefixReservation = []byte("r/")
	prefixSpend       = []byte("s/")
	prefixApproval    = []byte("a/")
)

func reservationKey(id string) []byte { return append(append([]byte{}, prefixReservation...), id...) }

func spendKey(to time.Time, seq uint64) []byte {
	k := append([]byte{}, prefixSpend...)
	k = binary.BigEndian.AppendUint64(k, uint64(to.UnixNano()))
	return binary.BigEndian.AppendUint64(k, seq)
}

func approvalKey(proposal string) []byte {
	return append(append([]byte{}, prefixApproval...), proposal...)
}

// window is one cap over [Start, now].
type window struct {
	Name  string
	Start time.Time
	Cap   Micros
}

func (l *Ledger) windows(now time.Time) []window {
	day := now.Add(-24 * time.Hour)
	if l.caps.CalendarDay {
		t := now.In(l.caps.Location)
		day = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, l.caps.Location)
	}
	return []window{{"hour", now.Add(-time.Hour), l.caps.Hour}, {"day", day, l.caps.Day}}
}

// inWindow is the part of s's cost that falls at or after start, rounded
// up (a window never under-counts).
func (s Spend) inWindow(start time.Time) Micros {
	if s.To.Before(start) {
		return 0
	}
	if !s.From.Before(start) || !s.To.After(s.From) {
		return s.Amount
	}
	return Micros(ceilMul(int64(s.Amount), int64(s.To.Sub(start)), int64(s.To.Sub(s.From))))
}

// ceilMul is ceil(a*num/den) for 0 <= num <= den, exact in 128 bits.
func ceilMul(a, num, den int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(num))
	q, rem := bits.Div64(hi, lo, uint64(den)) // hi < den because num <= den
	if rem > 0 {
		q++
	}
	return int64(q)
}

// usage is what a window holds now.
type usage struct {
	Spent, Reserved Micros
}

// load reads the windows' usage, the open reservations and, for proposal,
// its approval and what already counts against it.
func (l *Ledger) load(tx *bolt.Tx, now time.Time, proposal string) (ws []window, us []usage, open []Reservation, ap *Approval, approvedUse Micros, err error) {
	b := tx.Bucket(store.BucketLedger)
	ws = l.windows(now)
	us = make([]usage, len(ws))
	c := b.Cursor()
	for k, v := c.Seek(prefixReservation); k != nil && bytes.HasPrefix(k, prefixReservation); k, v = c.Next() {
		var r Reservation
		if err = json.Unmarshal(v, &r); err != nil {
			return
		}
		open = append(open, r)
		for i := range us {
			us[i].Reserved += r.Amount
		}
		if proposal != "" && r.Proposal == proposal && r.Approved {
			approvedUse += r.Amount
		}
	}
	earliest := ws[0].Start
	for _, w := range ws {
		if w.Start.Before(earliest) {
			earliest = w.Start
		}
	}
	for k, v := c.Seek(spendKey(earliest, 0)); k != nil && bytes.HasPrefix(k, prefixSpend); k, v = c.Next() {
		var s Spend
		if err = json.Unmarshal(v, &s); err != nil {
			return
		}
		for i, w := range ws {
			us[i].Spent += s.inWindow(w.Start)
		}
	}
	if proposal != "" {
		var a Approval
		var found bool
		if found, err = store.GetJSON(tx, store.BucketLedger, approvalKey(proposal), &a); err != nil {
			return
		}
		if found {
			ap = &a
			// An approval's spends may be older than the day window: count
			// them all, they are the proposal's.
			for k, v := c.Seek(prefixSpend); k != nil && bytes.HasPrefix(k, prefixSpend); k, v = c.Next() {
				var s Spend
				if err = json.Unmarshal(v, &s); err != nil {
					return
				}
				if s.Proposal == proposal && s.Approved && !s.To.Before(a.Time) {
					approvedUse += s.Amount
				}
			}
		}
	}
	return
}

// fits says whether adding amount keeps every window within its cap (plus
// the approval, for an approved request), and if not, why.
func fits(ws []window, us []usage, amount Micros, approved *Approval, approvedUse Micros) error {
	if approved != nil && approvedUse+amount > approved.Amount {
		return fmt.Errorf("%w: proposal %s would spend %s of the %s approved; the work stops here",
			ErrOverApproval, short(approved.Proposal), approvedUse+amount, approved.Amount)
	}
	for i, w := range ws {
		limit := w.Cap
		if approved != nil {
			limit += approved.Amount
		}
		if used := us[i].Spent + us[i].Reserved; used+amount > limit {
			return &CapError{Window: w.Name, Cap: w.Cap, Need: amount, Left: max(0, limit-used), Spent: us[i].Spent, Reserved: us[i].Reserved}
		}
	}
	return nil
}

// CapError is a refusal by one window's cap: which window, its cap, and
// what was asked and left. It wraps ErrOverCap.
type CapError struct {
	Window          string // "hour" or "day"
	Cap, Need, Left Micros
	Spent, Reserved Micros
}

func (e *CapError) Error() string {
	return fmt.Sprintf("%v: this step needs %s but the %s window has %s left (cap %s, spent %s, reserved %s); wait for the window to move, approve extra spend on the confirm screen, or raise budget.%s",
		ErrOverCap, e.Need, e.Window, e.Left, e.Cap, e.Spent, e.Reserved, e.CapKey())
}

func (e *CapError) Unwrap() error { return ErrOverCap }

// CapKey is the config key of the window's cap: hourly_cap or daily_cap.
func (e *CapError) CapKey() string { return capKey(e.Window) + "_cap" }

func capKey(window string) string {
	if window == "hour" {
		return "hourly"
	}
	return "daily"
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// Reserve sets the worst case aside if it fits both windows; otherwise it
// reserves nothing and returns an error wrapping ErrOverCap or
// ErrOverApproval (the refusal is journaled).
func (l *Ledger) Reserve(req Request) (Reservation, error) {
	var res Reservation
	var refused error
	err := l.db.Update(func(tx *bolt.Tx) error {
		var err error
		res, refused, err = l.ReserveTx(tx, req)
		return err
	})
	if err != nil {
		return Reservation{}, err
	}
	return res, refused
}

// ReserveTx is Reserve inside the caller's transaction. refused is the
// budget's answer; err is a storage failure. On refusal nothing is
// reserved but the refusal is journaled, so commit the transaction.
func (l *Ledger) ReserveTx(tx *bolt.Tx, req Request) (res Reservation, refused, err error) {
	if req.Amount < 0 {
		return Reservation{}, nil, fmt.Errorf("reserve: %w: %d", ErrBadAmount, req.Amount)
	}
	now := l.now()
	ws, us, _, ap, approvedUse, err := l.load(tx, now, req.Proposal)
	if err != nil {
		return Reservation{}, nil, fmt.Errorf("reserve: %w", err)
	}
	if req.Approved && ap == nil {
		refused = fmt.Errorf("%w: proposal %s has no recorded approval", ErrOverApproval, short(req.Proposal))
	} else {
		var use *Approval
		if req.Approved {
			use = ap
		}
		refused = fits(ws, us, req.Amount, use, approvedUse)
	}
	if refused != nil {
		if err := l.log(tx, "budget.refused", req.Proposal, map[string]string{
			"purpose": req.Purpose, "amount": strconv.FormatInt(int64(req.Amount), 10), "reason": refused.Error()}); err != nil {
			return Reservation{}, nil, err
		}
		return Reservation{}, refused, nil
	}
	seq, err := tx.Bucket(store.BucketLedger).NextSequence()
	if err != nil {
		return Reservation{}, nil, err
	}
	res = Reservation{ID: "r" + strconv.FormatUint(seq, 10), Proposal: req.Proposal, Purpose: req.Purpose,
		Category: req.Category, Amount: req.Amount, Approved: req.Approved, Created: now, From: now}
	if err := store.PutJSON(tx, store.BucketLedger, reservationKey(res.ID), res); err != nil {
		return Reservation{}, nil, err
	}
	return res, nil, l.log(tx, "budget.reserved", req.Proposal, map[string]string{
		"reservation": res.ID, "purpose": req.Purpose, "category": string(req.Category),
		"amount": strconv.FormatInt(int64(req.Amount), 10), "approved": strconv.FormatBool(req.Approved)})
}

func (l *Ledger) log(tx *bolt.Tx, kind, subject string, data map[string]string) error {
	if l.journal == nil {
		return nil
	}
	if subject == "" {
		subject = "budget"
	}
	return l.journal(tx, kind, subject, data)
}

func (l *Ledger) getOpen(tx *bolt.Tx, id string) (Reservation, error) {
	var r Reservation
	found, err := store.GetJSON(tx, store.BucketLedger, reservationKey(id), &r)
	if err != nil {
		return r, err
	}
	if !found {
		return r, fmt.Errorf("%w: %s", ErrUnknownReservation, id)
	}
	return r, nil
}

// addSpend records delta as spent over [r.From, now].
func (l *Ledger) addSpend(tx *bolt.Tx, r *Reservation, delta Micros, now time.Time, note string) error {
	if delta <= 0 {
		return nil
	}
	b := tx.Bucket(store.BucketLedger)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	s := Spend{Seq: seq, Reservation: r.ID, Proposal: r.Proposal, Purpose: r.Purpose, Category: r.Category,
		Amount: delta, Approved: r.Approved, From: r.From, To: now, Note: note}
	if err := store.PutJSON(tx, store.BucketLedger, spendKey(now, seq), s); err != nil {
		return err
	}
	data := map[string]string{"reservation": r.ID, "purpose": r.Purpose, "category": string(r.Category),
		"amount": strconv.FormatInt(int64(delta), 10), "seconds": strconv.FormatInt(int64(now.Sub(r.From)/time.Second), 10)}
	if note != "" {
		data["note"] = note
	}
	return l.log(tx, "budget.spent", r.Proposal, data)
}

// Settle closes reservation id: total is what it cost in all (including
// what Roll already settled). It may not exceed what was reserved.
func (l *Ledger) Settle(id string, total Micros, note string) error {
	return l.db.Update(func(tx *bolt.Tx) error { return l.SettleTx(tx, id, total, note) })
}

// SettleTx is Settle inside the caller's transaction.
func (l *Ledger) SettleTx(tx *bolt.Tx, id string, total Micros, note string) error {
	r, err := l.getOpen(tx, id)
	if err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	delta := total - r.Accrued
	if delta < 0 || delta > r.Amount {
		return fmt.Errorf("settle %s: %w: cost %s, settled %s, reserved %s", id, ErrSettleAboveReserve, total, r.Accrued, r.Amount)
	}
	if err := l.addSpend(tx, &r, delta, l.now(), note); err != nil {
		return err
	}
	if delta < r.Amount {
		if err := l.log(tx, "budget.released", r.Proposal, map[string]string{"reservation": r.ID,
			"amount": strconv.FormatInt(int64(r.Amount-delta), 10)}); err != nil {
			return err
		}
	}
	return tx.Bucket(store.BucketLedger).Delete(reservationKey(id))
}

// Release closes a reservation that spent nothing more.
func (l *Ledger) Release(id string) error {
	return l.db.Update(func(tx *bolt.Tx) error {
		r, err := l.getOpen(tx, id)
		if err != nil {
			return fmt.Errorf("release: %w", err)
		}
		return l.SettleTx(tx, id, r.Accrued, "")
	})
}

// Roll is one metering step of a long-running spend: it settles what has
// accrued so far (total, since the reservation was made) and re-sizes the
// reservation to next, the worst case of the coming slice. When next does
// not fit, the accrued part is still settled, the reservation keeps what it
// had left, and the error wraps ErrOverCap or ErrOverApproval: stop.
func (l *Ledger) Roll(id string, total, next Micros) error {
	var refused error
	err := l.db.Update(func(tx *bolt.Tx) error {
		r, err := l.getOpen(tx, id)
		if err != nil {
			return fmt.Errorf("roll: %w", err)
		}
		delta := total - r.Accrued
		if delta < 0 || delta > r.Amount {
			return fmt.Errorf("roll %s: %w: cost %s, settled %s, reserved %s", id, ErrSettleAboveReserve, total, r.Accrued, r.Amount)
		}
		now := l.now()
		if err := l.addSpend(tx, &r, delta, now, ""); err != nil {
			return err
		}
		r.Accrued, r.From, r.Amount = total, now, r.Amount-delta
		if next > r.Amount {
			// The reservation is in the windows already; check the growth.
			if err := store.PutJSON(tx, store.BucketLedger, reservationKey(id), r); err != nil {
				return err
			}
			ws, us, _, ap, approvedUse, err := l.load(tx, now, r.Proposal)
			if err != nil {
				return err
			}
			var use *Approval
			if r.Approved {
				use = ap
			}
			if refused = fits(ws, us, next-r.Amount, use, approvedUse); refused != nil {
				return l.log(tx, "budget.refused", r.Proposal, map[string]string{"reservation": r.ID, "purpose": r.Purpose,
					"amount": strconv.FormatInt(int64(next-r.Amount), 10), "reason": refused.Error()})
			}
		}
		r.Amount = next
		return store.PutJSON(tx, store.BucketLedger, reservationKey(id), r)
	})
	if err != nil {
		return err
	}
	return refused
}

// ApproveTx records the person's approval of extra spend for one proposal
// (replacing an earlier one for it) and journals it.
func (l *Ledger) ApproveTx(tx *bolt.Tx, a Approval) error {
	if a.Amount < 0 {
		return fmt.Errorf("approve: %w: %d", ErrBadAmount, a.Amount)
	}
	if a.Time.IsZero() {
		a.Time = l.now()
	}
	if err := store.PutJSON(tx, store.BucketLedger, approvalKey(a.Proposal), a); err != nil {
		return err
	}
	return l.log(tx, "budget.approved", a.Proposal, map[string]string{"amount": strconv.FormatInt(int64(a.Amount), 10),
		"revision": strconv.Itoa(a.Revision), "reason": a.Reason, "approved_by": a.Actor})
}

// Approval returns the approval recorded for proposal, if any.
func (l *Ledger) Approval(proposal string) (Approval, bool, error) {
	var a Approval
	var found bool
	err := l.db.View(func(tx *bolt.Tx) (err error) {
		found, err = store.GetJSON(tx, store.BucketLedger, approvalKey(proposal), &a)
		return err
	})
	return a, found, err
}

// OpenReservations lists reservations not settled yet.
func (l *Ledger) OpenReservations() ([]Reservation, error) {
	var open []Reservation
	err := l.db.View(func(tx *bolt.Tx) (err error) { _, _, open, _, _, err = l.load(tx, l.now(), ""); return })
	return open, err
}

// Reconcile settles every open reservation at its full amount: at start,
// no process owns them (only one can hold the store), and what they really
// cost is unknown, so the worst case that was reserved is charged.
func (l *Ledger) Reconcile() (int, error) {
	open, err := l.OpenReservations()
	if err != nil {
		return 0, err
	}
	for _, r := range open {
		err := l.db.Update(func(tx *bolt.Tx) error {
			// When it was spent is unknown too: charge it now, so it stays
			// in the windows as long as possible.
			r.From = l.now()
			if err := store.PutJSON(tx, store.BucketLedger, reservationKey(r.ID), r); err != nil {
				return err
			}
			return l.SettleTx(tx, r.ID, r.Accrued+r.Amount, "reconciled after a restart: the actual cost is unknown, the full reservation is charged")
		})
		if err != nil {
			return 0, fmt.Errorf("reconcile %s: %w", r.ID, err)
		}
	}
	return len(open), nil
}
