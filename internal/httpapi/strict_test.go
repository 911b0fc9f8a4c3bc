package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestMalformedInputChangesNothing sends what a careless or hostile client sends and
// checks each gets a 4xx envelope and leaves the registration as it was.
func TestMalformedInputChangesNothing(t *testing.T) {
	h := newHarness(t, false)
	a := h.enroll("a", "a@example.com", "A")
	b := h.enroll("b", "b@example.com", "B")
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"bad escape in a bulk id list", "POST", h.regsPath("/revoke?id=" + a.ID + "&id=%zz"), 400},
		{"semicolon separator", "GET", h.regsPath("?id=" + a.ID + ";id=" + b.ID), 400},
		{"bad escape in a filter", "GET", h.regsPath("?status=revoked%zz"), 400},
		{"empty per_page", "GET", h.regsPath("?per_page="), 400},
		{"NUL in search", "GET", h.regsPath("?search=%00"), 400},
		{"control character in search", "GET", h.regsPath("?search=a%1Bb"), 400},
		{"limit zero on the feed", "GET",
			"/api/v1/accounts/" + h.acct.ID + "/registrations/changes?limit=0", 400},
		{"dot-dot segment", "DELETE", h.regsPath("/../registrations/" + a.ID), 400},
		{"empty segment", "DELETE",
			"/client/v4/accounts/" + h.acct.ID + "/devices//registrations/" + a.ID, 400},
		{"dot segment", "GET", h.regsPath("/./" + a.ID), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.admin(tt.method, tt.path)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			errorCodes(t, rec)
		})
	}
	if _, p := h.list("status=active"); p.ResultInfo.TotalCount != 2 {
		t.Errorf("after the refused calls %d registrations are active, want 2", p.ResultInfo.TotalCount)
	}
}

func TestBodyErrorsSpeakJSON(t *testing.T) {
	h := newHarness(t, false)
	for body, want := range map[string]string{
		`[]`:                          "must be a JSON object",
		`"x"`:                         "must be a JSON object",
		`{"key": 1}`:                  "field key must be a JSON string",
		`{"user": {"groups": "eng"}}`: "field user.groups must be a JSON array",
	} {
		rec := h.do("POST", "/enroll/v1/registrations", body, "Authorization", "Bearer "+h.enrollKey)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), want) ||
			strings.Contains(rec.Body.String(), "httpapi.") {
			t.Errorf("body %s: %d %s; want 400 saying %q", body, rec.Code, rec.Body, want)
		}
	}
}

// TestEnrolWithEitherIdentifier enrols one machine with both identifiers, then with
// each alone: it stays one device with one registration.
func TestEnrolWithEitherIdentifier(t *testing.T) {
	h := newHarness(t, false)
	enrol := func(device map[string]any) string {
		device["name"] = "laptop"
		rec := h.do("POST", "/enroll/v1/registrations", map[string]any{
			"key": wgKey(), "key_type": "curve25519", "device": device,
			"user": map[string]any{"email": "u@example.com"},
		}, "Authorization", "Bearer "+h.enrollKey)
		var e struct{ Result enrolled }
		decode(t, rec, &e)
		if rec.Code != http.StatusCreated {
			t.Fatalf("enrol %v: %d %s", device, rec.Code, rec.Body)
		}
		return e.Result.ID
	}
	first := enrol(map[string]any{"hardware_id": "HW", "serial_number": "SN"})
	if id := enrol(map[string]any{"serial_number": "SN"}); id != first {
		t.Errorf("enrolment by serial number made %s, want %s", id, first)
	}
	if id := enrol(map[string]any{"hardware_id": "HW"}); id != first {
		t.Errorf("enrolment by hardware id made %s, want %s", id, first)
	}
	if _, p := h.list("status=all"); p.ResultInfo.TotalCount != 1 {
		t.Errorf("%d registrations, want 1", p.ResultInfo.TotalCount)
	}
}

func TestPatchHardwareIDCollision(t *testing.T) {
	h := newHarness(t, false)
	h.enroll("b", "b@example.com", "B")
	rec := h.do("POST", "/enroll/v1/registrations", map[string]any{
		"key": wgKey(), "key_type": "curve25519",
		"device": map[string]any{"name": "serial only", "serial_number": "SN-A"},
		"user":   map[string]any{"email": "a@example.com"},
	}, "Authorization", "Bearer "+h.enrollKey)
	var e struct{ Result enrolled }
	decode(t, rec, &e)
	a := e.Result
	rec = h.do("PATCH", "/enroll/v1/registrations/"+a.ID,
		map[string]any{"device": map[string]any{"hardware_id": "b"}}, "Authorization", "Bearer "+a.Token)
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "hardware_id") {
		t.Errorf("PATCH to another device's hardware id: %d %s", rec.Code, rec.Body)
	}
}
