package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/testdb"
)

// list runs a list command with --json and returns its rows.
func (c *cliRun) list(args ...string) []map[string]any {
	c.t.Helper()
	out, errOut, code := c.run(append(args, "--json")...)
	if code != 0 {
		c.t.Fatalf("warpreg %v: exit %d: %s", args, code, errOut)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		c.t.Fatalf("warpreg %v: output is not a JSON list: %v\n%s", args, err, out)
	}
	return rows
}

func TestCredentialCommands(t *testing.T) {
	c := newCLI(t)
	acct := c.json("account", "create", "--name", "creds")["id"].(string)
	tok := c.json("token", "create", "--account", acct, "--name", "ci", "--read-only")
	c.json("token", "create", "--account", acct, "--name", "deploy")
	gk := c.json("global-key", "create", "--account", acct, "--email", "admin@example.com")
	ek := c.json("enrollment-key", "create", "--account", acct, "--reusable")

	toks := c.list("token", "list", "--account", acct)
	if len(toks) != 2 || toks[0]["id"] != tok["id"] || toks[0]["name"] != "ci" ||
		toks[0]["read_only"] != true {
		t.Fatalf("token list = %v; want ci (read-only) then deploy", toks)
	}
	for _, args := range [][]string{{"token", "list"}, {"global-key", "list"},
		{"enrollment-key", "list"}} {
		for _, format := range [][]string{nil, {"--json"}} {
			out, _, code := c.run(append(append(args, "--account", acct), format...)...)
			for _, secret := range []any{tok["value"], gk["value"], ek["value"]} {
				if code != 0 || strings.Contains(out, secret.(string)) {
					t.Errorf("%v %s: exit %d, output shows a secret:\n%s", args, format, code, out)
				}
			}
		}
	}

	rolled := c.json("token", "roll", "--account", acct, "--id", tok["id"].(string))
	if rolled["id"] != tok["id"] || rolled["name"] != "ci" || rolled["read_only"] != true ||
		rolled["value"] == tok["value"] || len(rolled["value"].(string)) != 40 {
		t.Errorf("token roll printed %v; want the same token with a new 40-character value", rolled)
	}
	gkRolled := c.json("global-key", "roll", "--account", acct, "--email", "Admin@Example.com")
	if gkRolled["id"] != gk["id"] || len(gkRolled["value"].(string)) != 37 {
		t.Errorf("global-key roll printed %v; want the same key with a new value", gkRolled)
	}
	ekRolled := c.json("enrollment-key", "roll", "--account", acct, "--id", ek["id"].(string))
	if ekRolled["id"] != ek["id"] || ekRolled["reusable"] != true || ekRolled["value"] == ek["value"] {
		t.Errorf("enrollment-key roll printed %v; want the same key with a new value", ekRolled)
	}

	revoked := c.json("token", "revoke", "--account", acct, "--id", tok["id"].(string))
	if revoked["revoked"] != true || len(c.list("token", "list", "--account", acct)) != 1 {
		t.Errorf("token revoke printed %v, or the token is still listed", revoked)
	}
	c.json("global-key", "revoke", "--account", acct, "--email", "admin@example.com")
	c.json("enrollment-key", "revoke", "--account", acct, "--id", ek["id"].(string))
	if n := len(c.list("global-key", "list", "--account", acct)) +
		len(c.list("enrollment-key", "list", "--account", acct)); n != 0 {
		t.Errorf("%d global or enrollment keys listed after revoking them all", n)
	}

	other := c.json("account", "create", "--name", "other")["id"].(string)
	deploy := c.list("token", "list", "--account", acct)[0]["id"].(string)
	failures := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"token", "revoke", "--account", acct}, exitUsage, "--id is required"},
		{[]string{"token", "roll", "--id", deploy}, exitUsage, "--account and --id"},
		{[]string{"token", "list"}, exitUsage, "--account is required"},
		{[]string{"global-key", "roll", "--account", acct}, exitUsage, "--email is required"},
		{[]string{"token", "revoke", "--account", acct, "--id", tok["id"].(string)}, exitError,
			"holds no api token"},
		{[]string{"token", "roll", "--account", other, "--id", deploy}, exitError,
			"holds no api token"},
		{[]string{"global-key", "revoke", "--account", acct, "--email", "nobody@example.com"},
			exitError, "holds no global key"},
		{[]string{"enrollment-key", "roll", "--account", acct, "--id", device.NewID()},
			exitError, "holds no enrollment key"},
		{[]string{"token", "list", "--account", device.NewAccountID()}, exitError, "not found"},
	}
	for _, f := range failures {
		_, errOut, code := c.run(f.args...)
		if code != f.code || !strings.Contains(errOut, f.want) ||
			strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("warpreg %v: exit %d, stderr %q; want exit %d and one line with %q",
				f.args, code, errOut, f.code, f.want)
		}
	}
	if toks := c.list("token", "list", "--account", acct); len(toks) != 1 || toks[0]["id"] != deploy {
		t.Errorf("refused commands changed the tokens: %v", toks)
	}
}

// TestSecretsStoredOnlyAsHashes creates every kind of secret, uses each over HTTP
// (rightly and wrongly), rolls them, and then searches the database's raw contents
// and everything the server and the CLI logged: no secret may appear, while each
// secret's SHA-256 must (which shows the search looks at the right data).
func TestSecretsStoredOnlyAsHashes(t *testing.T) {
	c := newCLI(t)
	var logs []string
	cli := func(args ...string) map[string]any {
		t.Helper()
		out, errOut, code := c.run(append(args, "--json")...)
		if code != 0 {
			t.Fatalf("warpreg %v: exit %d: %s", args, code, errOut)
		}
		logs = append(logs, errOut)
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	acct := cli("account", "create", "--name", "hashes")["id"].(string)
	tok := cli("token", "create", "--account", acct)
	gk := cli("global-key", "create", "--account", acct, "--email", "admin@example.com")
	ek := cli("enrollment-key", "create", "--account", acct, "--reusable")
	base, serveLog := c.serveLogged()

	status, env := call(t, "POST", base+"/enroll/v1/registrations", map[string]any{
		"key": wgKeyValue(), "key_type": "curve25519",
		"device": map[string]string{"name": "d", "hardware_id": "hw"},
		"user":   map[string]any{"email": "u@example.com"},
	}, "Authorization", "Bearer "+ek["value"].(string))
	if status != http.StatusCreated {
		t.Fatalf("enrol: %d %v", status, env)
	}
	reg := env["result"].(map[string]any)
	regPath := base + "/enroll/v1/registrations/" + reg["id"].(string)
	_, env = call(t, "POST", regPath+"/token", nil, "Authorization", "Bearer "+reg["token"].(string))
	regToken := env["result"].(map[string]any)["token"].(string)
	call(t, "POST", regPath+"/heartbeat", nil, "Authorization", "Bearer "+regToken)
	call(t, "GET", base+"/client/v4/accounts/"+acct+"/devices/registrations", nil,
		"X-Auth-Email", "admin@example.com", "X-Auth-Key", gk["value"].(string))
	wrong := strings.Repeat("Q", 40)
	call(t, "GET", base+"/client/v4/user/tokens/verify", nil, "Authorization", "Bearer "+wrong)

	// Secrets that still work, whose hashes the database must hold, and ones that
	// were replaced or never valid.
	live := []string{regToken,
		cli("token", "roll", "--account", acct, "--id", tok["id"].(string))["value"].(string),
		cli("global-key", "roll", "--account", acct, "--email", "admin@example.com")["value"].(string),
		cli("enrollment-key", "roll", "--account", acct, "--id", ek["id"].(string))["value"].(string)}
	dead := []string{tok["value"].(string), gk["value"].(string), ek["value"].(string),
		reg["token"].(string), wrong}
	call(t, "GET", base+"/client/v4/user/tokens/verify", nil, "Authorization", "Bearer "+live[1])

	// The server flushes its log every 200 ms; the verify above is its last line.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(serveLog.String(), "tokens/verify") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the server logged less than this test expects:\n%s", serveLog.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	logs = append(logs, serveLog.String())
	dump := databaseContents(t, c.db)
	for i, s := range append(live, dead...) {
		for _, l := range logs {
			if strings.Contains(l, s) {
				t.Errorf("secret %d is in a log:\n%s", i, l)
			}
		}
		if bytes.Contains(dump.raw, []byte(s)) {
			t.Errorf("secret %d is stored in the database", i)
		}
		if i < len(live) && !dump.holds(device.HashSecret(s)) {
			t.Errorf("live secret %d's hash is not in the dump: the search looks at the "+
				"wrong data", i)
		}
	}
}

// dbDump is everything a database holds, as bytes: the SQLite files as they are on
// disk, or every PostgreSQL row as text (bytea as \x hex).
type dbDump struct {
	raw      []byte
	postgres bool
}

func (d dbDump) holds(b []byte) bool {
	if d.postgres {
		return bytes.Contains(d.raw, []byte(hex.EncodeToString(b)))
	}
	return bytes.Contains(d.raw, b)
}

func databaseContents(t *testing.T, dsn string) dbDump {
	t.Helper()
	if testdb.Engine() != "postgres" {
		var raw []byte
		for _, suffix := range []string{"", "-wal", "-shm"} {
			b, err := os.ReadFile(dsn + suffix)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			raw = append(raw, b...)
		}
		return dbDump{raw: raw}
	}
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 5 {
		t.Fatalf("tables %v, %v", tables, err)
	}
	var raw []byte
	for _, table := range tables {
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, strings.Join(texts, "\n")...)
	}
	return dbDump{raw: raw, postgres: true}
}

// TestRevokeAndRollOnEveryInstance runs two servers on one database (PostgreSQL,
// and SQLite, which two processes can share too): a credential revoked or rolled
// with the CLI is refused by both at once, and a rolled one works on both.
func TestRevokeAndRollOnEveryInstance(t *testing.T) {
	engines := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "w.db") },
		"postgres": func(t *testing.T) string { return testdb.PostgresURL(t) },
	}
	for name, dsn := range engines {
		t.Run(name, func(t *testing.T) {
			c := &cliRun{t: t, db: dsn(t)}
			acct := c.json("account", "create", "--name", "fleet")["id"].(string)
			tok := c.json("token", "create", "--account", acct)
			gk := c.json("global-key", "create", "--account", acct, "--email", "a@example.com")
			ek := c.json("enrollment-key", "create", "--account", acct, "--reusable")
			both := []*instance{startInstance(t, c.db), startInstance(t, c.db)}
			checkInstances(t, c, acct, both, tok, gk, ek)
		})
	}
}

func checkInstances(t *testing.T, c *cliRun, acct string, both []*instance,
	tok, gk, ek map[string]any,
) {
	t.Helper()
	list := "/client/v4/accounts/" + acct + "/devices/registrations"
	bearer := func(v any) []string { return []string{"Authorization", "Bearer " + v.(string)} }
	globalKey := func(v any) []string {
		return []string{"X-Auth-Email", "a@example.com", "X-Auth-Key", v.(string)}
	}
	expect := func(what string, want int, path string, body any, headers []string) {
		t.Helper()
		for i, in := range both {
			method := "GET"
			if body != nil {
				method = "POST"
			}
			if status, env := call(t, method, in.base+path, body, headers...); status != want {
				t.Errorf("%s on instance %d: status %d, want %d: %v", what, i, status, want, env)
			}
		}
	}
	enrol := func(hw string) map[string]any {
		return map[string]any{"key": wgKeyValue(), "key_type": "curve25519",
			"device": map[string]string{"name": hw, "hardware_id": hw},
			"user":   map[string]any{"email": "u@example.com"}}
	}

	expect("token", 200, list, nil, bearer(tok["value"]))
	newTok := c.json("token", "roll", "--account", acct, "--id", tok["id"].(string))["value"]
	expect("old token after roll", 403, list, nil, bearer(tok["value"]))
	expect("new token after roll", 200, list, nil, bearer(newTok))
	c.json("token", "revoke", "--account", acct, "--id", tok["id"].(string))
	expect("revoked token", 403, list, nil, bearer(newTok))

	expect("global key", 200, list, nil, globalKey(gk["value"]))
	newGK := c.json("global-key", "roll", "--account", acct, "--email", "a@example.com")["value"]
	expect("old global key after roll", 403, list, nil, globalKey(gk["value"]))
	expect("new global key after roll", 200, list, nil, globalKey(newGK))
	c.json("global-key", "revoke", "--account", acct, "--email", "a@example.com")
	expect("revoked global key", 403, list, nil, globalKey(newGK))

	newEK := c.json("enrollment-key", "roll", "--account", acct, "--id", ek["id"].(string))["value"]
	expect("old enrollment key after roll", 401, "/enroll/v1/registrations", enrol("hw-0"),
		bearer(ek["value"]))
	for i, in := range both {
		hw := "hw-" + string(rune('1'+i))
		status, env := call(t, "POST", in.base+"/enroll/v1/registrations", enrol(hw),
			bearer(newEK)...)
		if status != http.StatusCreated {
			t.Errorf("new enrollment key on instance %d: status %d: %v", i, status, env)
		}
	}
	c.json("enrollment-key", "revoke", "--account", acct, "--id", ek["id"].(string))
	expect("revoked enrollment key", 401, "/enroll/v1/registrations", enrol("hw-9"), bearer(newEK))
}
