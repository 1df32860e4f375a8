package pin

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

// settingsKey holds the PHC string in the settings bucket.
var settingsKey = []byte("pin_hash")

// Load reads the stored PIN hash; ok is false when no PIN has been set.
func Load(db *store.DB) (encoded string, ok bool, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(store.BucketSettings).Get(settingsKey); v != nil {
			encoded, ok = string(v), true
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("load PIN hash: %w", err)
	}
	return encoded, ok, nil
}

// Save stores encoded (a string from Hash) in the caller's transaction, so
// setting the PIN and its audit entry commit together. It refuses anything
// Verify could not read later.
func Save(tx *bolt.Tx, encoded string) error {
	if _, err := parse(encoded); err != nil {
		return fmt.Errorf("save PIN hash: %w", err)
	}
	if err := tx.Bucket(store.BucketSettings).Put(settingsKey, []byte(encoded)); err != nil {
		return fmt.Errorf("save PIN hash: %w", err)
	}
	return nil
}
