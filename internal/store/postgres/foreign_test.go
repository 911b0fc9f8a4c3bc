package postgres_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/warpreg/warpreg/internal/store/postgres"
	"github.com/warpreg/warpreg/internal/store/testdb"
)

// TestOpenRefusesForeignSchema opens a schema that holds another application's
// table: Open must refuse it, naming the schema, and add nothing to it.
func TestOpenRefusesForeignSchema(t *testing.T) {
	url := testdb.PostgresURL(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `CREATE TABLE notes (id int PRIMARY KEY, body text)`); err != nil {
		t.Fatal(err)
	}
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}

	st, err := postgres.Open(ctx, url, slog.New(slog.DiscardHandler))
	if err == nil {
		st.Close()
		t.Fatal("Open of another application's schema: got no error")
	}
	want := "schema " + schema + " of database "
	if !strings.HasPrefix(err.Error(), want) ||
		!strings.Contains(err.Error(), "is not warpreg's: it holds other tables (notes)") {
		t.Errorf("Open of another application's schema: error %q, want it to name %s and notes",
			err, schema)
	}
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_class
		WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'`).Scan(&n)
	if err != nil || n != 1 {
		t.Errorf("tables in the schema after the refused Open = %d, %v; want 1", n, err)
	}
}
