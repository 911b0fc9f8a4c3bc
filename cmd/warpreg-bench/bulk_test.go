package main

import (
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/warpreg/warpreg/internal/store/testdb"
)

// TestBulkSeedMatchesTriggers seeds the same fleet twice, through the bulk path and
// through the store's transactions with every trigger running, and checks that the
// two databases hold the same rows, derived columns and account counters included,
// and the same indexes and triggers. Ids that the service draws at random (accounts,
// profiles) are compared by name, and keys, which come from crypto/rand, not at all.
func TestBulkSeedMatchesTriggers(t *testing.T) {
	fixed := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	old := seedClock
	seedClock = func() time.Time { return fixed }
	t.Cleanup(func() { seedClock = old })

	engines := map[string]func(t *testing.T) (dsn, driver, url string){
		"sqlite": func(t *testing.T) (string, string, string) {
			p := filepath.Join(t.TempDir(), "seed.db")
			return p, "sqlite", "file:" + p
		},
		"postgres": func(t *testing.T) (string, string, string) {
			u := testdb.PostgresURL(t)
			return u, "pgx", u
		},
	}
	for name, fresh := range engines {
		t.Run(name, func(t *testing.T) {
			var dumps [2]map[string][]string
			for i, mode := range []string{"--triggers", "--triggers=false"} {
				dsn, driver, url := fresh(t)
				creds := filepath.Join(t.TempDir(), "creds.json")
				bench(t, "seed", "--database", dsn, "--creds", creds, "--registrations", "700",
					"--accounts", "3", "--batch", "150", "--seed", "7", mode)
				dumps[i] = dumpSeed(t, driver, url)
			}
			for _, what := range slices.Sorted(maps.Keys(dumps[0])) {
				if !slices.Equal(dumps[0][what], dumps[1][what]) {
					t.Errorf("%s differ:\n%s", what, firstDiff(dumps[0][what], dumps[1][what]))
				}
				if len(dumps[0][what]) == 0 {
					t.Errorf("%s: no rows", what)
				}
			}
		})
	}
}

// seedDumps are the queries whose results must agree, one row a line.
var seedDumps = map[string]string{
	"accounts": `SELECT name, live_count, revoked_count, live_device_count, active_device_count
		FROM accounts ORDER BY name`,
	"users": `SELECT u.id, a.name, u.email, u.name, u.groups, u.created_at, u.updated_at
		FROM users u JOIN accounts a ON a.id = u.account_id ORDER BY u.id`,
	"devices": `SELECT d.id, a.name, d.name, d.model, d.manufacturer, d.device_type,
		d.os_version, d.os_version_extra, d.serial_number, d.hardware_id, d.mac_address,
		d.client_version, d.last_seen_at, d.created_at, d.updated_at, d.deleted_at,
		d.active_count, d.last_seen_registration_id, d.last_seen_user_id,
		d.last_seen_user_email, d.last_seen_user_name, d.search_text
		FROM devices d JOIN accounts a ON a.id = d.account_id ORDER BY d.id`,
	"registrations": `SELECT r.id, a.name, r.device_id, r.user_id, p.name, r.slot,
		r.key_type, r.tunnel_type, r.secret_hash, r.created_at, r.updated_at,
		r.last_seen_at, r.revoked_at, r.deleted_at, r.policy_updated_at, r.user_name,
		r.user_email, r.device_name, r.client_version
		FROM registrations r JOIN accounts a ON a.id = r.account_id
		JOIN profiles p ON p.id = r.profile_id ORDER BY r.id`,
}

// sqliteSeedDump adapts seedDumps to the SQLite schema, where registrations and
// devices hold their account's number (migration 0012).
var sqliteSeedDump = strings.NewReplacer(
	"a.id = d.account_id", "a.num = d.account_id",
	"a.id = r.account_id", "a.num = r.account_id",
)

// schemaDumps list the indexes and triggers, which the bulk path sets aside and
// must put back.
var schemaDumps = map[string]map[string]string{
	"sqlite": {
		"schema": `SELECT type, name, tbl_name, sql FROM sqlite_schema
			WHERE type IN ('index', 'trigger') ORDER BY name`,
		// Each registration must be found by its id's first trigram and its device
		// name's, and the index must hold one entry a registration.
		"search index": `SELECT r.id,
			r.rowid IN (SELECT rowid FROM registrations_search
				WHERE registrations_search MATCH '"' || substr(r.id, 1, 3) || '"'),
			length(r.device_name) < 3 OR r.rowid IN (SELECT rowid FROM registrations_search
				WHERE registrations_search MATCH '"' || lower(substr(r.device_name, 1, 3)) || '"'),
			(SELECT count(*) FROM registrations_search_docsize)
			FROM registrations r ORDER BY r.id`,
	},
	"pgx": {
		"search text": `SELECT id, search_text FROM registrations ORDER BY id`,
		"indexes": `SELECT indexname, replace(indexdef, current_schema(), 'SCHEMA')
			FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname`,
		"triggers": `SELECT tgname, tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND NOT tgisinternal ORDER BY tgname`,
	},
}

func dumpSeed(t *testing.T, driver, url string) map[string][]string {
	t.Helper()
	db, err := sql.Open(driver, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]string{}
	queries := map[string]string{}
	for k, q := range seedDumps {
		if driver == "sqlite" {
			q = sqliteSeedDump.Replace(q)
		}
		queries[k] = q
	}
	for k, q := range schemaDumps[driver] {
		queries[k] = q
	}
	out["row counts"] = tableCounts(t, db, driver)
	for what, q := range queries {
		lines, err := testdb.Lines(t.Context(), db, q)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		out[what] = lines
	}
	return out
}

// tableCounts counts the rows of every table, so that a trigger that writes a table
// the dumps do not read (a full-text index's, say) and that the bulk path does not
// stand in for shows up as a difference.
func tableCounts(t *testing.T, db *sql.DB, driver string) []string {
	t.Helper()
	// Planner statistics may differ, and so may how the search index's segments
	// are laid out ("search index" checks what it holds).
	list := `SELECT name FROM sqlite_schema WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'registrations_search%' ORDER BY name`
	if driver == "pgx" {
		list = `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`
	}
	rows, err := db.QueryContext(t.Context(), list)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("list tables: %v", err)
		}
		names = append(names, name)
	}
	rows.Close()
	var out []string
	for _, name := range names {
		var n int
		q := `SELECT count(*) FROM "` + name + `"`
		if err := db.QueryRowContext(t.Context(), q).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", name, err)
		}
		out = append(out, fmt.Sprintf("%s %d", name, n))
	}
	return out
}

// firstDiff shows the first line where a and b differ.
func firstDiff(a, b []string) string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("line %d (of %d and %d):\n  triggers: %s\n  bulk:     %s",
				i, len(a), len(b), x, y)
		}
	}
	return ""
}
