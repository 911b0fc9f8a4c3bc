package httpapi_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/httpapi"
	"github.com/warpreg/warpreg/internal/store/testdb"
)

func TestRollRegistrationToken(t *testing.T) {
	h := newHarness(t, false)
	e := h.enroll("hw-1", "u@example.com", "U")
	path := "/enroll/v1/registrations/" + e.ID

	if rec := h.do("POST", path+"/token", nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", rec.Code)
	}
	if rec := h.do("POST", path+"/token", `{"x":1}`, "Authorization", "Bearer "+e.Token); rec.Code != 400 {
		t.Errorf("a body with an unknown field: status %d, want 400", rec.Code)
	}
	rec := h.do("POST", path+"/token", nil, "Authorization", "Bearer "+e.Token)
	if rec.Code != http.StatusOK {
		t.Fatalf("roll: status %d: %s", rec.Code, rec.Body)
	}
	var got struct {
		Result struct {
			ID, Token      string
			OverrideSecret string `json:"override_secret"`
		}
	}
	decode(t, rec, &got)
	if got.Result.ID != e.ID || len(got.Result.Token) != 40 || got.Result.Token == e.Token {
		t.Fatalf("roll result %+v; want id %s and a new 40-character token", got.Result, e.ID)
	}
	if len(got.Result.OverrideSecret) != 43 || got.Result.OverrideSecret == e.OverrideSecret {
		t.Errorf("roll result override_secret %q, want a new 43-character secret",
			got.Result.OverrideSecret)
	}

	beat := func(token string) int {
		return h.do("POST", path+"/heartbeat", nil, "Authorization", "Bearer "+token).Code
	}
	if code := beat(e.Token); code != http.StatusUnauthorized {
		t.Errorf("heartbeat with the old token: status %d, want 401", code)
	}
	if code := beat(got.Result.Token); code != http.StatusOK {
		t.Errorf("heartbeat with the new token: status %d, want 200", code)
	}

	h.admin("POST", h.regsPath("/revoke?id="+e.ID))
	rec = h.do("POST", path+"/token", nil, "Authorization", "Bearer "+got.Result.Token)
	if codes := errorCodes(t, rec); rec.Code != http.StatusForbidden || codes[0] != 1004 {
		t.Errorf("roll of a revoked registration: status %d, codes %v; want 403, 1004",
			rec.Code, codes)
	}
}

// TestSecretsNeverLogged runs every path that creates, presents, rolls or revokes a
// secret, right or wrong, with logging at debug level, and looks for the secrets
// in what was logged.
func TestSecretsNeverLogged(t *testing.T) {
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := device.NewService(testdb.Open(t, log), nil, log)
	api := httpapi.New(svc, log, httpapi.Options{CursorKey: []byte("k"),
		RateLimits: httpapi.RateLimits{PerCredential: 1200, PerAddress: 200, AuthFailures: 5}})
	h := &harness{t: t, api: api, svc: svc}
	ctx := t.Context()
	h.acct = h.account(false)
	var secrets []string
	keep := func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s)
		return s
	}

	tok, secret, err := svc.CreateAPIToken(ctx, h.acct.ID, "ci", false)
	h.token = keep(secret, err)
	gk, gkSecret, err := svc.CreateGlobalKey(ctx, h.acct.ID, "admin@example.com")
	keep(gkSecret, err)
	ek, ekSecret, err := svc.CreateEnrollmentKey(ctx, h.acct.ID, true, time.Hour)
	h.enrollKey = keep(ekSecret, err)

	e := h.enroll("hw-1", "u@example.com", "U")
	secrets = append(secrets, e.Token)
	regPath := "/enroll/v1/registrations/" + e.ID
	h.do("POST", regPath+"/heartbeat", nil, "Authorization", "Bearer "+e.Token)
	h.do("PATCH", regPath, map[string]any{"key": wgKey()}, "Authorization", "Bearer "+e.Token)
	rec := h.do("POST", regPath+"/token", nil, "Authorization", "Bearer "+e.Token)
	var rolled struct{ Result struct{ Token string } }
	decode(t, rec, &rolled)
	secrets = append(secrets, rolled.Result.Token)

	h.admin("GET", h.regsPath(""))
	h.do("GET", h.regsPath(""), nil, "X-Auth-Email", gk.Email, "X-Auth-Key", gkSecret)
	h.do("GET", "/client/v4/user/tokens/verify", nil, "Authorization", "Bearer "+h.token)

	// Wrong but well-formed secrets of every kind, until the address is throttled.
	wrong := strings.Repeat("W", 40)
	secrets = append(secrets, wrong)
	for range 4 {
		h.do("GET", h.regsPath(""), nil, "Authorization", "Bearer "+wrong)
		h.do("POST", "/enroll/v1/registrations", map[string]any{}, "Authorization", "Bearer "+wrong)
		h.do("POST", regPath+"/heartbeat", nil, "Authorization", "Bearer "+wrong)
	}

	for kind, id := range map[device.CredentialKind]string{device.CredentialAPIToken: tok.ID,
		device.CredentialGlobalKey: gk.ID, device.CredentialEnrollmentKey: ek.ID} {
		keep(svc.RollCredential(ctx, kind, h.acct.ID, id))
		if err := svc.RevokeCredential(ctx, kind, h.acct.ID, id); err != nil {
			t.Fatal(err)
		}
	}

	out := logs.String()
	if !strings.Contains(out, `"credential revoked"`) || !strings.Contains(out, `"request"`) {
		t.Fatalf("the log misses lines this test expects, so it proves nothing:\n%s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log holds the secret %q:\n%s", s, out)
		}
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
