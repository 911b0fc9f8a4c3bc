package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func (h *harness) devicesPath(suffix string) string {
	return "/client/v4/accounts/" + h.acct.ID + "/devices/physical-devices" + suffix
}

type devicePage struct {
	Result []struct {
		ID                  string `json:"id"`
		ActiveRegistrations int    `json:"active_registrations"`
		LastSeenUser        *struct {
			Email string `json:"email"`
		} `json:"last_seen_user"`
	} `json:"result"`
	ResultInfo struct {
		Count      int    `json:"count"`
		Cursor     string `json:"cursor"`
		PerPage    int    `json:"per_page"`
		TotalCount int    `json:"total_count"`
	} `json:"result_info"`
}

func (h *harness) listDevices(query string) (int, devicePage) {
	h.t.Helper()
	rec := h.admin("GET", h.devicesPath("?"+query))
	var p devicePage
	if rec.Code == http.StatusOK {
		decode(h.t, rec, &p)
	}
	return rec.Code, p
}

func (p devicePage) ids() []string {
	var out []string
	for _, d := range p.Result {
		out = append(out, d.ID)
	}
	return out
}

// TestDeviceShape pins the wire form of a physical device: a multi-user device
// with two registrations, facts the client left out shown as null, and the last
// seen registration's policy only when asked for.
func TestDeviceShape(t *testing.T) {
	h := newHarness(t, true)
	h.enroll("hw-1", "ada@example.com", "Ada Lovelace")
	grace := h.enroll("hw-1", "grace@example.com", "Grace Hopper")
	h.enroll("hw-2", "ada@example.com", "Ada Lovelace")

	golden(t, "get_device", h.admin("GET", h.devicesPath("/"+grace.DeviceID)), http.StatusOK)
	golden(t, "get_device_include_policy", h.admin("GET",
		h.devicesPath("/"+grace.DeviceID+"?include=last_seen_registration.policy")), http.StatusOK)
	golden(t, "list_devices_first_page", h.admin("GET",
		h.devicesPath("?per_page=1&sort_by=active_registrations&sort_order=desc")), http.StatusOK)

	golden(t, "device_revoke_result",
		h.admin("POST", h.devicesPath("/"+grace.DeviceID+"/revoke")), http.StatusOK)
	h.admin("DELETE", h.devicesPath("/"+grace.DeviceID))
	golden(t, "get_device_tombstone", h.admin("GET", h.devicesPath("/"+grace.DeviceID)),
		http.StatusOK)
}

func TestDeviceRevokeAndDelete(t *testing.T) {
	h := newHarness(t, true)
	ada := h.enroll("hw-1", "ada@example.com", "Ada")
	grace := h.enroll("hw-1", "grace@example.com", "Grace")
	other := h.enroll("hw-2", "ada@example.com", "Ada")

	if rec := h.admin("POST", h.devicesPath("/"+ada.DeviceID+"/revoke")); rec.Code != http.StatusOK {
		t.Fatalf("revoke device: %d %s", rec.Code, rec.Body)
	}
	for _, id := range []string{ada.ID, grace.ID} {
		if status, p := h.list("status=revoked&id=" + id); status != http.StatusOK ||
			p.ResultInfo.TotalCount != 1 {
			t.Errorf("registration %s after revoking its device: status %d, %d revoked",
				id, status, p.ResultInfo.TotalCount)
		}
	}
	_, page := h.listDevices("")
	if diff := cmp.Diff([]string{other.DeviceID}, page.ids()); diff != "" {
		t.Errorf("default device list after revoke (-want +got):\n%s", diff)
	}
	_, page = h.listDevices("active_registrations=exclude")
	if diff := cmp.Diff([]string{ada.DeviceID}, page.ids()); diff != "" {
		t.Errorf("devices without active registrations (-want +got):\n%s", diff)
	}

	if rec := h.admin("DELETE", h.devicesPath("/"+ada.DeviceID)); rec.Code != http.StatusOK {
		t.Fatalf("delete device: %d %s", rec.Code, rec.Body)
	}
	for _, id := range []string{ada.ID, grace.ID} {
		rec := h.admin("GET", h.regsPath("/"+id))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"deleted_at":"`) {
			t.Errorf("registration %s after deleting its device: %d %s", id, rec.Code, rec.Body)
		}
	}
	_, page = h.listDevices("active_registrations=include")
	if diff := cmp.Diff([]string{other.DeviceID}, page.ids()); diff != "" {
		t.Errorf("devices after delete (-want +got):\n%s", diff)
	}
	if rec := h.admin("DELETE", h.devicesPath("/"+ada.DeviceID)); rec.Code != http.StatusOK {
		t.Errorf("deleting a deleted device: %d %s, want 200", rec.Code, rec.Body)
	}
	rec := h.admin("POST", h.devicesPath("/"+ada.DeviceID+"/revoke"))
	if codes := errorCodes(t, rec); rec.Code != http.StatusNotFound || !cmp.Equal(codes, []int{1001}) {
		t.Errorf("revoking a deleted device: %d %v, want 404 [1001]", rec.Code, codes)
	}
}

// TestDeviceNotFoundLooksTheSame checks that another account's device and an
// unknown one get the same answer, apart from the id they name.
func TestDeviceNotFoundLooksTheSame(t *testing.T) {
	h := newHarness(t, false)
	other := newHarness(t, false)
	theirs := other.enroll("hw-1", "a@example.com", "A").DeviceID
	const unknown = "00000000-0000-4000-8000-000000000000"
	for _, call := range []struct{ method, suffix string }{
		{"GET", ""}, {"DELETE", ""}, {"POST", "/revoke"},
	} {
		var bodies []string
		for _, id := range []string{theirs, unknown} {
			rec := h.admin(call.method, h.devicesPath("/"+id+call.suffix))
			if codes := errorCodes(t, rec); rec.Code != http.StatusNotFound ||
				!cmp.Equal(codes, []int{1001}) {
				t.Errorf("%s device %s%s: %d %v, want 404 [1001]", call.method, id, call.suffix,
					rec.Code, codes)
			}
			bodies = append(bodies, strings.ReplaceAll(rec.Body.String(), id, "ID"))
		}
		if bodies[0] != bodies[1] {
			t.Errorf("%s: another account's device answers %s, an unknown one %s",
				call.method, bodies[0], bodies[1])
		}
	}
	if d, err := other.svc.Device(t.Context(), other.acct.ID, theirs); err != nil ||
		d.ActiveRegistrations != 1 || !d.DeletedAt.IsZero() {
		t.Errorf("the other account's device after the calls: %+v, %v", d, err)
	}
}

func TestDeviceRequestsRefused(t *testing.T) {
	h := newHarness(t, false)
	e := h.enroll("hw-1", "a@example.com", "A")
	h.enroll("hw-2", "b@example.com", "B")
	_, page := h.list("per_page=1")
	regCursor := page.ResultInfo.Cursor
	dev := h.devicesPath("/" + e.DeviceID)
	tests := []struct {
		name, method, path string
		status             int
		codes              []int
	}{
		{"unknown parameter", "GET", h.devicesPath("?status=active"), 400, []int{1002}},
		{"misspelt filter", "GET", h.devicesPath("?last_seen_user_email=a@example.com"),
			400, []int{1002}},
		{"bad active_registrations", "GET", h.devicesPath("?active_registrations=all"),
			400, []int{1002}},
		{"bad sort_by", "GET", h.devicesPath("?sort_by=user.name"), 400, []int{1002}},
		{"bad sort_order", "GET", h.devicesPath("?sort_order=up"), 400, []int{1002}},
		{"per_page zero", "GET", h.devicesPath("?per_page=0"), 400, []int{1002}},
		{"per_page over 1000", "GET", h.devicesPath("?per_page=1001"), 400, []int{1002}},
		{"search twice", "GET", h.devicesPath("?search=a&search=b"), 400, []int{1002}},
		{"malformed id filter", "GET", h.devicesPath("?id=nope"), 400, []int{1002}},
		{"bad seen_after", "GET", h.devicesPath("?seen_after=yesterday"), 400, []int{1002}},
		{"registration include", "GET", h.devicesPath("?include=policy"), 400, []int{1002}},
		{"registration cursor", "GET", h.devicesPath("?per_page=1&cursor=" + regCursor),
			400, []int{1002}},
		{"control character in search", "GET", h.devicesPath("?search=a%1Bb"), 400, []int{1002}},
		{"unknown parameter on get", "GET", dev + "?expand=all", 400, []int{1002}},
		{"bad include on get", "GET", dev + "?include=policy", 400, []int{1002}},
		{"parameter on revoke", "POST", dev + "/revoke?id=" + e.ID, 400, []int{1002}},
		{"parameter on delete", "DELETE", dev + "?force=1", 400, []int{1002}},
		{"malformed device id", "GET", h.devicesPath("/hw-1"), 400, []int{7003, 7000}},
		{"malformed id on delete", "DELETE", h.devicesPath("/hw-1"), 400, []int{7003, 7000}},
		{"wrong method", "PUT", dev, 405, []int{7001}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.admin(tt.method, tt.path)
			if codes := errorCodes(t, rec); rec.Code != tt.status || !cmp.Equal(codes, tt.codes) {
				t.Errorf("status %d, codes %v; want %d %v: %s", rec.Code, codes, tt.status,
					tt.codes, rec.Body)
			}
		})
	}
	for _, method := range []string{"DELETE", "POST"} {
		path := dev
		if method == "POST" {
			path += "/revoke"
		}
		rec := h.do(method, path, nil, "Authorization", "Bearer "+h.readToken)
		if codes := errorCodes(t, rec); rec.Code != http.StatusForbidden ||
			!cmp.Equal(codes, []int{10000}) {
			t.Errorf("%s with a read-only token: %d %v, want 403 [10000]", method, rec.Code, codes)
		}
	}
	if _, p := h.listDevices(""); p.ResultInfo.TotalCount != 2 {
		t.Errorf("after the refused calls %d devices are active, want 2", p.ResultInfo.TotalCount)
	}
}

// TestDeviceCursorPaging follows cursors through ties on the sort key, with a
// device deleted and another enrolled between pages, and checks that nothing is
// lost or repeated, and that a cursor works only with its own query.
func TestDeviceCursorPaging(t *testing.T) {
	h := newHarness(t, false)
	want := map[string]bool{}
	for i := range 7 {
		hw := string(rune('a' + i))
		want[h.enroll(hw, hw+"@example.com", "Same Name").DeviceID] = true
	}
	q := url.Values{"per_page": {"3"}, "sort_by": {"client_version"}, "sort_order": {"desc"}}
	_, page := h.listDevices(q.Encode())
	if page.ResultInfo.TotalCount != 7 || page.ResultInfo.Count != 3 || page.ResultInfo.PerPage != 3 {
		t.Errorf("result_info = %+v", page.ResultInfo)
	}
	seen := map[string]int{}
	for _, id := range page.ids() {
		seen[id]++
	}
	for _, other := range []string{"sort_by=name", "sort_order=asc", "search=a",
		"active_registrations=include", "last_seen_user.email=a@example.com"} {
		k, v, _ := strings.Cut(other, "=")
		moved := url.Values{"per_page": {"3"}, "sort_by": {"client_version"},
			"sort_order": {"desc"}, "cursor": {page.ResultInfo.Cursor}}
		moved.Set(k, v)
		if status, _ := h.listDevices(moved.Encode()); status != http.StatusBadRequest {
			t.Errorf("cursor with %s: status %d, want 400", other, status)
		}
	}

	h.admin("DELETE", h.devicesPath("/"+page.Result[0].ID))
	late := h.enroll("late", "late@example.com", "Same Name")
	for page.ResultInfo.Cursor != "" {
		q.Set("cursor", page.ResultInfo.Cursor)
		status, next := h.listDevices(q.Encode())
		if status != http.StatusOK {
			t.Fatalf("next page: status %d", status)
		}
		page = next
		for _, id := range page.ids() {
			seen[id]++
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("device %s seen %d times, want once", id, seen[id])
		}
	}
	if seen[late.DeviceID] > 1 {
		t.Errorf("late device seen %d times", seen[late.DeviceID])
	}
}

func TestDeviceFilters(t *testing.T) {
	h := newHarness(t, true)
	ada := h.enroll("hw-1", "ada@example.com", "Ada")
	grace := h.enroll("hw-2", "Grace@Example.com", "Grace")
	tests := map[string][]string{
		"last_seen_user.email=GRACE@example.com":                        {grace.DeviceID},
		"search=DEV%20HW-1":                                             {ada.DeviceID},
		"id=" + ada.DeviceID + "&id=" + grace.DeviceID + "&search=ada@": {ada.DeviceID},
		"seen_before=2000-01-01T00:00:00Z":                              nil,
		"seen_before=0001-01-01T00:00:00Z":                              nil,
		"seen_after=2000-01-01T00:00:00%2B01:00&id=" + grace.DeviceID:   {grace.DeviceID},
	}
	for q, want := range tests {
		status, page := h.listDevices(q)
		if status != http.StatusOK {
			t.Errorf("?%s: status %d", q, status)
			continue
		}
		if diff := cmp.Diff(want, page.ids()); diff != "" {
			t.Errorf("?%s: ids (-want +got):\n%s", q, diff)
		}
		if page.ResultInfo.TotalCount != len(want) {
			t.Errorf("?%s: total_count %d, want %d", q, page.ResultInfo.TotalCount, len(want))
		}
	}
}
