package gate

import (
	"fmt"
	"net/netip"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

// Keys in store.BucketGate. Values are JSON, so the state survives a
// restart or a kill -9 exactly as last committed.
var (
	keyAnonymous = []byte("budget/anonymous") // budget of everyone who only knows the PIN
	keyKeyHolder = []byte("budget/key")       // budget of connections that proved an authorized key
	keyRecent    = []byte("recent")           // failures since the last successful login
)

const penaltyPrefix = "penalty/" // + source network, e.g. penalty/203.0.113.0/24

// Door names which budget an attempt spends.
type Door string

const (
	// Anonymous: the PIN is all the person has shown (SSH keyboard-interactive, web login).
	Anonymous Door = "anonymous"
	// KeyHolder: the connection first proved a key from authorized_keys.
	KeyHolder Door = "key"
)

func (d Door) key() []byte {
	if d == KeyHolder {
		return keyKeyHolder
	}
	return keyAnonymous
}

// budget is one door's consecutive-failure state.
type budget struct {
	Failures    int       `json:"failures"`
	LastFailure time.Time `json:"last_failure,omitzero"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
	// PenaltiesAudited counts penalty entries written during this burst, so
	// an attack from many networks cannot flood the audit log.
	PenaltiesAudited int `json:"penalties_audited,omitempty"`
}

// penalty is one source network's state.
type penalty struct {
	Failures int       `json:"failures"`
	Until    time.Time `json:"until"`
}

// maxRecentSources bounds the sources kept in Recent.
const maxRecentSources = 8

// Recent summarizes the wrong PINs since the last successful login, shown
// to the next person who logs in.
type Recent struct {
	Count       int       `json:"count"`
	First       time.Time `json:"first,omitzero"`
	Last        time.Time `json:"last,omitzero"`
	Sources     []string  `json:"sources,omitempty"`      // source networks, first seen first
	MoreSources int       `json:"more_sources,omitempty"` // networks beyond Sources
}

// String is one line for a log or a screen; empty when nothing failed.
func (r Recent) String() string {
	if r.Count == 0 {
		return ""
	}
	s := fmt.Sprintf("%d wrong PIN(s) since the last login, from %v", r.Count, r.Sources)
	if r.MoreSources > 0 {
		s += fmt.Sprintf(" and %d more network(s)", r.MoreSources)
	}
	return s + fmt.Sprintf(", between %s and %s", r.First.UTC().Format(time.DateTime), r.Last.UTC().Format(time.DateTime+" MST"))
}

func (r *Recent) add(source string, at time.Time) {
	if r.Count == 0 {
		r.First = at
	}
	r.Count++
	r.Last = at
	if source == "" {
		return
	}
	for _, s := range r.Sources {
		if s == source {
			return
		}
	}
	if len(r.Sources) < maxRecentSources {
		r.Sources = append(r.Sources, source)
	} else {
		r.MoreSources++
	}
}

func getBudget(tx *bolt.Tx, d Door) (budget, error) {
	var b budget
	_, err := store.GetJSON(tx, store.BucketGate, d.key(), &b)
	return b, err
}

func putBudget(tx *bolt.Tx, d Door, b budget) error {
	return store.PutJSON(tx, store.BucketGate, d.key(), b)
}

func penaltyKey(n netip.Prefix) []byte { return []byte(penaltyPrefix + n.String()) }
