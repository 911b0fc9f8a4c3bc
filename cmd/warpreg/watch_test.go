package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWatchFollowsTheFeed runs `warpreg watch` against a served database while
// devices enrol and one is revoked, and checks it prints each change once, in order.
func TestWatchFollowsTheFeed(t *testing.T) {
	c := newCLI(t)
	acct := c.json("account", "create", "--name", "watched")["id"].(string)
	tok := c.json("token", "create", "--account", acct, "--read-only")["value"].(string)
	write := c.json("token", "create", "--account", acct)["value"].(string)
	ek := c.json("enrollment-key", "create", "--account", acct, "--reusable")["value"].(string)
	base := c.serve()

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "--url", base, "--account", acct, "--token", tok,
			"--max", "3", "--json"}, func(string) string { return "" }, &out, &errb)
	}()

	var ids []string
	for _, hw := range []string{"one", "two"} {
		status, env := call(t, "POST", base+"/enroll/v1/registrations", map[string]any{
			"key": wgKey(t), "key_type": "curve25519",
			"device": map[string]string{"name": hw, "hardware_id": hw},
			"user":   map[string]any{"email": hw + "@example.com"},
		}, "Authorization", "Bearer "+ek)
		if status != http.StatusCreated {
			t.Fatalf("enrol: %d %v", status, env)
		}
		ids = append(ids, env["result"].(map[string]any)["id"].(string))
	}
	status, _ := call(t, "POST", base+"/client/v4/accounts/"+acct+
		"/devices/registrations/revoke?id="+ids[0], nil, "Authorization", "Bearer "+write)
	if status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}

	if code := <-done; code != 0 {
		t.Fatalf("watch exited %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []struct {
		seq  float64
		kind string
		id   string
	}{{1, "enrolled", ids[0]}, {2, "enrolled", ids[1]}, {3, "revoked", ids[0]}}
	if len(lines) != len(want) {
		t.Fatalf("watch printed %d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, line := range lines {
		var c map[string]any
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("line %d is not JSON: %q", i, line)
		}
		if c["seq"] != want[i].seq || c["kind"] != want[i].kind || c["registration_id"] != want[i].id {
			t.Errorf("line %d = %v, want seq %v %s %s", i, c, want[i].seq, want[i].kind, want[i].id)
		}
	}
}

func wgKey(t *testing.T) string {
	t.Helper()
	k, _, _ := demoKey(0)
	return k
}

func wgKeyValue() string {
	k, _, _ := demoKey(0)
	return k
}

func decodeJSON(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}

// TestWatchWaitsOutABusyServer serves watch a 503, then a stream that ends with a
// busy error event, then a change: watch reconnects through both and prints the
// change. A 403 ends it at once.
func TestWatchWaitsOutABusyServer(t *testing.T) {
	var calls atomic.Int32
	busy := `{"success":false,"errors":[{"code":1007,"message":"the database is busy"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, busy)
		case 2:
			io.WriteString(w, "event: error\ndata: {\"code\":1007,\"message\":\"busy\"}\n\n")
		case 3:
			io.WriteString(w, "id: 1\nevent: change\ndata: {\"seq\":1,\"kind\":\"revoked\"}\n\n")
		default:
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	watch := func() (int, string) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		var out, errb syncBuffer
		code := run(ctx, []string{"watch", "--url", srv.URL, "--account", "a", "--token", "t",
			"--max", "1"}, func(string) string { return "" }, &out, &errb)
		return code, out.String() + errb.String()
	}

	if code, out := watch(); code != 0 || !strings.Contains(out, "1 revoked") {
		t.Errorf("through a 503 and a busy stream: exit %d, output %q", code, out)
	}
	if code, out := watch(); code == 0 || !strings.Contains(out, "403") {
		t.Errorf("on a 403: exit %d, output %q; want a failure naming it", code, out)
	}
}
