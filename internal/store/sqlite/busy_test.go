package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/warpreg/warpreg/internal/device"
)

// TestBusyIsUnavailable checks that SQLite's "database is locked", what a write
// gets when another connection keeps the write lock past the busy timeout, reaches
// callers as device.ErrBusy, which the HTTP layer answers with a 503 to retry.
func TestBusyIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	open := func() *sql.Conn {
		db, err := openDB(path, "immediate", 1, 64, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		c, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.ExecContext(t.Context(), "PRAGMA busy_timeout = 0"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	holder, waiter := open(), open()
	if _, err := holder.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer holder.ExecContext(t.Context(), "ROLLBACK")

	_, err := waiter.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	if err == nil {
		t.Fatal("a second BEGIN IMMEDIATE took the lock")
	}
	if got := mapError(err); !errors.Is(got, device.ErrBusy) ||
		device.KindOf(got) != device.KindUnavailable {
		t.Errorf("mapError(%v) = %v, want device.ErrBusy", err, got)
	}
}
