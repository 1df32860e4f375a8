package budget

import (
	"bytes"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

// WindowStatus is one window as people see it.
type WindowStatus struct {
	Name      string `json:"name"` // "hour" or "day"
	Cap       Micros `json:"cap"`
	Spent     Micros `json:"spent"`
	Reserved  Micros `json:"reserved"`
	Remaining Micros `json:"remaining"` // cap - spent - reserved, never below 0
}

// Status is both windows and the most recent spends, newest first.
type Status struct {
	Hour   WindowStatus  `json:"hour"`
	Day    WindowStatus  `json:"day"`
	Recent []Spend       `json:"recent"`
	Open   []Reservation `json:"open"`
}

// recentSpends is how many spends Status lists.
const recentSpends = 10

// Status reads the windows now.
func (l *Ledger) Status() (Status, error) {
	var st Status
	err := l.db.View(func(tx *bolt.Tx) error {
		var err error
		st, err = l.StatusTx(tx)
		return err
	})
	return st, err
}

// StatusTx is Status inside the caller's transaction.
func (l *Ledger) StatusTx(tx *bolt.Tx) (Status, error) {
	ws, us, open, _, _, err := l.load(tx, l.now(), "")
	if err != nil {
		return Status{}, err
	}
	out := make([]WindowStatus, len(ws))
	for i, w := range ws {
		out[i] = WindowStatus{Name: w.Name, Cap: w.Cap, Spent: us[i].Spent, Reserved: us[i].Reserved,
			Remaining: max(0, w.Cap-us[i].Spent-us[i].Reserved)}
	}
	st := Status{Hour: out[0], Day: out[1], Open: open, Recent: []Spend{}}
	if st.Open == nil {
		st.Open = []Reservation{}
	}
	c := tx.Bucket(store.BucketLedger).Cursor()
	// The last spend key: seek past the spend range, step back.
	k, v := c.Seek([]byte("s0"))
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefixSpend) && len(st.Recent) < recentSpends; k, v = c.Prev() {
		var s Spend
		if err := json.Unmarshal(v, &s); err != nil {
			return Status{}, err
		}
		st.Recent = append(st.Recent, s)
	}
	return st, nil
}
