// Package testdb opens a fresh, empty database for a test, on the engine the test
// run asks for, so that the HTTP and end-to-end suites run unchanged on SQLite and
// on PostgreSQL.
//
// WARPREG_TEST_ENGINE selects the engine: "sqlite" (the default) or "postgres".
// PostgreSQL tests need WARPREG_TEST_POSTGRES_URL; each test gets a schema of its own,
// dropped when it ends.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/warpreg/warpreg/internal/device"
	"github.com/warpreg/warpreg/internal/store/postgres"
	"github.com/warpreg/warpreg/internal/store/sqlite"
)

// Environment variables that steer the tests.
const (
	EnvEngine      = "WARPREG_TEST_ENGINE"
	EnvPostgresURL = "WARPREG_TEST_POSTGRES_URL"
)

// Engine returns the engine this test run uses.
func Engine() string {
	if os.Getenv(EnvEngine) == "postgres" {
		return "postgres"
	}
	return "sqlite"
}

// DSN returns a --database value for a fresh database on the run's engine.
func DSN(t testing.TB) string {
	t.Helper()
	if Engine() == "postgres" {
		return PostgresURL(t)
	}
	return filepath.Join(t.TempDir(), "warpreg.db")
}

// Open opens a fresh store on the run's engine, closed when the test ends.
func Open(t testing.TB, log *slog.Logger) device.Store {
	t.Helper()
	return New(t, log).Store
}

// DB is a fresh database on the run's engine: the store over it, and the address
// that Dump reads it through.
type DB struct {
	Store  device.Store
	engine string
	dsn    string // a PostgreSQL URL, or a SQLite file's path
}

// New opens a fresh store on the run's engine, closed when the test ends.
func New(t testing.TB, log *slog.Logger) *DB {
	t.Helper()
	db := &DB{engine: Engine(), dsn: DSN(t)}
	var err error
	if db.engine == "postgres" {
		db.Store, err = postgres.Open(context.Background(), db.dsn, log)
	} else {
		db.Store, err = sqlite.Open(context.Background(), db.dsn, log)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Store.Close() })
	return db
}

// PostgresURL creates an empty schema and returns a URL whose connections use it. It
// skips the test, saying why, when WARPREG_TEST_POSTGRES_URL is not set.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgresURL)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test)",
			EnvPostgresURL)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "warpreg_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvPostgresURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop test schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgresURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
