package chain

import (
	"regexp"
	"strconv"
	"strings"
)

// confidenceLine is the Patch answer's self-assessment, read tolerantly:
// any case, markdown around the word or the number, ":" or "=", and a
// trailing "%" or "/100" ("**Confidence:** 85%", "CONFIDENCE = 85/100").
var confidenceLine = regexp.MustCompile("(?i)^[\\s>*_#`-]*confidence[\\s*_`]*[:=][\\s*_`]*(\\d{1,3})\\s*(?:%|/\\s*100)?[\\s*_`.]*$")

// ModelConfidence reads the line "CONFIDENCE: <0-100>" the Patch stage asks
// the model to end its answer with: its own assessment that the change does
// what was asked. Only lines outside search/replace blocks count (a file's
// content may hold such a line), the last one wins, and an absent,
// malformed or out-of-range value is nil, never an error: the score then
// has no self-assessment. The line is prose to the search/replace parser,
// which ignores it, so the answer is parsed as sent.
func ModelConfidence(answer string) *int {
	var found *int
	inBlock := false
	for _, line := range strings.Split(strings.ReplaceAll(answer, "\r\n", "\n"), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "<<<<<<<"):
			inBlock = true
			continue
		case strings.HasPrefix(trimmed, ">>>>>>>"):
			inBlock = false
			continue
		case inBlock:
			continue
		}
		m := confidenceLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100 {
			found = nil // the last line said something unusable: no assessment
			continue
		}
		found = &n
	}
	return found
}
