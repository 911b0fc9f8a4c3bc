package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestForeignDatabaseRefused points the commands that may create a database at
// another application's SQLite file: each refuses it in one line naming the file,
// and adds no table to it.
func TestForeignDatabaseRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`); err != nil {
		t.Fatal(err)
	}

	want := path + " is not a warpreg database"
	for _, args := range [][]string{
		{"account", "create", "--name", "a", "--database", path},
		{"serve", "--addr", "127.0.0.1:19150", "--database", path},
	} {
		// A serve that took the file would run until stopped: stop it soon.
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		var errb bytes.Buffer
		code := run(ctx, args, func(string) string { return "" }, io.Discard, &errb)
		cancel()
		errOut := errb.String()
		if code != exitError || !strings.Contains(errOut, want) ||
			strings.Count(errOut, "\n") != 1 {
			t.Errorf("warpreg %v: exit %d, stderr %q; want exit %d and one line saying %q",
				args, code, errOut, exitError, want)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema`).Scan(&n); err != nil || n != 1 {
		t.Errorf("schema objects after the refusals = %d, %v; want the one table", n, err)
	}
}
