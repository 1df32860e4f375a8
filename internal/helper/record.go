package helper

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/store"
)

// State is a helper record's lifecycle state (persisted as a string).
type State string

const (
	StateIntent     State = "intent"     // written before Create; no machine known yet
	StateCreated    State = "created"    // the provider accepted it; ID known
	StateActive     State = "active"     // reachable over SSH with the pinned key
	StateDestroying State = "destroying" // Destroy sent or about to be
	StateDestroyed  State = "destroyed"  // deletion confirmed
)

// Record is a helper's intent record in store.BucketHelpers, written before
// anything is created so that a crash at any step leaves something for
// Reconcile to find.
type Record struct {
	Name        string        `json:"name"` // unique: patchgit-<instance>-<job>-<random>
	Job         string        `json:"job"`
	Provider    string        `json:"provider"`
	Size        string        `json:"size"`
	PriceHourly budget.Micros `json:"price_hourly_micros"`
	// Proposal and Approved: whose spend it is, and whether the person
	// approved extra spend for it (Options.JobSpend at Acquire).
	Proposal    string    `json:"proposal,omitempty"`
	Approved    bool      `json:"approved,omitempty"`
	Tags        []string  `json:"tags"`
	HostKey     string    `json:"host_key"` // the pinned public key (authorized_keys form)
	MachineID   string    `json:"machine_id,omitempty"`
	Address     string    `json:"address,omitempty"`
	State       State     `json:"state"`
	Reason      string    `json:"reason,omitempty"` // why it was destroyed
	CreatedAt   time.Time `json:"created_at"`       // intent time
	ExpiresAt   time.Time `json:"expires_at"`       // TTL: reconcile destroys it after this
	StartedAt   time.Time `json:"started_at,omitzero"`
	DestroyedAt time.Time `json:"destroyed_at,omitzero"`
}

// Store keys in BucketHelpers.
var (
	keySlot      = []byte("slot") // the name of the helper holding the one slot
	recordPrefix = "helper/"
)

func recordKey(name string) []byte { return []byte(recordPrefix + name) }

func getRecord(tx *bolt.Tx, name string) (Record, bool, error) {
	var r Record
	ok, err := store.GetJSON(tx, store.BucketHelpers, recordKey(name), &r)
	return r, ok, err
}

func putRecord(tx *bolt.Tx, r Record) error {
	return store.PutJSON(tx, store.BucketHelpers, recordKey(r.Name), r)
}

// slotHolder is the name in the slot, "" if free.
func slotHolder(tx *bolt.Tx) string { return string(tx.Bucket(store.BucketHelpers).Get(keySlot)) }

// firstOpenRecord finds a record not confirmed destroyed, if any.
func firstOpenRecord(tx *bolt.Tx) (Record, bool, error) {
	c := tx.Bucket(store.BucketHelpers).Cursor()
	prefix := []byte(recordPrefix)
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var r Record
		if err := jsonUnmarshal(v, &r); err != nil {
			return Record{}, false, fmt.Errorf("read helper record %s: %w", k, err)
		}
		if r.State != StateDestroyed {
			return r, true, nil
		}
	}
	return Record{}, false, nil
}

// Records lists every record not yet destroyed (and, with all, the
// destroyed ones too).
func Records(db *store.DB, all bool) ([]Record, error) {
	var out []Record
	err := db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(store.BucketHelpers).Cursor()
		prefix := []byte(recordPrefix)
		for k, v := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == recordPrefix; k, v = c.Next() {
			var r Record
			if err := jsonUnmarshal(v, &r); err != nil {
				return fmt.Errorf("read helper record %s: %w", k, err)
			}
			if all || r.State != StateDestroyed {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}

// cost is what a helper that ran from start to end costs under
// DigitalOcean's per-second billing: at least 60 s and at least $0.01
// (the budget's one pricing rule for every helper).
// Cost is what the helper cost from its create to its confirmed destroy
// (per second, with the minimum charge); 0 until it is destroyed, or if
// it never was created.
func (r Record) Cost() budget.Micros {
	if r.State != StateDestroyed {
		return 0
	}
	return cost(r.Size, r.PriceHourly, r.StartedAt, r.DestroyedAt)
}

func cost(size string, priceHourly budget.Micros, start, end time.Time) budget.Micros {
	if start.IsZero() {
		return 0
	}
	return budget.NewHelperPrice(size, priceHourly, 0).Cost(end.Sub(start))
}

var keyInstance = []byte("instance")

// InstanceID is this install's id for the patchgit-instance-<id> tag:
// random at first use, then kept in the store, so a restart (or a restore
// on a new machine) still finds its own helpers and never another's.
func InstanceID(db *store.DB) (string, error) {
	var id string
	err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(store.BucketHelpers)
		if v := b.Get(keyInstance); v != nil {
			id = string(v)
			return nil
		}
		id = randomHex(6)
		return b.Put(keyInstance, []byte(id))
	})
	if err != nil {
		return "", fmt.Errorf("read helper instance id: %w", err)
	}
	return id, nil
}
