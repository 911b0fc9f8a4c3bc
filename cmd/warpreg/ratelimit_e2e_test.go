package main

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// head sends a request and returns its status and headers. It may run in any
// goroutine: a failed request is reported with t.Error and a zero status.
func head(t *testing.T, method, url, body string, headers ...string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// TestServeRateLimits checks what serve applies by default and that --rate-limit 0
// turns it off; then it floods the enrolment API with wrong keys from the devices'
// own address while they send heartbeats, which must all succeed.
func TestServeRateLimits(t *testing.T) {
	c := newCLI(t)
	acct := c.json("account", "create", "--name", "limits")["id"].(string)
	tok := c.json("token", "create", "--account", acct)["value"].(string)
	ek := c.json("enrollment-key", "create", "--account", acct, "--reusable")["value"].(string)
	list := "/client/v4/accounts/" + acct + "/devices/registrations"

	base, _ := c.serveLogged()
	_, h := head(t, "GET", base+list, "", "Authorization", "Bearer "+tok)
	if got := h.Get("Ratelimit-Policy"); got != `"default";q=1200;w=300` {
		t.Errorf("default Ratelimit-Policy = %q, want Cloudflare's 1,200 per 300 s", got)
	}
	unlimited, _ := c.serveLogged("--rate-limit", "0")
	if _, h := head(t, "GET", unlimited+list, "", "Authorization", "Bearer "+tok); h.Get("Ratelimit") != "" {
		t.Errorf("--rate-limit 0 still sends Ratelimit %q", h.Get("Ratelimit"))
	}
	for _, bad := range [][]string{{"serve", "--rate-limit", "-1"},
		{"serve", "--rate-limit-auth-failures", "many"}} {
		if _, errOut, code := c.run(bad...); code != exitUsage {
			t.Errorf("warpreg %v: exit %d, want %d: %s", bad, code, exitUsage, errOut)
		}
	}

	var devices []map[string]any
	for _, hw := range []string{"hw-1", "hw-2", "hw-3"} {
		status, env := call(t, "POST", base+"/enroll/v1/registrations", map[string]any{
			"key": wgKeyValue(), "key_type": "curve25519",
			"device": map[string]string{"name": hw, "hardware_id": hw},
			"user":   map[string]any{"email": "u@example.com"},
		}, "Authorization", "Bearer "+ek)
		if status != http.StatusCreated {
			t.Fatalf("enrol %s: %d %v", hw, status, env)
		}
		devices = append(devices, env["result"].(map[string]any))
	}

	var flood sync.WaitGroup
	var refused, throttled atomic.Int64
	for range 4 {
		flood.Go(func() {
			for range 100 {
				status, _ := head(t, "POST", base+"/enroll/v1/registrations",
					`{"key":"`+wgKeyValue()+`","key_type":"curve25519",`+
						`"device":{"name":"x"},"user":{"email":"x@example.com"}}`,
					"Authorization", "Bearer "+strings.Repeat("z", 40))
				switch status {
				case http.StatusUnauthorized:
					refused.Add(1)
				case http.StatusTooManyRequests:
					throttled.Add(1)
				}
			}
		})
	}
	for round := range 10 {
		for _, d := range devices {
			status, _ := head(t, "POST", base+"/enroll/v1/registrations/"+d["id"].(string)+
				"/heartbeat", "", "Authorization", "Bearer "+d["token"].(string))
			if status != http.StatusOK {
				t.Fatalf("heartbeat round %d during the flood: status %d", round, status)
			}
		}
	}
	flood.Wait()
	if refused.Load()+throttled.Load() != 400 || throttled.Load() < 300 {
		t.Errorf("400 wrong keys: %d refused, %d throttled; want at most the 60 allowed "+
			"failures (and a few in flight) refused and the rest throttled",
			refused.Load(), throttled.Load())
	}
}
