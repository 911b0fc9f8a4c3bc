package httpapi_test

import (
	"crypto/rand"
	"encoding/base64"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
)

// The tenancy matrix calls every route with credentials that must not reach what
// it names: another account's token, a read-only token on a write, an enrolment key
// or a registration's token on the admin API, one registration's token on another.
// Each is refused, as it would be for something that does not exist, and changes
// nothing.

// callKind says who calls a route.
type callKind int

const (
	adminCall  callKind = iota // an account's admin API, with an API token or global key
	verifyCall                 // token verification, with an API token
	enrollCall                 // enrolment, with an enrolment key
	clientCall                 // a registration's own API, with its token
)

// tenancyCall is how the matrix calls one route: for an account and the id of an
// object of it, the request's path and body.
type tenancyCall struct {
	kind   callKind
	object string // what id names: a registration, device, policy or key; "" for none
	path   func(acct, id string) string
	body   any  // the request body, if any
	idList bool // the body is a JSON array that holds id
	issues bool // a GET that writes: it issues override codes
}

// request returns the path and body of the call.
func (c *tenancyCall) request(acct, id string) (string, any) {
	if c.idList {
		return c.path(acct, id), []string{id}
	}
	return c.path(acct, id), c.body
}

// tenancyFixture holds two accounts: A, the harness's, with two registrations and
// a custom profile, and B, with a registration and a global key.
type tenancyFixture struct {
	h       *harness
	a, b    enrolled // A's registrations
	aPolicy string   // A's custom profile
	aKey    string   // a's public key, URL-safe, as the by-key lookup takes it
	other   *tenant  // B
	theirs  enrolled // B's registration
	email   string   // B's global key's email
	global  string   // B's global key
}

func newTenancyFixture(t *testing.T) *tenancyFixture {
	h := newHarness(t, false)
	f := &tenancyFixture{h: h, a: h.enroll("hw-a", "a@example.com", "A"),
		b: h.enroll("hw-b", "b@example.com", "B"), other: h.tenant(false)}
	f.aPolicy = h.createPolicy("A only", `identity.email == "a@example.com"`, 10).PolicyID
	f.theirs = h.enrollWith(f.other.enrollKey, "hw-t", "t@example.com", "T")
	f.aKey = urlKey(t, h.publicKey(f.a.ID))
	f.email = "admin@b.example"
	var err error
	if _, f.global, err = h.svc.CreateGlobalKey(t.Context(), f.other.acct.ID, f.email); err != nil {
		t.Fatal(err)
	}
	return f
}

// urlKey re-encodes a standard base64 key in the URL-safe form of the key lookup.
func urlKey(t *testing.T, std string) string {
	raw, err := base64.StdEncoding.DecodeString(std)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// objects returns A's object of each kind, and one of each kind that exists nowhere.
func (f *tenancyFixture) objects() (theirs, missing map[string]string) {
	var k [32]byte
	rand.Read(k[:])
	theirs = map[string]string{"registration": f.a.ID, "device": f.a.DeviceID,
		"policy": f.aPolicy, "key": f.aKey}
	missing = map[string]string{"registration": device.NewID(), "device": device.NewID(),
		"policy": device.NewID(), "key": base64.RawURLEncoding.EncodeToString(k[:])}
	return theirs, missing
}

func (f *tenancyFixture) calls() map[string]tenancyCall {
	regs := func(acct, suffix string) string {
		return "/client/v4/accounts/" + acct + "/devices/registrations" + suffix
	}
	devs := func(acct, suffix string) string {
		return "/client/v4/accounts/" + acct + "/devices/physical-devices" + suffix
	}
	own := func(acct, suffix string) string { return "/api/v1/accounts/" + acct + suffix }
	reg := "registration"
	calls := map[string]tenancyCall{
		"GET " + regsRoute: {object: reg,
			path: func(acct, id string) string { return regs(acct, "?id="+id) }},
		"DELETE " + regsRoute: {object: reg,
			path: func(acct, id string) string { return regs(acct, "?id="+id) }},
		"POST " + regsRoute + "/revoke": {object: reg,
			path: func(acct, id string) string { return regs(acct, "/revoke?id="+id) }},
		"POST " + regsRoute + "/unrevoke": {object: reg,
			path: func(acct, id string) string { return regs(acct, "/unrevoke?id="+id) }},
		"GET " + regsRoute + "/{registration_id}": {object: reg,
			path: func(acct, id string) string { return regs(acct, "/"+id) }},
		"DELETE " + regsRoute + "/{registration_id}": {object: reg,
			path: func(acct, id string) string { return regs(acct, "/"+id) }},
		"GET " + devsRoute: {object: "device",
			path: func(acct, id string) string { return devs(acct, "?id="+id) }},
		"GET " + devsRoute + "/{device_id}": {object: "device",
			path: func(acct, id string) string { return devs(acct, "/"+id) }},
		"DELETE " + devsRoute + "/{device_id}": {object: "device",
			path: func(acct, id string) string { return devs(acct, "/"+id) }},
		"POST " + devsRoute + "/{device_id}/revoke": {object: "device",
			path: func(acct, id string) string { return devs(acct, "/"+id+"/revoke") }},
		"GET /client/v4/user/tokens/verify": {kind: verifyCall,
			path: func(string, string) string { return "/client/v4/user/tokens/verify" }},
		"GET /client/v4/accounts/{account_id}/tokens/verify": {kind: verifyCall,
			path: func(acct, _ string) string {
				return "/client/v4/accounts/" + acct + "/tokens/verify"
			}},
		"GET " + ownRoute + "/changes": {
			path: func(acct, _ string) string { return own(acct, "/registrations/changes") }},
		"GET " + ownRoute + "/changes/stream": {
			path: func(acct, _ string) string {
				return own(acct, "/registrations/changes/stream")
			}},
		"GET " + ownRoute + "/by-key/{key}": {object: "key",
			path: func(acct, id string) string { return own(acct, "/registrations/by-key/"+id) }},
		"GET /api/v1/accounts/{account_id}/audit": {object: reg,
			path: func(acct, id string) string { return own(acct, "/audit?target_id="+id) }},
		"POST " + enrollRoute: {kind: enrollCall,
			path: func(string, string) string { return enrollRoute }},
		"PATCH " + enrollRoute + "/{id}": {kind: clientCall, object: reg,
			path: func(_, id string) string { return enrollRoute + "/" + id },
			body: map[string]any{"device": map[string]any{"name": "renamed"}}},
		"POST " + enrollRoute + "/{id}/heartbeat": {kind: clientCall, object: reg,
			path: func(_, id string) string { return enrollRoute + "/" + id + "/heartbeat" }},
		"POST " + enrollRoute + "/{id}/token": {kind: clientCall, object: reg,
			path: func(_, id string) string { return enrollRoute + "/" + id + "/token" }},
	}
	maps.Copy(calls, policyCalls())
	maps.Copy(calls, legacyCalls())
	return calls
}

// legacyCalls are the calls of the deprecated device routes and override codes. In
// a single-user account a deprecated device's id is its registration's.
func legacyCalls() map[string]tenancyCall {
	devs := func(acct, suffix string) string {
		return "/client/v4/accounts/" + acct + "/devices" + suffix
	}
	reg := "registration"
	return map[string]tenancyCall{
		"GET " + regsRoute + "/{registration_id}/override_codes": {object: reg, issues: true,
			path: func(acct, id string) string {
				return devs(acct, "/registrations/"+id+"/override_codes")
			}},
		"GET " + legacyRoute: {path: func(acct, _ string) string { return devs(acct, "") }},
		"POST " + legacyRoute + "/revoke": {object: reg, idList: true,
			path: func(acct, _ string) string { return devs(acct, "/revoke") }},
		"POST " + legacyRoute + "/unrevoke": {object: reg, idList: true,
			path: func(acct, _ string) string { return devs(acct, "/unrevoke") }},
		"GET " + legacyRoute + "/{device_id}": {object: reg,
			path: func(acct, id string) string { return devs(acct, "/"+id) }},
		"GET " + legacyRoute + "/{device_id}/{sub}": {object: reg, issues: true,
			path: func(acct, id string) string { return devs(acct, "/"+id+"/override_codes") }},
	}
}

// policyCalls are the calls of the profile routes.
func policyCalls() map[string]tenancyCall {
	pol := func(acct, suffix string) string {
		return "/client/v4/accounts/" + acct + "/devices/policy" + suffix
	}
	at := func(suffix string) func(acct, id string) string {
		return func(acct, _ string) string { return pol(acct, suffix) }
	}
	byID := func(suffix string) func(acct, id string) string {
		return func(acct, id string) string { return pol(acct, "/"+id+suffix) }
	}
	create := map[string]any{"name": "B's", "match": `identity.email == "x@example.com"`,
		"precedence": 99}
	calls := map[string]tenancyCall{
		"GET /client/v4/accounts/{account_id}/devices/policies": {
			path: func(acct, _ string) string {
				return "/client/v4/accounts/" + acct + "/devices/policies"
			}},
		policyPattern("GET", ""): {path: at("")},
		policyPattern("PATCH", ""): {path: at(""),
			body: map[string]any{"auto_connect": 5}},
		policyPattern("POST", ""):               {path: at(""), body: create},
		policyPattern("GET", "/{policy_id}"):    {object: "policy", path: byID("")},
		policyPattern("DELETE", "/{policy_id}"): {object: "policy", path: byID("")},
		policyPattern("PATCH", "/{policy_id}"): {object: "policy", path: byID(""),
			body: map[string]any{"enabled": false}},
	}
	for _, list := range []string{"include", "exclude", "fallback_domains"} {
		calls[policyPattern("GET", "/"+list)] = tenancyCall{path: at("/" + list)}
		calls[policyPattern("PUT", "/"+list)] = tenancyCall{path: at("/" + list), body: "[]"}
		calls[policyPattern("GET", "/{policy_id}/"+list)] = tenancyCall{object: "policy",
			path: byID("/" + list)}
		calls[policyPattern("PUT", "/{policy_id}/"+list)] = tenancyCall{object: "policy",
			path: byID("/" + list), body: "[]"}
	}
	return calls
}

// writes reports whether a route changes anything: every method but GET does, and
// the GETs that issue override codes.
func writes(route string, c tenancyCall) bool {
	return c.issues || !strings.HasPrefix(route, "GET ")
}

// sameAnswer fails t unless two answers agree in status and in body, once each
// answer's own ids are replaced by one name.
func sameAnswer(t *testing.T, got, want *httptest.ResponseRecorder, gotIDs, wantIDs []string) {
	t.Helper()
	norm := func(rec *httptest.ResponseRecorder, ids []string) string {
		s := rec.Body.String()
		for _, id := range ids {
			if id != "" {
				s = strings.ReplaceAll(s, id, "<id>")
			}
		}
		return s
	}
	if got.Code != want.Code {
		t.Errorf("status %d, but %d for what does not exist: %s", got.Code, want.Code, got.Body)
	}
	if diff := cmp.Diff(norm(want, wantIDs), norm(got, gotIDs)); diff != "" {
		t.Errorf("the answer differs from the one for what does not exist (-missing +theirs):\n%s",
			diff)
	}
}

// matrix runs check for every route of the table that the filter keeps, after
// checking that the table covers every route.
func (f *tenancyFixture) matrix(
	t *testing.T, keep func(route string, c tenancyCall) bool,
	check func(t *testing.T, route string, c tenancyCall),
) {
	calls := f.calls()
	requireEveryRoute(t, f.h, slices.Collect(maps.Keys(calls)))
	before := f.h.db.Dump(t)
	for _, route := range slices.Sorted(maps.Keys(calls)) {
		c := calls[route]
		if !keep(route, c) {
			continue
		}
		t.Run(route, func(t *testing.T) {
			defer func() { before = f.h.changed(t, route, before) }()
			check(t, route, c)
		})
	}
}

// TestTenancyForeignObjects acts on account A's objects with account B's
// credentials, through B's own account: each answer is the one for an object that
// does not exist, and nothing changes.
func TestTenancyForeignObjects(t *testing.T) {
	f := newTenancyFixture(t)
	theirs, missing := f.objects()
	creds := map[string][]string{
		"B's token":      bearerHeader(f.other.token),
		"B's global key": {"X-Auth-Email", f.email, "X-Auth-Key", f.global},
	}
	keep := func(_ string, c tenancyCall) bool { return c.kind == adminCall && c.object != "" }
	f.matrix(t, keep, func(t *testing.T, route string, c tenancyCall) {
		method, _, _ := strings.Cut(route, " ")
		acct := f.other.acct.ID
		for name, cred := range creds {
			gotPath, gotBody := c.request(acct, theirs[c.object])
			wantPath, wantBody := c.request(acct, missing[c.object])
			got := f.h.serve(t, method, gotPath, gotBody, cred...)
			want := f.h.serve(t, method, wantPath, wantBody, cred...)
			if got.Code == http.StatusOK && want.Code == http.StatusOK && !writes(route, c) {
				// A filter by a foreign id finds nothing, as one by an unknown id does.
				if strings.Contains(got.Body.String(), theirs[c.object]) {
					t.Errorf("%s: the answer shows A's object: %s", name, got.Body)
				}
			}
			sameAnswer(t, got, want, []string{theirs[c.object]}, []string{missing[c.object]})
		}
	})
}

// TestTenancyForeignAccount calls every admin route on account A's path with
// account B's credentials: the answer is the one for an account that does not
// exist, and nothing changes.
func TestTenancyForeignAccount(t *testing.T) {
	f := newTenancyFixture(t)
	theirs, missing := f.objects()
	nobody := device.NewAccountID()
	creds := map[string][]string{
		"B's token":      bearerHeader(f.other.token),
		"B's read token": bearerHeader(f.other.readToken),
		"B's global key": {"X-Auth-Email", f.email, "X-Auth-Key", f.global},
	}
	keep := func(route string, c tenancyCall) bool {
		return c.kind == adminCall || strings.Contains(route, "{account_id}")
	}
	f.matrix(t, keep, func(t *testing.T, route string, c tenancyCall) {
		method, _, _ := strings.Cut(route, " ")
		for name, cred := range creds {
			if c.kind == verifyCall && cred[0] != "Authorization" {
				continue // tokens/verify checks API tokens only
			}
			gotPath, gotBody := c.request(f.h.acct.ID, theirs[c.object])
			wantPath, wantBody := c.request(nobody, missing[c.object])
			got := f.h.serve(t, method, gotPath, gotBody, cred...)
			want := f.h.serve(t, method, wantPath, wantBody, cred...)
			if got.Code < 400 {
				t.Errorf("%s on A's account: status %d: %s", name, got.Code, got.Body)
			}
			sameAnswer(t, got, want, []string{f.h.acct.ID, theirs[c.object]},
				[]string{nobody, missing[c.object]})
		}
	})
}

// TestTenancyReadTokenCannotWrite calls every admin route that writes with a
// read-only token of the account: 403, and nothing changes. The same token reads
// every route that only reads, so the refusals are about writing.
func TestTenancyReadTokenCannotWrite(t *testing.T) {
	f := newTenancyFixture(t)
	theirs, _ := f.objects()
	keep := func(_ string, c tenancyCall) bool { return c.kind == adminCall }
	f.matrix(t, keep, func(t *testing.T, route string, c tenancyCall) {
		if strings.HasSuffix(route, "/stream") {
			return // an accepted stream never ends; the read token is refused no write there
		}
		method, _, _ := strings.Cut(route, " ")
		path, body := c.request(f.h.acct.ID, theirs[c.object])
		rec := f.h.serve(t, method, path, body, bearerHeader(f.h.readToken)...)
		if !writes(route, c) {
			if rec.Code >= 400 {
				t.Errorf("a read: status %d: %s", rec.Code, rec.Body)
			}
			return
		}
		checkRefusal(t, rec, http.StatusForbidden, 10000, "Authentication error")
	})
}

// TestTenancyEnrollmentSecretsAreNotAdmin calls every admin and verification route
// with the account's enrolment key and with a registration's token: each is
// refused as an unknown API token would be, and nothing changes.
func TestTenancyEnrollmentSecretsAreNotAdmin(t *testing.T) {
	f := newTenancyFixture(t)
	theirs, _ := f.objects()
	keep := func(_ string, c tenancyCall) bool {
		return c.kind == adminCall || c.kind == verifyCall
	}
	f.matrix(t, keep, func(t *testing.T, route string, c tenancyCall) {
		method, _, _ := strings.Cut(route, " ")
		path, body := c.request(f.h.acct.ID, theirs[c.object])
		for name, secret := range map[string]string{"enrolment key": f.h.enrollKey,
			"registration token": f.a.Token} {
			t.Run(name, func(t *testing.T) {
				rec := f.h.serve(t, method, path, body, bearerHeader(secret)...)
				if c.kind == verifyCall {
					checkRefusal(t, rec, http.StatusUnauthorized, 1000, "Invalid API Token")
				} else {
					checkRefusal(t, rec, http.StatusForbidden, 10000, "Authentication error")
				}
			})
		}
	})
}

// TestTenancyRegistrationTokenReachesOnlyItsOwn calls each route of a
// registration's own API on another registration, of the same account and of
// another, with the token of a: each is answered as for an unknown registration,
// and nothing changes. An API token and an enrolment key fare no better.
func TestTenancyRegistrationTokenReachesOnlyItsOwn(t *testing.T) {
	f := newTenancyFixture(t)
	missing := device.NewID()
	keep := func(_ string, c tenancyCall) bool { return c.kind == clientCall }
	f.matrix(t, keep, func(t *testing.T, route string, c tenancyCall) {
		method, _, _ := strings.Cut(route, " ")
		want := f.h.serve(t, method, c.path("", missing), c.body, bearerHeader(f.a.Token)...)
		checkRefusal(t, want, http.StatusUnauthorized, 10000, "registration token is not valid")
		for _, call := range []struct {
			name, id, secret string
		}{
			{"a's token on b", f.b.ID, f.a.Token},
			{"a's token on B's registration", f.theirs.ID, f.a.Token},
			{"B's registration's token on a", f.a.ID, f.theirs.Token},
			{"an API token on a", f.a.ID, f.h.token},
			{"the enrolment key on a", f.a.ID, f.h.enrollKey},
		} {
			got := f.h.serve(t, method, c.path("", call.id), c.body, bearerHeader(call.secret)...)
			sameAnswer(t, got, want, []string{call.id}, []string{missing})
		}
	})
}

// TestTenancyEnrollmentStaysInItsAccount enrols with account B's key a device that
// reports A's hardware id and A's public key: B gets a registration of its own, as
// for a device never seen, and nothing of A's changes.
func TestTenancyEnrollmentStaysInItsAccount(t *testing.T) {
	f := newTenancyFixture(t)
	theirs, _ := f.objects()
	var enrolment []string
	for route, c := range f.calls() {
		if c.kind == enrollCall {
			enrolment = append(enrolment, route)
		}
	}
	if !cmp.Equal(enrolment, []string{"POST " + enrollRoute}) {
		t.Fatalf("enrolment routes %q: give each new one a test here", enrolment)
	}

	before := tenantRows(f.h.db.Dump(t), f.h.acct.ID)
	raw, _ := base64.RawURLEncoding.DecodeString(theirs["key"])
	rec := f.h.serve(t, "POST", enrollRoute, map[string]any{
		"key": base64.StdEncoding.EncodeToString(raw), "key_type": "curve25519",
		"device": map[string]any{"name": "A's laptop?", "hardware_id": "hw-a"},
		"user":   map[string]any{"email": "a@example.com"},
	}, bearerHeader(f.other.enrollKey)...)
	var got struct{ Result enrolled }
	decode(t, rec, &got)
	if rec.Code != http.StatusCreated || got.Result.ID == f.a.ID ||
		got.Result.DeviceID == f.a.DeviceID {
		t.Errorf("enrolment in B with A's identifiers: %d %s", rec.Code, rec.Body)
	}
	if after := tenantRows(f.h.db.Dump(t), f.h.acct.ID); after != before {
		t.Errorf("A's rows changed (-before +after):\n%s", cmp.Diff(before, after))
	}
}

// tenantRows returns the lines of a dump that hold an account's id: its rows.
func tenantRows(dump, accountID string) string {
	var out []string
	for _, line := range strings.Split(dump, "\n") {
		if strings.Contains(line, accountID) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
