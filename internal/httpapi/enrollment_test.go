package httpapi_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
)

func p256Key(t *testing.T) string {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func TestEnrollRefusals(t *testing.T) {
	h := newHarness(t, false)
	good := func() map[string]any {
		return map[string]any{
			"key": wgKey(), "key_type": "curve25519", "tunnel_type": "wireguard",
			"device": map[string]any{"name": "d", "hardware_id": "hw"},
			"user":   map[string]any{"email": "u@example.com"},
		}
	}
	with := func(k string, v any) map[string]any { b := good(); b[k] = v; return b }
	auth := []string{"Authorization", "Bearer " + h.enrollKey}
	tests := []struct {
		name    string
		body    any
		headers []string
		status  int
	}{
		{"no enrollment key", good(), nil, 401},
		{"unknown enrollment key", good(), []string{"Authorization", "Bearer nope"}, 401},
		{"empty body", "", auth, 400},
		{"not JSON", "{", auth, 400},
		{"two objects", `{} {}`, auth, 400},
		{"unknown field", with("extra", 1), auth, 400},
		{"wrong type", with("key", 5), auth, 400},
		{"short key", with("key", "AAAA"), auth, 400},
		{"url-safe base64 key", with("key", strings.Repeat("_", 43)+"="), auth, 400},
		{"masque with a curve25519 key", with("tunnel_type", "masque"), auth, 400},
		{"unknown key type", with("key_type", "rsa"), auth, 400},
		{"secp256r1 with a curve25519 key", func() map[string]any {
			b := good()
			b["key_type"], b["tunnel_type"] = "secp256r1", "masque"
			return b
		}(), auth, 400},
		{"no user", with("user", nil), auth, 400},
		{"bad email", with("user", map[string]any{"email": "not-an-email"}), auth, 400},
		{"no device name", with("device", map[string]any{"hardware_id": "x"}), auth, 400},
		{"control characters", with("device", map[string]any{"name": "a\x01b"}), auth, 400},
		{"oversized body", `{"key":"` + strings.Repeat("A", 2<<20) + `"}`, auth, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.do("POST", "/enroll/v1/registrations", tt.body, tt.headers...)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			errorCodes(t, rec)
		})
	}
	if _, p := h.list("status=all"); p.ResultInfo.TotalCount != 0 {
		t.Errorf("refused enrolments left %d registrations", p.ResultInfo.TotalCount)
	}
}

// watchedBody is a request body that records whether anything read it.
type watchedBody struct {
	io.Reader
	read bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.read = true
	return b.Reader.Read(p)
}

// TestEnrollRefusesKeyBeforeBody: an enrolment key that cannot enrol is answered
// with a 401 before the body is read, whatever the body holds, so that a client
// sending Expect: 100-continue never gets its 100 and never sends the body.
func TestEnrollRefusesKeyBeforeBody(t *testing.T) {
	h := newHarness(t, false)
	_, single, err := h.svc.CreateEnrollmentKey(t.Context(), h.acct.ID, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	h.enrollWith(single, "hw-1", "u@example.com", "U")
	// The harness's clock moves a second at every reading, so this one has expired
	// by the time it is presented.
	_, expired, err := h.svc.CreateEnrollmentKey(t.Context(), h.acct.ID, true, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{"unknown": strings.Repeat("k", 40), "spent": single,
		"expired": expired}
	for name, key := range keys {
		for _, body := range []string{`{}`, `not even JSON`} {
			t.Run(name+" "+body, func(t *testing.T) {
				b := &watchedBody{Reader: strings.NewReader(body)}
				req := httptest.NewRequest("POST", "/enroll/v1/registrations", b)
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Expect", "100-continue")
				rec := httptest.NewRecorder()
				h.api.ServeHTTP(rec, req)
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("status %d, want 401: %s", rec.Code, rec.Body)
				}
				if codes := errorCodes(t, rec); !slices.Equal(codes, []int{10000}) {
					t.Errorf("error codes %v, want [10000]", codes)
				}
				if b.read {
					t.Error("the body was read before the key was refused")
				}
			})
		}
	}
}

// TestClientPatchRefusesTokenBeforeBody: a client PATCH with a wrong token, or of
// an id that names no registration, or of a revoked registration, is answered before
// the body is read, as an enrolment with a bad key is; the right token's PATCH still
// reads its body and answers for it.
func TestClientPatchRefusesTokenBeforeBody(t *testing.T) {
	h := newHarness(t, false)
	a := h.enroll("hw-1", "a@example.com", "A")
	b := h.enroll("hw-2", "b@example.com", "B")
	if err := h.svc.Revoke(t.Context(), h.acct.ID, []string{b.ID}); err != nil {
		t.Fatal(err)
	}
	patch := func(id, token, body string) (*httptest.ResponseRecorder, bool) {
		w := &watchedBody{Reader: strings.NewReader(body)}
		req := httptest.NewRequest("PATCH", "/enroll/v1/registrations/"+id, w)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Expect", "100-continue")
		rec := httptest.NewRecorder()
		h.api.ServeHTTP(rec, req)
		return rec, w.read
	}
	for name, c := range map[string]struct {
		id, token string
		status    int
	}{
		"wrong token": {a.ID, strings.Repeat("t", 40), http.StatusUnauthorized},
		"unknown id":  {"01a24785-8667-7f44-b546-42787c15040d", a.Token, http.StatusUnauthorized},
		"revoked":     {b.ID, b.Token, http.StatusForbidden},
	} {
		rec, read := patch(c.id, c.token, `not even JSON`)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d: %s", name, rec.Code, c.status, rec.Body)
		}
		if read {
			t.Errorf("%s: the body was read before the token was refused", name)
		}
	}
	rec, read := patch(a.ID, a.Token, `not even JSON`)
	if rec.Code != http.StatusBadRequest || !read {
		t.Errorf("right token, bad body: status %d, body read %v; want 400, read: %s",
			rec.Code, read, rec.Body)
	}
}

// TestEnrollRechecksKey: a single-use key that passed the check before the body
// was read, and was spent by another enrolment since, is still refused.
func TestEnrollRechecksKey(t *testing.T) {
	h := newHarness(t, false)
	_, single, err := h.svc.CreateEnrollmentKey(t.Context(), h.acct.ID, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svc.CheckEnrollmentKey(t.Context(), single); err != nil {
		t.Fatalf("check of a fresh key: %v", err)
	}
	h.enrollWith(single, "hw-1", "u@example.com", "U")
	req := device.EnrollRequest{Key: wgKey(), KeyType: device.KeyCurve25519,
		Device: device.DeviceFacts{Name: "d", HardwareID: "hw-2"}, UserEmail: "v@example.com"}
	if _, err := h.svc.Enroll(t.Context(), single, req); device.KindOf(err) !=
		device.KindUnauthorized {
		t.Errorf("enrolment with the spent key: %v, want an unauthorized error", err)
	}
}

// TestLowOrderKeysRefused: a curve25519 key of low order is a 400 at enrolment and
// at rotation, and the rotation leaves the registration's key as it was.
func TestLowOrderKeysRefused(t *testing.T) {
	const zero = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	const one = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	h := newHarness(t, false)
	for _, key := range []string{zero, one} {
		rec := h.do("POST", "/enroll/v1/registrations", map[string]any{
			"key": key, "key_type": "curve25519",
			"device": map[string]any{"name": "d", "hardware_id": "hw-low"},
			"user":   map[string]any{"email": "u@example.com"},
		}, "Authorization", "Bearer "+h.enrollKey)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("enrol with %s: status %d, want 400: %s", key, rec.Code, rec.Body)
		}
		if codes := errorCodes(t, rec); !slices.Equal(codes, []int{1002}) {
			t.Errorf("enrol with %s: error codes %v, want [1002]", key, codes)
		}
	}

	e := h.enroll("hw-1", "u@example.com", "U")
	path := "/enroll/v1/registrations/" + e.ID
	before := h.admin("GET", h.regsPath("/"+e.ID)).Body.String()
	for _, body := range []map[string]any{{"key": zero}, {"key": one, "key_type": "curve25519"}} {
		rec := h.do("PATCH", path, body, "Authorization", "Bearer "+e.Token)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("rotate to %v: status %d, want 400: %s", body, rec.Code, rec.Body)
		}
	}
	if after := h.admin("GET", h.regsPath("/"+e.ID)).Body.String(); after != before {
		t.Errorf("refused rotations changed the registration:\n%s\n%s", before, after)
	}
}

// TestEnrollAmbiguousSerial: an enrolment with only a serial number that two
// devices report is a 409 asking for the hardware id, and neither device's
// registration changes: its token still works.
func TestEnrollAmbiguousSerial(t *testing.T) {
	h := newHarness(t, false)
	enrol := func(facts map[string]any) *httptest.ResponseRecorder {
		facts["name"] = "laptop"
		return h.do("POST", "/enroll/v1/registrations", map[string]any{
			"key": wgKey(), "key_type": "curve25519", "device": facts,
			"user": map[string]any{"email": "u@example.com"},
		}, "Authorization", "Bearer "+h.enrollKey)
	}
	var devices []enrolled
	for _, hw := range []string{"HW-A", "HW-B"} {
		rec := enrol(map[string]any{"hardware_id": hw, "serial_number": "SER-1"})
		var e struct{ Result enrolled }
		decode(t, rec, &e)
		if rec.Code != http.StatusCreated {
			t.Fatalf("enrol %s: status %d: %s", hw, rec.Code, rec.Body)
		}
		devices = append(devices, e.Result)
	}

	rec := enrol(map[string]any{"serial_number": "SER-1"})
	var env struct {
		Errors []struct {
			Code    int
			Message string
		}
	}
	decode(t, rec, &env)
	if rec.Code != http.StatusConflict || len(env.Errors) != 1 || env.Errors[0].Code != 1003 ||
		!strings.Contains(env.Errors[0].Message, "hardware_id") {
		t.Errorf("serial number alone: %d %s; want 409, code 1003, asking for hardware_id",
			rec.Code, rec.Body)
	}
	for _, d := range devices {
		beat := "/enroll/v1/registrations/" + d.ID + "/heartbeat"
		if rec := h.do("POST", beat, nil, "Authorization", "Bearer "+d.Token); rec.Code != 200 {
			t.Errorf("heartbeat of %s after the refusal: %d %s", d.ID, rec.Code, rec.Body)
		}
	}
}

func TestEnrollMASQUEAndRotate(t *testing.T) {
	h := newHarness(t, false)
	rec := h.do("POST", "/enroll/v1/registrations", map[string]any{
		"key": p256Key(t), "key_type": "secp256r1", "tunnel_type": "masque",
		"device": map[string]any{"name": "phone", "serial_number": "SN1"},
		"user":   map[string]any{"email": "m@example.com", "name": "M"},
	}, "Authorization", "Bearer "+h.enrollKey)
	if rec.Code != http.StatusCreated {
		t.Fatalf("enrol masque: %d %s", rec.Code, rec.Body)
	}
	var e struct{ Result enrolled }
	decode(t, rec, &e)
	if e.Result.ID != e.Result.DeviceID {
		t.Errorf("single-user registration id %s != device id %s", e.Result.ID, e.Result.DeviceID)
	}
	tok := []string{"Authorization", "Bearer " + e.Result.Token}
	path := "/enroll/v1/registrations/" + e.Result.ID

	newKey := wgKey()
	rec = h.do("PATCH", path, map[string]any{"key": newKey, "key_type": "curve25519",
		"device": map[string]any{"client_version": "2025.2.0"}}, tok...)
	if rec.Code != http.StatusOK {
		t.Fatalf("rotate: %d %s", rec.Code, rec.Body)
	}
	var got struct {
		Result struct {
			Key        string `json:"key"`
			TunnelType string `json:"tunnel_type"`
			Device     struct {
				Name          string `json:"name"`
				ClientVersion string `json:"client_version"`
			} `json:"device"`
		}
	}
	decode(t, rec, &got)
	if got.Result.Key != newKey || got.Result.TunnelType != "wireguard" ||
		got.Result.Device.Name != "phone" || got.Result.Device.ClientVersion != "2025.2.0" {
		t.Errorf("after rotation: %+v", got.Result)
	}
	beat := map[string]any{"client_version": "2025.3.0"}
	if rec := h.do("POST", path+"/heartbeat", beat, tok...); rec.Code != 200 {
		t.Errorf("heartbeat: %d %s", rec.Code, rec.Body)
	}
	if rec := h.do("POST", path+"/heartbeat", nil, "Authorization", "Bearer "+h.token); rec.Code != 401 {
		t.Errorf("heartbeat with an admin token: %d, want 401", rec.Code)
	}

	// Re-enrolling the same serial number replaces the secret: the old one fails.
	rec = h.do("POST", "/enroll/v1/registrations", map[string]any{
		"key": wgKey(), "key_type": "curve25519",
		"device": map[string]any{"name": "phone", "serial_number": "SN1"},
		"user":   map[string]any{"email": "other@example.com"},
	}, "Authorization", "Bearer "+h.enrollKey)
	var again struct{ Result enrolled }
	decode(t, rec, &again)
	if rec.Code != http.StatusCreated || again.Result.ID != e.Result.ID {
		t.Fatalf("re-enrol: %d %s", rec.Code, rec.Body)
	}
	if rec := h.do("POST", path+"/heartbeat", nil, tok...); rec.Code != http.StatusUnauthorized {
		t.Errorf("old secret after re-enrolment: %d, want 401", rec.Code)
	}
}

func TestEnrollDuplicateKeyConflicts(t *testing.T) {
	h := newHarness(t, false)
	key := wgKey()
	body := func(hw string) map[string]any {
		return map[string]any{"key": key, "key_type": "curve25519",
			"device": map[string]any{"name": hw, "hardware_id": hw},
			"user":   map[string]any{"email": "u@example.com"}}
	}
	auth := []string{"Authorization", "Bearer " + h.enrollKey}
	if rec := h.do("POST", "/enroll/v1/registrations", body("one"), auth...); rec.Code != 201 {
		t.Fatalf("first: %d %s", rec.Code, rec.Body)
	}
	rec := h.do("POST", "/enroll/v1/registrations", body("two"), auth...)
	if codes := errorCodes(t, rec); rec.Code != http.StatusConflict || codes[0] != 1003 {
		t.Errorf("same key on another device: %d %v", rec.Code, codes)
	}
	if _, p := h.list("status=all"); p.ResultInfo.TotalCount != 1 {
		t.Errorf("conflict left %d registrations, want 1", p.ResultInfo.TotalCount)
	}
}
