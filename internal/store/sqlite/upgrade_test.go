package sqlite

import (
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/warpreg/warpreg/internal/store/storetest"
)

// TestUpgradeFromVersion3 writes storetest's fixture into a database migrated to
// version 3 only, then opens it: the later migrations must fill in what the new
// columns and counters hold for rows written before them.
func TestUpgradeFromVersion3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v3.db")
	migrateTo(t, path, 3, storetest.Version3Fixture)
	st, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open the version 3 database: %v", err)
	}
	defer st.Close()
	storetest.CheckUpgrade(t, st)
}

// migrateTo applies the migrations up to version, recording them as Open does,
// then runs rows.
func migrateTo(t *testing.T, path string, version int, rows []string) {
	t.Helper()
	registerFunctions()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	_, err = db.Exec(`CREATE TABLE schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		var v int
		if _, err := fmt.Sscanf(base, "%04d_", &v); err != nil || v > version {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("migration %s: %v", base, err)
		}
		_, err = db.Exec(`INSERT INTO schema_migrations VALUES (?, ?, 'test')`, v, base)
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range rows {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("fixture: %v\n%s", err, q)
		}
	}
}
