package postgres_test

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/warpreg/warpreg/internal/store/postgres"
	"github.com/warpreg/warpreg/internal/store/storetest"
	"github.com/warpreg/warpreg/internal/store/testdb"
)

// TestUpgradeFromVersion3 writes storetest's fixture into a schema migrated to
// version 3 only, then opens it: the later migrations must fill in what the new
// columns and counters hold for rows written before them.
func TestUpgradeFromVersion3(t *testing.T) {
	url := testdb.PostgresURL(t)
	migrateTo(t, url, 3, storetest.Version3Fixture)
	st, err := postgres.Open(t.Context(), url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open the version 3 schema: %v", err)
	}
	defer st.Close()
	storetest.CheckUpgrade(t, st)
}

// migrateTo applies the migrations up to version, recording them as Open does,
// then runs rows.
func migrateTo(t *testing.T, url string, version int, rows []string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	names, err := fs.Glob(postgres.Migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	_, err = conn.Exec(ctx, `CREATE TABLE schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		var v int
		if _, err := fmt.Sscanf(base, "%04d_", &v); err != nil || v > version {
			continue
		}
		body, err := postgres.Migrations.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(body)); err != nil {
			t.Fatalf("migration %s: %v", base, err)
		}
		_, err = conn.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, $2, now())`, v, base)
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range rows {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("fixture: %v\n%s", err, q)
		}
	}
}
