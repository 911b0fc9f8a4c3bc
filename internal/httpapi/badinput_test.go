package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// The bad-input table sends every route the mistakes clients make, and checks that
// each gets its exact status, error code and message in a v4 envelope, and that the
// database does not change. Valid but unusual inputs are cases too: they are
// answered 200 and change nothing either.

// Route patterns, as the router registers them.
const (
	regsRoute   = "/client/v4/accounts/{account_id}/devices/registrations"
	devsRoute   = "/client/v4/accounts/{account_id}/devices/physical-devices"
	ownRoute    = "/api/v1/accounts/{account_id}/registrations"
	enrollRoute = "/enroll/v1/registrations"
)

// badCase is one request and the answer it must get.
type badCase struct {
	route    string   // the pattern the request is for
	name     string   // what the client got wrong
	method   string   // the request's method; the route's when empty
	path     string   // the request target
	body     any      // nil, a string sent as is, or a value sent as JSON
	headers  []string // name, value pairs; the route's own credential when nil
	status   int      // the exact status
	code     int      // the first error's code; 0 for an accepted request
	msg      string   // a fragment of the first error's message
	unrouted bool     // the path is unclean: the router refuses it before any route
}

// badFixture is what the cases act on: an account with two registrations, and
// another account with one, plus cursors of several lists.
type badFixture struct {
	h           *harness
	a, b        enrolled
	aKey, bKey  string // their public keys
	other       *tenant
	theirs      enrolled
	regCursor   string // GET registrations?per_page=1
	otherCursor string // the same query, on the other account
	devCursor   string // GET physical-devices?per_page=1
	auditCursor string // GET audit?per_page=1

	missing  string   // an id that names nothing
	multi    *tenant  // a multi-user account
	multiReg enrolled // its registration

	firstPolicy, secondPolicy string // custom profiles, of precedence 10 and 20
	theirPolicy               string // a custom profile of the other account
}

func newBadFixture(t *testing.T) *badFixture {
	h := newHarness(t, false)
	f := &badFixture{h: h, a: h.enroll("hw-a", "a@example.com", "A"),
		b: h.enroll("hw-b", "b@example.com", "B"), other: h.tenant(false)}
	f.theirs = h.enrollWith(f.other.enrollKey, "hw-theirs", "t@example.com", "T")
	f.aKey, f.bKey = h.publicKey(f.a.ID), h.publicKey(f.b.ID)
	f.missing, f.multi = device.NewID(), h.tenant(true)
	f.multiReg = h.enrollWith(f.multi.enrollKey, "hw-m", "m@example.com", "M")
	f.firstPolicy, f.secondPolicy, f.theirPolicy = f.policyFixture()
	h.enrollWith(f.other.enrollKey, "hw-theirs-2", "u@example.com", "U")

	f.regCursor = f.cursor(h.regsPath("?per_page=1"), h.token)
	f.otherCursor = f.cursor("/client/v4/accounts/"+f.other.acct.ID+
		"/devices/registrations?per_page=1", f.other.token)
	f.devCursor = f.cursor(h.devicesPath("?per_page=1"), h.token)
	f.auditCursor = f.cursor(h.auditPath("per_page=1"), h.token)
	return f
}

// cursor returns the cursor of the first page of a list.
func (f *badFixture) cursor(path, token string) string {
	f.h.t.Helper()
	rec := f.h.do("GET", path, nil, "Authorization", "Bearer "+token)
	var env struct {
		ResultInfo struct{ Cursor string } `json:"result_info"`
	}
	decode(f.h.t, rec, &env)
	if rec.Code != http.StatusOK || env.ResultInfo.Cursor == "" {
		f.h.t.Fatalf("GET %s: %d, no cursor: %s", path, rec.Code, rec.Body)
	}
	return env.ResultInfo.Cursor
}

// credential returns the headers that authenticate a request for route.
func (f *badFixture) credential(route string) []string {
	bearer := f.h.token
	switch {
	case route == "POST "+enrollRoute:
		bearer = f.h.enrollKey
	case strings.Contains(route, enrollRoute+"/{id}"):
		bearer = f.a.Token
	}
	return []string{"Authorization", "Bearer " + bearer}
}

func TestBadInput(t *testing.T) {
	f := newBadFixture(t)
	var cases []badCase
	var covered []string
	for _, group := range f.caseGroups() {
		for route, cs := range group {
			covered = append(covered, route)
			for _, c := range cs {
				c.route = route
				cases = append(cases, c)
			}
		}
	}
	requireEveryRoute(t, f.h, covered)

	finder := newRouteFinder(f.h.routes())
	before := f.h.db.Dump(t)
	last := before
	for _, c := range cases {
		t.Run(c.route+"/"+c.name, func(t *testing.T) {
			// A case that wrote fails here, and the next compares with what it left, so
			// that each failure names the case that caused it.
			defer func() { last = f.h.changed(t, c.name, last) }()
			f.run(t, finder, &c)
		})
	}
	f.h.unchanged(t, "the bad-input table", before)
}

func (f *badFixture) run(t *testing.T, finder routeFinder, c *badCase) {
	method := c.method
	if method == "" {
		method, _, _ = strings.Cut(c.route, " ")
	}
	if reached := finder.route(method, c.path); !c.unrouted && reached != c.route {
		t.Fatalf("%s %s reaches %q, not the route of the case", method, c.path, reached)
	}
	headers := c.headers
	if headers == nil {
		headers = f.credential(c.route)
	}

	rec := f.h.serve(t, method, c.path, c.body, headers...)
	checkRefusal(t, rec, c.status, c.code, c.msg)
}

// checkRefusal checks rec's status and, for a refusal, that it is a v4 error
// envelope whose first error has the code and a message holding msg.
func checkRefusal(t *testing.T, rec *httptest.ResponseRecorder, status, code int, msg string) {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status = %d, want %d: %s", rec.Code, status, rec.Body)
	}
	var env struct {
		Success  *bool
		Result   json.RawMessage
		Messages []any
		Errors   []struct {
			Code    int
			Message string
		}
	}
	decode(t, rec, &env)
	if code == 0 {
		if env.Success == nil || !*env.Success {
			t.Errorf("not a successful envelope: %s", rec.Body)
		}
		return
	}
	if env.Success == nil || *env.Success || string(env.Result) != "null" ||
		env.Messages == nil || len(env.Errors) == 0 {
		t.Fatalf("not a v4 error envelope: %s", rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if e := env.Errors[0]; e.Code != code || !strings.Contains(e.Message, msg) {
		t.Errorf("error %d %q; want %d with %q", e.Code, e.Message, code, msg)
	}
}

// caseGroups returns the cases, by route.
func (f *badFixture) caseGroups() []map[string][]badCase {
	return []map[string][]badCase{
		f.registrationListCases(), f.bulkCases(), f.registrationCases(),
		f.deviceCases(), f.ownCases(), f.enrollCases(), f.clientCases(),
		f.verifyCases(), f.policyCases(), f.legacyCases(),
	}
}

// Answers shared by many cases.
const (
	notRouted = "Could not route to"
	badCursor = "cursor is not valid for this query; start again without it"
)

// queryMistakes are the query-string mistakes any route can get: a parameter it
// does not know, a broken percent-escape and a semicolon separator.
func queryMistakes(path string) []badCase {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return []badCase{
		{name: "unknown parameter", path: path + sep + "bogus=1", status: 400, code: 1002,
			msg: `unknown query parameter "bogus"`},
		{name: "broken percent-escape", path: path + sep + "x=%zz", status: 400, code: 1002,
			msg: `invalid percent-encoding "%zz"`},
		{name: "semicolon separator", path: path + sep + "a=1;b=2", status: 400, code: 1002,
			msg: "semicolons are not separators"},
	}
}

// pathTricks are paths that smuggle a segment: the router refuses them all as
// unroutable, whatever route they aim at.
func pathTricks(path string) []badCase {
	i := strings.LastIndex(path, "/")
	dir, last := path[:i], path[i+1:]
	return []badCase{
		{name: "dot-dot segment", path: dir + "/../" + last, status: 400, code: 7003,
			msg: notRouted, unrouted: true},
		{name: "encoded dot-dot", path: dir + "/%2E%2E/" + last, status: 400, code: 7003,
			msg: notRouted, unrouted: true},
		{name: "empty segment", path: dir + "//" + last, status: 400, code: 7003,
			msg: notRouted, unrouted: true},
		{name: "dot segment", path: dir + "/./" + last, status: 400, code: 7003,
			msg: notRouted, unrouted: true},
	}
}

func manyIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = device.NewID()
	}
	return ids
}

func idQuery(ids []string) string {
	v := url.Values{"id": ids}
	return v.Encode()
}
