package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkAuditPageRender renders /audit (the newest 50 entries, the
// chain's status on top) from logs of 100 and 100,000 entries through the
// mirror's real handler over a real core and bbolt; bench/auditpage.sh
// prints the ratio of the two.
func BenchmarkAuditPageRender(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			e := newEnv(b, envOptions{})
			e.fillAudit(n)
			c := e.client()
			e.signIn(c)
			cookies := c.Jar.Cookies(mustURL(b, e.base))
			h := e.srv.Handler()
			render := func() {
				req, _ := http.NewRequest("GET", e.base+"/audit", nil)
				for _, ck := range cookies {
					req.AddCookie(ck)
				}
				w := &discard{h: http.Header{}}
				h.ServeHTTP(w, req)
				if w.code != 0 && w.code != http.StatusOK {
					b.Fatalf("audit page: %d", w.code)
				}
			}
			// The first request after a change to the log verifies the
			// whole chain; the loop measures the requests after it (the
			// warm-up's cost is in docs/benchmarks.md).
			render()
			b.ResetTimer()
			for b.Loop() {
				render()
			}
		})
	}
}

// fillAudit appends n entries of kind "test.fill" with subjects fill-1..n.
func (e *env) fillAudit(n int) {
	e.t.Helper()
	err := e.db.Update(func(tx *bolt.Tx) error {
		for i := 1; i <= n; i++ {
			if _, err := e.audit.Append(tx, "test.fill", "tester", fmt.Sprintf("fill-%d", i), map[string]string{"i": strconv.Itoa(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func mustURL(tb testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }
