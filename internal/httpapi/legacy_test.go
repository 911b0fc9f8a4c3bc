package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/httpapi"
	"github.com/warpreg/warpreg/internal/override"
)

func (h *harness) legacyPath(suffix string) string {
	return "/client/v4/accounts/" + h.acct.ID + "/devices" + suffix
}

// enrollMac enrols a device with every fact a client reports.
func (h *harness) enrollMac(hardwareID, email string) enrolled {
	h.t.Helper()
	rec := h.do("POST", "/enroll/v1/registrations", map[string]any{
		"key": wgKey(), "key_type": "curve25519",
		"device": map[string]string{
			"name": "Ada's MacBook", "model": "MacBookPro18,3", "manufacturer": "Apple Inc.",
			"device_type": "mac", "os_version": "14.4.1", "os_version_extra": "(a)",
			"serial_number": "C02XK0AAJG5H", "hardware_id": hardwareID,
			"mac_address": "f0:18:98:00:00:01", "client_version": "2024.6.415.0",
		},
		"user": map[string]any{"email": email, "name": "Ada Lovelace"},
	}, "Authorization", "Bearer "+h.enrollKey)
	if rec.Code != http.StatusCreated {
		h.t.Fatalf("enrol %s: status %d: %s", hardwareID, rec.Code, rec.Body)
	}
	var env struct{ Result enrolled }
	decode(h.t, rec, &env)
	return env.Result
}

func TestLegacyDeviceShapes(t *testing.T) {
	h := newHarness(t, false)
	e := h.enrollMac("hw-1", "ada@example.com") // one row: list order is by random id

	golden(t, "legacy_list_devices", h.admin("GET", h.legacyPath("")), http.StatusOK)
	golden(t, "legacy_get_device", h.admin("GET", h.legacyPath("/"+e.ID)), http.StatusOK)

	h.admin("POST", h.regsPath("/revoke?id="+e.ID))
	h.admin("DELETE", h.regsPath("/"+e.ID))
	golden(t, "legacy_get_device_tombstone", h.admin("GET", h.legacyPath("/"+e.ID)),
		http.StatusOK)
	golden(t, "legacy_list_devices_empty", h.admin("GET", h.legacyPath("")), http.StatusOK)
}

type legacyList struct {
	Result []struct {
		ID        string  `json:"id"`
		Deleted   bool    `json:"deleted"`
		RevokedAt *string `json:"revoked_at"`
	} `json:"result"`
	ResultInfo struct {
		Count      int `json:"count"`
		TotalCount int `json:"total_count"`
	} `json:"result_info"`
	Success bool `json:"success"`
}

// TestLegacyListStreamsEveryRow reads the list across chunk boundaries: a partial
// last chunk, an exact multiple of the chunk, and an empty account.
func TestLegacyListStreamsEveryRow(t *testing.T) {
	h := newHarness(t, false)
	httpapi.SetLegacyChunk(h.api.(*httpapi.API), 3)
	var want []string
	check := func(what string) {
		t.Helper()
		rec := h.admin("GET", h.legacyPath(""))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", what, rec.Code, rec.Body)
		}
		var l legacyList
		decode(t, rec, &l)
		var got []string
		for _, d := range l.Result {
			got = append(got, d.ID)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) || l.ResultInfo.Count != len(want) ||
			l.ResultInfo.TotalCount != len(want) || !l.Success || l.Result == nil {
			t.Errorf("%s: got %v (result_info %+v), want %v", what, got, l.ResultInfo, want)
		}
	}
	check("empty account")
	for i := range 7 {
		want = append(want, h.enroll(fmt.Sprint("hw-", i), fmt.Sprint(i, "@example.com"), "U").ID)
		if i == 5 || i == 6 {
			check(fmt.Sprintf("%d devices", i+1))
		}
	}
	revoked := want[0]
	h.admin("POST", h.regsPath("/revoke?id="+revoked))
	check("with a revoked device")
}

func TestLegacyRevokeAndUnrevoke(t *testing.T) {
	h := newHarness(t, false)
	a, b := h.enroll("hw-a", "a@example.com", "A"), h.enroll("hw-b", "b@example.com", "B")
	bearer := []string{"Authorization", "Bearer " + h.token}

	rec := h.do("POST", h.legacyPath("/revoke"), []string{a.ID, b.ID}, bearer...)
	if rec.Code != http.StatusOK {
		t.Fatalf("revoke: status %d: %s", rec.Code, rec.Body)
	}
	if _, page := h.list("status=revoked"); len(page.Result) != 2 {
		t.Errorf("revoked after revoke: %d, want 2", len(page.Result))
	}
	rec = h.do("POST", h.legacyPath("/unrevoke"), []string{a.ID}, bearer...)
	if rec.Code != http.StatusOK {
		t.Fatalf("unrevoke: status %d: %s", rec.Code, rec.Body)
	}
	if _, page := h.list("status=revoked"); len(page.Result) != 1 || page.Result[0].ID != b.ID {
		t.Errorf("revoked after unrevoke: %+v, want only %s", page.Result, b.ID)
	}
}

func TestLegacyBulkRefusals(t *testing.T) {
	h := newHarness(t, false)
	a := h.enroll("hw-a", "a@example.com", "A")
	missing := device.NewID()
	tooMany := make([]string, device.MaxBulkIDs+1)
	for i := range tooMany {
		tooMany[i] = a.ID
	}
	tests := []struct {
		name    string
		body    any
		status  int
		code    int
		message string
	}{
		{"empty list", []string{}, 400, 1002, "an empty list never means all devices"},
		{"null", "null", 400, 1002, "at least one device id"},
		{"no body", nil, 400, 1002, "JSON array of device ids is required"},
		{"201 ids", tooMany, 400, 1002, "at most 200 device ids may be given in one call, not 201"},
		{"an object", map[string]any{"id": a.ID}, 400, 1002, "must be a JSON array"},
		{"numbers", []int{1}, 400, 1002, "must be a JSON array"},
		{"two arrays", `["` + a.ID + `"] []`, 400, 1002, "exactly one JSON array"},
		{"malformed", `["`, 400, 1002, "request body is not valid"},
		{"bad id", []string{"nope"}, 400, 1002, `is not a valid registration id`},
		{"unknown id", []string{a.ID, missing}, 404, 1001, missing},
		{"too large", `["` + strings.Repeat("a", 1<<20) + `"]`, 413, 1005, "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.do("POST", h.legacyPath("/revoke"), tt.body,
				"Authorization", "Bearer "+h.token)
			if rec.Code != tt.status || !slices.Equal(errorCodes(t, rec), []int{tt.code}) ||
				!strings.Contains(rec.Body.String(), tt.message) {
				t.Errorf("status %d, body %s; want %d, code %d, %q", rec.Code, rec.Body,
					tt.status, tt.code, tt.message)
			}
		})
	}
	if _, page := h.list("status=revoked"); len(page.Result) != 0 {
		t.Errorf("a refused call revoked %d registrations", len(page.Result))
	}
	rec := h.do("POST", h.legacyPath("/revoke"), []string{a.ID},
		"Authorization", "Bearer "+h.readToken)
	if rec.Code != http.StatusForbidden {
		t.Errorf("revoke with a read token: status %d, want 403", rec.Code)
	}
}

func TestLegacyMultiUserRefused(t *testing.T) {
	h := newHarness(t, true)
	e := h.enroll("hw-a", "a@example.com", "A")
	bearer := []string{"Authorization", "Bearer " + h.token}
	tests := []struct {
		method, path string
		body         any
	}{
		{"GET", h.legacyPath(""), nil},
		{"GET", h.legacyPath("/" + e.ID), nil},
		{"GET", h.legacyPath("/" + e.ID + "/override_codes"), nil},
		{"POST", h.legacyPath("/revoke"), []string{e.ID}},
		{"POST", h.legacyPath("/unrevoke"), []string{e.ID}},
	}
	for _, tt := range tests {
		rec := h.do(tt.method, tt.path, tt.body, bearer...)
		if rec.Code != http.StatusBadRequest || !slices.Equal(errorCodes(t, rec), []int{1002}) ||
			!strings.Contains(rec.Body.String(), "multi-user mode") {
			t.Errorf("%s %s: status %d, body %s; want the multi-user refusal", tt.method,
				tt.path, rec.Code, rec.Body)
		}
	}
	golden(t, "legacy_multi_user", h.admin("GET", h.legacyPath("")), http.StatusBadRequest)
}

func TestLegacyDeviceErrors(t *testing.T) {
	h := newHarness(t, false)
	e := h.enroll("hw-a", "a@example.com", "A")
	missing := device.NewID()
	tests := []struct {
		name, method, path string
		status             int
		codes              []int
	}{
		{"unknown device", "GET", h.legacyPath("/" + missing), 404, []int{1001}},
		{"malformed device id", "GET", h.legacyPath("/not-an-id"), 400, []int{7003, 7000}},
		{"unknown subresource", "GET", h.legacyPath("/" + e.ID + "/settings"), 400,
			[]int{7003, 7000}},
		{"wrong method", "DELETE", h.legacyPath("/" + e.ID), 405, []int{7001}},
		{"wrong method on an unknown path", "POST", h.legacyPath("/" + e.ID + "/x"), 400,
			[]int{7003, 7000}},
		{"malformed query", "GET", h.legacyPath("?a=%zz"), 400, []int{1002}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.admin(tt.method, tt.path)
			if rec.Code != tt.status || !slices.Equal(errorCodes(t, rec), tt.codes) {
				t.Errorf("status %d, body %s; want %d %v", rec.Code, rec.Body, tt.status, tt.codes)
			}
		})
	}
	// An unknown subresource is no route even without credentials, as elsewhere.
	rec := h.do("GET", h.legacyPath("/"+e.ID+"/settings"), nil)
	if got := errorCodes(t, rec); !slices.Equal(got, []int{7003, 7000}) {
		t.Errorf("unknown subresource without credentials: codes %v, want 7003, 7000", got)
	}
}

func TestOverrideCodesRefusals(t *testing.T) {
	h := newHarness(t, false)
	active := h.enroll("hw-a", "a@example.com", "A")
	revoked := h.enroll("hw-r", "r@example.com", "R")
	deleted := h.enroll("hw-d", "d@example.com", "D")
	h.admin("POST", h.regsPath("/revoke?id="+revoked.ID))
	h.admin("DELETE", h.regsPath("/"+deleted.ID))
	codes := func(id string) string { return h.regsPath("/" + id + "/override_codes") }
	legacy := func(id string) string { return h.legacyPath("/" + id + "/override_codes") }
	tests := []struct {
		name, path string
		token      string
		status     int
		codes      []int
		message    string
	}{
		{"no mode switching", codes(active.ID), h.token, 400, []int{1002}, "allow_mode_switch"},
		{"no mode switching, legacy", legacy(active.ID), h.token, 400, []int{1002},
			"allow_mode_switch"},
		{"revoked", codes(revoked.ID), h.token, 403, []int{1004}, "is revoked"},
		{"deleted", codes(deleted.ID), h.token, 404, []int{1001}, "not found"},
		{"unknown", legacy(device.NewID()), h.token, 404, []int{1001}, "not found"},
		{"read token", codes(active.ID), h.readToken, 403, []int{10000}, "Authentication"},
		{"malformed id", codes("x"), h.token, 400, []int{7003, 7000}, "Could not route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.do("GET", tt.path, nil, "Authorization", "Bearer "+tt.token)
			if rec.Code != tt.status || !slices.Equal(errorCodes(t, rec), tt.codes) ||
				!strings.Contains(rec.Body.String(), tt.message) {
				t.Errorf("status %d, body %s; want %d %v %q", rec.Code, rec.Body, tt.status,
					tt.codes, tt.message)
			}
		})
	}
}

// TestOverrideCodesIssued issues codes through both endpoints and checks them as a
// client would, offline, with override.Verify and the secret enrolment handed out.
func TestOverrideCodesIssued(t *testing.T) {
	h := newHarness(t, false)
	e := h.enroll("hw-a", "a@example.com", "A")
	h.allowModeSwitch()
	secret, err := base64.RawURLEncoding.DecodeString(e.OverrideSecret)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(path string) map[string]string {
		t.Helper()
		rec := h.admin("GET", path)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d: %s", path, rec.Code, rec.Body)
		}
		var env struct {
			Result struct {
				DisableForTime map[string]string `json:"disable_for_time"`
			}
		}
		decode(t, rec, &env)
		return env.Result.DisableForTime
	}
	var last uint64
	var spent []string
	paths := []string{h.regsPath("/" + e.ID + "/override_codes"),
		h.regsPath("/" + e.ID + "/override_codes"), h.legacyPath("/" + e.ID + "/override_codes")}
	for i, path := range paths {
		codes := issue(path)
		if len(codes) != len(override.Durations()) {
			t.Errorf("issue %d: %d codes, want one per duration: %v", i+1, len(codes), codes)
		}
		for key, code := range codes {
			hours, counter, ok := override.Verify(secret, code, last)
			if !ok || fmt.Sprint(hours) != key || counter != uint64(i+1) {
				t.Errorf("issue %d: code %s for %s hours verifies as %d hours at %d, ok %v",
					i+1, code, key, hours, counter, ok)
			}
		}
		for _, old := range spent {
			if _, _, ok := override.Verify(secret, old, uint64(i+1)); ok {
				t.Errorf("a code of an earlier issue, %s, verifies after issue %d", old, i+1)
			}
		}
		last = uint64(i + 1)
		spent = append(spent, codes["24"])
	}
}

// allowModeSwitch turns on allow_mode_switch in the default device settings profile.
func (h *harness) allowModeSwitch() {
	h.t.Helper()
	rec := h.do("PATCH", h.legacyPath("/policy"), map[string]any{"allow_mode_switch": true},
		"Authorization", "Bearer "+h.token)
	if rec.Code != http.StatusOK {
		h.t.Fatalf("turn on allow_mode_switch: status %d: %s", rec.Code, rec.Body)
	}
}

func TestEnrolmentHandsOutAnOverrideSecret(t *testing.T) {
	h := newHarness(t, false)
	secrets := map[string]bool{}
	for range 2 {
		rec := h.do("POST", "/enroll/v1/registrations", map[string]any{
			"key": wgKey(), "key_type": "curve25519",
			"device": map[string]string{"name": "d", "hardware_id": "hw-1"},
			"user":   map[string]any{"email": "a@example.com"},
		}, "Authorization", "Bearer "+h.enrollKey)
		var env struct {
			Result struct {
				OverrideSecret string `json:"override_secret"`
			}
		}
		decode(t, rec, &env)
		raw, err := base64.RawURLEncoding.DecodeString(env.Result.OverrideSecret)
		if err != nil || len(raw) != device.OverrideSecretSize {
			t.Fatalf("override_secret %q: %d bytes, %v; want %d bytes of URL-safe base64",
				env.Result.OverrideSecret, len(raw), err, device.OverrideSecretSize)
		}
		secrets[env.Result.OverrideSecret] = true
	}
	if len(secrets) != 2 {
		t.Error("re-enrolment handed out the same override secret")
	}
}

// abortingService fails the deprecated list's second read.
type abortingService struct {
	httpapi.Service
	reads int
}

func (s *abortingService) AuthenticateToken(
	_ context.Context, _ string,
) (*device.Principal, error) {
	return &device.Principal{AccountID: strings.Repeat("a", 32), CanWrite: true}, nil
}

func (s *abortingService) LegacyDevices(
	_ context.Context, _, _ string, limit int,
) ([]device.DeviceView, error) {
	if s.reads++; s.reads > 1 {
		return nil, errors.New("database gone")
	}
	views := make([]device.DeviceView, limit)
	for i := range views {
		views[i].ID = device.NewID()
	}
	return views, nil
}

// TestLegacyListFailingMidStreamCutsTheConnection checks that a read that fails after
// the status went out leaves the client with a broken response, not a short list
// that looks complete.
func TestLegacyListFailingMidStreamCutsTheConnection(t *testing.T) {
	api := httpapi.New(&abortingService{}, slog.New(slog.DiscardHandler), httpapi.Options{})
	httpapi.SetLegacyChunk(api, 2)
	srv := httptest.NewServer(api)
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL+"/client/v4/accounts/"+strings.Repeat("a", 32)+
		"/devices", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.Repeat("A", 40))
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil {
		t.Errorf("the body read completely after a failed chunk: %s", body)
	}
	if json.Valid(body) {
		t.Errorf("a failed list ended as valid JSON: %s", body)
	}
}

// FuzzLegacyBulkBody sends arbitrary bodies to the deprecated revoke and unrevoke,
// whose body is a bare JSON array rather than an object.
func FuzzLegacyBulkBody(f *testing.F) {
	h := newHarness(f, false)
	r := h.enroll("a", "a@example.com", "A")
	for _, b := range []string{
		`["` + r.ID + `"]`, `[]`, `null`, `{}`, `""`, `[1]`, `[null]`, `[["x"]]`,
		`["` + r.ID + `","` + r.ID + `"]`, `["` + r.ID + `"] x`, "\xff", ``, `[`,
		`["00000000-0000-4000-8000-000000000000"]`,
	} {
		f.Add(false, b)
		f.Add(true, b)
	}
	f.Fuzz(func(t *testing.T, unrevoke bool, body string) {
		path := h.legacyPath("/revoke")
		if unrevoke {
			path = h.legacyPath("/unrevoke")
		}
		rec := h.on(t).do("POST", path, body, "Authorization", "Bearer "+h.token)
		checkAnswer(t, body, rec)
	})
}
