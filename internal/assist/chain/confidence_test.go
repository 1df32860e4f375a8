package chain_test

import (
	"slices"
	"testing"

	"github.com/patchgit/patchgit/internal/assist"
	"github.com/patchgit/patchgit/internal/assist/chain"
)

const block = "README.md\n<<<<<<< SEARCH\n# demo\n=======\n# demo project\n>>>>>>> REPLACE\n"

func TestModelConfidenceLine(t *testing.T) {
	n := func(v int) *int { return &v }
	for _, tc := range []struct {
		name, answer string
		want         *int
	}{
		{"plain", block + "CONFIDENCE: 85\n", n(85)},
		{"lower case, no space", block + "confidence:70", n(70)},
		{"markdown bold", block + "**Confidence:** 90\n", n(90)},
		{"bold around all", block + "**CONFIDENCE: 40**\n", n(40)},
		{"percent", block + "CONFIDENCE: 55%\n", n(55)},
		{"out of 100", block + "CONFIDENCE: 60/100\n", n(60)},
		{"equals sign", block + "Confidence = 35\n", n(35)},
		{"CRLF and trailing blank lines", "README.md\r\n<<<<<<< SEARCH\r\n# demo\r\n=======\r\nx\r\n>>>>>>> REPLACE\r\nCONFIDENCE: 20\r\n\r\n\r\n", n(20)},
		{"zero", block + "CONFIDENCE: 0\n", n(0)},
		{"hundred", block + "CONFIDENCE: 100\n", n(100)},
		{"before the blocks", "CONFIDENCE: 75\n\n" + block, n(75)},
		{"the last line wins", "CONFIDENCE: 10\n" + block + "CONFIDENCE: 65\n", n(65)},
		{"absent", block, nil},
		{"no number", block + "CONFIDENCE: high\n", nil},
		{"decimal", block + "CONFIDENCE: 85.5\n", nil},
		{"negative", block + "CONFIDENCE: -5\n", nil},
		{"over 100", block + "CONFIDENCE: 150\n", nil},
		{"a later unusable line", block + "CONFIDENCE: 80\nCONFIDENCE: 900\n", nil},
		{"inside prose", block + "My confidence: 80, roughly.\n", nil},
		{"inside a block only", "conf.txt\n<<<<<<< SEARCH\n=======\nCONFIDENCE: 99\n>>>>>>> REPLACE\n", nil},
		{"inside a block, then outside", "conf.txt\n<<<<<<< SEARCH\n=======\nCONFIDENCE: 99\n>>>>>>> REPLACE\nCONFIDENCE: 30\n", n(30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := chain.ModelConfidence(tc.answer)
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("ModelConfidence = %v, want %v", deref(got), deref(tc.want))
			}
		})
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// The CONFIDENCE line does not change what the search/replace parser reads,
// wherever the model puts it.
func TestConfidenceLineLeavesTheEditsAlone(t *testing.T) {
	want, err := assist.Parse(block)
	if err != nil {
		t.Fatal(err)
	}
	for _, answer := range []string{block + "CONFIDENCE: 85\n", "CONFIDENCE: 85\n\n" + block, block + "\nCONFIDENCE:85\n"} {
		got, err := assist.Parse(answer)
		if err != nil || got.Kind != assist.KindEdits || !slices.Equal(got.Edits, want.Edits) {
			t.Errorf("Parse(%q) = %+v, %v; want the edits alone", answer, got.Edits, err)
		}
	}
}
