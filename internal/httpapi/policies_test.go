package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func (h *harness) policyPath(suffix string) string {
	return "/client/v4/accounts/" + h.acct.ID + "/devices/policy" + suffix
}

// send is do with the write token.
func (h *harness) send(method, path string, body any) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do(method, path, body, "Authorization", "Bearer "+h.token)
}

// policy is the part of a profile response the tests look at.
type policy struct {
	PolicyID        string           `json:"policy_id"`
	Name            string           `json:"name"`
	Default         bool             `json:"default"`
	Enabled         bool             `json:"enabled"`
	Match           *string          `json:"match"`
	Precedence      *float64         `json:"precedence"`
	AutoConnect     float64          `json:"auto_connect"`
	CaptivePortal   float64          `json:"captive_portal"`
	SupportURL      string           `json:"support_url"`
	LANAllowMinutes *float64         `json:"lan_allow_minutes"`
	Exclude         []map[string]any `json:"exclude"`
	Include         []map[string]any `json:"include"`
	FallbackDomains []map[string]any `json:"fallback_domains"`
	TunnelProtocol  string           `json:"tunnel_protocol"`
	ServiceModeV2   struct {
		Mode string   `json:"mode"`
		Port *float64 `json:"port"`
	} `json:"service_mode_v2"`
}

// createPolicy creates a custom profile and returns it.
func (h *harness) createPolicy(name, match string, precedence int) policy {
	h.t.Helper()
	rec := h.send("POST", h.policyPath(""), map[string]any{
		"name": name, "match": match, "precedence": precedence,
	})
	if rec.Code != http.StatusOK {
		h.t.Fatalf("create %s: status %d: %s", name, rec.Code, rec.Body)
	}
	return resultOf[policy](h.t, rec)
}

func resultOf[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var env struct{ Result T }
	decode(t, rec, &env)
	return env.Result
}

func TestPolicyGoldens(t *testing.T) {
	h := newHarness(t, false)
	golden(t, "get_default_policy", h.admin("GET", h.policyPath("")), http.StatusOK)

	rec := h.send("POST", h.policyPath(""), map[string]any{
		"name": "Contractors", "match": `identity.email == "ann@example.com"`, "precedence": 10,
		"description": "outside staff", "auto_connect": 600, "lan_allow_minutes": 30,
		"service_mode_v2": map[string]any{"mode": "proxy", "port": 3000},
		"include":         []map[string]any{{"address": "10.1.0.0/16", "description": "lab"}},
	})
	golden(t, "create_policy", rec, http.StatusOK)
	id := resultOf[policy](t, rec).PolicyID
	golden(t, "list_policies", h.admin("GET", "/client/v4/accounts/"+h.acct.ID+
		"/devices/policies"), http.StatusOK)
	golden(t, "delete_policy", h.send("DELETE", h.policyPath("/"+id), nil), http.StatusOK)
}

func TestPolicyCustomLifecycle(t *testing.T) {
	h := newHarness(t, false)
	a := h.createPolicy("A", `os.name == "linux"`, 10)
	if a.Default || !a.Enabled || *a.Precedence != 10 || a.CaptivePortal != 180 ||
		a.TunnelProtocol != "wireguard" || a.ServiceModeV2.Mode != "warp" || len(a.Exclude) != 16 {
		t.Errorf("created profile lacks Cloudflare's defaults: %+v", a)
	}

	rec := h.send("PATCH", h.policyPath("/"+a.PolicyID), map[string]any{
		"support_url": "https://help.example.com", "enabled": false,
	})
	got := resultOf[policy](t, rec)
	if rec.Code != http.StatusOK || got.SupportURL != "https://help.example.com" || got.Enabled ||
		got.Name != "A" || *got.Match != `os.name == "linux"` {
		t.Errorf("PATCH: status %d, %+v; want only support_url and enabled changed", rec.Code, got)
	}
	again := resultOf[policy](t, h.admin("GET", h.policyPath("/"+a.PolicyID)))
	if !cmp.Equal(again, got) {
		t.Errorf("GET after PATCH differs:\n%s", cmp.Diff(got, again))
	}

	rec = h.send("POST", h.policyPath(""), map[string]any{
		"name": "B", "match": `os.name == "mac"`, "precedence": 10})
	if codes := errorCodes(t, rec); rec.Code != http.StatusConflict || !cmp.Equal(codes, []int{1003}) {
		t.Errorf("second profile at precedence 10: status %d codes %v, want 409 [1003]", rec.Code, codes)
	}

	rec = h.send("DELETE", h.policyPath("/"+a.PolicyID), nil)
	remaining := resultOf[[]policy](t, rec)
	if rec.Code != http.StatusOK || len(remaining) != 1 || !remaining[0].Default {
		t.Errorf("DELETE: status %d, remaining %+v; want only the default", rec.Code, remaining)
	}
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		rec := h.send(m, h.policyPath("/"+a.PolicyID), map[string]any{})
		wantNotFound(t, m+" of a deleted profile", rec)
	}
}

func TestPolicyNotFoundAndAccess(t *testing.T) {
	h := newHarness(t, false)
	other := h.account(false)
	_, otherToken, err := h.svc.CreateAPIToken(t.Context(), other.ID, "w", false)
	if err != nil {
		t.Fatal(err)
	}
	mine := h.createPolicy("Mine", `os.name == "linux"`, 1)
	def := resultOf[policy](t, h.admin("GET", h.policyPath("")))

	otherPath := "/client/v4/accounts/" + other.ID + "/devices/policy/" + mine.PolicyID
	asOther := []string{"Authorization", "Bearer " + otherToken}
	unknown := "00000000-0000-4000-8000-000000000000"
	for name, rec := range map[string]*httptest.ResponseRecorder{
		"unknown id":             h.admin("GET", h.policyPath("/"+unknown)),
		"the default by id":      h.admin("GET", h.policyPath("/"+def.PolicyID)),
		"another account's id":   h.do("GET", otherPath, nil, asOther...),
		"unknown id's include":   h.admin("GET", h.policyPath("/"+unknown+"/include")),
		"delete the default":     h.send("DELETE", h.policyPath("/"+def.PolicyID), nil),
		"another account's list": h.do("PUT", otherPath+"/exclude", "[]", asOther...),
	} {
		wantNotFound(t, name, rec)
	}
	if rec := h.admin("GET", h.policyPath("/not-a-uuid")); rec.Code != http.StatusBadRequest {
		t.Errorf("malformed policy id: status %d, want 400", rec.Code)
	}

	read := []string{"Authorization", "Bearer " + h.readToken}
	if rec := h.do("GET", h.policyPath("/"+mine.PolicyID), nil, read...); rec.Code != http.StatusOK {
		t.Errorf("read token GET: status %d, want 200", rec.Code)
	}
	for _, req := range []struct{ method, path, body string }{
		{"POST", h.policyPath(""), `{"name":"x","match":"os.name == \"x\"","precedence":5}`},
		{"PATCH", h.policyPath(""), `{"switch_locked":true}`},
		{"PATCH", h.policyPath("/" + mine.PolicyID), `{"name":"y"}`},
		{"PUT", h.policyPath("/include"), `[]`},
		{"DELETE", h.policyPath("/" + mine.PolicyID), ``},
	} {
		rec := h.do(req.method, req.path, req.body, read...)
		if rec.Code != http.StatusForbidden {
			t.Errorf("read token %s %s: status %d, want 403", req.method, req.path, rec.Code)
		}
	}
	if got := resultOf[policy](t, h.admin("GET", h.policyPath("/"+mine.PolicyID))); got.Name != "Mine" {
		t.Errorf("a refused write changed the profile: %+v", got)
	}
}

func TestPolicyRefusals(t *testing.T) {
	h := newHarness(t, false)
	existing := h.createPolicy("Existing", `os.name == "linux"`, 1)
	good := func() map[string]any {
		return map[string]any{"name": "N", "match": `os.name == "mac"`, "precedence": 2}
	}
	with := func(k string, v any) map[string]any { b := good(); b[k] = v; return b }
	tests := []struct {
		name, want string
		body       any
	}{
		{"no name", "name is required", map[string]any{"match": `os.name == "x"`, "precedence": 3}},
		{"no match", "match is required", map[string]any{"name": "n", "precedence": 3}},
		{"no precedence", "precedence is required",
			map[string]any{"name": "n", "match": `os.name == "x"`}},
		{"malformed match", "at offset", with("match", `os.name === `)},
		{"fractional precedence", "whole number", with("precedence", 2.5)},
		{"precedence zero", "precedence", with("precedence", 0)},
		{"negative auto_connect", "auto_connect", with("auto_connect", -1)},
		{"lan subnet too wide", "lan_allow_subnet_size", with("lan_allow_subnet_size", 4)},
		{"unknown mode", "service_mode_v2.mode", with("service_mode_v2", map[string]any{"mode": "vpn"})},
		{"proxy without port", "port is required",
			with("service_mode_v2", map[string]any{"mode": "proxy"})},
		{"unknown tunnel protocol", "tunnel_protocol", with("tunnel_protocol", "ipsec")},
		{"support url scheme", "support_url", with("support_url", "javascript:alert(1)")},
		{"both lists", "cannot both", func() map[string]any {
			b := good()
			b["include"], b["exclude"] = []any{}, []any{}
			return b
		}()},
		{"route with both", "not both",
			with("exclude", []any{map[string]any{"address": "10.0.0.0/8", "host": "a.b"}})},
		{"route with neither", "address or a host",
			with("exclude", []any{map[string]any{"description": "x"}})},
		{"bad address", "CIDR", with("exclude", []any{map[string]any{"address": "10.0.0.0/33"}})},
		{"bad host", "domain name", with("include", []any{map[string]any{"host": "a b"}})},
		{"repeated route", "repeats",
			with("include", []any{map[string]any{"host": "a.b"}, map[string]any{"host": "A.b"}})},
		{"unknown field", "unknown field", with("colour", "blue")},
		{"unknown route field", "unknown field",
			with("include", []any{map[string]any{"host": "a.b", "port": 1}})},
		{"wrong type", "must be a JSON boolean", with("enabled", "yes")},
		{"wrong lan type", "must be a JSON number", with("lan_allow_minutes", "30")},
		{"name with a newline", "control characters", with("name", "a\nb")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := h.send("POST", h.policyPath(""), tt.body)
			checkInvalid(t, rec, tt.want)
		})
	}
	rec := h.send("PATCH", h.policyPath("/"+existing.PolicyID), map[string]any{"match": "(("})
	checkInvalid(t, rec, "match is not a valid expression")
	rec = h.send("PATCH", h.policyPath(""), map[string]any{"name": "renamed"})
	checkInvalid(t, rec, "unknown field")
	rec = h.send("PUT", h.policyPath("/fallback_domains"), `[{"suffix":"bad suffix"}]`)
	checkInvalid(t, rec, "fallback_domains[0].suffix")
	rec = h.send("PUT", h.policyPath("/exclude"), `{"address":"10.0.0.0/8"}`)
	checkInvalid(t, rec, "must be a JSON array")

	got := resultOf[policy](t, h.admin("GET", h.policyPath("/"+existing.PolicyID)))
	if *got.Match != `os.name == "linux"` {
		t.Errorf("a refused PATCH stored its match: %q", *got.Match)
	}
	list := resultOf[[]policy](t, h.admin("GET", "/client/v4/accounts/"+h.acct.ID+"/devices/policies"))
	if len(list) != 2 {
		t.Errorf("refused creates stored profiles: %d profiles", len(list))
	}
}

// wantNotFound checks a 404 with code 1001.
func wantNotFound(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if codes := errorCodes(t, rec); rec.Code != http.StatusNotFound || !cmp.Equal(codes, []int{1001}) {
		t.Errorf("%s: status %d codes %v, want 404 [1001]", what, rec.Code, codes)
	}
}

func checkInvalid(t testing.TB, rec *httptest.ResponseRecorder, want string) {
	t.Helper()
	var env struct {
		Errors []struct {
			Code    int
			Message string
		}
	}
	decode(t, rec, &env)
	if rec.Code != http.StatusBadRequest || len(env.Errors) != 1 || env.Errors[0].Code != 1002 ||
		!strings.Contains(env.Errors[0].Message, want) {
		t.Errorf("status %d, errors %+v; want 400, code 1002, a message with %q",
			rec.Code, env.Errors, want)
	}
}

func TestPolicyLists(t *testing.T) {
	h := newHarness(t, false)
	for _, base := range []string{"", "/" + h.createPolicy("C", `os.name == "ios"`, 7).PolicyID} {
		routes := `[{"host":"intranet.example.com","description":"wiki"},{"address":"10.9.0.0/16"}]`
		rec := h.send("PUT", h.policyPath(base+"/include"), routes)
		want := []map[string]any{
			{"host": "intranet.example.com", "description": "wiki"},
			{"address": "10.9.0.0/16", "description": ""},
		}
		if got := resultOf[[]map[string]any](t, rec); rec.Code != 200 || !cmp.Equal(got, want) {
			t.Errorf("PUT %s/include: status %d, %v; want %v", base, rec.Code, got, want)
		}
		p := resultOf[policy](t, h.admin("GET", h.policyPath(base)))
		if p.Exclude != nil || !cmp.Equal(p.Include, want) {
			t.Errorf("%s after PUT include: exclude %v include %v; want include mode", base,
				p.Exclude, p.Include)
		}
		kept := resultOf[[]map[string]any](t, h.admin("GET", h.policyPath(base+"/exclude")))
		if len(kept) != 16 {
			t.Errorf("%s/exclude lost its list when include took over: %v", base, kept)
		}
		h.send("PUT", h.policyPath(base+"/exclude"), `[]`)
		p = resultOf[policy](t, h.admin("GET", h.policyPath(base)))
		if p.Include != nil || p.Exclude == nil || len(p.Exclude) != 0 {
			t.Errorf("%s after PUT exclude []: exclude %v include %v; want exclude mode, empty",
				base, p.Exclude, p.Include)
		}

		domains := `[{"suffix":"corp.example","description":"HQ","dns_server":["10.0.0.53","fd00::53"]}]`
		rec = h.send("PUT", h.policyPath(base+"/fallback_domains"), domains)
		var wantDomains []map[string]any
		json.Unmarshal([]byte(domains), &wantDomains)
		if got := resultOf[[]map[string]any](t, rec); !cmp.Equal(got, wantDomains) {
			t.Errorf("PUT %s/fallback_domains = %v, want %v", base, got, wantDomains)
		}
		got := resultOf[[]map[string]any](t, h.admin("GET", h.policyPath(base+"/fallback_domains")))
		if !cmp.Equal(got, wantDomains) {
			t.Errorf("GET %s/fallback_domains = %v, want %v", base, got, wantDomains)
		}
	}
}

func TestPolicyDefaultEdit(t *testing.T) {
	h := newHarness(t, false)
	rec := h.send("PATCH", h.policyPath(""), map[string]any{
		"switch_locked": true, "lan_allow_minutes": 15, "captive_portal": 60})
	got := resultOf[policy](t, rec)
	if rec.Code != 200 || !got.Default || got.Name != "Default" || got.Match != nil ||
		got.Precedence != nil || *got.LANAllowMinutes != 15 || got.CaptivePortal != 60 {
		t.Errorf("PATCH default: status %d, %+v", rec.Code, got)
	}
	got = resultOf[policy](t, h.send("PATCH", h.policyPath(""), `{"lan_allow_minutes":null}`))
	if got.LANAllowMinutes != nil || got.CaptivePortal != 60 {
		t.Errorf("null lan_allow_minutes: %+v; want it cleared and the rest kept", got)
	}
}

// TestPolicyAssignment checks that profile changes move registrations, as the
// registrations API shows with include=policy.
func TestPolicyAssignment(t *testing.T) {
	h := newHarness(t, true)
	ann := h.enroll("hw-ann", "ann@example.com", "Ann")
	bob := h.enroll("hw-bob", "bob@example.com", "Bob")
	policyOf := func(id string) (string, bool, string) {
		t.Helper()
		var env struct {
			Result struct {
				Policy struct {
					ID        string
					UpdatedAt string `json:"updated_at"`
					Deleted   bool
				}
			}
		}
		decode(t, h.admin("GET", h.regsPath("/"+id+"?include=policy")), &env)
		p := env.Result.Policy
		return p.ID, p.Deleted, p.UpdatedAt
	}
	def, _, enrolledAt := policyOf(ann.ID)
	_, _, bobAt := policyOf(bob.ID)

	eng := h.createPolicy("Eng", `identity.email == "ann@example.com"`, 5)
	if id, _, at := policyOf(ann.ID); id != eng.PolicyID || at == enrolledAt {
		t.Errorf("ann after create: policy %s at %s; want %s, later than %s", id, at,
			eng.PolicyID, enrolledAt)
	}
	if id, _, at := policyOf(bob.ID); id != def || at != bobAt {
		t.Errorf("bob after create: policy %s at %s; want the default, unchanged", id, at)
	}
	_, _, annAt := policyOf(ann.ID)
	h.send("PATCH", h.policyPath("/"+eng.PolicyID), map[string]any{"description": "x"})
	if _, _, at := policyOf(ann.ID); at != annAt {
		t.Errorf("a settings-only edit moved policy.updated_at from %s to %s", annAt, at)
	}
	h.send("DELETE", h.policyPath("/"+eng.PolicyID), nil)
	if id, deleted, _ := policyOf(ann.ID); id != def || deleted {
		t.Errorf("ann after delete: policy %s deleted %v; want the default", id, deleted)
	}
}
