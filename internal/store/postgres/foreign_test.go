package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
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
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&n)
	if err != nil || n != 1 {
		t.Errorf("tables in the schema after the refused Open = %d, %v; want 1", n, err)
	}
}

// TestOpenQuotedSchema migrates a schema whose name needs quoting (capitals and a
// dot; pgx reads a '+' in the URL as itself, so no space), and refuses such a
// schema when another application's table is in it.
func TestOpenQuotedSchema(t *testing.T) {
	base := testdb.PostgresURL(t) // skips without PostgreSQL; its own schema goes unused
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, foreign := range []bool{false, true} {
		schema := pgx.Identifier{"WarpregTest." + strings.ToUpper(randomSuffix(t))}
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema.Sanitize()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			conn, err := pgx.Connect(context.Background(), base)
			if err == nil {
				conn.Exec(context.Background(), "DROP SCHEMA "+schema.Sanitize()+" CASCADE")
				conn.Close(context.Background())
			}
		})
		if foreign {
			_, err := conn.Exec(ctx, "CREATE TABLE "+schema.Sanitize()+".notes (id int)")
			if err != nil {
				t.Fatal(err)
			}
		}
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema.Sanitize())
		u.RawQuery = q.Encode()

		st, err := postgres.Open(ctx, u.String(), slog.New(slog.DiscardHandler))
		if err == nil {
			st.Close()
		}
		if foreign != (err != nil) {
			t.Errorf("Open of schema %s (foreign: %v): error %v", schema[0], foreign, err)
		}
	}
}

// randomSuffix returns 8 random hex characters, for names tests make.
func randomSuffix(t *testing.T) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}
