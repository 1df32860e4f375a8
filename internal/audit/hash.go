package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// GenesisHash is the Prev of entry 1: the hex of 32 zero bytes, so every
// entry's Prev has the same shape and the chain starts from a fixed point.
var GenesisHash = strings.Repeat("0", 64)

// hashDomain prefixes the canonical encoding so a future format change is a
// new domain rather than a silent reinterpretation of old hashes.
const hashDomain = "patchgit-audit-v1\n"

// canonical is what the hash covers: every field but Hash. encoding/json
// writes struct fields in declaration order and map keys sorted, and the
// time is a fixed-format UTC string, so the bytes are deterministic.
type canonical struct {
	Seq     uint64            `json:"seq"`
	Time    string            `json:"time"`
	Kind    string            `json:"kind"`
	Actor   string            `json:"actor"`
	Subject string            `json:"subject"`
	Data    map[string]string `json:"data"`
	Prev    string            `json:"prev"`
}

// computeHash returns hex(sha256(domain || canonical JSON of e without Hash)).
func computeHash(e Entry) string {
	data := e.Data
	if data == nil {
		data = map[string]string{} // nil and empty hash alike: storage drops empty maps
	}
	raw, err := json.Marshal(canonical{
		Seq:     e.Seq,
		Time:    e.Time.UTC().Format(time.RFC3339Nano),
		Kind:    e.Kind,
		Actor:   e.Actor,
		Subject: e.Subject,
		Data:    data,
		Prev:    e.Prev,
	})
	if err != nil {
		// Only strings, a number and a string map: Marshal cannot fail.
		panic("audit: encode canonical entry: " + err.Error())
	}
	sum := sha256.Sum256(append([]byte(hashDomain), raw...))
	return hex.EncodeToString(sum[:])
}

// validUTF8 makes s survive a JSON round trip unchanged (json.Marshal would
// otherwise replace invalid bytes, and the stored entry would differ from
// the one Append returned).
func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
