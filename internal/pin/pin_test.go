package pin

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/store"
)

func TestHashVerifyRoundTrip(t *testing.T) {
	encoded, err := Hash("0123456789")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("encoding %q does not carry the OWASP parameters", encoded)
	}
	if strings.Contains(encoded, "0123456789") {
		t.Error("the encoding contains the PIN")
	}
	for pin, want := range map[string]bool{"0123456789": true, "0123456788": false, "123456789": false, "": false} {
		ok, err := Verify(encoded, pin)
		if err != nil || ok != want {
			t.Errorf("Verify(%q) = %v, %v; want %v", pin, ok, err, want)
		}
	}
}

func TestHashUsesRandomSalt(t *testing.T) {
	a, _ := Hash("424242")
	b, _ := Hash("424242")
	if a == b {
		t.Error("two hashes of one PIN are equal: the salt is not random")
	}
}

// A hash made with other parameters (here by an older or future PatchGit)
// still verifies: the parameters come from the string.
func TestVerifyReadsParametersFromTheString(t *testing.T) {
	// argon2id of "135790" with m=64,t=1,p=1, salt "saltsaltsaltsalt", 16-byte key.
	encoded := mustEncode(t, "135790", "saltsaltsaltsalt", 64, 1, 1, 16)
	if ok, err := Verify(encoded, "135790"); err != nil || !ok {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	if ok, _ := Verify(strings.Replace(encoded, "t=1", "t=2", 1), "135790"); ok {
		t.Error("changing t in the string still verified: parameters are ignored")
	}
}

func TestVerifyRejectsMalformedEncodings(t *testing.T) {
	good, _ := Hash("111111")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	cases := map[string]string{
		"empty":            "",
		"not PHC":          "hunter2",
		"argon2i":          "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"old version":      "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,
		"params reordered": "$argon2id$v=19$t=2,m=19456,p=1$" + salt + "$" + key,
		"zero passes":      "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key,
		"huge memory":      "$argon2id$v=19$m=4294967295,t=2,p=1$" + salt + "$" + key,
		"memory too low":   "$argon2id$v=19$m=4,t=2,p=1$" + salt + "$" + key,
		"bad salt":         "$argon2id$v=19$m=19456,t=2,p=1$!!!$" + key,
		"short salt":       "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + key,
		"short key":        "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$a2V5",
		"extra field":      good + "$x",
		"missing key":      "$argon2id$v=19$m=19456,t=2,p=1$" + salt,
	}
	for name, enc := range cases {
		ok, err := Verify(enc, "111111")
		if ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("%s: Verify = %v, %v; want ErrMalformedHash", name, ok, err)
		}
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		p, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 6 || Validate(p) != nil {
			t.Fatalf("Generate() = %q, want 6 digits", p)
		}
		seen[p] = true
	}
	// 50 draws from 10^6: a repeat is possible, fewer than 45 distinct is not plausible.
	if len(seen) < 45 {
		t.Errorf("only %d distinct PINs in 50 draws", len(seen))
	}
}

func TestValidate(t *testing.T) {
	for _, ok := range []string{"000000", "123456", "123456789012"} {
		if err := Validate(ok); err != nil {
			t.Errorf("Validate(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "12345", "1234567890123", "12345a", "12 456", "١٢٣٤٥٦"} {
		err := Validate(bad)
		if !errors.Is(err, ErrInvalidPIN) {
			t.Errorf("Validate(%q) = %v, want ErrInvalidPIN", bad, err)
			continue
		}
		if !strings.Contains(err.Error(), "6 to 12 digits") {
			t.Errorf("Validate(%q) error %q does not say what is required", bad, err)
		}
		if len(bad) >= 6 && strings.Contains(err.Error(), bad) {
			t.Errorf("error %q repeats the PIN", err)
		}
	}
	if _, err := Hash("12ab56"); !errors.Is(err, ErrInvalidPIN) {
		t.Errorf("Hash of an invalid PIN: %v", err)
	}
}

func TestSaveLoad(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "patchgit.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, ok, err := Load(db); ok || err != nil {
		t.Fatalf("Load on a new store = %v, %v", ok, err)
	}
	encoded, _ := Hash("987654")
	if err := db.Update(func(tx *bolt.Tx) error { return Save(tx, encoded) }); err != nil {
		t.Fatal(err)
	}
	got, ok, err := Load(db)
	if err != nil || !ok || got != encoded {
		t.Fatalf("Load = %q, %v, %v", got, ok, err)
	}
	if match, _ := Verify(got, "987654"); !match {
		t.Error("loaded hash does not verify")
	}
	err = db.Update(func(tx *bolt.Tx) error { return Save(tx, "987654") })
	if !errors.Is(err, ErrMalformedHash) {
		t.Errorf("Save of a plain PIN: %v, want ErrMalformedHash", err)
	}
	if got2, _, _ := Load(db); got2 != encoded {
		t.Error("a refused Save changed the stored hash")
	}
}

func BenchmarkVerify(b *testing.B) {
	encoded, _ := Hash("246810")
	for b.Loop() {
		if ok, _ := Verify(encoded, "246810"); !ok {
			b.Fatal("no match")
		}
	}
}
