package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
)

// engine and postgresURL are read from WARPREG_TEST_ENGINE and
// WARPREG_TEST_POSTGRES_URL by TestMain, before it clears the environment.
var engine, postgresURL string

// newPostgresSchema creates an empty schema, dropped when the test ends, and returns
// a URL whose connections use it.
func newPostgresSchema(t *testing.T) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	schema := "warpreg_conf_" + hex.EncodeToString(b[:])
	exec := func(sql string) error {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, postgresURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		if err := exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
	})
	u, err := url.Parse(postgresURL)
	if err != nil {
		t.Fatalf("parse WARPREG_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
