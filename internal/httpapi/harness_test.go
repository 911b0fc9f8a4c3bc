package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/httpapi"
	"github.com/warpreg/warpreg/internal/store/testdb"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fakeClock starts at a fixed time and moves one second per reading, so every
// timestamp in a test is known in advance.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// harness is the real handler over a real SQLite store, with one account, a write
// token, a read token and a reusable enrolment key.
type harness struct {
	t         testing.TB
	api       http.Handler
	svc       *device.Service
	db        *testdb.DB
	acct      *device.Account
	token     string
	readToken string
	enrollKey string
}

func newHarness(t testing.TB, multiUser bool) *harness {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	db := testdb.New(t, log)
	var err error
	clock := &fakeClock{t: time.Date(2025, 2, 14, 13, 17, 0, 0, time.UTC)}
	svc := device.NewService(db.Store, clock.now, log)
	h := &harness{t: t, svc: svc, db: db}
	h.api = httpapi.New(svc, log, httpapi.Options{CursorKey: []byte("test cursor key")})
	h.acct = h.account(multiUser)
	_, h.token, err = svc.CreateAPIToken(t.Context(), h.acct.ID, "write", false)
	if err != nil {
		t.Fatal(err)
	}
	_, h.readToken, err = svc.CreateAPIToken(t.Context(), h.acct.ID, "read", true)
	if err != nil {
		t.Fatal(err)
	}
	_, h.enrollKey, err = svc.CreateEnrollmentKey(t.Context(), h.acct.ID, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) account(multiUser bool) *device.Account {
	a, err := h.svc.CreateAccount(context.Background(), "test", multiUser)
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

// on returns h reporting to t, for fuzz targets, whose per-input t differs from
// the f that built the harness.
func (h *harness) on(t testing.TB) *harness {
	c := *h
	c.t = t
	return &c
}

// do sends a request to the handler. body may be nil, a string (sent as is) or a
// value to encode as JSON. headers come in name, value pairs; a name given twice is
// sent twice.
func (h *harness) do(method, path string, body any, headers ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(method, path, requestBody(h.t, body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	return rec
}

// requestBody returns body as a request body: nil for none, a string as is, and any
// other value encoded as JSON.
func requestBody(t testing.TB, body any) io.Reader {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.NewReader(raw)
	}
}

// admin sends a request with the write token.
func (h *harness) admin(method, path string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do(method, path, nil, "Authorization", "Bearer "+h.token)
}

func (h *harness) regsPath(suffix string) string {
	return "/client/v4/accounts/" + h.acct.ID + "/devices/registrations" + suffix
}

type enrolled struct {
	ID             string `json:"id"`
	DeviceID       string `json:"device_id"`
	Token          string `json:"token"`
	OverrideSecret string `json:"override_secret"`
}

// enroll enrols a WireGuard device through the enrolment API.
func (h *harness) enroll(hardwareID, email, name string) enrolled {
	h.t.Helper()
	return h.enrollWith(h.enrollKey, hardwareID, email, name)
}

// enrollWith enrols a WireGuard device with the given enrolment key.
func (h *harness) enrollWith(key, hardwareID, email, name string) enrolled {
	h.t.Helper()
	rec := h.do("POST", "/enroll/v1/registrations", map[string]any{
		"key": wgKey(), "key_type": "curve25519", "tunnel_type": "wireguard",
		"device": map[string]string{"name": "dev " + hardwareID, "hardware_id": hardwareID,
			"client_version": "2025.1.0"},
		"user": map[string]any{"email": email, "name": name, "groups": []string{"eng"}},
	}, "Authorization", "Bearer "+key)
	if rec.Code != http.StatusCreated {
		h.t.Fatalf("enrol %s: status %d: %s", hardwareID, rec.Code, rec.Body)
	}
	var env struct{ Result enrolled }
	decode(h.t, rec, &env)
	return env.Result
}

func wgKey() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func decode(t testing.TB, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, rec.Body)
	}
}

// errorCodes returns the codes of a v4 error envelope, after checking its frame.
func errorCodes(t *testing.T, rec *httptest.ResponseRecorder) []int {
	t.Helper()
	var env struct {
		Success  *bool
		Result   json.RawMessage
		Messages []any
		Errors   []struct{ Code int }
	}
	decode(t, rec, &env)
	if env.Success == nil || *env.Success || string(env.Result) != "null" || env.Messages == nil {
		t.Errorf("not a v4 error envelope: %s", rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var codes []int
	for _, e := range env.Errors {
		codes = append(codes, e.Code)
	}
	return codes
}

var (
	uuidRE   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	hex32RE  = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
	cursorRE = regexp.MustCompile(`"cursor":"[^"]+"`)
	keyRE    = regexp.MustCompile(`"key":"[^"]+"`)
)

// normalize replaces the random parts of a body (ids in order of first appearance,
// keys, cursors) with stable names, and indents it.
func normalize(body []byte) []byte {
	names := map[string]string{}
	name := func(prefix string) func(string) string {
		return func(s string) string {
			if n, ok := names[s]; ok {
				return n
			}
			n := prefix + "-" + string(rune('A'+len(names)))
			names[s] = n
			return n
		}
	}
	body = uuidRE.ReplaceAllFunc(body, func(b []byte) []byte { return []byte(name("uuid")(string(b))) })
	body = hex32RE.ReplaceAllFunc(body, func(b []byte) []byte { return []byte(name("hex")(string(b))) })
	body = cursorRE.ReplaceAll(body, []byte(`"cursor":"<cursor>"`))
	body = keyRE.ReplaceAll(body, []byte(`"key":"<key>"`))
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", "  "); err != nil {
		return body
	}
	return append(out.Bytes(), '\n')
}

// golden checks a response's status and its normalised body against
// testdata/NAME.json; -update rewrites the file.
func golden(t *testing.T, name string, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Errorf("%s: status = %d, want %d: %s", name, rec.Code, status, rec.Body)
	}
	got := normalize(rec.Body.Bytes())
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from golden (-want +got):\n%s", name, diff)
	}
}
