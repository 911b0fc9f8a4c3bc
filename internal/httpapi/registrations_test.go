package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

func TestGetRegistrationShape(t *testing.T) {
	h := newHarness(t, false)
	e := h.enroll("hw-1", "ada@example.com", "Ada Lovelace")

	golden(t, "get_registration", h.admin("GET", h.regsPath("/"+e.ID)), http.StatusOK)
	golden(t, "get_registration_include_policy",
		h.admin("GET", h.regsPath("/"+e.ID+"?include=policy")), http.StatusOK)

	h.admin("POST", h.regsPath("/revoke?id="+e.ID))
	h.admin("DELETE", h.regsPath("/"+e.ID))
	golden(t, "get_registration_tombstone",
		h.admin("GET", h.regsPath("/"+e.ID+"?include=policy")), http.StatusOK)
}

func TestListRegistrationsShape(t *testing.T) {
	h := newHarness(t, false)
	for _, hw := range []string{"hw-1", "hw-2", "hw-3"} {
		h.enroll(hw, hw+"@example.com", "User "+hw)
	}
	golden(t, "list_registrations_first_page",
		h.admin("GET", h.regsPath("?per_page=2&sort_by=created_at")), http.StatusOK)
	golden(t, "list_registrations_empty",
		h.admin("GET", h.regsPath("?status=revoked")), http.StatusOK)
}

type listPage struct {
	Result []struct {
		ID   string `json:"id"`
		User struct {
			Name string `json:"name"`
		} `json:"user"`
	} `json:"result"`
	ResultInfo struct {
		Count      int    `json:"count"`
		Cursor     string `json:"cursor"`
		PerPage    int    `json:"per_page"`
		TotalCount int    `json:"total_count"`
	} `json:"result_info"`
}

func (h *harness) list(query string) (int, listPage) {
	h.t.Helper()
	rec := h.admin("GET", h.regsPath("?"+query))
	var p listPage
	if rec.Code == http.StatusOK {
		decode(h.t, rec, &p)
	}
	return rec.Code, p
}

// TestCursorPaging follows cursors through ties on the sort key, with a row
// deleted and another added between pages, and checks nothing is lost or repeated.
func TestCursorPaging(t *testing.T) {
	h := newHarness(t, false)
	want := map[string]bool{}
	for i := range 7 {
		e := h.enroll(string(rune('a'+i)), string(rune('a'+i))+"@example.com", "Same Name")
		want[e.ID] = true
	}
	seen := map[string]int{}
	q := url.Values{"per_page": {"3"}, "sort_by": {"user.name"}, "sort_order": {"desc"}}
	_, page := h.list(q.Encode())
	for _, r := range page.Result {
		seen[r.ID]++
	}
	if page.ResultInfo.TotalCount != 7 || page.ResultInfo.Count != 3 || page.ResultInfo.PerPage != 3 {
		t.Errorf("result_info = %+v", page.ResultInfo)
	}

	// Between pages: delete a row already seen, and enrol a new one.
	h.admin("DELETE", h.regsPath("/"+page.Result[0].ID))
	late := h.enroll("late", "late@example.com", "Same Name")
	for page.ResultInfo.Cursor != "" {
		q.Set("cursor", page.ResultInfo.Cursor)
		status, next := h.list(q.Encode())
		if status != http.StatusOK {
			t.Fatalf("next page: status %d", status)
		}
		page = next
		for _, r := range page.Result {
			seen[r.ID]++
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("registration %s seen %d times, want once", id, seen[id])
		}
	}
	if seen[late.ID] > 1 {
		t.Errorf("late registration seen %d times", seen[late.ID])
	}
}

func TestCursorRefusedOutsideItsQuery(t *testing.T) {
	h := newHarness(t, false)
	for _, hw := range []string{"a", "b", "c"} {
		h.enroll(hw, hw+"@example.com", hw)
	}
	_, page := h.list("per_page=1&sort_by=user.email")
	cursor := page.ResultInfo.Cursor
	if cursor == "" {
		t.Fatal("no cursor on a first page of three")
	}
	other := newHarness(t, false)
	tests := map[string]*harness{
		"per_page=1&sort_by=user.email&cursor=" + cursor:                 h, // control
		"per_page=1&sort_by=user.name&cursor=" + cursor:                  h,
		"per_page=1&sort_by=user.email&sort_order=desc&cursor=" + cursor: h,
		"per_page=1&sort_by=user.email&search=a&cursor=" + cursor:        h,
		"per_page=1&sort_by=user.email&cursor=" + cursor[:len(cursor)-2]: h,
		"per_page=1&sort_by=user.email&cursor=not-a-cursor":              h,
	}
	for q, hh := range tests {
		status, _ := hh.list(q)
		want := http.StatusBadRequest
		if q == "per_page=1&sort_by=user.email&cursor="+cursor {
			want = http.StatusOK
		}
		if status != want {
			t.Errorf("GET ?%s: status %d, want %d", q, status, want)
		}
	}
	// The same cursor on another account's identical query is refused too.
	status, _ := other.list("per_page=1&sort_by=user.email&cursor=" + cursor)
	if status != http.StatusBadRequest {
		t.Errorf("cursor on another account: status %d, want 400", status)
	}
}

func TestBulkIsAtomic(t *testing.T) {
	h := newHarness(t, false)
	a := h.enroll("a", "a@example.com", "A")
	const unknown = "00000000-0000-4000-8000-000000000000"
	rec := h.admin("POST", h.regsPath("/revoke?id="+a.ID+"&id="+unknown))
	if codes := errorCodes(t, rec); rec.Code != http.StatusNotFound || len(codes) != 1 {
		t.Fatalf("revoke with an unknown id: %d %s", rec.Code, rec.Body)
	}
	var env struct{ Errors []struct{ Message string } }
	decode(t, rec, &env)
	if want := "registration " + unknown + " not found"; env.Errors[0].Message != want {
		t.Errorf("message = %q, want %q", env.Errors[0].Message, want)
	}
	if _, p := h.list("status=revoked"); len(p.Result) != 0 {
		t.Errorf("a failed bulk revoke revoked %d registrations", len(p.Result))
	}

	for range 2 { // revoking twice is not an error
		if rec := h.admin("POST", h.regsPath("/revoke?id="+a.ID)); rec.Code != http.StatusOK {
			t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
		}
	}
	golden(t, "revoke_result", h.admin("POST", h.regsPath("/revoke?id="+a.ID)), http.StatusOK)
	if _, p := h.list("status=revoked"); len(p.Result) != 1 {
		t.Errorf("revoked list has %d registrations, want 1", len(p.Result))
	}
	for range 2 {
		if rec := h.admin("POST", h.regsPath("/unrevoke?id="+a.ID)); rec.Code != http.StatusOK {
			t.Fatalf("unrevoke: %d %s", rec.Code, rec.Body)
		}
	}
	if rec := h.admin("DELETE", h.regsPath("?id="+a.ID)); rec.Code != http.StatusOK {
		t.Fatalf("bulk delete: %d %s", rec.Code, rec.Body)
	}
	if _, p := h.list("status=all"); len(p.Result) != 0 {
		t.Errorf("status=all lists %d deleted registrations", len(p.Result))
	}
	var got struct {
		Result struct {
			DeletedAt *string `json:"deleted_at"`
		}
	}
	decode(t, h.admin("GET", h.regsPath("/"+a.ID)), &got)
	if got.Result.DeletedAt == nil {
		t.Error("tombstone has no deleted_at")
	}
}

func TestTokensVerify(t *testing.T) {
	h := newHarness(t, false)
	rec := h.do("GET", "/client/v4/user/tokens/verify", nil, "Authorization", "Bearer "+h.readToken)
	golden(t, "tokens_verify", rec, http.StatusOK)
	rec = h.do("GET", "/client/v4/accounts/"+h.acct.ID+"/tokens/verify", nil,
		"Authorization", "Bearer "+h.token)
	if rec.Code != http.StatusOK {
		t.Errorf("account tokens/verify: %d", rec.Code)
	}
	other := h.account(false)
	rec = h.do("GET", "/client/v4/accounts/"+other.ID+"/tokens/verify", nil,
		"Authorization", "Bearer "+h.token)
	if codes := errorCodes(t, rec); rec.Code != http.StatusUnauthorized || codes[0] != 1000 {
		t.Errorf("verify on another account: %d %v", rec.Code, codes)
	}
	rec = h.do("GET", "/client/v4/user/tokens/verify", nil,
		"Authorization", "Bearer "+"x123456789x123456789x123456789x123456789")
	golden(t, "tokens_verify_unknown", rec, http.StatusUnauthorized)
}

func TestListFilters(t *testing.T) {
	h := newHarness(t, true)
	a := h.enroll("shared", "ada@example.com", "Ada")
	b := h.enroll("shared", "bob@example.com", "Bob") // same device, another user
	c := h.enroll("other", "carol@example.com", "Carol 100%")
	if a.DeviceID != b.DeviceID || a.ID == b.ID {
		t.Fatalf("multi-user: want one device with two registrations, got %+v %+v", a, b)
	}
	var userB struct {
		Result struct {
			User struct{ ID string } `json:"user"`
		}
	}
	decode(t, h.admin("GET", h.regsPath("/"+b.ID)), &userB)
	h.admin("POST", h.regsPath("/revoke?id="+c.ID))

	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{a.ID, b.ID}},
		{"status=all", []string{a.ID, b.ID, c.ID}},
		{"status=revoked", []string{c.ID}},
		{"device.id=" + a.DeviceID, []string{a.ID, b.ID}},
		{"user.id=" + userB.Result.User.ID, []string{b.ID}},
		{"id=" + a.ID + "&id=" + c.ID + "&status=all", []string{a.ID, c.ID}},
		{"id=" + a.ID + "," + c.ID + "&status=all", []string{a.ID, c.ID}},
		{"search=BOB", []string{b.ID}},
		{"search=100%25&status=all", []string{c.ID}},
		{"search=_&status=all", nil},
		{"search=" + a.ID[24:], []string{a.ID}}, // the random end of the id
		{"seen_after=2000-01-01T00:00:00Z&seen_before=2100-01-01T00:00:00%2B01:00", []string{a.ID, b.ID}},
		{"seen_after=2100-01-01T00:00:00Z", nil},
		{"seen_before=0001-01-01T00:00:00Z&status=all", nil}, // Go's zero time is a bound too
	}
	for _, tt := range tests {
		status, p := h.list(tt.query + "&per_page=50")
		if status != http.StatusOK {
			t.Errorf("?%s: status %d", tt.query, status)
			continue
		}
		got := map[string]bool{}
		for _, r := range p.Result {
			got[r.ID] = true
		}
		if len(got) != len(tt.want) || p.ResultInfo.TotalCount != len(tt.want) {
			t.Errorf("?%s: got %d rows (total %d), want %d", tt.query, len(got),
				p.ResultInfo.TotalCount, len(tt.want))
		}
		for _, id := range tt.want {
			if !got[id] {
				t.Errorf("?%s: missing %s", tt.query, id)
			}
		}
	}
}

func TestIncludePolicyOnlyWhenAsked(t *testing.T) {
	h := newHarness(t, false)
	e := h.enroll("a", "a@example.com", "A")
	for path, want := range map[string]bool{
		"/" + e.ID:                     false,
		"/" + e.ID + "?include=policy": true,
		"?include=policy":              true,
		"":                             false,
	} {
		var raw map[string]json.RawMessage
		decode(t, h.admin("GET", h.regsPath(path)), &raw)
		body := string(raw["result"])
		if has := strings.Contains(body, `"policy":`); has != want {
			t.Errorf("GET %s: policy present = %v, want %v", path, has, want)
		}
	}
}

// TestGetRefusesRevokedTokenAtOnce checks that the get answered in one read checks
// its token in that read: once a revocation commits, the next get is refused (403, code 10000), and a
// read token is as good as a write token for a get.
func TestGetRefusesRevokedTokenAtOnce(t *testing.T) {
	h := newHarness(t, false)
	e := h.enroll("hw-a", "a@example.com", "A")
	id, secret, err := h.svc.CreateAPIToken(t.Context(), h.acct.ID, "short-lived", true)
	if err != nil {
		t.Fatal(err)
	}
	get := func() *httptest.ResponseRecorder {
		return h.do("GET", h.regsPath("/"+e.ID+"?include=policy"), nil,
			"Authorization", "Bearer "+secret)
	}
	if rec := get(); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), e.ID) {
		t.Fatalf("before revocation: status %d: %s", rec.Code, rec.Body)
	}
	err = h.svc.RevokeCredential(t.Context(), device.CredentialAPIToken, h.acct.ID, id.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec := get()
	if codes := errorCodes(t, rec); rec.Code != http.StatusForbidden ||
		!slices.Equal(codes, []int{10000}) {
		t.Errorf("after revocation: status %d, codes %v, want 403 [10000]: %s",
			rec.Code, codes, rec.Body)
	}
}

// TestGetFromOneReadMatchesTheSlowPath checks that the get answered from the one
// read, which reads only the columns a get shows, answers byte for byte what the
// ordinary path does (taken with a global key): with and without the policy, for a
// live, a revoked and a deleted registration.
func TestGetFromOneReadMatchesTheSlowPath(t *testing.T) {
	h := newHarness(t, true)
	_, gkSecret, err := h.svc.CreateGlobalKey(t.Context(), h.acct.ID, "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	live := h.enroll("hw-live", "live@example.com", "Live")
	revoked := h.enroll("hw-revoked", "revoked@example.com", "Revoked")
	deleted := h.enroll("hw-deleted", "deleted@example.com", "")
	for _, call := range []struct{ method, path string }{
		{"POST", h.regsPath("/revoke?id=" + revoked.ID)},
		{"DELETE", h.regsPath("/" + deleted.ID)},
	} {
		if rec := h.admin(call.method, call.path); rec.Code != http.StatusOK {
			t.Fatalf("%s %s: status %d: %s", call.method, call.path, rec.Code, rec.Body)
		}
	}
	for _, id := range []string{live.ID, revoked.ID, deleted.ID} {
		for _, query := range []string{"", "?include=policy"} {
			path := h.regsPath("/" + id + query)
			fast := h.do("GET", path, nil, "Authorization", "Bearer "+h.readToken)
			slow := h.do("GET", path, nil, "X-Auth-Email", "admin@example.com",
				"X-Auth-Key", gkSecret)
			if fast.Code != slow.Code || fast.Body.String() != slow.Body.String() {
				t.Errorf("GET %s:\none read: %d %s\nslow:     %d %s", path, fast.Code,
					fast.Body, slow.Code, slow.Body)
			}
		}
	}
}
