// Package pin generates, validates and hashes the PIN that guards PatchGit.
// Only an argon2id hash (OWASP parameters) is ever stored, as a PHC string,
// and comparisons are constant-time.
package pin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Lengths a PIN may have.
const (
	MinLength = 6
	MaxLength = 12
)

// The argon2id parameters Hash uses (OWASP: m=19 MiB, t=2, p=1).
const (
	memoryKiB = 19456
	passes    = 2
	threads   = 1
	saltLen   = 16
	keyLen    = 32
)

// Bounds on parameters read back from a stored hash, so a damaged or hostile
// settings value cannot make Verify allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxPasses    = 16
	maxThreads   = 16
)

var b64 = base64.RawStdEncoding // PHC strings use unpadded standard base64

// Generate returns a random PIN of MinLength digits. rand.Int draws
// uniformly from [0, 10^6), so no digit pattern is likelier than another.
func Generate() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("generate PIN: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// Validate reports whether pin is 6 to 12 ASCII digits. The error never
// repeats the PIN.
func Validate(pin string) error {
	if len(pin) < MinLength || len(pin) > MaxLength {
		return fmt.Errorf("%w: it has %d characters; use %d to %d digits", ErrInvalidPIN, len(pin), MinLength, MaxLength)
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return fmt.Errorf("%w: character %d is not a digit; use %d to %d digits (0-9) only", ErrInvalidPIN, i+1, MinLength, MaxLength)
		}
	}
	return nil
}

// Hash returns pin's argon2id hash as a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<b64 salt>$<b64 key>.
func Hash(pin string) (string, error) {
	if err := Validate(pin); err != nil {
		return "", fmt.Errorf("hash PIN: %w", err)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash PIN: %w", err)
	}
	key := argon2.IDKey([]byte(pin), salt, passes, memoryKiB, threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memoryKiB, passes, threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether pin matches the PHC string encoded, using the
// parameters recorded in it. A malformed encoding is an error; a wrong PIN
// is (false, nil).
func Verify(encoded, pin string) (bool, error) {
	p, err := parse(encoded)
	if err != nil {
		return false, fmt.Errorf("verify PIN: %w", err)
	}
	got := argon2.IDKey([]byte(pin), p.salt, p.passes, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(got, p.key) == 1, nil
}

type params struct {
	memory, passes uint32
	threads        uint8
	salt, key      []byte
}

// parse reads "$argon2id$v=19$m=..,t=..,p=..$salt$key".
func parse(encoded string) (params, error) {
	var p params
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, fmt.Errorf("%w: want $argon2id$v=19$m=..,t=..,p=..$salt$hash", ErrMalformedHash)
	}
	if parts[1] != "argon2id" {
		return p, fmt.Errorf("%w: algorithm %q is not argon2id", ErrMalformedHash, parts[1])
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, fmt.Errorf("%w: version %q is not v=%d", ErrMalformedHash, parts[2], argon2.Version)
	}
	var err error
	if p.memory, p.passes, p.threads, err = parseParams(parts[3]); err != nil {
		return p, err
	}
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return p, fmt.Errorf("%w: the salt is not base64 of at least 8 bytes", ErrMalformedHash)
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return p, fmt.Errorf("%w: the hash is not base64 of 16 to 64 bytes", ErrMalformedHash)
	}
	return p, nil
}

// parseParams reads "m=19456,t=2,p=1" in that order, within safe bounds.
func parseParams(s string) (memory, passes uint32, threads uint8, err error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, fmt.Errorf("%w: parameters %q are not m=..,t=..,p=..", ErrMalformedHash, s)
	}
	var vals [3]uint64
	limits := [3]uint64{maxMemoryKiB, maxPasses, maxThreads}
	for i, name := range []string{"m", "t", "p"} {
		raw, ok := strings.CutPrefix(fields[i], name+"=")
		v, perr := strconv.ParseUint(raw, 10, 32)
		if !ok || perr != nil || v == 0 || v > limits[i] {
			return 0, 0, 0, fmt.Errorf("%w: parameter %q is not %s=1..%d", ErrMalformedHash, fields[i], name, limits[i])
		}
		vals[i] = v
	}
	if vals[0] < 8*vals[2] {
		return 0, 0, 0, fmt.Errorf("%w: memory m=%d is below 8 KiB per thread", ErrMalformedHash, vals[0])
	}
	return uint32(vals[0]), uint32(vals[1]), uint8(vals[2]), nil
}
