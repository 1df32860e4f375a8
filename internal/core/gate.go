package core

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/gate"
)

// PINUnlock is what UnlockPIN cleared.
type PINUnlock = gate.Unlocked

// UnlockPIN implements Admin. It works on the store, so it is the same
// whether the daemon serves it or the CLI runs it on a stopped daemon's
// store; a running gate reads the cleared state at its next check.
func (c *Core) UnlockPIN(_ context.Context, actor string) (PINUnlock, error) {
	var u PINUnlock
	err := c.update(func(tx *bolt.Tx, _ func(Event)) error {
		var err error
		u, err = gate.Unlock(tx, c.opt.Audit, actor, c.now())
		return err
	})
	return u, err
}
