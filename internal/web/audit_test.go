package web_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var rowSeq = regexp.MustCompile(`<td data-label="#" class="num">(\d+)</td>`)

func pageSeqs(body string) []int {
	var out []int
	for _, m := range rowSeq.FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(m[1])
		out = append(out, n)
	}
	return out
}

func linkOf(body, id string) string {
	m := regexp.MustCompile(`href="([^"]*)" id="` + id + `"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// The audit page shows 50 entries a page, newest first, with older and
// newer links that walk the filtered log, and the chain's status on top.
func TestAuditPagesOlderAndNewer(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.fillAudit(120)
	c := e.client()
	e.signIn(c)

	resp, body := e.do(c, "GET", "/audit?kind=test.", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("audit page: %d", resp.StatusCode)
	}
	first := pageSeqs(body)
	if len(first) != 50 || first[0] <= first[49] {
		t.Fatalf("first page: %v", first)
	}
	if !strings.Contains(body, `class="verified" id="chain"`) || linkOf(body, "newer") != "" {
		t.Fatalf("first page: chain status or a newer link wrong:\n%s", body)
	}
	seen := slices.Clone(first)
	next := linkOf(body, "older")
	for next != "" {
		if !strings.Contains(next, "kind=test.") {
			t.Fatalf("older link drops the filter: %s", next)
		}
		_, body = e.do(c, "GET", next, nil)
		seen = append(seen, pageSeqs(body)...)
		if linkOf(body, "newer") == "" {
			t.Fatalf("page %s has no newer link", next)
		}
		next = linkOf(body, "older")
	}
	if len(seen) != 120 || !slices.IsSortedFunc(seen, func(a, b int) int { return b - a }) || slices.Compact(slices.Clone(seen))[119] != seen[119] {
		t.Fatalf("walking older saw %d entries: %v", len(seen), seen)
	}
	// From the oldest page (20 entries), newer is the middle page.
	if got := pageSeqs(body); len(got) != 20 {
		t.Fatalf("oldest page: %v", got)
	}
	_, body = e.do(c, "GET", linkOf(body, "newer"), nil)
	if got := pageSeqs(body); !slices.Equal(got, seen[50:100]) {
		t.Fatalf("newer of the oldest page: %v, want %v", got, seen[50:100])
	}
	_, body = e.do(c, "GET", linkOf(body, "newer"), nil)
	if got := pageSeqs(body); !slices.Equal(got, first) {
		t.Fatalf("newer again: %v, want the first page", got)
	}

	// The JSON pages the same way.
	_, raw := e.do(c, "GET", fmt.Sprintf("/api/audit?kind=test.&before=%d", first[49]), nil)
	var page struct {
		Entries []struct {
			Seq  int
			Kind string
		}
		Older    int  `json:"older_before"`
		HasNewer bool `json:"has_newer"`
		Newer    int  `json:"newer_before"`
		Report   struct {
			OK      bool
			Entries int
		} `json:"verification"`
	}
	if err := json.Unmarshal([]byte(raw), &page); err != nil {
		t.Fatalf("api audit: %v\n%s", err, raw)
	}
	if len(page.Entries) != 50 || page.Entries[0].Seq != first[49]-1 || page.Older != seen[99] || !page.HasNewer ||
		page.Newer != 0 || !page.Report.OK || page.Report.Entries < 120 {
		t.Fatalf("api audit page: %d entries from %d, older %d newer %v/%d, report %+v", len(page.Entries), page.Entries[0].Seq,
			page.Older, page.HasNewer, page.Newer, page.Report)
	}
	// A word narrows it: "i=7" matches the data of entries i=7 and i=70..79.
	_, body = e.do(c, "GET", "/audit?kind=test.&q=i%3D7", nil)
	if got := pageSeqs(body); len(got) != 11 || linkOf(body, "older") != "" {
		t.Fatalf("q=i=7: %v", got)
	}
}

// The proposal's trail is its own entries and its jobs', oldest first,
// and no one else's.
func TestProposalTrailIsItsOwn(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.fillAudit(5)
	p := e.propose(howdy(t))
	e.fillAudit(5)
	c := e.client()
	e.signIn(c)
	_, raw := e.do(c, "GET", "/api/proposals/"+p.ID, nil)
	var got struct {
		Jobs  []struct{ ID string }
		Audit []struct {
			Seq           int
			Kind, Subject string
		}
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Audit) < 2 || got.Audit[0].Kind != "proposal.created" {
		t.Fatalf("trail: %+v", got.Audit)
	}
	subjects := map[string]bool{p.ID: true}
	for _, j := range got.Jobs {
		subjects[j.ID] = true
	}
	sawJob := false
	for i, a := range got.Audit {
		if !subjects[a.Subject] || (i > 0 && a.Seq <= got.Audit[i-1].Seq) {
			t.Fatalf("trail entry %d: %+v", i, a)
		}
		sawJob = sawJob || strings.HasPrefix(a.Kind, "job.")
	}
	if !sawJob {
		t.Fatalf("trail lacks the drafting job: %+v", got.Audit)
	}
}
