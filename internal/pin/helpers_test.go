package pin

import (
	"fmt"
	"testing"

	"golang.org/x/crypto/argon2"
)

// mustEncode builds a PHC string with explicit parameters.
func mustEncode(t *testing.T, pin, salt string, m, tm uint32, p uint8, keyLen uint32) string {
	t.Helper()
	key := argon2.IDKey([]byte(pin), []byte(salt), tm, m, p, keyLen)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, tm, p, b64.EncodeToString([]byte(salt)), b64.EncodeToString(key))
}
