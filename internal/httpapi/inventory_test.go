package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/httpapi"
)

// The helpers here serve the tests that must reach every route: the bad-input
// table and the tenancy matrix. Both are keyed by the API's route patterns, so a
// route added without cases fails them.

// routes returns the API's route patterns.
func (h *harness) routes() []string {
	h.t.Helper()
	api, ok := h.api.(*httpapi.API)
	if !ok {
		h.t.Fatalf("the harness serves %T, not *httpapi.API", h.api)
	}
	return api.Routes()
}

// requireEveryRoute fails t for each route of the API that covered lacks, and for
// each entry of covered that names no route, so that neither side goes stale.
func requireEveryRoute(t *testing.T, h *harness, covered []string) {
	t.Helper()
	routes := h.routes()
	for _, r := range routes {
		if !slices.Contains(covered, r) {
			t.Errorf("route %q has no cases: add them", r)
		}
	}
	for _, c := range covered {
		if !slices.Contains(routes, c) {
			t.Errorf("cases for %q, which is not a route", c)
		}
	}
}

// routeFinder tells which of the API's patterns a request reaches, using a mux of
// its own with the same patterns, so that a case that means to test one route
// cannot silently test another.
type routeFinder struct{ mux *http.ServeMux }

func newRouteFinder(routes []string) routeFinder {
	mux := http.NewServeMux()
	for _, r := range routes {
		mux.Handle(r, http.NotFoundHandler())
	}
	return routeFinder{mux}
}

// route returns the pattern that method and target reach, or "" for none.
func (f routeFinder) route(method, target string) string {
	_, pattern := f.mux.Handler(httptest.NewRequest(method, target, nil))
	return pattern
}

// serve is do with a deadline: a change stream that wrongly accepts a request
// never ends on its own.
func (h *harness) serve(
	t *testing.T, method, path string, body any, headers ...string,
) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, requestBody(t, body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1]) // a name given twice is sent twice
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req.WithContext(ctx))
	return rec
}

// publicKey returns the public key of a registration of the harness's account.
func (h *harness) publicKey(id string) string {
	h.t.Helper()
	rec := h.admin("GET", h.regsPath("/"+id))
	var env struct{ Result struct{ Key string } }
	decode(h.t, rec, &env)
	if env.Result.Key == "" {
		h.t.Fatalf("registration %s has no key: %s", id, rec.Body)
	}
	return env.Result.Key
}

// tenant is an account of a harness with its own credentials.
type tenant struct {
	acct      *device.Account
	token     string
	readToken string
	enrollKey string
}

// tenant adds an account, with a write token, a read token and a reusable
// enrolment key, to the harness's database.
func (h *harness) tenant(multiUser bool) *tenant {
	h.t.Helper()
	ctx := h.t.Context()
	tn := &tenant{acct: h.account(multiUser)}
	var err error
	if _, tn.token, err = h.svc.CreateAPIToken(ctx, tn.acct.ID, "write", false); err != nil {
		h.t.Fatal(err)
	}
	if _, tn.readToken, err = h.svc.CreateAPIToken(ctx, tn.acct.ID, "read", true); err != nil {
		h.t.Fatal(err)
	}
	if _, tn.enrollKey, err = h.svc.CreateEnrollmentKey(ctx, tn.acct.ID, true, 0); err != nil {
		h.t.Fatal(err)
	}
	return tn
}

// unchanged fails t, naming what, when the database no longer dumps as want.
func (h *harness) unchanged(t *testing.T, what, want string) {
	t.Helper()
	h.changed(t, what, want)
}

// changed is unchanged returning the dump it took.
func (h *harness) changed(t *testing.T, what, want string) string {
	t.Helper()
	got := h.db.Dump(t)
	if got != want {
		t.Errorf("%s changed the database (-before +after):\n%s", what, cmp.Diff(want, got))
	}
	return got
}
