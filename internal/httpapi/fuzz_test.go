package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/warpreg/warpreg/internal/httpapi"
)

// The fuzz targets below drive the real handler over a real store with what a client
// controls: query strings, cursors and request bodies. Whatever arrives, the answer
// must be a success or a 4xx in the v4 envelope; a 5xx or a panic fails the target.

// checkAnswer fails t unless rec is a 2xx or a 4xx with a well-formed error envelope.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 || rec.Code < 200 {
		t.Fatalf("%s: status %d: %s", what, rec.Code, rec.Body)
	}
	var env struct {
		Success *bool
		Errors  []struct {
			Code    int
			Message string
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Success == nil {
		t.Fatalf("%s: status %d, not an envelope: %s", what, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		if *env.Success || len(env.Errors) == 0 || env.Errors[0].Code == 0 ||
			env.Errors[0].Message == "" {
			t.Fatalf("%s: status %d without a coded error: %s", what, rec.Code, rec.Body)
		}
	}
}

// sendable reports whether a client can put s on an HTTP request line as a query:
// the server's request parser refuses spaces, control characters and fragments
// before any handler runs.
func sendable(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' })
}

// FuzzListQuery sends arbitrary query strings to the registrations list.
func FuzzListQuery(f *testing.F) {
	h := newHarness(f, false)
	h.enroll("a", "a@example.com", "A")
	for _, q := range []string{
		"", "per_page=1", "per_page=0", "per_page=99999999999999999999", "id=x&id=y",
		"id[]=a", "id=a,b", "sort_by=name&sort_order=desc", "sort_by=user.email",
		"status=active&status=revoked", "seen_after=2025-01-01T00:00:00Z",
		"seen_before=2025-01-01T00:00:00.5+02:00", "seen_after=2025-01-01T00:00:00 02:00",
		"search=%00", "search=%ff%fe", "include=policy", "include=policy,policy",
		"cursor=abc", "user.id=x&user.id=y", "device.id=x", "a=b", "%zz", ";",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		if !sendable(query) {
			return
		}
		rec := h.on(t).do("GET", h.regsPath("?"+query), nil, "Authorization", "Bearer "+h.readToken)
		checkAnswer(t, query, rec)
	})
}

// FuzzCursor sends arbitrary cursors, starting from real ones: a cursor is opaque to
// clients, but nothing stops them from editing it.
func FuzzCursor(f *testing.F) {
	h := newHarness(f, false)
	for _, id := range []string{"a", "b", "c"} {
		h.enroll(id, id+"@example.com", id)
	}
	for _, q := range []string{"per_page=1", "per_page=1&sort_by=name", "per_page=2&status=active"} {
		_, p := h.list(q)
		f.Add(q, p.ResultInfo.Cursor)
	}
	f.Add("per_page=1", "")
	f.Add("", "e30")
	f.Fuzz(func(t *testing.T, query, cursor string) {
		if !sendable(query) {
			return
		}
		path := h.regsPath("?cursor=" + url.QueryEscape(cursor) + "&" + query)
		rec := h.on(t).do("GET", path, nil, "Authorization", "Bearer "+h.readToken)
		checkAnswer(t, path, rec)
	})
}

// FuzzEnrollBody sends arbitrary bodies to the enrolment endpoint with a valid key.
func FuzzEnrollBody(f *testing.F) {
	h := newHarness(f, false)
	for _, b := range []string{
		`{"key":"mD0Tt4pbTnNz6ZvMIZyQ9HUQSqiF5aPGWVVXX6EqdSw=","key_type":"curve25519",` +
			`"tunnel_type":"wireguard","device":{"name":"n","hardware_id":"h"},` +
			`"user":{"email":"a@example.com","name":"A","groups":["g"]}}`,
		`{"key":"AzbsAs8vwKukvgP3imvdWQOmM/BfYuChzYxtcrBCDtaT","key_type":"secp256r1",` +
			`"device":{"serial_number":"s"},"user":{"email":"b@example.com"}}`,
		`{}`, `[]`, `null`, `{"key":1}`, `{"device":{"name":"\u0000"}}`, `{"x":1}`,
		`{"key":"a"}{"key":"b"}`, "\xff", `{"user":{"groups":[1]}}`,
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := h.on(t).do("POST", "/enroll/v1/registrations", body,
			"Authorization", "Bearer "+h.enrollKey, "Content-Type", "application/json")
		checkAnswer(t, body, rec)
	})
}

// FuzzClientBody sends arbitrary bodies to a registration's own update and heartbeat.
func FuzzClientBody(f *testing.F) {
	h := newHarness(f, false)
	r := h.enroll("a", "a@example.com", "A")
	for _, b := range []string{
		`{"device":{"name":"renamed"}}`, `{"key":"mD0Tt4pbTnNz6ZvMIZyQ9HUQSqiF5aPGWVVXX6EqdSw="}`,
		`{"key_type":"secp256r1"}`, `{"client_version":"2025.2.0"}`, `{}`, ``, `{"device":null}`,
		`{"device":{"hardware_id":""}}`, `{"tunnel_type":"masque"}`,
	} {
		f.Add(false, b)
		f.Add(true, b)
	}
	f.Fuzz(func(t *testing.T, heartbeat bool, body string) {
		method, path := "PATCH", "/enroll/v1/registrations/"+r.ID
		if heartbeat {
			method, path = "POST", path+"/heartbeat"
		}
		rec := h.on(t).do(method, path, body, "Authorization", "Bearer "+r.Token)
		checkAnswer(t, method+" "+body, rec)
	})
}

// FuzzBulkQuery sends arbitrary id lists to the bulk revoke, unrevoke and delete.
func FuzzBulkQuery(f *testing.F) {
	h := newHarness(f, false)
	a := h.enroll("a", "a@example.com", "A")
	for _, q := range []string{
		"id=" + a.ID, "id=" + a.ID + "&id=" + a.ID, "", "id=", "id[]=" + a.ID,
		"id=" + a.ID + "," + a.ID, "id=00000000-0000-0000-0000-000000000000", "id=%00",
	} {
		f.Add(uint8(0), q)
	}
	f.Fuzz(func(t *testing.T, op uint8, query string) {
		if !sendable(query) {
			return
		}
		method, path := "DELETE", h.regsPath("?"+query)
		switch op % 3 {
		case 1:
			method, path = "POST", h.regsPath("/revoke?"+query)
		case 2:
			method, path = "POST", h.regsPath("/unrevoke?"+query)
		}
		rec := h.on(t).do(method, path, nil, "Authorization", "Bearer "+h.token)
		checkAnswer(t, method+" "+path, rec)
	})
}

// FuzzDecodeRegistrations feeds arbitrary files to the import decoder, which reads
// what an admin saved from Cloudflare's API.
func FuzzDecodeRegistrations(f *testing.F) {
	golden, err := os.ReadFile("../../cmd/warpreg/testdata/cloudflare-get-registration.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add([]byte(`{"success":true,"result":[]}`))
	f.Add([]byte(`{"result":{"id":"x"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		regs, err := httpapi.DecodeRegistrations(data)
		if err != nil {
			return
		}
		for i, r := range regs {
			if r.CreatedAt.Nanosecond()%1000 != 0 || r.LastSeenAt.Nanosecond()%1000 != 0 {
				t.Fatalf("registration %d keeps sub-microsecond time from %q", i, data)
			}
		}
	})
}

// policySeeds are profile bodies to start from: the fields of a create, an edit
// and the default profile's edit, right and wrong.
var policySeeds = []string{
	`{"name":"Contractors","match":"identity.email == \"ann@example.com\"","precedence":10}`,
	`{"name":"Lab","match":"any(identity.groups.name[*] in {\"lab\"})","precedence":20,` +
		`"description":"d","enabled":false,"auto_connect":600,"captive_portal":180,` +
		`"lan_allow_minutes":30,"lan_allow_subnet_size":24,"support_url":"https://example.com",` +
		`"service_mode_v2":{"mode":"proxy","port":3000},"tunnel_protocol":"masque",` +
		`"include":[{"address":"10.1.0.0/16","description":"lab"}]}`,
	`{"exclude":[{"host":"*.example.com"},{"address":"192.0.2.0/24"}]}`,
	`{"lan_allow_minutes":null}`, `{"precedence":1e300}`, `{"precedence":-0.5}`,
	`{"match":"(((("}`, `{"match":"identity.email == \"\u0000\""}`, `{"name":""}`,
	`{"service_mode_v2":{"mode":"proxy"}}`, `{"include":[],"exclude":[]}`, `{}`, `null`,
	`[]`, `{"support_url":"mailto:"}`, `{"auto_connect":"1"}`, "\xff", ``,
}

// FuzzPolicyBody sends arbitrary bodies to a custom profile's create and edit and to
// the default profile's edit. An edit that is accepted must leave the profile
// readable.
func FuzzPolicyBody(f *testing.F) {
	h := newHarness(f, false)
	h.enroll("a", "ann@example.com", "Ann")
	id := h.createPolicy("Existing", `identity.email == "ann@example.com"`, 5).PolicyID
	for _, b := range policySeeds {
		for op := range uint8(3) {
			f.Add(op, b)
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body string) {
		h := h.on(t)
		method, path := "POST", h.policyPath("")
		switch op % 3 {
		case 1:
			method, path = "PATCH", h.policyPath("/"+id)
		case 2:
			method = "PATCH"
		}
		rec := h.do(method, path, body, "Authorization", "Bearer "+h.token)
		checkAnswer(t, method+" "+body, rec)
		if rec.Code == http.StatusOK && method == "PATCH" {
			checkAnswer(t, "GET after "+body, h.admin("GET", path))
		}
	})
}

// FuzzPolicyListBody sends arbitrary bodies to the PUT of a profile's include,
// exclude and fallback_domains lists, the default profile's and a custom one's.
func FuzzPolicyListBody(f *testing.F) {
	h := newHarness(f, false)
	id := h.createPolicy("Existing", `identity.email == "ann@example.com"`, 5).PolicyID
	for _, b := range []string{
		`[{"address":"10.0.0.0/8","description":"x"},{"host":"*.corp.example"}]`,
		`[{"suffix":"corp.example","description":"d","dns_server":["192.0.2.1","2001:db8::1"]}]`,
		`[]`, `null`, `{}`, `[{}]`, `[{"address":"10.0.0.0/33"}]`, `[{"host":"a..b"}]`,
		`[{"suffix":"corp.example","dns_server":"192.0.2.1"}]`, `[{"address":"::/0"}]`,
		`[{"address":"10.0.0.1","host":"a.example"}]`, `[1]`, "[\"\xff\"]", ``,
	} {
		for op := range uint8(6) {
			f.Add(op, b)
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body string) {
		h := h.on(t)
		list := []string{"include", "exclude", "fallback_domains"}[op%3]
		path := h.policyPath("/" + list)
		if op/3%2 == 1 {
			path = h.policyPath("/" + id + "/" + list)
		}
		rec := h.do("PUT", path, body, "Authorization", "Bearer "+h.token)
		checkAnswer(t, path+" "+body, rec)
		if rec.Code == http.StatusOK {
			checkAnswer(t, "GET after "+body, h.admin("GET", path))
		}
	})
}
