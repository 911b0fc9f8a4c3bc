package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"
)

type auditPage struct {
	Success bool
	Result  []struct {
		Seq    int64
		Action string
		Actor  struct{ Type, ID, Address string }
		Target struct{ Type, ID string }
		Before map[string]string
		After  map[string]string
	}
	ResultInfo struct {
		Count   int
		PerPage int `json:"per_page"`
		Cursor  string
	} `json:"result_info"`
}

func (h *harness) auditPath(query string) string {
	return "/api/v1/accounts/" + h.acct.ID + "/audit?" + query
}

// TestAuditLogOverHTTP checks that a change made through the API is audited with the
// credential and address it came from, and that the log pages with signed cursors.
func TestAuditLogOverHTTP(t *testing.T) {
	h := newHarness(t, false)
	a := h.enroll("a", "a@example.com", "A")
	h.enroll("b", "b@example.com", "B")
	if rec := h.admin("POST", h.regsPath("/revoke?id="+a.ID)); rec.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}

	rec := h.do("GET", h.auditPath("per_page=1"), nil, "Authorization", "Bearer "+h.readToken)
	var p auditPage
	decode(t, rec, &p)
	if rec.Code != http.StatusOK || len(p.Result) != 1 {
		t.Fatalf("newest entry: %d %s", rec.Code, rec.Body)
	}
	e := p.Result[0]
	if e.Action != "registration.revoke" || e.Target.ID != a.ID || e.Actor.Type != "api_token" ||
		e.Actor.ID == "" || e.Actor.Address != "192.0.2.1:1234" || e.After["revoked_at"] == "" {
		t.Errorf("newest entry %+v: want the revoke by the write token from the test address", e)
	}

	seen := map[int64]bool{e.Seq: true}
	cursor := p.ResultInfo.Cursor
	for cursor != "" {
		rec := h.admin("GET", h.auditPath("per_page=2&cursor="+url.QueryEscape(cursor)))
		var next auditPage
		decode(t, rec, &next)
		if rec.Code != http.StatusOK {
			t.Fatalf("next page: %d %s", rec.Code, rec.Body)
		}
		for _, e := range next.Result {
			if seen[e.Seq] {
				t.Fatalf("entry %d repeated", e.Seq)
			}
			seen[e.Seq] = true
		}
		cursor = next.ResultInfo.Cursor
	}
	for seq := int64(1); seq <= e.Seq; seq++ {
		if !seen[seq] {
			t.Errorf("paging skipped entry %d of %d", seq, e.Seq)
		}
	}

	reused := "target_type=device&cursor=" + url.QueryEscape(p.ResultInfo.Cursor)
	other := h.admin("GET", h.auditPath(reused))
	if other.Code != http.StatusBadRequest {
		t.Errorf("a cursor used with other filters: %d %s", other.Code, other.Body)
	}
	errorCodes(t, other)
	bad := []string{"per_page=0", "per_page=abc", "per_page=1001", "cursor=x",
		"per_page=1&per_page=2"}
	for _, q := range bad {
		rec := h.admin("GET", h.auditPath(q))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", q, rec.Code, rec.Body)
		}
		errorCodes(t, rec)
	}
}

// TestAuditLogTenancy checks that another account's credential cannot read the log.
func TestAuditLogTenancy(t *testing.T) {
	h := newHarness(t, false)
	h.enroll("a", "a@example.com", "A")
	b := newHarness(t, false)
	rec := b.admin("GET", h.auditPath(""))
	if rec.Code < 400 || rec.Code >= 500 {
		t.Fatalf("another account's token read the audit log: %d %s", rec.Code, rec.Body)
	}
	errorCodes(t, rec)
}
