package httpapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/httpapi"
)

// limited returns a harness whose handler applies rl; enrolment key lookups go
// through a counter, so that a test can tell a refused lookup from a refusal before
// one.
func limited(t *testing.T, rl httpapi.RateLimits) (*harness, *countingService) {
	t.Helper()
	h := newHarness(t, false)
	cs := &countingService{Service: h.svc}
	h.api = httpapi.New(cs, slog.New(slog.DiscardHandler),
		httpapi.Options{CursorKey: []byte("k"), RateLimits: rl})
	return h, cs
}

type countingService struct {
	*device.Service
	lookups atomic.Int64 // enrolment key checks and enrolments, each one lookup
}

func (c *countingService) CheckEnrollmentKey(ctx context.Context, key string) error {
	c.lookups.Add(1)
	return c.Service.CheckEnrollmentKey(ctx, key)
}

func (c *countingService) Enroll(
	ctx context.Context, key string, req device.EnrollRequest,
) (*device.Enrollment, error) {
	c.lookups.Add(1)
	return c.Service.Enroll(ctx, key, req)
}

// from sends a request from the client address addr (host:port).
func (h *harness) from(addr, method, path string, body any, headers ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(method, path, requestBody(h.t, body))
	req.RemoteAddr = addr
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	return rec
}

var (
	rateLimitRE = regexp.MustCompile(`^"([a-z-]+)";r=(\d+);t=(\d+)$`)
	policyRE    = regexp.MustCompile(`^"([a-z-]+)";q=(\d+);w=(\d+)$`)
)

// wantRemaining checks a response's RateLimit headers: policy name, quota q per w
// seconds, and r requests remaining.
func wantRemaining(t *testing.T, rec *httptest.ResponseRecorder, name string, q, w, r int) {
	t.Helper()
	m := rateLimitRE.FindStringSubmatch(rec.Header().Get("Ratelimit"))
	p := policyRE.FindStringSubmatch(rec.Header().Get("Ratelimit-Policy"))
	if m == nil || p == nil {
		t.Fatalf("RateLimit headers %q, %q are not in Cloudflare's form",
			rec.Header().Get("Ratelimit"), rec.Header().Get("Ratelimit-Policy"))
	}
	want := []string{name, strconv.Itoa(r), name, strconv.Itoa(q), strconv.Itoa(w)}
	if got := []string{m[1], m[2], p[1], p[2], p[3]}; !slices.Equal(got, want) {
		t.Errorf("RateLimit %q, RateLimit-Policy %q; want %s with r=%d, q=%d, w=%d",
			m[0], p[0], name, r, q, w)
	}
}

// wantTooMany checks a 429 in Cloudflare's form: code 971, Retry-After between 1
// and maxWait seconds, and the named policy's headers.
func wantTooMany(t *testing.T, rec *httptest.ResponseRecorder, policy string, maxWait int) {
	t.Helper()
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", rec.Code, rec.Body)
	}
	if codes := errorCodes(t, rec); !slices.Equal(codes, []int{971}) {
		t.Errorf("error codes %v, want [971]", codes)
	}
	wait, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	if err != nil || wait < 1 || wait > maxWait {
		t.Errorf("Retry-After %q, want 1 to %d seconds", rec.Header().Get("Retry-After"), maxWait)
	}
	if got := rateLimitRE.FindStringSubmatch(rec.Header().Get("Ratelimit")); got == nil ||
		got[1] != policy || got[2] != "0" {
		t.Errorf("RateLimit %q, want policy %q with none remaining",
			rec.Header().Get("Ratelimit"), policy)
	}
}

func TestRateLimitPerCredential(t *testing.T) {
	h, _ := limited(t, httpapi.RateLimits{PerCredential: 3})
	list := h.regsPath("")
	for i := range 3 {
		rec := h.do("GET", list, nil, "Authorization", "Bearer "+h.token)
		if rec.Code != http.StatusOK {
			t.Fatalf("request %d: status %d: %s", i+1, rec.Code, rec.Body)
		}
		wantRemaining(t, rec, "default", 3, 300, 2-i)
	}
	// Three per five minutes is one every 100 seconds.
	wantTooMany(t, h.do("GET", list, nil, "Authorization", "Bearer "+h.token), "default", 100)
	wantTooMany(t, h.do("GET", "/client/v4/user/tokens/verify", nil,
		"Authorization", "Bearer "+h.token), "default", 100)

	// Another credential of the same account, from the same address, is untouched.
	rec := h.do("GET", list, nil, "Authorization", "Bearer "+h.readToken)
	if rec.Code != http.StatusOK {
		t.Fatalf("other token: status %d: %s", rec.Code, rec.Body)
	}
	wantRemaining(t, rec, "default", 3, 300, 2)
}

// TestRateLimitGetSharesBudget checks that a get answered from its one-read path
// spends the same budget as one answered the long way (a registration that does
// not exist), and that the budget refuses the get once spent.
func TestRateLimitGetSharesBudget(t *testing.T) {
	h, _ := limited(t, httpapi.RateLimits{PerCredential: 3})
	e := h.enroll("hw-a", "a@example.com", "A")
	bearer := []string{"Authorization", "Bearer " + h.token}
	for i, id := range []string{e.ID, device.NewID(), e.ID} {
		rec := h.do("GET", h.regsPath("/"+id), nil, bearer...)
		if want := []int{200, 404, 200}[i]; rec.Code != want {
			t.Fatalf("get %d: status %d, want %d: %s", i+1, rec.Code, want, rec.Body)
		}
		wantRemaining(t, rec, "default", 3, 300, 2-i)
	}
	wantTooMany(t, h.do("GET", h.regsPath("/"+e.ID), nil, bearer...), "default", 100)
}

func TestRateLimitRegistrationAndEnrollmentKey(t *testing.T) {
	h, _ := limited(t, httpapi.RateLimits{PerCredential: 3})
	a, b := h.enroll("hw-a", "a@example.com", "A"), h.enroll("hw-b", "b@example.com", "B")
	beat := func(e enrolled, token string) *httptest.ResponseRecorder {
		return h.do("POST", "/enroll/v1/registrations/"+e.ID+"/heartbeat", nil,
			"Authorization", "Bearer "+token)
	}

	// Wrong tokens naming a's id spend nothing of a's budget.
	for range 10 {
		if rec := beat(a, strings.Repeat("x", 40)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token: status %d: %s", rec.Code, rec.Body)
		}
	}
	for i := range 3 {
		rec := beat(a, a.Token)
		if rec.Code != http.StatusOK {
			t.Fatalf("heartbeat %d: status %d: %s", i+1, rec.Code, rec.Body)
		}
		wantRemaining(t, rec, "default", 3, 300, 2-i)
	}
	wantTooMany(t, beat(a, a.Token), "default", 100)
	if rec := beat(b, b.Token); rec.Code != http.StatusOK {
		t.Errorf("another registration: status %d: %s", rec.Code, rec.Body)
	}

	// The harness's enrolment key enrolled a and b: one enrolment is left.
	h.enroll("hw-c", "c@example.com", "C")
	rec := h.do("POST", "/enroll/v1/registrations", map[string]any{}, "Authorization",
		"Bearer "+h.enrollKey)
	wantTooMany(t, rec, "default", 100)
}

func TestRateLimitPerAddress(t *testing.T) {
	h, _ := limited(t, httpapi.RateLimits{PerAddress: 2})
	e := h.enroll("hw-1", "u@example.com", "U") // from httptest's 192.0.2.1
	get := func(addr string) *httptest.ResponseRecorder {
		return h.from(addr, "GET", h.regsPath(""), nil, "Authorization", "Bearer "+h.token)
	}

	if rec := get("198.51.100.7:1000"); rec.Code != http.StatusOK {
		t.Fatalf("first request: status %d", rec.Code)
	}
	get("198.51.100.7:1001")
	wantTooMany(t, get("198.51.100.7:1002"), "address", 1)
	if rec := get("198.51.100.8:1000"); rec.Code != http.StatusOK {
		t.Errorf("another address: status %d", rec.Code)
	}

	// IPv6 addresses count by their /64.
	get("[2001:db8:1:1::1]:1")
	get("[2001:db8:1:1::2]:1")
	wantTooMany(t, get("[2001:db8:1:1:ffff::3]:1"), "address", 1)
	if rec := get("[2001:db8:1:2::1]:1"); rec.Code != http.StatusOK {
		t.Errorf("another /64: status %d", rec.Code)
	}

	// The registration API is counted by registration, never by address.
	for i := range 10 {
		rec := h.from("198.51.100.7:2000", "POST", "/enroll/v1/registrations/"+e.ID+
			"/heartbeat", nil, "Authorization", "Bearer "+e.Token)
		if rec.Code != http.StatusOK {
			t.Fatalf("heartbeat %d from a spent address: status %d: %s", i+1, rec.Code, rec.Body)
		}
	}
}

func TestAuthFailureLimit(t *testing.T) {
	h, _ := limited(t, httpapi.RateLimits{AuthFailures: 3})
	const guesser = "203.0.113.9:4000"
	wrong := "Bearer " + strings.Repeat("A", 40)
	for i := range 3 {
		rec := h.from(guesser, "GET", h.regsPath(""), nil, "Authorization", wrong)
		if rec.Code != http.StatusForbidden {
			t.Fatalf("wrong token %d: status %d, want 403", i+1, rec.Code)
		}
	}
	// The third failure spent the budget: from now on the address is refused before
	// any lookup, whatever it presents; other addresses are not.
	wantTooMany(t, h.from(guesser, "GET", h.regsPath(""), nil, "Authorization", wrong),
		"auth-failures", 100)
	wantTooMany(t, h.from(guesser, "GET", h.regsPath(""), nil,
		"Authorization", "Bearer "+h.token), "auth-failures", 100)
	if rec := h.from("203.0.113.10:4000", "GET", h.regsPath(""), nil,
		"Authorization", "Bearer "+h.token); rec.Code != http.StatusOK {
		t.Errorf("another address: status %d", rec.Code)
	}

	// Registration calls from that address still work with the right token, and
	// get 429 rather than 401 with a wrong one.
	e := h.enroll("hw-1", "u@example.com", "U")
	beat := "/enroll/v1/registrations/" + e.ID + "/heartbeat"
	if rec := h.from(guesser, "POST", beat, nil, "Authorization", "Bearer "+e.Token); rec.Code != 200 {
		t.Errorf("heartbeat from the guessing address: status %d: %s", rec.Code, rec.Body)
	}
	wantTooMany(t, h.from(guesser, "POST", beat, nil, "Authorization", wrong),
		"auth-failures", 100)
}

// TestEnrollFloodSparesHeartbeats floods the enrolment API with wrong keys from one
// address while devices behind that same address keep sending heartbeats: the flood
// is throttled (after the allowed failures it costs no lookup at all) and every
// heartbeat succeeds.
func TestEnrollFloodSparesHeartbeats(t *testing.T) {
	h, cs := limited(t, httpapi.RateLimits{PerCredential: 1200, PerAddress: 200,
		AuthFailures: 60})
	const addr = "192.0.2.1:5555" // httptest's address, which enrolled the devices
	var devices []enrolled
	for i := range 5 {
		devices = append(devices, h.enroll("hw-"+strconv.Itoa(i), "u@example.com", "U"))
	}
	before := cs.lookups.Load()

	var flood sync.WaitGroup
	var statuses sync.Map
	for w := range 4 {
		flood.Go(func() {
			for i := range 250 {
				rec := h.from(addr, "POST", "/enroll/v1/registrations", map[string]any{
					"key": wgKey(), "key_type": "curve25519",
					"device": map[string]any{"name": "x", "hardware_id": "f" + strconv.Itoa(w*1000+i)},
					"user":   map[string]any{"email": "x@example.com"},
				}, "Authorization", "Bearer "+strings.Repeat("k", 40))
				n, _ := statuses.LoadOrStore(rec.Code, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		})
	}
	for round := range 20 {
		for _, d := range devices {
			rec := h.from(addr, "POST", "/enroll/v1/registrations/"+d.ID+"/heartbeat", nil,
				"Authorization", "Bearer "+d.Token)
			if rec.Code != http.StatusOK {
				t.Fatalf("heartbeat round %d during the flood: status %d: %s",
					round, rec.Code, rec.Body)
			}
		}
	}
	flood.Wait()

	count := func(status int) int64 {
		n, ok := statuses.Load(status)
		if !ok {
			return 0
		}
		return n.(*atomic.Int64).Load()
	}
	if lookups := cs.lookups.Load() - before; lookups > 60+4 {
		t.Errorf("the flood reached the enrolment service %d times; want at most the 60 "+
			"allowed failures (and a few in flight)", lookups)
	}
	if got := count(http.StatusUnauthorized) + count(http.StatusTooManyRequests); got != 1000 {
		t.Errorf("flood answers: %d 401 and %d 429 of 1000", count(http.StatusUnauthorized),
			count(http.StatusTooManyRequests))
	}
	if count(http.StatusTooManyRequests) < 900 {
		t.Errorf("only %d of 1000 wrong keys were throttled", count(http.StatusTooManyRequests))
	}
}
