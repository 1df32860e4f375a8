package forge

import (
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

func putPR(b *bolt.Bucket, p PR) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return b.Put(store.U64(uint64(p.Number)), raw)
}
