package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkServeGet measures a registration get through the whole handler: routing,
// the token check and the read in one statement on a real SQLite store, encoding and
// the access log (discarded). It is the server's share of the get workload without
// the network, so that a change to the get path can be weighed before a load run.
func BenchmarkServeGet(b *testing.B) {
	h := newHarness(b, true)
	const n = 64
	ids := make([]string, n)
	for i := range ids {
		ids[i] = h.enroll("hw-bench-"+strconv.Itoa(i), "u"+strconv.Itoa(i)+"@example.com",
			"User "+strconv.Itoa(i)).ID
	}
	auth := "Bearer " + h.token
	for _, q := range []string{"", "?include=policy"} {
		name := "plain"
		if q != "" {
			name = "policy"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req := httptest.NewRequest("GET", h.regsPath("/"+ids[i%n]+q), nil)
				req.Header.Set("Authorization", auth)
				rec := httptest.NewRecorder()
				h.api.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				i++
			}
		})
	}
}
