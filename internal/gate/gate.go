// Package gate is the PIN gate every door shares (SSH now, the web mirror's
// login later): one global budget of consecutive wrong PINs with a doubling
// delay and a lock, a separate small budget for connections that proved an
// authorized key, and per-source-network penalties that the SSH server
// applies before the key exchange. All state lives in store.BucketGate, so a
// restart or a kill -9 resets nothing; every burst, lock, unlock and penalty
// goes to the audit log, never a guessed PIN.
package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/store"
)

// Verifier checks a PIN against the stored hash (argon2id, constant time).
type Verifier interface {
	CheckPIN(ctx context.Context, pin string) (bool, error)
}

// Options configures New.
type Options struct {
	DB       *store.DB
	Audit    *audit.Log
	Verifier Verifier
	Policy   Policy
	Logger   *slog.Logger
	// Now and Sleep replace the clock in tests; nil means the real one.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Gate judges PINs. It is safe for concurrent use.
type Gate struct {
	db     *store.DB
	audit  *audit.Log
	verify Verifier
	policy Policy
	log    *slog.Logger
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	// One evaluation at a time per door: that is what makes the delay
	// global, since parallel connections cannot spend one delay at once.
	// The key holders' door has its own turn, so an attacker's queue never
	// stands between the owner and the prompt. Channels, so waiting honours
	// ctx.
	turns map[Door]chan struct{}
	// penaltyRecords approximates the stored penalty records (exact after
	// each prune); lastPrune is when prune last swept (unix nanoseconds).
	penaltyRecords, lastPrune atomic.Int64
}

// New checks opts and returns the gate.
func New(opts Options) (*Gate, error) {
	if opts.DB == nil || opts.Audit == nil || opts.Verifier == nil {
		return nil, fmt.Errorf("%w: DB, Audit and Verifier are required", ErrBadPolicy)
	}
	if err := opts.Policy.validate(); err != nil {
		return nil, err
	}
	g := &Gate{
		db: opts.DB, audit: opts.Audit, verify: opts.Verifier, policy: opts.Policy, log: opts.Logger,
		now: opts.Now, sleep: opts.Sleep,
		turns: map[Door]chan struct{}{Anonymous: make(chan struct{}, 1), KeyHolder: make(chan struct{}, 1)},
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.sleep == nil {
		g.sleep = sleepCtx
	}
	return g, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Policy is the policy the gate enforces.
func (g *Gate) Policy() Policy { return g.policy }

// CheckPIN is the anonymous door: every door that asks only for the PIN
// calls it. While the gate is locked it returns (false, err wrapping
// ErrLocked) whose message can be shown to the person as is.
func (g *Gate) CheckPIN(ctx context.Context, remote net.Addr, pin string) (bool, error) {
	r, err := g.Check(ctx, Anonymous, remote, pin)
	return r.OK, err
}

// Result is the outcome of Check.
type Result struct {
	OK bool
	// Recent is what failed since the previous login; set when OK.
	Recent Recent
}

// maxGuessLen bounds what is hashed: a longer guess is wrong anyway (PINs
// have at most 12 digits), and hashing it whole would let its length show
// in the timing.
const maxGuessLen = 64

// Check waits for the door's turn and for the delay earned by the failures
// before it, then verifies the PIN and records the outcome in one
// transaction. A context that ends first, or a verifier error, changes
// nothing. A locked door evaluates nothing.
func (g *Gate) Check(ctx context.Context, door Door, remote net.Addr, guess string) (Result, error) {
	turn, known := g.turns[door]
	if !known {
		return Result{}, fmt.Errorf("%w: unknown door %q", ErrBadPolicy, door)
	}
	if err := ctx.Err(); err != nil { // select would pick at random between two ready cases
		return Result{}, fmt.Errorf("wait for pin check: %w", err)
	}
	select {
	case turn <- struct{}{}:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("wait for pin check: %w", ctx.Err())
	}
	defer func() { <-turn }()

	source := sourceOf(remote)
	b, err := g.closed(door, source)
	if err != nil {
		return Result{}, err
	}
	if wait := b.LastFailure.Add(g.policy.Backoff(b.Failures)).Sub(g.now()); wait > 0 {
		if err := g.sleep(ctx, wait); err != nil {
			return Result{}, fmt.Errorf("wait for pin backoff: %w", err)
		}
	}

	// The same work for every guess: no early exit for an empty or odd
	// answer, argon2id and a constant-time compare inside the verifier.
	if len(guess) > maxGuessLen {
		guess = guess[:maxGuessLen]
	}
	ok, err := g.verify.CheckPIN(ctx, guess)
	if err != nil {
		return Result{}, fmt.Errorf("check pin: %w", err)
	}

	var res Result
	var lockedNow bool
	err = g.db.Update(func(tx *bolt.Tx) error {
		b, err := getBudget(tx, door)
		if err != nil {
			return err
		}
		now := g.now()
		if ok {
			res, err = g.succeed(tx, door, b, source)
			return err
		}
		b.Failures++
		b.LastFailure = now
		if b.Failures == 1 {
			if _, err := g.audit.Append(tx, "gate.failures_started", "gate", string(door), map[string]string{"source": sourceName(source)}); err != nil {
				return err
			}
		}
		limit := g.policy.MaxFailures
		if door == KeyHolder {
			limit = g.policy.KeyMaxFailures
		}
		if b.Failures >= limit {
			b.LockedUntil = now.Add(g.policy.LockFor)
			lockedNow = true
			if _, err := g.audit.Append(tx, "gate.locked", "gate", string(door), map[string]string{
				"failures": strconv.Itoa(b.Failures), "until": b.LockedUntil.UTC().Format(time.RFC3339), "source": sourceName(source),
			}); err != nil {
				return err
			}
		}
		var recent Recent
		if _, err := store.GetJSON(tx, store.BucketGate, keyRecent, &recent); err != nil {
			return err
		}
		recent.add(sourceName(source), now)
		if err := store.PutJSON(tx, store.BucketGate, keyRecent, recent); err != nil {
			return err
		}
		if err := putBudget(tx, door, b); err != nil {
			return err
		}
		if door == Anonymous {
			return g.penalize(tx, source, now)
		}
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("record pin check: %w", err)
	}
	if lockedNow {
		g.log.Warn("pin gate locked", "door", door, "until", g.now().Add(g.policy.LockFor).UTC().Format(time.RFC3339))
	}
	return res, nil
}

// succeed resets the door's budget and the source's penalty, and hands back
// the failures since the previous login.
func (g *Gate) succeed(tx *bolt.Tx, door Door, b budget, source netip.Prefix) (Result, error) {
	res := Result{OK: true}
	if b.Failures > 0 {
		if _, err := g.audit.Append(tx, "gate.burst_ended", "gate", string(door), map[string]string{
			"failures": strconv.Itoa(b.Failures), "source": sourceName(source),
		}); err != nil {
			return res, err
		}
	}
	if err := putBudget(tx, door, budget{}); err != nil {
		return res, err
	}
	if _, err := store.GetJSON(tx, store.BucketGate, keyRecent, &res.Recent); err != nil {
		return res, err
	}
	if err := tx.Bucket(store.BucketGate).Delete(keyRecent); err != nil {
		return res, err
	}
	if source.IsValid() {
		if err := tx.Bucket(store.BucketGate).Delete(penaltyKey(source)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// expireLock reads the door's budget and, when its lock has run out, ends
// the lock (audited) but keeps the count: after an automatic unlock each
// further wrong PIN locks again at once, until a right PIN or an unlock.
func (g *Gate) expireLock(tx *bolt.Tx, door Door) (budget, error) {
	b, err := getBudget(tx, door)
	if err != nil || b.LockedUntil.IsZero() || g.now().Before(b.LockedUntil) {
		return b, err
	}
	if _, err := g.audit.Append(tx, "gate.auto_unlocked", "gate", string(door), map[string]string{
		"failures": strconv.Itoa(b.Failures)}); err != nil {
		return b, err
	}
	b.LockedUntil = time.Time{}
	return b, putBudget(tx, door, b)
}

// maxPenaltyRecords bounds the penalty records kept, so knocking from
// endless networks (IPv6 has plenty of /64s) cannot fill the disk.
const maxPenaltyRecords = 10_000

// pruneEvery spaces the sweeps that delete forgotten penalty records.
const pruneEvery = time.Minute

// prune deletes penalty records past their penalty and the quiet time that
// resets them (PenaltyMax), at most once per pruneEvery, and recounts.
func (g *Gate) prune(tx *bolt.Tx, now time.Time) error {
	if last := g.lastPrune.Load(); last != 0 && now.Sub(time.Unix(0, last)) < pruneEvery {
		return nil
	}
	g.lastPrune.Store(now.UnixNano())
	bucket := tx.Bucket(store.BucketGate)
	var stale [][]byte
	kept := int64(0)
	c := bucket.Cursor()
	for k, v := c.Seek([]byte(penaltyPrefix)); k != nil && bytes.HasPrefix(k, []byte(penaltyPrefix)); k, v = c.Next() {
		var p penalty
		if err := json.Unmarshal(v, &p); err != nil || now.After(p.Until.Add(g.policy.PenaltyMax)) {
			stale = append(stale, bytes.Clone(k))
			continue
		}
		kept++
	}
	for _, k := range stale {
		if err := bucket.Delete(k); err != nil {
			return err
		}
	}
	g.penaltyRecords.Store(kept)
	return nil
}

// maxPenaltyAudits bounds penalty entries per burst; Unlock and the next
// right PIN report the networks penalized.
const maxPenaltyAudits = 50

// penalize extends the source network's refusal, unless it is exempt.
func (g *Gate) penalize(tx *bolt.Tx, source netip.Prefix, now time.Time) error {
	if !source.IsValid() || g.policy.exempt(source.Addr()) || g.policy.PenaltyFirst <= 0 {
		return nil
	}
	var p penalty
	found, err := store.GetJSON(tx, store.BucketGate, penaltyKey(source), &p)
	if err != nil {
		return err
	}
	if !found {
		if err := g.prune(tx, now); err != nil {
			return err
		}
		if g.penaltyRecords.Load() >= maxPenaltyRecords {
			return nil // full: the global budget still holds; penalties resume as records expire
		}
		g.penaltyRecords.Add(1)
	}
	if now.After(p.Until.Add(g.policy.PenaltyMax)) {
		p.Failures = 0 // quiet for long enough: start over
	}
	p.Failures++
	p.Until = now.Add(g.policy.Penalty(p.Failures))
	if err := store.PutJSON(tx, store.BucketGate, penaltyKey(source), p); err != nil {
		return err
	}
	if p.Failures > 1 {
		return nil // audit the first penalty of a network, not each extension
	}
	b, err := getBudget(tx, Anonymous)
	if err != nil || b.PenaltiesAudited >= maxPenaltyAudits {
		return err
	}
	b.PenaltiesAudited++
	if err := putBudget(tx, Anonymous, b); err != nil {
		return err
	}
	_, err = g.audit.Append(tx, "gate.penalty", "gate", sourceName(source), map[string]string{
		"until": p.Until.UTC().Format(time.RFC3339)})
	return err
}

func (g *Gate) lockedError(door Door, b budget) error {
	until := b.LockedUntil.UTC().Format("15:04:05 MST")
	if door == KeyHolder {
		return fmt.Errorf("%w for key holders until %s after %d wrong PINs: wait, or run `patchgit pin unlock` on the server",
			ErrLocked, until, b.Failures)
	}
	return fmt.Errorf("%w until %s after %d wrong PINs: wait, log in with an authorized key, or run `patchgit pin unlock` on the server",
		ErrLocked, until, b.Failures)
}

// Refused reports whether remote's network is serving a penalty, and for
// how long still. The SSH server asks before the key exchange, so a
// penalized source costs it almost nothing.
func (g *Gate) Refused(remote net.Addr) (time.Duration, bool) {
	source := sourceOf(remote)
	if !source.IsValid() || g.policy.exempt(source.Addr()) {
		return 0, false
	}
	var p penalty
	if err := g.db.View(func(tx *bolt.Tx) error {
		_, err := store.GetJSON(tx, store.BucketGate, penaltyKey(source), &p)
		return err
	}); err != nil {
		g.log.Error("read source penalty", "source", sourceName(source), "err", err)
		return 0, false // a damaged record must not lock everyone out
	}
	left := p.Until.Sub(g.now())
	return left, left > 0
}

// Status is the gate's state for an operator.
type Status struct {
	Failures, KeyFailures       int
	LockedUntil, KeyLockedUntil time.Time
	Penalties                   int // networks with a penalty record
	Recent                      Recent
}

// Status reads the current state.
func (g *Gate) Status() (Status, error) {
	var s Status
	err := g.db.View(func(tx *bolt.Tx) error {
		a, err := getBudget(tx, Anonymous)
		if err != nil {
			return err
		}
		k, err := getBudget(tx, KeyHolder)
		if err != nil {
			return err
		}
		s.Failures, s.LockedUntil, s.KeyFailures, s.KeyLockedUntil = a.Failures, a.LockedUntil, k.Failures, k.LockedUntil
		if _, err := store.GetJSON(tx, store.BucketGate, keyRecent, &s.Recent); err != nil {
			return err
		}
		c := tx.Bucket(store.BucketGate).Cursor()
		for k, _ := c.Seek([]byte(penaltyPrefix)); k != nil && bytes.HasPrefix(k, []byte(penaltyPrefix)); k, _ = c.Next() {
			s.Penalties++
		}
		return nil
	})
	if err != nil {
		return s, fmt.Errorf("read pin gate: %w", err)
	}
	return s, nil
}

// Closed returns an error wrapping ErrLocked while door is locked, nil
// otherwise; a door asks before it prompts, so a locked gate says so
// instead of asking for a PIN it will not check. Knocking on the locked
// anonymous door earns the source a penalty, as a wrong PIN would.
func (g *Gate) Closed(door Door, remote net.Addr) error {
	_, err := g.closed(door, sourceOf(remote))
	if err != nil && !IsLocked(err) {
		g.log.Error("read pin gate", "err", err)
		return nil // Check reads it again and reports the error
	}
	return err
}

// closed ends a lock that ran out, and reports (ErrLocked) one that has not.
func (g *Gate) closed(door Door, source netip.Prefix) (budget, error) {
	var b budget
	// Most of the time the door is open and no lock ran out: a read-only
	// transaction answers that without an fsync.
	if err := g.db.View(func(tx *bolt.Tx) error {
		var err error
		b, err = getBudget(tx, door)
		return err
	}); err != nil {
		return b, fmt.Errorf("read pin gate: %w", err)
	}
	if b.LockedUntil.IsZero() {
		return b, nil
	}
	var locked bool
	err := g.db.Update(func(tx *bolt.Tx) error {
		var err error
		if b, err = g.expireLock(tx, door); err != nil {
			return err
		}
		now := g.now()
		if locked = now.Before(b.LockedUntil); locked && door == Anonymous {
			return g.penalize(tx, source, now)
		}
		return nil
	})
	if err != nil {
		return b, fmt.Errorf("read pin gate: %w", err)
	}
	if locked {
		return b, g.lockedError(door, b)
	}
	return b, nil
}

// Unlocked is what Unlock cleared.
type Unlocked struct {
	WasLocked    bool `json:"was_locked"`
	Failures     int  `json:"failures"`
	KeyWasLocked bool `json:"key_was_locked"`
	KeyFailures  int  `json:"key_failures"`
	Penalties    int  `json:"penalties"`
}

// Unlock clears both doors' locks, counts and delays and every source
// penalty, inside the caller's transaction, and audits it as actor's act.
// It works on the store alone, so the CLI can run it with the daemon
// stopped; a running gate reads the cleared state at its next check.
func Unlock(tx *bolt.Tx, log *audit.Log, actor string, now time.Time) (Unlocked, error) {
	var u Unlocked
	bucket := tx.Bucket(store.BucketGate)
	if bucket == nil {
		return u, fmt.Errorf("unlock pin gate: bucket %q is missing (store not migrated?)", store.BucketGate)
	}
	a, err := getBudget(tx, Anonymous)
	if err != nil {
		return u, fmt.Errorf("unlock pin gate: %w", err)
	}
	k, err := getBudget(tx, KeyHolder)
	if err != nil {
		return u, fmt.Errorf("unlock pin gate: %w", err)
	}
	u.WasLocked, u.Failures = now.Before(a.LockedUntil), a.Failures
	u.KeyWasLocked, u.KeyFailures = now.Before(k.LockedUntil), k.Failures
	var penalties [][]byte
	c := bucket.Cursor()
	for key, _ := c.Seek([]byte(penaltyPrefix)); key != nil && bytes.HasPrefix(key, []byte(penaltyPrefix)); key, _ = c.Next() {
		penalties = append(penalties, bytes.Clone(key))
	}
	for _, key := range penalties {
		if err := bucket.Delete(key); err != nil {
			return u, fmt.Errorf("unlock pin gate: %w", err)
		}
	}
	u.Penalties = len(penalties)
	for _, key := range [][]byte{keyAnonymous, keyKeyHolder} {
		if err := bucket.Delete(key); err != nil {
			return u, fmt.Errorf("unlock pin gate: %w", err)
		}
	}
	if _, err := log.Append(tx, "gate.unlocked", actor, "pin", map[string]string{
		"was_locked": strconv.FormatBool(u.WasLocked), "failures": strconv.Itoa(u.Failures),
		"key_was_locked": strconv.FormatBool(u.KeyWasLocked), "key_failures": strconv.Itoa(u.KeyFailures),
		"penalties": strconv.Itoa(u.Penalties),
	}); err != nil {
		return u, fmt.Errorf("unlock pin gate: %w", err)
	}
	return u, nil
}

// sourceOf is remote's source network; invalid when remote is not an IP
// address (a test pipe, a unix socket).
func sourceOf(remote net.Addr) netip.Prefix {
	if remote == nil {
		return netip.Prefix{}
	}
	var addr netip.Addr
	switch a := remote.(type) {
	case *net.TCPAddr:
		addr, _ = netip.AddrFromSlice(a.IP)
	default:
		ap, err := netip.ParseAddrPort(remote.String())
		if err != nil {
			return netip.Prefix{}
		}
		addr = ap.Addr()
	}
	if !addr.IsValid() {
		return netip.Prefix{}
	}
	return SourceNetwork(addr)
}

// sourceName is the network for logs and audit entries.
func sourceName(p netip.Prefix) string {
	if !p.IsValid() {
		return "unknown"
	}
	return p.String()
}

// IsLocked reports whether err says a door is locked.
func IsLocked(err error) bool { return errors.Is(err, ErrLocked) }
