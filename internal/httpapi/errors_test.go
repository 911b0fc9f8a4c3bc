package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/httpapi"
)

// TestErrorEnvelopes checks status, Cloudflare error codes and the v4 frame for the
// mistakes clients make with the admin API.
func TestErrorEnvelopes(t *testing.T) {
	h := newHarness(t, false)
	e := h.enroll("a", "a@example.com", "A")
	other := h.account(false)
	_, otherToken, err := h.svc.CreateAPIToken(t.Context(), other.ID, "other", false)
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	const missing = "00000000-0000-4000-8000-000000000000"
	tests := []struct {
		name    string
		method  string
		path    string
		headers []string
		status  int
		codes   []int
	}{
		{"no credentials", "GET", h.regsPath(""), nil, 400, []int{9106}},
		{"malformed bearer", "GET", h.regsPath(""), bearer("short"), 400, []int{6003}},
		{"basic auth", "GET", h.regsPath(""),
			[]string{"Authorization", "Basic Zm9vOmJhcg=="}, 400, []int{6003}},
		{"malformed global key", "GET", h.regsPath(""),
			[]string{"X-Auth-Email", "a@example.com", "X-Auth-Key", "nothex"}, 400, []int{6003}},
		{"email without key", "GET", h.regsPath(""),
			[]string{"X-Auth-Email", "a@example.com"}, 400, []int{6003}},
		{"two bearer tokens, read-only first", "POST", h.regsPath("/revoke?id=" + e.ID),
			append(bearer(h.readToken), bearer(h.token)...), 400, []int{6003}},
		{"two bearer tokens, writer first", "POST", h.regsPath("/revoke?id=" + e.ID),
			append(bearer(h.token), bearer(h.readToken)...), 400, []int{6003}},
		{"a global key twice", "GET", h.regsPath(""), []string{"X-Auth-Email", "a@example.com",
			"X-Auth-Key", strings.Repeat("a", 37), "X-Auth-Key", strings.Repeat("b", 37)},
			400, []int{6003}},
		{"unknown token", "GET", h.regsPath(""),
			bearer(strings.Repeat("A", 40)), 403, []int{10000}},
		{"read token revokes", "POST", h.regsPath("/revoke?id=" + e.ID),
			bearer(h.readToken), 403, []int{10000}},
		{"read token deletes", "DELETE", h.regsPath("/" + e.ID), bearer(h.readToken), 403, []int{10000}},
		{"other account's token", "GET", h.regsPath("/" + e.ID), bearer(otherToken), 403, []int{10000}},
		{"other account's token, missing id", "GET", h.regsPath("/" + missing),
			bearer(otherToken), 403, []int{10000}},
		{"unknown registration", "GET", h.regsPath("/" + missing), bearer(h.token), 404, []int{1001}},
		{"malformed registration id", "GET", h.regsPath("/nope"), bearer(h.token), 400, []int{7003, 7000}},
		{"malformed account id", "GET", "/client/v4/accounts/XYZ/devices/registrations",
			bearer(h.token), 400, []int{7003, 7000}},
		{"unknown route", "GET", "/client/v4/zones", bearer(h.token), 400, []int{7003, 7000}},
		{"wrong method", "PUT", h.regsPath(""), bearer(h.token), 405, []int{7001}},
		{"per_page zero", "GET", h.regsPath("?per_page=0"), bearer(h.token), 400, []int{1002}},
		{"per_page too big", "GET", h.regsPath("?per_page=1001"), bearer(h.token), 400, []int{1002}},
		{"per_page not a number", "GET", h.regsPath("?per_page=ten"), bearer(h.token), 400, []int{1002}},
		{"bad sort", "GET", h.regsPath("?sort_by=key"), bearer(h.token), 400, []int{1002}},
		{"bad order", "GET", h.regsPath("?sort_order=up"), bearer(h.token), 400, []int{1002}},
		{"bad status", "GET", h.regsPath("?status=gone"), bearer(h.token), 400, []int{1002}},
		{"bad include", "GET", h.regsPath("?include=device"), bearer(h.token), 400, []int{1002}},
		{"duplicate per_page", "GET", h.regsPath("?per_page=1&per_page=2"),
			bearer(h.token), 400, []int{1002}},
		{"php array ids", "GET", h.regsPath("?id[]=" + e.ID), bearer(h.token), 400, []int{1002}},
		{"malformed id filter", "GET", h.regsPath("?id=nope"), bearer(h.token), 400, []int{1002}},
		{"plus decoded as space", "GET", h.regsPath("?seen_after=2025-01-01T00:00:00+01:00"),
			bearer(h.token), 400, []int{1002}},
		{"revoke without ids", "POST", h.regsPath("/revoke"), bearer(h.token), 400, []int{1002}},
		{"revoke empty id", "POST", h.regsPath("/revoke?id="), bearer(h.token), 400, []int{1002}},
		{"bulk delete without ids", "DELETE", h.regsPath(""), bearer(h.token), 400, []int{1002}},
		{"revoke unknown", "POST", h.regsPath("/revoke?id=" + missing), bearer(h.token), 404, []int{1001}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.do(tt.method, tt.path, nil, tt.headers...)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if codes := errorCodes(t, rec); !slices.Equal(codes, tt.codes) {
				t.Errorf("codes = %v, want %v", codes, tt.codes)
			}
		})
	}

	// The registration was never changed by any of the refused calls.
	var got struct {
		Result struct {
			RevokedAt *string `json:"revoked_at"`
			DeletedAt *string `json:"deleted_at"`
		}
	}
	decode(t, h.admin("GET", h.regsPath("/"+e.ID)), &got)
	if got.Result.RevokedAt != nil || got.Result.DeletedAt != nil {
		t.Errorf("a refused call changed the registration: %+v", got.Result)
	}
}

func TestErrorGoldens(t *testing.T) {
	h := newHarness(t, false)
	golden(t, "error_no_credentials", h.do("GET", h.regsPath(""), nil), http.StatusBadRequest)
	golden(t, "error_bad_auth_header",
		h.do("GET", h.regsPath(""), nil, "Authorization", "Bearer nope"), http.StatusBadRequest)
	golden(t, "error_no_route", h.admin("GET", "/client/v4/nothing/here"), http.StatusBadRequest)
	rec := h.admin("PATCH", h.regsPath(""))
	golden(t, "error_method", rec, http.StatusMethodNotAllowed)
	if allow := rec.Header().Get("Allow"); allow != "GET, DELETE" {
		t.Errorf("Allow = %q, want \"GET, DELETE\"", allow)
	}
	golden(t, "error_per_page", h.admin("GET", h.regsPath("?per_page=0")), http.StatusBadRequest)
}

// TestClientGoneIsNotAFault sends a revoke whose client has already gone: the
// answer (which nobody reads) is a 499, and the log says so at info level instead
// of reporting a fault of the server's.
func TestClientGoneIsNotAFault(t *testing.T) {
	h := newHarness(t, false)
	e := h.enroll("a", "a@example.com", "A")
	var logs bytes.Buffer
	api := httpapi.New(h.svc, slog.New(slog.NewJSONHandler(&logs, nil)),
		httpapi.Options{CursorKey: []byte("test cursor key")})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", h.regsPath("/revoke?id="+e.ID), nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)

	if rec.Code != 499 {
		t.Errorf("status %d, want 499; body %s", rec.Code, rec.Body)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) ||
		!strings.Contains(logs.String(), "request ended before its answer") {
		t.Errorf("logs:\n%s\nwant an info line and no error", logs.String())
	}
	got := h.admin("GET", h.regsPath("/"+e.ID))
	if strings.Contains(got.Body.String(), `"revoked_at":"20`) {
		t.Errorf("the cancelled revoke was applied: %s", got.Body)
	}
}

// TestFaultsAndRetries renders the errors that are not the client's mistake: a
// cancellation while the client still waits is a fault of ours (500, logged as an
// error), one after it left is a 499 logged at info level, and a busy database is
// a 503 to retry, with Retry-After and a warning.
func TestFaultsAndRetries(t *testing.T) {
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		err    error
		status int
		code   string
		level  string
		retry  bool
	}{
		{"cancelled inside", t.Context(), fmt.Errorf("read: %w", context.Canceled), 500,
			`"code":10001`, "ERROR", false},
		{"client gone", gone, fmt.Errorf("read: %w", context.Canceled), 499,
			`"code":10001`, "INFO", false},
		{"busy", t.Context(), fmt.Errorf("begin: %w", device.ErrBusy), 503,
			`"code":1007`, "WARN", true},
	}
	for _, tt := range tests {
		var logs bytes.Buffer
		api := httpapi.New(nil, slog.New(slog.NewJSONHandler(&logs, nil)),
			httpapi.Options{CursorKey: []byte("test cursor key")})
		req := httptest.NewRequestWithContext(tt.ctx, "GET", "/client/v4/x", nil)
		rec := httptest.NewRecorder()
		httpapi.WriteError(api, rec, req, tt.err)

		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.code) {
			t.Errorf("%s: %d %s, want %d with %s", tt.name, rec.Code, rec.Body, tt.status, tt.code)
		}
		if got := rec.Header().Get("Retry-After") != ""; got != tt.retry {
			t.Errorf("%s: Retry-After %q, want one: %v", tt.name, rec.Header().Get("Retry-After"),
				tt.retry)
		}
		if !strings.Contains(logs.String(), `"level":"`+tt.level+`"`) ||
			strings.Count(logs.String(), "\n") != 1 {
			t.Errorf("%s: logs %q, want one line at %s", tt.name, logs.String(), tt.level)
		}
	}
}

// TestRequestOutOfTime revokes a registration while another transaction holds it
// (SQLite's one writer, or PostgreSQL's row lock) past the request's deadline: the
// answer is a 503 with code 1008 and Retry-After, logged as a warning, not a fault,
// and the revoke is not made once the other transaction ends.
func TestRequestOutOfTime(t *testing.T) {
	h := newHarness(t, false)
	e := h.enroll("a", "a@example.com", "A")
	held, release := make(chan struct{}), make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- h.db.Store.Update(t.Context(), func(tx device.Tx) error {
			r, err := tx.Registration(t.Context(), h.acct.ID, e.ID)
			if err == nil {
				err = tx.PutRegistration(t.Context(), r)
			}
			close(held)
			select { // at the latest after 10 s, so that a failure does not hang
			case <-release:
			case <-time.After(10 * time.Second):
			}
			return err
		})
	}()
	<-held
	var logs bytes.Buffer
	api := httpapi.New(h.svc, slog.New(slog.NewJSONHandler(&logs, nil)),
		httpapi.Options{CursorKey: []byte("test cursor key")})
	httpapi.SetRequestTimeout(api, 200*time.Millisecond)
	req := httptest.NewRequest("POST", h.regsPath("/revoke?id="+e.ID), nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	close(release)
	if err := <-holder; err != nil {
		t.Fatal(err)
	}

	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"code":1008`) ||
		rec.Header().Get("Retry-After") == "" {
		t.Errorf("%d %s (Retry-After %q), want 503, code 1008 and Retry-After", rec.Code,
			rec.Body, rec.Header().Get("Retry-After"))
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) ||
		!strings.Contains(logs.String(), "request ran out of time") {
		t.Errorf("logs:\n%s\nwant a warning and no error", logs.String())
	}
	got := h.admin("GET", h.regsPath("/"+e.ID))
	if got.Code != 200 || strings.Contains(got.Body.String(), `"revoked_at":"20`) {
		t.Errorf("the revoke that ran out of time was applied: %d %s", got.Code, got.Body)
	}
}

// faultyRevoke is a service whose revokes wait out the request's deadline and then
// fail with err, as a store does whose commit landed but whose log could not be
// synced.
type faultyRevoke struct {
	*device.Service
	err error
}

func (f faultyRevoke) Revoke(ctx context.Context, _ string, _ []string) error {
	<-ctx.Done()
	return f.err
}

// TestNamedFaultPastDeadline: a fault the store names (a *device.Error of
// KindInternal) is a 500 even when it comes after the request's deadline, where an
// error of no domain kind is a 503 asking for the request again (TestRequestOutOfTime):
// a write whose durability is unknown may have landed, and must not be sent again.
func TestNamedFaultPastDeadline(t *testing.T) {
	h := newHarness(t, false)
	for _, c := range []struct {
		err    error
		status int
	}{
		{&device.Error{Kind: device.KindInternal, Message: "internal error",
			Err: errors.New("committed, durability unknown")}, 500},
		{errors.New("interrupted"), 503},
	} {
		api := httpapi.New(faultyRevoke{h.svc, c.err}, slog.New(slog.DiscardHandler),
			httpapi.Options{CursorKey: []byte("test cursor key")})
		httpapi.SetRequestTimeout(api, 50*time.Millisecond)
		req := httptest.NewRequest("POST", h.regsPath("/revoke?id="+
			"01a24785-8667-7f44-b546-42787c15040d"), nil)
		req.Header.Set("Authorization", "Bearer "+h.token)
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("%v: status %d, want %d: %s", c.err, rec.Code, c.status, rec.Body)
		}
	}
}
