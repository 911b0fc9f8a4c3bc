package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/warpreg/warpreg/internal/store/testdb"
)

// cliRun runs the warpreg command line in-process against one database.
type cliRun struct {
	t  *testing.T
	db string
}

func newCLI(t *testing.T) *cliRun {
	return &cliRun{t: t, db: testdb.DSN(t)}
}

func (c *cliRun) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	env := func(k string) string {
		if k == "WARPREG_DATABASE" {
			return c.db
		}
		return ""
	}
	code = run(c.t.Context(), args, env, &out, &errb)
	return out.String(), errb.String(), code
}

// json runs a command with --json and decodes its output.
func (c *cliRun) json(args ...string) map[string]any {
	c.t.Helper()
	out, errOut, code := c.run(append(args, "--json")...)
	if code != 0 {
		c.t.Fatalf("warpreg %v: exit %d: %s", args, code, errOut)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		c.t.Fatalf("warpreg %v: output is not JSON: %v\n%s", args, err, out)
	}
	return v
}

// serve starts `warpreg serve` in-process and returns its base URL; it stops, and
// must exit 0, when the test ends.
func (c *cliRun) serve() string {
	c.t.Helper()
	base, _ := c.serveLogged()
	return base
}

// serveLogged is serve with extra flags, and returns what the server logs too.
func (c *cliRun) serveLogged(extra ...string) (string, *syncBuffer) {
	c.t.Helper()
	addr := freeAddr(c.t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	errb := &syncBuffer{}
	args := append([]string{"serve", "--addr", addr, "--database", c.db}, extra...)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, io.Discard, errb)
	}()
	c.t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			c.t.Errorf("serve exited %d: %s", code, errb.String())
		}
	})
	base := "http://" + addr
	waitReady(c.t, base)
	return base, errb
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/client/v4/user/tokens/verify")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server at %s never answered", base)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// call makes an HTTP request and decodes the v4 envelope.
func call(t *testing.T, method, url string, body any, headers ...string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", method, url, err)
	}
	return resp.StatusCode, env
}

// TestHelpSpellsOut checks the help of the commands whose usage line or flags
// carry more than a flag list shows by itself.
func TestHelpSpellsOut(t *testing.T) {
	c := newCLI(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"import", "--help"}, "Usage: warpreg import [flags] FILE...\n"},
		{[]string{"enrollment-key", "create", "--help"}, "0, the default, means it never expires"},
		// Help asked of help is the general usage (this once recursed without end).
		{[]string{"help", "help"}, "Commands:\n"},
		{[]string{"help", "--help", "help"}, "Commands:\n"},
		{[]string{"-h", "help"}, "Commands:\n"},
		{[]string{"help", "token", "--help"}, "  token create "},
		{[]string{"help", "token", "create", "-h"}, "Usage: warpreg token create"},
	}
	for _, tt := range tests {
		if out, _, code := c.run(tt.args...); code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("warpreg %v: exit %d, output %q; want %q", tt.args, code, out, tt.want)
		}
	}
}

func TestHelpAndUsageErrors(t *testing.T) {
	c := newCLI(t)
	if out, _, code := c.run("--help"); code != 0 || !strings.Contains(out, "enrollment-key create") {
		t.Errorf("--help: exit %d, output %q", code, out)
	}
	for _, cmd := range commands {
		args := append(strings.Fields(cmd.name), "--help")
		// Every command takes --database; one that reads a server says it is unused.
		out, _, code := c.run(args...)
		if code != 0 || !strings.Contains(out, "-database") ||
			strings.Contains(out, "not used: this command reads a server") != cmd.remote {
			t.Errorf("%s --help: exit %d, output %q", cmd.name, code, out)
		}
		if usage := "Usage: warpreg " + cmd.usage() + "\n"; !strings.HasPrefix(out, usage) {
			t.Errorf("%s --help: output %q, want it to start %q", cmd.name, out, usage)
		}
		// "help" before the command's words asks the same.
		words := append([]string{"help"}, strings.Fields(cmd.name)...)
		if alike, _, code := c.run(words...); code != 0 || alike != out {
			t.Errorf("help %s: exit %d, output %q, want %q", cmd.name, code, alike, out)
		}
		// A group's word alone lists its commands, this one among them.
		if first, _, group := strings.Cut(cmd.name, " "); group {
			for _, help := range []string{"--help", "-h", "-help", "help"} {
				out, _, code := c.run(first, help)
				if code != 0 || !strings.Contains(out, cmd.name+" ") {
					t.Errorf("%s %s: exit %d, output %q; want %q listed", first, help, code,
						out, cmd.name)
				}
			}
		}
	}
	// A SQLite path that is not there is refused before anything is created; a
	// PostgreSQL database exists already, and the account is what is missing.
	missing := "does not exist"
	if testdb.Engine() == "postgres" {
		missing = "not found"
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, exitUsage, "unknown command"},
		{nil, exitUsage, "a command is missing"},
		{[]string{"--addr=:1"}, exitUsage, "as in 'warpreg serve --addr=:1'"},
		{[]string{"--version"}, exitUsage, "no command takes this one"},
		{[]string{"--url", "http://x", "watch"}, exitUsage, "as in 'warpreg watch --url'"},
		{[]string{"account", "create"}, exitUsage, "--name is required"},
		{[]string{"account", "create", "--name", "x", "--bogus"}, exitUsage, "bogus"},
		{[]string{"token", "create", "--account", strings.Repeat("a", 32)}, exitError, missing},
		{[]string{"serve", "--addr", "nonsense"}, exitUsage, "HOST:PORT"},
		{[]string{"import", "--account", "x"}, exitUsage, "usage"},
		{[]string{"token"}, exitUsage, "a subcommand is missing: create, list, revoke, roll"},
		{[]string{"global-key", "--account", "x"}, exitUsage, "a subcommand is missing"},
		// watch has no use for --database, so no value of it is wrong; nor has a command
		// that does not listen for WARPREG_ADDR (see TestAddrOnlyWhereItListens).
		{[]string{"watch", "--account", "x", "--database", "mysql://x"}, exitUsage,
			"--account and a token (--token or CLOUDFLARE_API_TOKEN) are required"},
	}
	for _, tt := range tests {
		_, errOut, code := c.run(tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("warpreg %v: exit %d, stderr %q; want exit %d mentioning %q",
				tt.args, code, errOut, tt.code, tt.want)
		}
		if strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("warpreg %v: stderr is more than one line: %q", tt.args, errOut)
		}
	}
	if _, err := os.Stat(c.db); testdb.Engine() != "postgres" && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused commands left a database behind at %s (%v)", c.db, err)
	}
}

// TestImportReferenceExample imports the example body of Cloudflare's reference
// page for get registration and reads it back: it must come back field for field.
func TestImportReferenceExample(t *testing.T) {
	c := newCLI(t)
	acct := c.json("account", "create", "--name", "imported")["id"].(string)
	tok := c.json("token", "create", "--account", acct, "--read-only")["value"].(string)
	sum := c.json("import", "--account", acct, "testdata/cloudflare-get-registration.json")
	if sum["registrations"] != 1.0 {
		t.Fatalf("import summary = %v, want 1 registration", sum)
	}
	// Importing again changes nothing.
	c.json("import", "--account", acct, "testdata/cloudflare-get-registration.json")

	base := c.serve()
	const id = "11ffb86f-3f0c-4306-b4a2-e62f872b166a"
	status, got := call(t, "GET", base+"/client/v4/accounts/"+acct+
		"/devices/registrations/"+id+"?include=policy", nil, "Authorization", "Bearer "+tok)
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200: %v", status, got)
	}
	raw, err := os.ReadFile("testdata/cloudflare-get-registration.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want["result"], got["result"]); diff != "" {
		t.Errorf("imported registration differs from Cloudflare's example (-want +got):\n%s", diff)
	}
}

// TestServeEnrolAndAdmin walks the main job through the real binary's code: create
// credentials with the CLI, enrol over HTTP, then read, revoke and delete.
func TestServeEnrolAndAdmin(t *testing.T) {
	c := newCLI(t)
	acct := c.json("account", "create", "--name", "acme")["id"].(string)
	tok := c.json("token", "create", "--account", acct, "--name", "ci")["value"].(string)
	gk := c.json("global-key", "create", "--account", acct, "--email", "Admin@Example.com")
	ek := c.json("enrollment-key", "create", "--account", acct, "--expires-in", "1h")
	base := c.serve()

	status, env := call(t, "POST", base+"/enroll/v1/registrations", map[string]any{
		"key": "CQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "key_type": "curve25519",
		"tunnel_type": "wireguard",
		"device":      map[string]string{"name": "laptop", "hardware_id": "hw-1"},
		"user":        map[string]any{"email": "u@example.com", "name": "U"},
	}, "Authorization", "Bearer "+ek["value"].(string))
	if status != http.StatusCreated {
		t.Fatalf("enrol: status %d: %v", status, env)
	}
	reg := env["result"].(map[string]any)
	regURL := fmt.Sprintf("%s/client/v4/accounts/%s/devices/registrations/%s", base, acct, reg["id"])

	// The single-use key is spent.
	status, _ = call(t, "POST", base+"/enroll/v1/registrations", map[string]any{},
		"Authorization", "Bearer "+ek["value"].(string))
	if status != http.StatusBadRequest && status != http.StatusUnauthorized {
		t.Errorf("second enrolment with a single-use key: status %d", status)
	}

	status, env = call(t, "GET", regURL, nil, "X-Auth-Email", "admin@example.com",
		"X-Auth-Key", gk["value"].(string))
	if status != http.StatusOK || env["result"].(map[string]any)["revoked_at"] != nil {
		t.Fatalf("get with global key: %d %v", status, env)
	}
	revoke := fmt.Sprintf("%s/client/v4/accounts/%s/devices/registrations/revoke?id=%s",
		base, acct, reg["id"])
	if status, env = call(t, "POST", revoke, nil, "Authorization", "Bearer "+tok); status != 200 {
		t.Fatalf("revoke: %d %v", status, env)
	}
	status, env = call(t, "POST", base+"/enroll/v1/registrations/"+reg["id"].(string)+"/heartbeat",
		nil, "Authorization", "Bearer "+reg["token"].(string))
	if status != http.StatusForbidden {
		t.Errorf("heartbeat of a revoked registration: status %d, want 403: %v", status, env)
	}
	if status, env = call(t, "DELETE", regURL, nil, "Authorization", "Bearer "+tok); status != 200 {
		t.Fatalf("delete: %d %v", status, env)
	}
	status, env = call(t, "GET", regURL, nil, "Authorization", "Bearer "+tok)
	if status != 200 || env["result"].(map[string]any)["deleted_at"] == nil {
		t.Errorf("tombstone: %d %v", status, env)
	}
}

// TestDemo runs the demo as a new user would and follows the curl it prints.
func TestDemo(t *testing.T) {
	db := testdb.DSN(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--addr", addr, "--database", db, "--json"},
			func(string) string { return "" }, &out, &errb)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exited %d: %s", code, errb.String())
		}
	}()
	var demo map[string]string
	deadline := time.Now().Add(20 * time.Second)
	for json.Unmarshal([]byte(out.String()), &demo) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("demo printed no JSON: %q %s", out.String(), errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	auth := []string{"Authorization", "Bearer " + demo["token"]}
	status, env := call(t, "GET", demo["base_url"]+"/accounts/"+demo["account_id"]+
		"/devices/registrations/"+demo["registration_id"]+"?include=policy", nil, auth...)
	if status != 200 || env["result"].(map[string]any)["policy"] == nil {
		t.Fatalf("demo registration: %d %v", status, env)
	}
	status, env = call(t, "GET", demo["base_url"]+"/accounts/"+demo["account_id"]+
		"/devices/registrations?per_page=100", nil, auth...)
	info, _ := env["result_info"].(map[string]any)
	if status != 200 || info["total_count"] != float64(demoDevices) {
		t.Errorf("demo list: %d, result_info %v; want %d registrations", status, info, demoDevices)
	}
}

// TestAddrOnlyWhereItListens: a malformed WARPREG_ADDR fails serve, which listens
// on it, and no command that does not.
func TestAddrOnlyWhereItListens(t *testing.T) {
	db := testdb.DSN(t)
	env := func(k string) string {
		switch k {
		case "WARPREG_DATABASE":
			return db
		case "WARPREG_ADDR":
			return "::bad::"
		}
		return ""
	}
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"account", "create", "--name", "a"}, env, &out,
		&errb); code != exitOK {
		t.Errorf("account create beside a bad WARPREG_ADDR: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run(t.Context(), []string{"serve"}, env, &out, &errb); code != exitUsage ||
		!strings.Contains(errb.String(), "HOST:PORT") {
		t.Errorf("serve with a bad WARPREG_ADDR: exit %d: %s", code, errb.String())
	}
}
