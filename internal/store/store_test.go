package store_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

func open(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "patchgit.db")
	db := open(t, path)
	type rec struct{ Name string }
	if err := db.Update(func(tx *bolt.Tx) error {
		return store.PutJSON(tx, store.BucketProposals, []byte("p1"), rec{"kept"})
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	defer db.Close()
	var got rec
	if err := db.View(func(tx *bolt.Tx) error {
		ok, err := store.GetJSON(tx, store.BucketProposals, []byte("p1"), &got)
		if !ok && err == nil {
			err = errors.New("record lost on reopen")
		}
		return err
	}); err != nil || got.Name != "kept" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if v, err := db.Version(); err != nil || v != store.SchemaVersion() {
		t.Fatalf("schema version %d (%v), want %d", v, err, store.SchemaVersion())
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v %v, want 0600", fi.Mode(), err)
	}
}

// A file at schema version 1 is migrated forward, and its data stays.
func TestMigratesAnOlderFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(store.BucketMeta)
		props, _ := tx.CreateBucket(store.BucketProposals)
		if err := props.Put([]byte("old"), []byte(`{"id":"old"}`)); err != nil {
			return err
		}
		return meta.Put([]byte("schema_version"), store.U64(1))
	}); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db := open(t, path)
	defer db.Close()
	if v, _ := db.Version(); v != store.SchemaVersion() {
		t.Fatalf("version %d after migration, want %d", v, store.SchemaVersion())
	}
	err = db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{store.BucketGate, store.BucketLedger, store.BucketHelpers, store.BucketWebSessions} {
			if tx.Bucket(b) == nil {
				return errors.New("missing bucket " + string(b))
			}
		}
		if string(tx.Bucket(store.BucketProposals).Get([]byte("old"))) != `{"id":"old"}` {
			return errors.New("migration lost data")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRefusesANewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	db := open(t, path)
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketMeta).Put([]byte("schema_version"), store.U64(uint64(store.SchemaVersion()+1)))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := store.Open(path, store.Options{})
	if !errors.Is(err, store.ErrNewerSchema) || !strings.Contains(err.Error(), "upgrade patchgit") {
		t.Fatalf("err = %v, want ErrNewerSchema telling to upgrade", err)
	}
}

// A second process gets a clear error after the timeout instead of hanging.
func TestSecondProcessGetsAClearErrorNotAHang(t *testing.T) {
	if os.Getenv("STORE_HELPER_PATH") != "" {
		_, err := store.Open(os.Getenv("STORE_HELPER_PATH"), store.Options{Timeout: 300 * time.Millisecond})
		if err == nil {
			os.Exit(3)
		}
		os.Stderr.WriteString(err.Error())
		if errors.Is(err, store.ErrLocked) {
			os.Exit(0)
		}
		os.Exit(4)
	}
	path := filepath.Join(t.TempDir(), "held.db")
	db := open(t, path)
	defer db.Close()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSecondProcessGetsAClearErrorNotAHang$")
	cmd.Env = append(os.Environ(), "STORE_HELPER_PATH="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("second process: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "another patchgit is using "+path+"?") {
		t.Fatalf("message %q does not say who holds the file", out)
	}
}
